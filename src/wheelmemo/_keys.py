"""The keys of one hook call: what the tree, its configuration and its build environment
are made of (the parts), the keys a hook looks under, and why a lookup missed.

Shared by the hooks (through :class:`~wheelmemo._memo.Memo`) and the command line
(``explain``, ``export``), which asks the same questions of the tree as it is now.  The
parts themselves are computed by ``_key`` and ``_inputs``; this class computes them once
per call and knows the three places a key can come from: the tree, the tree an unpacked
sdist was made from (its *alias*), and the newest entry's build environment (``adopt``,
for the command line, which runs outside the frontends' build environments).
"""

from __future__ import annotations

import hashlib
import json
import marshal
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from . import _key
from ._errors import StoreError
from ._inputs import StatCache, collect_inputs
from ._log import DEBUG, logger, warn_once
from ._settings import ConfigSettings, Project, Settings
from ._store import LocalStore, Store
from ._version import __version__
from .backends import adapter_for

__all__ = ["Keys", "Lookup"]


class Lookup:
    """One key a hook looks under: the declared key, its parts, and for an unpacked sdist
    the project files it lacks or changes compared with the tree it was made from."""

    def __init__(
        self,
        key: str,
        parts: dict[str, Any],
        differs: frozenset[str] = frozenset(),
        equivalent: frozenset[str] = frozenset(),
    ) -> None:
        self.key = key
        self.parts = parts
        self.differs = differs
        #: files of the unpacked sdist whose bytes differ from the tree's to no effect
        #: (PKG-INFO, setuptools' egg_info tags): what the tree's build read of them holds
        self.equivalent = equivalent

    @property
    def target(self) -> bool:
        """Whether a result built here is stored under this key: a wheel built in an
        unpacked sdist that differs from its tree is the sdist's own."""
        return not self.differs


class Keys:
    """The parts and keys of the project a hook call builds, computed once.

    ``local`` is the local cache: the stat cache lives beside it, an unpacked sdist's
    alias and the newest entry of the project (to explain a miss) are read from it.
    ``requires`` gives the inner answer of ``get_requires_for_build_<kind>``: what it
    added to the build environment is part of the key.
    """

    def __init__(
        self,
        project: Project,
        settings: Settings,
        inner_config: ConfigSettings,
        environ: Mapping[str, str],
        family: str,
        *,
        local: LocalStore | None,
        offline: bool,
    ) -> None:
        self.project = project
        self.settings = settings
        self.inner_config = inner_config
        self.environ = environ
        self.family = family
        self.local = local
        self.offline = offline
        #: what wheelmemo knows of the backend's family (and its plugins': setuptools-rust)
        self.adapter = adapter_for(family, project.requires)
        self.project_id = project.name or str(project.root.resolve())
        self.stat_cache = StatCache(None)
        #: the frontend's directories of this call (wheel, metadata): outputs, never inputs
        self.outputs: list[str] = []
        self.requires: Callable[[str], list[str]] = lambda kind: []
        self._base: dict[str, Any] | None = None
        self._alias: dict[str, Any] | None = None
        self._adopted: dict[str, Any] | None = None
        self._lookups: dict[str, list[Lookup]] = {}
        self._vcs_states: dict[bool, str | None] = {}

    # -- the parts every hook shares -------------------------------------------------
    @property
    def unpacked_sdist(self) -> bool:
        """An unpacked sdist (a PKG-INFO, no git: a git checkout holding a PKG-INFO is a
        tree, with a git state of its own), built once: no stat cache to keep."""
        root = self.project.root
        return (root / "PKG-INFO").is_file() and not (root / ".git").exists()

    def base(self) -> dict[str, Any]:
        if self._base is None:
            root = self.project.root
            unpacked_sdist = self.unpacked_sdist
            stat_path = None
            if self.local is not None and not unpacked_sdist:
                tree_id = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
                stat_path = self.local.stat_path(f"{tree_id}.m{marshal.version}")
            self.stat_cache = stat_cache = StatCache(stat_path, read_only=self.settings.cache_read_only or self.offline)
            inputs = self.collect_inputs()
            self._base = {
                "format": _key.FORMAT,
                "wheelmemo": __version__,
                "project": self.project_id,
                "backend": self.settings.backend,
                "env": _key.env_part(self.adapter.env_patterns(), self.settings.env, self.environ),
                "interpreter": _key.interpreter_part(),
                # wheelmemo itself is keyed by its version (above), not by how it was
                # installed: a development install has a new RECORD in every build env
                "versions": _key.versions_part(
                    [r for r in self.project.requires if _key.requirement_name(r) != "wheelmemo"], self.family
                ),
                "toolchain": self.adapter.toolchain(stat_cache.memo, self.environ),
                "inputs": inputs,
                "inputs_digest": _key.inputs_digest(inputs),
            }
            if self.adapter.build_sees_launcher and self.settings.compiler_cache == "sccache":
                # meson-python's projects can record the compiler's command, sccache in it
                self._base["compiler_cache"] = "sccache"
            if self.local is not None and unpacked_sdist:
                self._alias = self._sdist_alias(self.local, self._base["inputs_digest"])
                if self._alias is not None and isinstance(self._alias.get("project"), str):
                    # a project named only by setup.py is known by its tree's path
                    self.project_id = self._base["project"] = self._alias["project"]
        return self._base

    def collect_inputs(self, root_path: Path | None = None) -> dict[str, str]:
        """The declared inputs: the project's files, less ``exclude``, and less the cache and
        the frontend's output directory where they lie inside the project: what they hold
        changes with every build.  ``root_path``: another copy of the project to read
        (the stable copy a miss built in, ``_srccopy``)."""
        exclude = list(self.settings.exclude)
        root_path = root_path or self.project.root
        root = os.path.abspath(root_path)
        # and the frontend's output directory of this call (pip wheel -w out, build -o out)
        inside = [*self.outputs]
        if self.local is not None:
            inside.append(os.path.abspath(self.local.root.parent))
        for directory in inside:
            if directory.startswith(root + os.sep):
                exclude.append("/" + os.path.relpath(directory, root).replace(os.sep, "/") + "/")
        return collect_inputs(
            root_path,
            self.project.pyproject,
            adapter=self.adapter,
            include=self.settings.inputs,
            exclude=exclude,
            stat_cache=self.stat_cache,
        )

    # -- an unpacked sdist and the tree it was made from --------------------------------
    def _sdist_alias(self, store: Store, unpacked_digest: str) -> dict[str, Any] | None:
        """What the tree an unpacked sdist was made from recorded (uv build, build)."""
        try:
            alias = store.get(_key.sdist_alias_key(unpacked_digest))
        except StoreError as e:
            warn_once(f"{e}; building it again")
            return None
        value = alias.value if alias is not None else None
        if not (
            isinstance(value, dict) and isinstance(value.get("tree"), str) and isinstance(value.get("differs"), list)
        ):
            return None
        logger.debug("this unpacked sdist was made from the tree state %s", value["tree"][:8])
        return value

    def remember_sdist(self, store: Store, sdist: Path) -> None:
        """Record which tree state ``sdist`` was made from, and what it lacks or changes."""
        from ._sdist import compare_unpacked

        base = self.base()
        compared = compare_unpacked(sdist, self.adapter, self.environ, self.project.root, base["inputs"])
        if compared is None:
            return
        unpacked_digest, differs, equivalent = compared
        # the git state the tree's wheel is keyed on: its version is in the sdist's PKG-INFO
        vcs = self.lookups("wheel")[-1].parts["vcs"]
        value = {
            "tree": base["inputs_digest"],
            "differs": differs,
            "equivalent": equivalent,
            "project": self.project_id,
            "vcs": vcs,
        }
        store.put(
            _key.sdist_alias_key(unpacked_digest),
            "sdist-alias",
            [],
            build_seconds=0.0,
            parts={"hook": "sdist-alias"},
            value=value,
        )

    # -- the keys of a hook ----------------------------------------------------------------
    def _vcs(self, versions: Mapping[str, str]) -> str | None:
        """``git describe`` (a process) once per call, when a VCS plugin is in ``versions``."""
        plugin = bool(_key.VCS_PLUGINS.intersection(versions))
        if plugin not in self._vcs_states:
            self._vcs_states[plugin] = _key.vcs_part(versions, str(self.project.root))
        return self._vcs_states[plugin]

    def _build_requires(self, kind: str) -> dict[str, str]:
        """The closure of what ``get_requires_for_build_*`` added to the build environment."""
        if self._adopted is not None or self.offline:
            return dict((self._adopted or {}).get("build_requires") or {})
        requires_kind = (
            "editable" if kind in ("editable", "metadata-editable") else "sdist" if kind == "sdist" else "wheel"
        )
        base = self.base()
        extra = self.requires(requires_kind)
        return {
            name: version
            for name, version in _key.versions_part(extra, self.family).items()
            if name not in base["versions"]
        }

    def key(self, kind: str) -> tuple[str, dict[str, Any]]:
        """The declared key of this tree for ``kind``, and its parts."""
        lookup = self.lookups(kind)[-1]
        return lookup.key, lookup.parts

    def lookups(self, kind: str) -> list[Lookup]:
        """The keys to look under: for an unpacked sdist, its tree's first, then its own."""
        if kind not in self._lookups:
            self._lookups[kind] = self._make_lookups(kind)
        return self._lookups[kind]

    def _make_lookups(self, kind: str) -> list[Lookup]:
        base = self.base()
        parts = dict(base, hook=kind, config_settings=_key.normalize_config_settings(self.inner_config))
        if not kind.startswith("requires-"):
            parts["build_requires"] = self._build_requires(kind)
        elif self.adapter.requires_tools:
            from .backends import tool_versions

            parts["tools"] = tool_versions(self.adapter.requires_tools, self.stat_cache.memo, self.environ)
        # the tree's own git state, also for the command line's adopted build environment
        # (whose versions name the plugin): an entry of an older tag must not stand for it
        parts["vcs"] = self._vcs({**parts["versions"], **parts.get("build_requires", {})})
        if kind == "sdist":
            parts["git"] = _key.git_part(str(self.project.root))
        found = [Lookup(self._digest(kind, parts), parts)]
        if self._alias is not None:
            alias = self._alias
            tree_parts = dict(parts, inputs_digest=alias["tree"], vcs=alias.get("vcs"), sdist_of=alias["tree"][:8])
            differs = frozenset(str(label) for label in alias["differs"])
            equivalent = frozenset(str(label) for label in alias.get("equivalent") or ())
            found.insert(0, Lookup(self._digest(kind, tree_parts), tree_parts, differs, equivalent))
        return found

    @staticmethod
    def _digest(kind: str, parts: dict[str, Any]) -> str:
        key = _key.key_digest(parts)
        if logger.enabled(DEBUG):
            logger.debug("key %s of %s: %s", key, kind, json.dumps(parts, indent=1, sort_keys=True))
        return key

    def build_environments(self, kind: str = "wheel") -> list[dict[str, Any]]:
        """The parts of this project's recent entries for ``kind``, newest first: the
        build environments ``adopt_build_environment`` can take."""
        if self.local is None:
            return []
        found = (self.local.parts(key) for key in self.local.recent_keys(self.project_id, kind))
        return [parts for parts in found if parts]

    def adopt_build_environment(self, kind: str = "wheel", parts: dict[str, Any] | None = None) -> bool:
        """Take the parts that describe the build environment from an entry: ``parts``,
        else the newest entry's.

        The command line runs outside the frontends' isolated build environments: its
        interpreter and installed packages are not theirs.  ``explain``, ``export`` and
        ``verify`` ask "would a build from the tree as it is now hit?", assuming the build
        environment of one of the project's recent entries (each frontend has its own:
        pip adds what uv does not).
        """
        old = parts if parts is not None else self.newest(kind)[1]
        if not old:
            return False
        base = self.base()
        for part in ("interpreter", "versions", "wheelmemo"):
            base[part] = old.get(part)
        self._adopted = old
        self._lookups.clear()
        return True

    # -- why a lookup missed -----------------------------------------------------------
    def newest(self, kind: str) -> tuple[str | None, dict[str, Any] | None]:
        """The key of the newest entry of this project for ``kind``, and its parts."""
        if self.local is None:
            return None, None
        last = self.local.last_key(self.project_id, kind)
        return last, (self.local.parts(last) if last else None)

    def closest(self, kind: str, parts: Mapping[str, Any]) -> tuple[str, list[str]] | None:
        """Of this project's newest entries for ``kind``, the one whose parts differ least
        from ``parts`` (the newest of those that differ as little), and how: after an
        edit is reverted, a miss is not worded against the edit."""
        if self.local is None:
            return None
        best: tuple[str, list[str]] | None = None
        for key in self.local.recent_keys(self.project_id, kind):
            old = self.local.parts(key)
            if old is None:
                continue
            changes = _key.diff_parts(old, parts)
            if best is None or len(changes) < len(best[1]):
                best = (key, changes)
        return best

    def why(self, kind: str, lookup: Lookup, mismatch: str | None) -> str:
        """Why ``lookup`` missed, in a few words: ``mismatch`` (a learned input), else what
        changed since the entry of this project that differs least."""
        if mismatch is not None:
            return mismatch
        if self.local is None or not self.local.last_key(self.project_id, kind):
            return "nothing cached for this project yet"
        closest = self.closest(kind, lookup.parts)
        if closest is None:
            return "previous key unknown"
        if not closest[1]:
            return "entry missing"
        return _key.summarize(closest[1])
