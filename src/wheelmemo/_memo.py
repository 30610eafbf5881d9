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

from . import _key
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


class Memo:
    """The project, settings, inner backend and store of one hook call."""

    def __init__(
        self, config_settings: ConfigSettings = None, root: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.start = time.monotonic()
        self.environ = os.environ if environ is None else environ
        self.project = load_project(root)
        self.settings, self.inner_config = load_settings(self.project, config_settings, self.environ)
        self.inner = InnerBackend(self.settings.backend, self.settings.backend_path, self.project.root)
        self.family = _key.backend_family(self.inner.ref)
        self.project_id = self.project.name or str(self.project.root.resolve())
        self._store: Store | None = None
        self._base: dict[str, Any] | None = None
        if not self.settings.disable:
            self._store = LocalStore(self.settings.cache_dir or default_cache_dir())

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
            stat_path = None
            if isinstance(store, LocalStore):
                tree_id = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:32]
                stat_path = store.root / "stat" / f"{tree_id}.m{marshal.version}"
            stat_cache = StatCache(stat_path)
            inputs = collect_inputs(
                root, self.project.pyproject, backend=self.family,
                include=self.settings.inputs, exclude=self.settings.exclude, stat_cache=stat_cache,
            )
            versions = _key.versions_part(self.project.requires, self.family)
            self._base = {
                "format": _key.FORMAT,
                "wheelmemo": __version__,
                "project": self.project_id,
                "backend": self.settings.backend,
                "env": _key.env_part(self.family, self.settings.env, self.environ),
                "interpreter": _key.interpreter_part(),
                "versions": versions,
                "toolchain": _key.toolchain_part(self.family, stat_cache.memo, self.environ),
                "vcs": _key.vcs_part(versions, str(root)),
                "inputs": inputs,
                "inputs_digest": _key.inputs_digest(inputs),
            }
            if store is not None and (root / "PKG-INFO").is_file():
                self._apply_sdist_alias(store, self._base)
            else:
                stat_cache.save()  # an unpacked sdist is built once: no stat cache to keep
        return self._base

    def _apply_sdist_alias(self, store: Store, parts: dict[str, Any]) -> None:
        """An unpacked sdist that a tree made meets that tree's entries (uv build, build)."""
        try:
            alias = store.get(_key.sdist_alias_key(parts["inputs_digest"]))
        except StoreError as e:
            self._storage_failed(e)
            return
        if alias is not None and isinstance(alias.value, str):
            parts["inputs_digest"] = alias.value
            parts["sdist_of"] = alias.value[:8]
            logger.debug("this unpacked sdist was made from the tree state %s", alias.value[:8])

    def _remember_sdist(self, sdist: Path) -> None:
        """Record which tree state ``sdist`` was made from, by what it unpacks to."""
        store = self.store
        if store is None:
            return
        from ._sdist import unpacked_inputs_digest

        unpacked = unpacked_inputs_digest(sdist, self.family, self.environ)
        if unpacked is not None:
            store.put(_key.sdist_alias_key(unpacked), "sdist-alias", [], build_seconds=0.0,
                      parts={"project": self.project_id, "hook": "sdist-alias"},
                      value=self._base_parts(store)["inputs_digest"])

    def key(self, store: Store, hook: str) -> tuple[str, dict[str, Any]]:
        parts = dict(self._base_parts(store), hook=hook,
                     config_settings=_key.normalize_config_settings(self.inner_config))
        key = _key.key_digest(parts)
        if logger.enabled(DEBUG):
            logger.debug("key %s of %s: %s", key, hook, json.dumps(parts, indent=1, sort_keys=True))
        return key, parts

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
        return True

    def _why(self, store: Store, hook: str, key: str, parts: dict[str, Any]) -> str:
        last = store.last_key(self.project_id, hook)
        if last is None:
            return "nothing cached for this project yet"
        if last == key:
            return "entry missing"
        old = store.parts(last)
        return _key.summarize(_key.diff_parts(old, parts)) if old else "previous key unknown"

    # -- the one memoization pattern every cached hook uses -----------------------
    def _memoized(
        self, kind: str, hook: str, fetch: Callable[[Store, Entry], T | None],
        compute: Callable[[], Outcome[T]],
    ) -> T:
        """``fetch`` a hit; else ``compute`` under the key's lock and store the outcome."""
        store = self.store
        key: str | None = None
        parts: dict[str, Any] = {}
        reason = "cache disabled"
        with contextlib.ExitStack() as stack:
            if store is not None:
                try:
                    key, parts = self.key(store, kind)
                    hit = self._fetch(store, key, fetch)
                    if hit is None:
                        stack.enter_context(store.lock(key))
                        # another process may have built it while we waited
                        hit = self._fetch(store, key, fetch, locked=True)
                    if hit is not None:
                        result, saved = hit
                        store.record_event(self.project_id, kind, "hit", saved)
                        logger.info("%s hit %s (%s)", hook, key[:8], _elapsed(self.start))
                        return result
                    reason = self._why(store, kind, key, parts)
                except StoreError as e:
                    self._storage_failed(e)
                    reason = "cache unavailable"
            began = time.monotonic()
            outcome = compute()
            seconds = time.monotonic() - began
            if key is not None and self.store is not None:
                try:
                    self.store.put(key, kind, outcome.files, build_seconds=seconds, parts=parts,
                                   value=outcome.value)
                    self.store.record_event(self.project_id, kind, "hit" if outcome.via else "miss", 0.0)
                    if outcome.files:  # a value-only entry (get_requires) adds no blob
                        self.store.enforce_limit(self.settings.max_size)
                except StoreError as e:
                    self._storage_failed(e)
        if outcome.via:
            logger.info("%s hit %s (%s)", hook, outcome.via, _elapsed(self.start))
        else:
            logger.info("%s miss (%s) → %s (%s)", hook, reason, self.inner.name, _elapsed(self.start))
        return outcome.result

    def _fetch(
        self, store: Store, key: str, fetch: Callable[[Store, Entry], T | None], locked: bool = False,
    ) -> tuple[T, float] | None:
        """The fetched result and the build time it saves, or None on a miss.

        A reader holds the key's lock shared; under the builder's exclusive lock
        (``locked``) it must not ask again: flock would wait for itself.
        """
        try:
            with contextlib.nullcontext() if locked else store.reading(key):
                entry = store.get(key)
                result = None if entry is None else fetch(store, entry)
        except CorruptEntryError as e:
            self._storage_failed(e)
            return None
        return None if result is None or entry is None else (result, entry.build_seconds)

    # -- get_requires_for_build_* -------------------------------------------------
    def requires(self, kind: str) -> list[str]:
        """The inner answer, memoized: setuptools runs setup.py to give it (~0.4 s)."""
        if kind == "editable" and self.derives_editables:
            return self.requires("wheel")  # the editable is made from the regular wheel
        hook = f"get_requires_for_build_{kind}"

        def compute() -> Outcome[list[str]]:
            result = list(self.inner.call(hook, self.inner_config)) if self.inner.has(hook) else []
            return Outcome(result, value=result)

        return self._memoized(f"requires-{kind}", hook, lambda _, e: list(e.value), compute)

    def build_sdist(self, sdist_directory: str) -> str:
        name = str(self.inner.call("build_sdist", sdist_directory, self.inner_config))
        try:
            self._remember_sdist(Path(sdist_directory) / name)
        except (StoreError, ConfigError, OSError, ValueError) as e:
            warn_once(f"cannot record what {name} was made from ({e}); its wheel will be built anew")
        logger.info("build_sdist → %s (%s)", self.inner.name, _elapsed(self.start))
        return name

    # -- build_wheel / build_editable ---------------------------------------------
    @property
    def derives_editables(self) -> bool:
        return self.settings.editable != "native"

    def build(self, kind: str, wheel_directory: str, metadata_directory: str | None) -> str:
        if kind == "editable" and self.derives_editables:
            return self._derived_editable(Path(wheel_directory))
        hook = f"build_{kind}"
        dest = Path(wheel_directory)
        reused = _built_for_metadata(metadata_directory, dest)
        if reused is not None:
            logger.info("%s hit (the wheel built for metadata) (%s)", hook, _elapsed(self.start))
            return reused

        def fetch(store: Store, entry: Entry) -> str | None:
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
            if not self.inner.has(hook):
                raise ConfigError(
                    f"backend {self.settings.backend!r} has no {hook} hook (PEP 660): "
                    "build a regular wheel, or use a backend that supports editable installs"
                )
            name = str(self.inner.call(hook, wheel_directory, self.inner_config, metadata_directory))
            files = [(name, dest / name)]
            if kind == "editable":
                # a native editable may rely on files it wrote into the tree (seed 003)
                root = self.project.root
                files += [(f"{TREE_PREFIX}{rel}", root / rel) for rel in find_extension_files(root)]
            return Outcome(name, files=files)

        return self._memoized(kind, hook, fetch, compute)

    # -- prepare_metadata_for_build_wheel / _editable ----------------------------
    def prepare_metadata(self, kind: str, metadata_directory: str) -> str:
        if kind == "editable" and self.derives_editables:
            return self.prepare_metadata("wheel", metadata_directory)  # PEP 660: the same
        hook = f"prepare_metadata_for_build_{kind}"
        dest = Path(metadata_directory)

        def fetch(store: Store, entry: Entry) -> str:
            store.materialize(entry, dest)
            return entry.files[0].name.split("/")[0]

        def compute() -> Outcome[str]:
            via: str | None = None
            from_wheel = self._metadata_from_cached_wheel(kind, dest)
            if from_wheel is not None:
                name, via = from_wheel
            elif self.settings.metadata == "hook" and self.inner.has(hook):
                name = str(self.inner.call(hook, metadata_directory, self.inner_config))
            else:
                name = self._metadata_from_build(kind, dest)
                via = "(the wheel was built for it)"
            files = [(f"{name}/{path.relative_to(dest / name).as_posix()}", path)
                     for path in sorted((dest / name).rglob("*")) if path.is_file()]
            return Outcome(name, files=files, via=via)

        return self._memoized(f"metadata-{kind}", hook, fetch, compute)

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
            target.parent.mkdir(parents=True, exist_ok=True)
            store.materialize_file(stored, target)
            logger.info("restored %s from the cache", rel)

    def derive_editable(self, wheel: Path, dest: Path) -> str:
        """Write the editable wheel of this project for ``wheel`` into ``dest``."""
        from ._editable import derive_editable

        return derive_editable(
            wheel, dest, self.project.root.resolve(), self._base_parts(self.store)["inputs"],
            project=self.project.name or wheel.name.split("-")[0], mode=self.settings.editable,
            rebuild=self.settings.editable_rebuild,
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
            key, _ = self.key(store, kind)
            entry = store.get(key)
            if entry is None:
                return None
            store.materialize(entry, scratch)
            return extract_dist_info(scratch / entry.files[0].name, dest), f"{key[:8]} (from the cached wheel)"
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
                 via: str | None = None) -> None:
        self.result = result
        self.files = files or []
        self.value = value
        self.via = via


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
