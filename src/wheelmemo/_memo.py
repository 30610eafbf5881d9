"""Memoized hooks: answer from the cache when the key matches, else call the inner backend.

One :class:`Memo` serves one hook call (every PEP 517 hook runs in a fresh process).  It
computes the key's parts once, looks the key up, and on a miss builds under a per-key
lock so that concurrent builds of the same state run the inner backend once.  Storage
problems are warnings, never failures: the build then goes on uncached.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from . import _key, _learned
from ._errors import ConfigError, CorruptEntryError, StoreError
from ._inner import InnerBackend
from ._inputs import StatCache, collect_inputs, file_digest, find_extension_files
from ._log import DEBUG, logger, warn_once
from ._settings import ConfigSettings, load_project, load_settings
from ._store import Entry, LocalStore, Store, StoredFile, default_cache_dir
from ._version import __version__

__all__ = ["Memo", "extract_dist_info"]

T = TypeVar("T")

#: Left beside a metadata directory whose wheel was built to get it (as pyproject-hooks
#: does), so that the build hook of the same frontend run returns that wheel.
BUILT_MARKER = ".wheelmemo-built-wheel.json"
#: Names of stored files that a native editable build wrote into the source tree.
TREE_PREFIX = "tree:"


def _elapsed(start: float) -> str:
    seconds = time.monotonic() - start
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


def extract_dist_info(wheel: Path, dest: Path) -> str:
    """Unpack the ``.dist-info`` directory of a wheel into ``dest``; return its name."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        tops = {n.split("/")[0] for n in zf.namelist() if n.split("/")[0].endswith(".dist-info")}
        if len(tops) != 1:
            raise ValueError(f"{wheel.name} has {len(tops)} .dist-info directories")
        (top,) = tops
        for name in zf.namelist():
            if name.startswith(f"{top}/") and not name.endswith("/"):
                zf.extract(name, dest)  # zipfile strips absolute paths and ".."
    return top


def _wheel_metadata(wheel: Path) -> bytes | None:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        for name in zf.namelist():
            parts = name.split("/")
            if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
                return zf.read(name)
    return None


#: How many results one declared key keeps, newest first (each with its learned inputs).
MAX_CANDIDATES = 8


class Lookup:
    """One key a hook looks under: the declared key, its parts, and for an unpacked sdist
    the project files it lacks or changes compared with the tree it was made from."""

    def __init__(self, key: str, parts: dict[str, Any], differs: frozenset[str] = frozenset(),
                 equivalent: frozenset[str] = frozenset()) -> None:
        self.key = key
        self.parts = parts
        self.differs = differs
        #: files of the unpacked sdist whose bytes differ from the tree's to no effect
        #: (PKG-INFO, setuptools' egg_info tags): what the tree's build read of them holds
        self.equivalent = equivalent


class Memo:
    """The project, settings, inner backend and store of one hook call."""

    def __init__(
        self, config_settings: ConfigSettings = None, root: Path | None = None,
        environ: Mapping[str, str] | None = None, *, offline: bool = False,
    ) -> None:
        self.start = time.monotonic()
        #: the command line's memo: it reads the cache and never calls the inner backend
        #: (which would run setup.py in the tree, outside any build environment)
        self.offline = offline
        # the frontend's environment, as this hook found it: an inner backend may set
        # variables in the process (mesonpy sets NINJA) that no key computed later may see
        self.environ = dict(os.environ) if environ is None else environ
        self.project = load_project(root)
        self.settings, self.inner_config = load_settings(self.project, config_settings, self.environ)
        self.inner = InnerBackend(self.settings.backend, self.settings.backend_path, self.project.root)
        self.family = _key.backend_family(self.inner.ref)
        #: the build runs cargo (maturin, setuptools-rust): keyed on rustc and cargo's
        #: variables, and cargo's records are read after a miss
        self.cargo = _key.uses_cargo(self.family, self.project.requires)
        self.project_id = self.project.name or str(self.project.root.resolve())
        self._store: Store | None = None
        self._base: dict[str, Any] | None = None
        self._stat_cache = StatCache(None)
        self._alias: dict[str, Any] | None = None
        self._adopted: dict[str, Any] | None = None
        #: the frontend's directories of this call (wheel, metadata): outputs, never inputs
        self._outputs: list[str] = []
        self._lookups: dict[str, list[Lookup]] = {}
        self._vcs_states: dict[bool, str | None] = {}
        #: the learned inputs of the newest wheel this call built or found
        self.last_learned: dict[str, Any] = {}
        if not self.settings.disable:
            self._store = LocalStore(self.settings.cache_dir or default_cache_dir(),
                                     read_only=self.settings.cache_read_only)

    # -- the store, which may be switched off by a failure ---------------------
    @property
    def store(self) -> Store | None:
        return self._store

    def _storage_failed(self, error: StoreError) -> None:
        if isinstance(error, CorruptEntryError):
            warn_once(f"{error}; building it again")
            return
        warn_once(f"{error}; building without the cache")
        self._store = None

    # -- keys -------------------------------------------------------------------
    def _base_parts(self, store: Store | None) -> dict[str, Any]:
        if self._base is None:
            root = self.project.root
            # an unpacked sdist (a PKG-INFO, no git: a git checkout holding a PKG-INFO is
            # a tree, with a git state of its own) is built once: no stat cache to keep
            unpacked_sdist = (root / "PKG-INFO").is_file() and not (root / ".git").exists()
            stat_path = None
            if isinstance(store, LocalStore) and not unpacked_sdist:
                tree_id = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
                stat_path = store.stat_path(f"{tree_id}.m{marshal.version}")
            self._stat_cache = stat_cache = StatCache(
                stat_path, read_only=self.settings.cache_read_only)
            inputs = self._collect_inputs(stat_cache)
            self._base = {
                "format": _key.FORMAT,
                "wheelmemo": __version__,
                "project": self.project_id,
                "backend": self.settings.backend,
                "env": _key.env_part(self.family, self.settings.env, self.environ, cargo=self.cargo),
                "interpreter": _key.interpreter_part(),
                # wheelmemo itself is keyed by its version (above), not by how it was
                # installed: a development install has a new RECORD in every build env
                "versions": _key.versions_part(
                    [r for r in self.project.requires if _key.requirement_name(r) != "wheelmemo"],
                    self.family),
                "toolchain": _key.toolchain_part(self.cargo, stat_cache.memo, self.environ),
                "inputs": inputs,
                "inputs_digest": _key.inputs_digest(inputs),
            }
            if store is not None and unpacked_sdist:
                self._alias = self._sdist_alias(store, self._base["inputs_digest"])
                if self._alias is not None and isinstance(self._alias.get("project"), str):
                    # a project named only by setup.py is known by its tree's path
                    self.project_id = self._base["project"] = self._alias["project"]
        return self._base

    def _collect_inputs(self, stat_cache: StatCache) -> dict[str, str]:
        """The declared inputs: the project's files, less ``exclude``, and less the cache and
        the frontend's output directory where they lie inside the project: what they hold
        changes with every build."""
        exclude = list(self.settings.exclude)
        root = os.path.abspath(self.project.root)
        # and the frontend's output directory of this call (pip wheel -w out, build -o out)
        inside = [*self._outputs]
        if isinstance(self._store, LocalStore):
            inside.append(os.path.abspath(self._store.root.parent))
        for directory in inside:
            if directory.startswith(root + os.sep):
                exclude.append("/" + os.path.relpath(directory, root).replace(os.sep, "/") + "/")
        return collect_inputs(self.project.root, self.project.pyproject, backend=self.family,
                              include=self.settings.inputs, exclude=exclude, stat_cache=stat_cache)

    def _sdist_alias(self, store: Store, unpacked_digest: str) -> dict[str, Any] | None:
        """What the tree an unpacked sdist was made from recorded (uv build, build)."""
        try:
            alias = store.get(_key.sdist_alias_key(unpacked_digest))
        except StoreError as e:
            self._storage_failed(e)
            return None
        value = alias.value if alias is not None else None
        if not (isinstance(value, dict) and isinstance(value.get("tree"), str)
                and isinstance(value.get("differs"), list)):
            return None
        logger.debug("this unpacked sdist was made from the tree state %s", value["tree"][:8])
        return value

    def _remember_sdist(self, sdist: Path) -> None:
        """Record which tree state ``sdist`` was made from, and what it lacks or changes."""
        store = self.store
        if store is None:
            return
        from ._sdist import compare_unpacked

        base = self._base_parts(store)
        compared = compare_unpacked(sdist, self.family, self.environ, self.project.root, base["inputs"])
        if compared is None:
            return
        unpacked_digest, differs, equivalent = compared
        # the git state the tree's wheel is keyed on: its version is in the sdist's PKG-INFO
        vcs = self.lookups(store, "wheel")[-1].parts["vcs"]
        value = {"tree": base["inputs_digest"], "differs": differs, "equivalent": equivalent,
                 "project": self.project_id, "vcs": vcs}
        store.put(_key.sdist_alias_key(unpacked_digest), "sdist-alias", [], build_seconds=0.0,
                  parts={"hook": "sdist-alias"}, value=value)

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
        requires_kind = "editable" if kind in ("editable", "metadata-editable") else "wheel"
        if requires_kind == "editable" and self.derives_editables:
            requires_kind = "wheel"
        base = self._base_parts(self.store)
        extra = self.requires(requires_kind, frontend_call=False)
        return {name: version for name, version in _key.versions_part(extra, self.family).items()
                if name not in base["versions"]}

    def key(self, store: Store, kind: str) -> tuple[str, dict[str, Any]]:
        """The declared key of this tree for ``kind``, and its parts."""
        lookup = self.lookups(store, kind)[-1]
        return lookup.key, lookup.parts

    def lookups(self, store: Store, kind: str) -> list[Lookup]:
        """The keys to look under: for an unpacked sdist, its tree's first, then its own."""
        if kind not in self._lookups:
            self._lookups[kind] = self._make_lookups(store, kind)
        return self._lookups[kind]

    def _make_lookups(self, store: Store, kind: str) -> list[Lookup]:
        base = self._base_parts(store)
        parts = dict(base, hook=kind, config_settings=_key.normalize_config_settings(self.inner_config))
        if not kind.startswith("requires-"):
            parts["build_requires"] = self._build_requires(kind)
        parts["vcs"] = self._vcs({**parts["versions"], **parts.get("build_requires", {})})
        if self._adopted is not None:
            parts["vcs"] = self._adopted.get("vcs")
        found = [Lookup(self._digest(kind, parts), parts)]
        if self._alias is not None:
            alias = self._alias
            tree_parts = dict(parts, inputs_digest=alias["tree"], vcs=alias.get("vcs"),
                              sdist_of=alias["tree"][:8])
            differs = frozenset(str(label) for label in alias["differs"])
            equivalent = frozenset(str(label) for label in alias.get("equivalent") or ())
            found.insert(0, Lookup(self._digest(kind, tree_parts), tree_parts, differs, equivalent))
        return found

    def _digest(self, kind: str, parts: dict[str, Any]) -> str:
        key = _key.key_digest(parts)
        if logger.enabled(DEBUG):
            logger.debug("key %s of %s: %s", key, kind, json.dumps(parts, indent=1, sort_keys=True))
        return key

    def adopt_build_environment(self, store: Store, kind: str = "wheel") -> bool:
        """Take the parts that describe the build environment from the newest entry.

        The command line runs outside the frontends' isolated build environments: its
        interpreter and installed packages are not theirs.  ``explain`` and ``export``
        ask "would a build from the tree as it is now hit?", assuming the build
        environment that made the newest entry of this project.
        """
        last = store.last_key(self.project_id, kind)
        old = store.parts(last) if last else None
        if not old:
            return False
        base = self._base_parts(store)
        for part in ("interpreter", "versions", "wheelmemo"):
            base[part] = old.get(part)
        self._adopted = old
        self._lookups.clear()
        return True

    # -- finding a result: the declared key, then the learned inputs --------------------
    def _installed(self) -> Mapping[str, tuple[str, str]]:
        import sys

        return _key._installed(sys.path)

    def _mismatch(self, learned: Mapping[str, Any], lookup: Lookup) -> str | None:
        """Why a candidate result does not fit this build, or None when it does."""
        lacking = lookup.differs.intersection(learned.get("read") or ())
        if lacking:
            return f"the sdist lacks or changes {min(lacking)}, which the tree's build read"
        return _learned.check_learned(learned, self.project.root, self._stat_cache, self.environ,
                                      self._installed, same=lookup.equivalent)

    def _candidates(self, store: Store, lookup: Lookup) -> tuple[list[dict[str, Any]], str | None]:
        """The results recorded under a declared key that fit this build, newest first,
        and why the newest one that does not fit does not."""
        manifest = store.get(_learned.manifest_key(lookup.key))
        value = manifest.value if manifest is not None else None
        if not isinstance(value, list):
            return [], None
        fitting: list[dict[str, Any]] = []
        reason: str | None = None
        for candidate in value[:MAX_CANDIDATES]:
            if not (isinstance(candidate, dict) and isinstance(candidate.get("key"), str)
                    and isinstance(candidate.get("learned"), dict)):
                continue
            why = self._mismatch(candidate["learned"], lookup)
            if why is None:
                fitting.append(candidate)
            elif reason is None:
                reason = why
        return fitting, reason

    def find(self, store: Store, kind: str) -> tuple[Entry | None, str | None]:
        """The stored result that fits this build (its learned inputs become
        ``last_learned``), or why none does."""
        hit, reason = self._fetch(store, self.lookups(store, kind), lambda _, entry: entry)
        return (hit[0] if hit is not None else None), reason

    def _why(self, store: Store, kind: str, lookup: Lookup, mismatch: str | None) -> str:
        if mismatch is not None:
            return mismatch
        last = store.last_key(self.project_id, kind)
        if last is None:
            return "nothing cached for this project yet"
        old = store.parts(last)
        if old is None:
            return "previous key unknown"
        if _key.key_digest({k: v for k, v in old.items() if k != "learned"}) == lookup.key:
            return "entry missing"
        return _key.summarize(_key.diff_parts(old, lookup.parts))

    # -- the one memoization pattern every cached hook uses -----------------------
    def _memoized(
        self, kind: str, hook: str, fetch: Callable[[Store, Entry], T | None],
        compute: Callable[[], Outcome[T]], *, frontend_call: bool = True,
    ) -> T:
        """``fetch`` a hit; else ``compute`` under the key's lock and store the outcome.

        ``frontend_call`` is off for answers this call needs for its own key (the
        ``get_requires`` answer in a build hook): they get no log line and no statistics.
        """
        store = self.store
        target: Lookup | None = None
        reason = "cache disabled"
        with contextlib.ExitStack() as stack:
            if store is not None:
                try:
                    lookups = self.lookups(store, kind)
                    hit, mismatch = self._fetch(store, lookups, fetch)
                    # a wheel built in an unpacked sdist that differs from its tree is its own
                    target = lookups[-1] if lookups[0].differs else lookups[0]
                    if hit is None:
                        stack.enter_context(store.lock(target.key))
                        # another process may have built it while we waited
                        hit, mismatch = self._fetch(store, lookups, fetch)
                    if hit is not None:
                        result, saved, found = hit
                        self._stat_cache.save()
                        if frontend_call:
                            store.record_event(self.project_id, kind, "hit", saved)
                            logger.info("%s hit %s (%s)", hook, found[:8], _elapsed(self.start))
                        return result
                    reason = self._why(store, kind, target, mismatch)
                except StoreError as e:
                    self._storage_failed(e)
                    reason = "cache unavailable"
            # tempfile and shutil come with it: a miss's cost, not a hit's
            from ._buildenv import observed_build

            began = time.monotonic()
            with observed_build(self.family) as (recorder, scratch):
                outcome = compute()
            seconds = time.monotonic() - began
            if target is not None and self.store is not None:
                learned = outcome.learned
                if learned is None:
                    learned = self._learn(kind, recorder, scratch, target.parts)
                if learned is not None:
                    self._store_outcome(self.store, target, kind, outcome, learned, seconds,
                                        count=frontend_call)
            self._stat_cache.save()
        if frontend_call and outcome.via:
            logger.info("%s hit %s (%s)", hook, outcome.via, _elapsed(self.start))
        elif frontend_call:
            logger.info("%s miss (%s) → %s (%s)", hook, reason, self.inner.name, _elapsed(self.start))
        return outcome.result

    def _fetch(
        self, store: Store, lookups: list[Lookup], fetch: Callable[[Store, Entry], T | None],
    ) -> tuple[tuple[T, float, str] | None, str | None]:
        """The fetched result, the build time it saves and its key (or None), and why not.

        A reader holds the result's lock shared, so that pruning leaves it alone.
        """
        reason: str | None = None
        try:
            for lookup in lookups:
                fitting, why = self._candidates(store, lookup)
                reason = reason or why
                for candidate in fitting:
                    with store.reading(candidate["key"]):
                        entry = store.get(candidate["key"])
                        result = None if entry is None else fetch(store, entry)
                    if result is not None and entry is not None:
                        if entry.kind in ("wheel", "editable"):
                            self.last_learned = candidate["learned"]
                        return (result, entry.build_seconds, entry.key), None
        except CorruptEntryError as e:
            self._storage_failed(e)
        return None, reason

    def _learn(self, kind: str, recorder: _learned.Recorder, scratch: Path,
               parts: Mapping[str, Any]) -> dict[str, Any] | None:
        """The learned inputs of the build just made; None (with a warning) when one of its
        inputs changed while it ran, since what it read is then unknown."""
        from ._buildenv import cargo_findings
        from ._inputs import DEFAULT_EXCLUDE, compile_glob

        root = self.project.root
        declared = parts["inputs"]
        closure = {name.partition(":")[2] or name
                   for name in (*parts.get("versions", {}), *parts.get("build_requires", {}))}
        cargo = None
        if self.cargo and kind in ("wheel", "editable"):
            manifests = [label for label in declared if label.rsplit("/", 1)[-1] == "Cargo.toml"]
            cargo = cargo_findings(root, self.project.pyproject, self.environ, manifests)
        outputs = [str(scratch), str(getattr(self.store, "root", scratch)), *self._outputs,
                   *(cargo.target_dirs if cargo else ())]
        context = _learned.BuildContext(
            root, declared, skip=outputs,
            is_output=lambda label: compile_glob(*DEFAULT_EXCLUDE).match(label) is not None,
            declared_env=lambda name: bool(_key.env_part(self.family, self.settings.env, {name: ""},
                                                         cargo=self.cargo)),
            closure=closure,
        )
        learned, changed = _learned.learn(recorder, context, self._stat_cache, cargo, self._installed)
        after = self._collect_inputs(self._stat_cache)
        changed += _key.diff_parts({"inputs": declared}, {"inputs": after})
        if changed:
            warn_once(
                f"the build changed its own inputs ({', '.join(changed[:3])}), so what it read is "
                "not known and its result is not cached: commit generated files the build needs "
                "(a Cargo.lock) or list them in .gitignore"
            )
            return None
        if kind in ("wheel", "editable"):
            self.last_learned = learned
        return learned

    def _store_outcome(self, store: Store, target: Lookup, kind: str, outcome: Outcome[Any],  # noqa: PLR0917
                       learned: dict[str, Any], seconds: float, *, count: bool) -> None:
        """Store a computed result under its learned key and list it in the declared key's
        manifest; ``count`` it in the statistics (a frontend's call, not our own)."""
        read = set(learned.get("read") or ()) | _read_by_nature(target.parts["inputs"], outcome.files)
        learned = dict(learned, read=sorted(read))
        result_key = _learned.learned_key(target.key, learned)
        try:
            store.put(result_key, kind, outcome.files, build_seconds=seconds,
                      parts=dict(target.parts, learned=learned), value=outcome.value)
            manifest_key = _learned.manifest_key(target.key)
            try:
                old = store.get(manifest_key)
            except CorruptEntryError:
                old = None
            older = [c for c in (old.value if old is not None and isinstance(old.value, list) else [])
                     if isinstance(c, dict) and c.get("key") != result_key]
            store.put(manifest_key, "manifest", [], build_seconds=0.0, parts={"hook": "manifest"},
                      value=[{"key": result_key, "learned": learned}, *older[: MAX_CANDIDATES - 1]])
            if count:
                store.record_event(self.project_id, kind, "hit" if outcome.via else "miss", 0.0)
            if outcome.files:  # a value-only entry (get_requires) adds no blob
                store.enforce_limit(self.settings.max_size)
        except StoreError as e:
            self._storage_failed(e)

    # -- get_requires_for_build_* -------------------------------------------------
    def requires(self, kind: str, *, frontend_call: bool = True, called: str | None = None) -> list[str]:
        """The inner answer, memoized: setuptools runs setup.py to give it (~0.4 s).

        ``called`` is the hook the frontend called, for the log line, when it is answered
        as another (a derived editable's requirements are the regular wheel's).
        """
        hook = f"get_requires_for_build_{kind}"
        if kind == "editable" and self.derives_editables:
            return self.requires("wheel", frontend_call=frontend_call, called=called or hook)

        def compute() -> Outcome[list[str]]:
            result = list(self.inner.call(hook, self.inner_config)) if self.inner.has(hook) else []
            return Outcome(result, value=result)

        return self._memoized(f"requires-{kind}", called or hook, lambda _, e: list(e.value), compute,
                              frontend_call=frontend_call)

    def build_sdist(self, sdist_directory: str) -> str:
        from ._inner import answer_problem

        self._outputs.append(os.path.abspath(sdist_directory))
        if self.store is not None:
            # the tree the sdist is made from, before the backend's import changes the
            # process (setuptools puts its vendored distributions on sys.path)
            try:
                self._base_parts(self.store)
            except StoreError as e:
                self._storage_failed(e)
        try:
            answer = self.inner.call("build_sdist", sdist_directory, self.inner_config)
        except ConfigError:
            raise
        except Exception as e:
            # PEP 517's one signal: a frontend knows it as wheelmemo.UnsupportedOperation
            # (the class of the backend it imported), so the inner one is re-raised as
            # that, chained to it; every other exception passes through untouched
            unsupported = getattr(self.inner.loaded, "UnsupportedOperation", None)
            if isinstance(unsupported, type) and isinstance(e, unsupported):
                from ._hooks import UnsupportedOperation

                if not isinstance(e, UnsupportedOperation):
                    raise UnsupportedOperation(*e.args) from e
            raise
        problem = answer_problem(answer, sdist_directory)
        if problem is not None:
            warn_once(f"backend {self.inner.ref!r}: build_sdist returned {answer!r}, {problem} (PEP 517: "
                      f"the basename of the sdist it created in {sdist_directory}): passed on as is, "
                      "and what it was made from is not recorded")
        else:
            try:
                self._remember_sdist(Path(sdist_directory) / answer)
            except Exception as e:  # noqa: BLE001
                # the sdist is built and is the frontend's whatever happens here: what it
                # was made from only serves a later hit (an archive wheelmemo cannot read,
                # a member the tarfile data filter refuses, a full disk: all one warning)
                warn_once(f"cannot record what {answer} was made from ({e}); its wheel will be built anew")
        logger.info("build_sdist → %s (%s)", self.inner.name, _elapsed(self.start))
        return answer  # type: ignore[no-any-return]  # the inner answer, untouched

    # -- build_wheel / build_editable ---------------------------------------------
    @property
    def derives_editables(self) -> bool:
        return self.settings.editable != "native"

    def build(self, kind: str, wheel_directory: str, metadata_directory: str | None) -> str:
        from ._inner import answer_problem, plain_name

        if kind == "editable" and self.derives_editables:
            # what an inner answer unfit to derive from calls for (see compute)
            self._derivation = 'an editable wheel; set [tool.wheelmemo] editable = "native"'
            return self._derived_editable(Path(wheel_directory))
        hook = f"build_{kind}"
        dest = Path(wheel_directory)
        self._outputs += [os.path.abspath(p) for p in (wheel_directory, metadata_directory) if p]
        reused = _built_for_metadata(metadata_directory, dest)
        if reused is not None:
            logger.info("%s hit (the wheel built for metadata) (%s)", hook, _elapsed(self.start))
            return reused

        def fetch(store: Store, entry: Entry) -> str | None:
            names = [stored.name for stored in entry.files]
            if not (names and plain_name(names[0]) and names[0].endswith(".whl")
                    and all(name.startswith(TREE_PREFIX) for name in names[1:])):
                # any store, old or remote: a hit must hand back one wheel, in dest
                discard = getattr(store, "discard", None)
                if callable(discard):
                    discard(entry.key)
                raise CorruptEntryError(f"cache entry {entry.key[:8]} holds no wheel ({names[:1]}); discarded")
            wheel, *in_tree = entry.files
            store.materialize_file(wheel, dest / wheel.name)
            self._restore_tree_files(store, in_tree)
            name = wheel.name
            if metadata_directory is not None:
                prepared = Path(metadata_directory) / "METADATA"
                if prepared.is_file() and prepared.read_bytes() != _wheel_metadata(dest / name):
                    # PEP 517: the wheel must carry the prepared metadata; let the backend build
                    (dest / name).unlink()
                    logger.info("the cached wheel's METADATA differs from %s", prepared)
                    return None
            return name

        def compute() -> Outcome[str]:
            if kind == "editable" and not self.inner.has(hook):
                raise ConfigError(
                    f"backend {self.settings.backend!r} has no {hook} hook (PEP 660): "
                    "build a regular wheel, or use a backend that supports editable installs"
                )
            answer = self.inner.call(hook, wheel_directory, self.inner_config, metadata_directory)
            problem = answer_problem(answer, wheel_directory, suffix=".whl")
            if problem is not None:
                what = (f"backend {self.inner.ref!r}: {hook} returned {answer!r}, {problem} (PEP 517: "
                        f"the basename of the wheel it created in {wheel_directory})")
                derivation = getattr(self, "_derivation", None)
                if derivation is not None:
                    raise ConfigError(f"{what}: wheelmemo cannot make {derivation}")
                # the frontend gets what the inner backend said, as without wheelmemo; a
                # hit could not hand it back (another directory, no such file): no entry.
                # _memoized stores only while there is a store.
                warn_once(f"{what}: passed on as is, not cached")
                self._store = None
                return Outcome(answer)
            files = [(answer, dest / answer)]
            if kind == "editable":
                # a native editable may rely on files it wrote into the tree (seed 003)
                root = self.project.root
                files += [(f"{TREE_PREFIX}{rel}", root / rel) for rel in find_extension_files(root)]
            return Outcome(answer, files=files)

        return self._memoized(kind, hook, fetch, compute)

    # -- prepare_metadata_for_build_wheel / _editable ----------------------------
    def prepare_metadata(self, kind: str, metadata_directory: str, called: str | None = None) -> str:
        """``called``: the hook the frontend called, for the log line (as in ``requires``)."""
        from ._inner import answer_problem, plain_name

        hook = f"prepare_metadata_for_build_{kind}"
        if kind == "editable" and self.derives_editables:
            return self.prepare_metadata("wheel", metadata_directory, called or hook)  # PEP 660: the same
        dest = Path(metadata_directory)
        self._outputs.append(os.path.abspath(metadata_directory))

        def fetch(store: Store, entry: Entry) -> str:
            names = [stored.name for stored in entry.files]
            tops = {name.split("/")[0] for name in names}
            if len(tops) != 1 or not all("/" in name and all(plain_name(part) for part in name.split("/"))
                                         for name in names):
                # any store, old or remote: a hit must hand back one directory, in dest
                discard = getattr(store, "discard", None)
                if callable(discard):
                    discard(entry.key)
                raise CorruptEntryError(f"cache entry {entry.key[:8]} is no metadata directory; discarded")
            store.materialize(entry, dest)
            return tops.pop()

        def compute() -> Outcome[str]:
            via: str | None = None
            learned: dict[str, Any] | None = None
            from_wheel = self._metadata_from_cached_wheel(kind, dest)
            if from_wheel is not None:
                name, via = from_wheel
                learned = self.last_learned  # the metadata is that wheel's: so are its inputs
            elif self.settings.metadata == "hook" and self.inner.has(hook):
                answer = self.inner.call(hook, metadata_directory, self.inner_config)
                problem = answer_problem(answer, metadata_directory, is_dir=True)
                if problem is None and not any(path.is_file() for path in (dest / answer).rglob("*")):
                    problem = "a directory with no files"
                if problem is not None:
                    # as in build(): the inner answer, untouched; nothing a hit could give back
                    warn_once(f"backend {self.inner.ref!r}: {hook} returned {answer!r}, {problem} (PEP 517: "
                              f"the basename of the .dist-info directory it created in {metadata_directory}): "
                              "passed on as is, not cached")
                    self._store = None
                    return Outcome(answer)
                name = answer
            else:
                self._derivation = ("the metadata" if self.settings.metadata == "hook"
                                    else 'the metadata; set [tool.wheelmemo] metadata = "hook"')
                name = self._metadata_from_build(kind, dest)
                via = "(the wheel was built for it)"
                learned = self.last_learned
            files = [(f"{name}/{path.relative_to(dest / name).as_posix()}", path)
                     for path in sorted((dest / name).rglob("*")) if path.is_file()]
            return Outcome(name, files=files, via=via, learned=learned)

        return self._memoized(f"metadata-{kind}", called or hook, fetch, compute)

    def _restore_tree_files(self, store: Store, in_tree: list[StoredFile]) -> None:
        """Put back in-tree files of a native editable that are missing or changed."""
        root = self.project.root.resolve()
        for stored in in_tree:
            rel = stored.name[len(TREE_PREFIX):]
            target = root / rel
            if rel.startswith("/") or ".." in rel.split("/"):
                raise CorruptEntryError(f"entry names a file outside the tree: {rel!r}")
            try:
                if target.is_file() and file_digest(target) == stored.blob:
                    continue
            except OSError:
                pass
            _make_dirs_in(root, target.parent)
            store.materialize_file(stored, target)
            logger.info("restored %s from the cache", rel)

    def derive_editable(self, wheel: Path, dest: Path) -> str:
        """Write the editable wheel of this project for ``wheel`` into ``dest``."""
        from ._editable import derive_editable

        return derive_editable(
            wheel, dest, self.project.root.resolve(), self._base_parts(self.store)["inputs"],
            project=self.project.name or wheel.name.split("-")[0], mode=self.settings.editable,
            rebuild=self.settings.editable_rebuild, learned=self.last_learned,
        )

    def _derived_editable(self, dest: Path) -> str:
        """PEP 660 from the regular wheel of this state: one compile for both (seed 000)."""
        scratch = dest / f".wheelmemo-regular-{os.getpid()}"
        scratch.mkdir(parents=True, exist_ok=True)
        try:
            name = self.derive_editable(scratch / self.build("wheel", str(scratch), None), dest)
        finally:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)
        logger.info("build_editable derived from the wheel (%s) (%s)", self.settings.editable,
                    _elapsed(self.start))
        return name

    def _metadata_from_cached_wheel(self, kind: str, dest: Path) -> tuple[str, str] | None:
        """A wheel already cached for this state carries the metadata: unpack it."""
        store = self.store
        if store is None:
            return None
        scratch = dest / ".wheelmemo-wheel"
        try:
            entry, _ = self.find(store, kind)
            if entry is None:
                return None
            store.materialize(entry, scratch)
            return (extract_dist_info(scratch / entry.files[0].name, dest),
                    f"{entry.key[:8]} (from the cached wheel)")
        except StoreError as e:
            self._storage_failed(e)
            return None
        finally:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)

    def _metadata_from_build(self, kind: str, dest: Path) -> str:
        """Build the wheel to read its metadata, and keep it for the build hook (seed 004)."""
        wheel = self.build(kind, str(dest), None)
        name = extract_dist_info(dest / wheel, dest)
        (dest / BUILT_MARKER).write_text(json.dumps({"wheel": wheel}))
        return name


class Outcome(Generic[T]):
    """What computing a memoized hook gave: its result, and what to store for it.

    ``via`` is set when the result came from another cache entry, not the inner backend.
    """

    def __init__(self, result: T, files: list[tuple[str, Path]] | None = None, value: Any = None,
                 via: str | None = None, learned: dict[str, Any] | None = None) -> None:
        self.result = result
        self.files = files or []
        self.value = value
        self.via = via
        #: the learned inputs, when the result is another entry's (else the build's own)
        self.learned = learned


def _read_by_nature(inputs: Mapping[str, str], files: list[tuple[str, Path]]) -> set[str]:
    """Project files a build reads whoever runs it (sources and build files of compiled
    parts) and the files it shipped (wheel members with the bytes of a project file):
    the files an unpacked sdist must hold unchanged to share the tree's result."""
    from ._inputs import builds_compiled_parts

    read = {label for label in inputs if not os.path.isabs(label) and builds_compiled_parts(label)}
    by_digest: dict[str, list[str]] = {}
    for label, digest in inputs.items():
        by_digest.setdefault(digest.rpartition(":")[2], []).append(label)
    for name, path in files:
        if not name.endswith(".whl"):
            continue
        import zipfile

        try:
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    digest = hashlib.sha256(zf.read(info)).hexdigest()
                    read.update(label for label in by_digest.get(digest, ()) if not os.path.isabs(label))
        except (OSError, zipfile.BadZipFile):
            continue
    return read


def _make_dirs_in(root: Path, directory: Path) -> None:
    """Create ``directory`` below ``root``, refusing to pass through a symlink: a forged
    entry naming ``link/sub/x.so`` must not create directories where ``link`` points."""
    current = root
    for part in directory.relative_to(root).parts:
        current = current / part
        if current.is_symlink():
            raise CorruptEntryError(f"entry names a file behind the symlink {current}")
        if not current.is_dir():
            current.mkdir()


def _built_for_metadata(metadata_directory: str | None, dest: Path) -> str | None:
    """The wheel our prepare hook built beside ``metadata_directory`` in this frontend run."""
    if metadata_directory is None:
        return None
    marker = Path(metadata_directory).parent / BUILT_MARKER
    try:
        source = marker.parent / str(json.loads(marker.read_bytes())["wheel"])
        dest.mkdir(parents=True, exist_ok=True)
        if source.parent.resolve() != dest.resolve():
            import shutil

            shutil.copyfile(source, dest / source.name)
        return source.name
    except (OSError, ValueError, KeyError, TypeError):
        return None
