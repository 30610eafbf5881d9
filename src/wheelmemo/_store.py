"""The cache storage: small key -> entry records and large content-addressed blobs.

Layout of a local store (``<cache-dir>/v1``)::

    entries/ab/<key>.json   record: which files an entry has, by blob digest (checksummed)
    parts/ab/<key>.json     what the key was made of (read only to explain a miss)
    blobs/cd/<sha256>       file contents, named by their SHA-256
    projects/<id>.json      the newest key per hook kind of a project (to explain misses)
    rejected/ab/<key>       keys verification found wrong (``reject``)
    locks/<key>.lock        per-key locks (flock: released when a process dies); builders
                            hold them exclusively, readers shared, pruning never waits,
                            and removes them with what they lock (``_lock``)
    build/<name>/           persistent build directories (``_builddir``), locked by
                            ``locks/build-<name>.lock`` while a build uses one
    build/<name>.json       a build directory's note: project, label, measured size
    compiler/               the compiler cache (``_compcache``): sccache's ``objects/``,
                            its stable ``bin/``, locked by ``locks/compiler.lock`` while
                            a build's sccache server uses it
    stat/<tree>             stat caches of the trees built (``_inputs``)
    remotes/<name>          a remote failed lately: not asked again for a while
    tmp/                    files being written; renamed into place when complete
    stats.jsonl             one line per memoized hook call: hit or miss, time saved

and beside ``v1``, ``code/``: wheelmemo's compiled modules (``_bytecode``).

**The bound.**  ``max-size`` bounds all of it: :meth:`LocalStore.usage` adds up the
bytes every file takes on disk (blocks allocated, hard links once, no symlink
followed), per kind, walking everything but the build directories, whose sizes are
measured after each build that used them (``_builddir``: walking 100,000 files after
every store would cost more than the store).  :meth:`LocalStore.prune` evicts entries
and build directories together, least recently used first (an entry's last use is its
record's time, touched on a hit; a build directory's is its own time, set before each
build), and never one in use: an entry whose lock is held (a reader copying it out, a
builder), a build directory whose lock is held (a build in it).  Stat caches, compiled
modules and remote notes count too, and go by age (the next build writes again the
ones it needs).  Lock files go with what they lock, and those of what is not there
(a key only looked up) with every prune, none held: each is removed by a process
holding it, and every taker checks after locking that its file is still the one there.

Every write is a temp file plus ``os.replace``, so a reader never sees half an entry;
every read is verified (records by checksum and by a schema check of what they hold,
blobs by digest while copying), and what fails is discarded.  ``Store`` is the
interface a remote store will implement too.

A cache may be shared, and whoever can write to it can make a build return their wheel
(as with ccache), but never make wheelmemo read or write anywhere else: no symlink is
followed below ``v1`` (``_fsdir``: directories opened with ``O_NOFOLLOW``, files reached
relative to them), every record is checked for what it holds and every name in it is a
checked relative path (``_records``), and a file is only ever written inside the
directory it is meant for.  Every failure of the storage
is a :class:`StoreError`: a warning and a normal build, never a traceback.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol

from ._bytecode import CODE_DIR
from ._errors import CorruptEntryError, StoreError
from ._fsdir import (
    BINARY,
    Dir,
    DiskUsage,
    descend,
    flock,
    is_symlink_error,
    list_names,
    new_temp,
    open_dir,
    remove_held,
    same_file,
    walk,
)
from ._records import (
    FORMAT,
    INVALID,
    TREE_PREFIX,
    Entry,
    StoredFile,
    check_parts,
    check_projects,
    check_record,
    is_digest,
    is_event,
    is_relative_name,
    load_json,
    make_record,
)

__all__ = [
    "FAILED",
    "KINDS",
    "READ_ONLY",
    "READ_WRITE",
    "BuildDirUse",
    "Entry",
    "LocalStore",
    "Pruned",
    "Store",
    "StoredFile",
    "Usage",
    "materialize",
    "owners",
]
_CHUNK = 1 << 20
#: How many of a project's newest keys per hook kind are remembered (``recent_keys``).
RECENT = 4


#: What a store does with writes (``Store.mode``).
READ_WRITE, READ_ONLY, FAILED = "read-write", "read-only", "failed"

#: The kinds of what the cache holds (``LocalStore.usage``), and the kind of each
#: directory of ``v1``; anything else (locks, tmp, remote notes, statistics) is "other".
KINDS = ("entries", "build", "compiler", "stat", "code", "other")
_KIND_OF = {
    "compiler": "compiler",
    "entries": "entries",
    "parts": "entries",
    "blobs": "entries",
    "projects": "entries",
    "rejected": "entries",
    "build": "build",
    "stat": "stat",
}


class BuildDirUse(NamedTuple):
    """A persistent build directory, as ``LocalStore.usage`` found it."""

    name: str
    project: str
    identity: str
    size: int  #: bytes on disk, as measured after its last build
    last_use: float  #: its mtime


class Usage(NamedTuple):
    """The bytes on disk of everything in the cache (``LocalStore.usage``)."""

    kinds: dict[str, int]  #: bytes per kind (``KINDS``)
    files: dict[tuple[str, str], int]  #: ("entries", "parts" or "blobs", key or digest) -> bytes
    build_dirs: list[BuildDirUse]

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


class Pruned(NamedTuple):
    """What ``LocalStore.prune`` removed."""

    entries: int
    build_dirs: int
    freed: int  #: bytes


class Store(Protocol):
    """What every storage does, local or remote (sccache's ``Storage``: get, put, check).

    Locks, statistics, listing, pruning and the size limit are the local cache's alone
    (:class:`LocalStore`); a remote store says its failures itself and turns ``FAILED``.
    """

    #: where it is, for messages (no credentials)
    name: str

    @property
    def mode(self) -> str:
        """``READ_WRITE``; ``READ_ONLY``: ``put`` stores nothing; ``FAILED``: not used again."""

    def get(self, key: str) -> Entry | None:
        """The entry recorded under ``key``, checked; None when there is none."""

    def put(
        self,
        key: str,
        kind: str,
        files: Sequence[tuple[str, Path]],
        *,
        build_seconds: float,
        parts: dict[str, Any],
        value: Any = None,
    ) -> Entry:
        """Store ``files`` (stored name, path) as the entry ``key``; ``parts`` is what the
        key was made of, which a store may keep to explain a later miss."""

    def materialize_file(self, stored: StoredFile, target: Path) -> None:
        """Write the blob of ``stored`` to ``target``, verified by its SHA-256 on the way."""


def materialize(store: Store, entry: Entry, dest: Path) -> None:
    """Write an entry's files into ``dest``, every byte verified (files of the tree are
    the memoizer's to restore, into the tree); on failure, none of them."""
    written: list[Path] = []
    try:
        for stored in entry.files:
            if stored.name.startswith(TREE_PREFIX):
                continue
            target = dest / stored.name
            check_target(stored.name, target)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StoreError(f"cannot write into {target.parent} ({e})") from e
            store.materialize_file(stored, target)
            written.append(target)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise


def temp_file(directory: Path, prefix: str = ".tmp-") -> tuple[int, str]:
    """``tempfile.mkstemp`` without importing tempfile (and random) on the hit path."""
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | BINARY
    fd, name = new_temp(lambda name: os.open(os.path.join(directory, name), flags, 0o644), prefix)
    return fd, os.path.join(directory, name)


# -- writing into the destination ------------------------------------------------------
def _within(base: str, path: str) -> bool:
    try:
        return os.path.commonpath([base, path]) == base
    except ValueError:  # another drive
        return False


def check_target(name: str, target: Path) -> None:
    """Refuse to write ``target`` unless it lands inside the directory the stored file's
    relative path ``name`` starts from (the destination, or the tree for ``tree:``
    names), following any symlink already there; CorruptEntryError if it does not."""
    relative = name.removeprefix(TREE_PREFIX)
    if not is_relative_name(relative):
        raise CorruptEntryError(f"stored file name {name[:80]!r} is not a relative path")
    segments = tuple(relative.split("/"))
    matches = target.parts[-len(segments) :] == segments and len(target.parts) > len(segments)
    dest = target.parents[len(segments) - 1] if matches else target.parent
    if not _within(os.path.realpath(dest), os.path.realpath(target.parent)):
        raise CorruptEntryError(f"stored file {name[:80]!r} would be written outside {dest}")


def _read_chunk(src: IO[bytes], size: int, stored: StoredFile) -> bytes:
    try:
        return src.read(size)
    except OSError as e:
        raise CorruptEntryError(f"blob {stored.blob[:8]} of {stored.name} cannot be read ({e})") from None


def _copy_verified(src: IO[bytes], target: Path, stored: StoredFile) -> bool:
    """Copy ``src`` to ``target`` through a temp file beside it; False, writing nothing,
    when its bytes are not ``stored``'s; StoreError when ``target`` cannot be written."""
    digest = hashlib.sha256()
    size = 0
    limit = stored.size + 1  # a byte more tells a longer file without copying all of it
    try:
        fd, tmp = temp_file(target.parent, ".wheelmemo-")
    except OSError as e:
        raise StoreError(f"cannot write into {target.parent} ({e})") from e
    try:
        with os.fdopen(fd, "wb") as out:
            while size < limit and (chunk := _read_chunk(src, min(_CHUNK, limit - size), stored)):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
        if size != stored.size or digest.hexdigest() != stored.blob:
            os.unlink(tmp)
            return False
        os.replace(tmp, target)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError):
            raise StoreError(f"cannot write {target} ({e})") from e
        raise
    return True


class LocalStore:
    """A store in a local directory, safe for concurrent processes."""

    def __init__(self, cache_dir: Path, *, read_only: bool = False) -> None:
        self.root = cache_dir / f"v{FORMAT}"
        #: read, never write: no entry, statistics line, lock file or last-use time
        self.read_only = read_only
        self.name = str(self.root)

    @property
    def mode(self) -> str:
        return READ_ONLY if self.read_only else READ_WRITE

    def stat_path(self, name: str) -> Path | None:
        """Where the stat cache ``name`` of a tree lives, or None when ``stat/`` cannot be
        used (a symlink planted there must not carry the stat cache's writes elsewhere)."""
        try:
            with self._dir("stat", create=not self.read_only):
                return self.root / "stat" / name
        except (OSError, StoreError):
            return None

    def build_path(self, name: str) -> Path | None:
        """The persistent build directory ``name`` (``_builddir``), made, or None when
        ``build/`` cannot be used (a symlink planted there must not carry a build's
        writes elsewhere)."""
        if not is_digest(name.ljust(64, "0")) or self.read_only:
            return None
        try:
            with self._dir("build", name, create=True):
                return self.root / "build" / name
        except (OSError, StoreError):
            return None

    def using_build_dir(self, name: str) -> contextlib.AbstractContextManager[bool]:
        """Held while a build uses the build directory ``name``: builds take it in turn
        (its record describes one build: ``_builddir``), and pruning leaves it alone.
        Yields False when it cannot be locked: then it must not be used."""
        return self._lock(f"build-{name}.lock", f"build {name[:8]}", required=False)

    def compiler_path(self) -> Path | None:
        """The compiler cache's directory (``_compcache``) with its ``objects``, ``bin``
        and ``cargo`` directories, made, or None when it cannot be used (read-only, or a
        symlink planted at any of them: sccache and the copy of its binary would write
        where it leads)."""
        if self.read_only:
            return None
        try:
            for below in ("objects", "bin", "cargo"):
                with self._dir("compiler", below, create=True):
                    pass
        except (OSError, StoreError):
            return None
        return self.root / "compiler"

    def using_compiler_cache(self) -> contextlib.AbstractContextManager[bool]:
        """Held while a build's sccache server uses the compiler cache (one at a time:
        sccache's disk cache takes one server); yields False at once when it is taken."""
        return self._lock("compiler.lock", "compiler cache", wait=False, required=False)

    def blob_path(self, digest: str) -> Path:
        """Where a blob lives (for tools and tests: the store itself never opens a path)."""
        return self.root / "blobs" / digest[:2] / digest

    # -- directories -----------------------------------------------------------
    def _open_root(self, create: bool) -> Dir:
        if create:
            # the configured cache directory may be a symlink (the user's choice); v1 not
            self.root.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(self.root)
        return open_dir(str(self.root), str(self.root), None)

    @contextlib.contextmanager
    def _dir(self, *names: str, create: bool = False) -> Iterator[Dir]:
        """The directory ``root/names``, no symlink followed at or below the root, made
        when ``create``.  FileNotFoundError when it is missing; StoreError when it or a
        directory above it is something else (a file, a symlink) or cannot be opened."""
        try:
            current = descend(self._open_root(create), names, create=create)
        except FileNotFoundError:
            raise
        except OSError as e:
            raise StoreError(f"cannot open {os.path.join(self.root, *names)} ({e})") from e
        with current:
            yield current

    def _read(self, where: tuple[str, ...], name: str) -> tuple[bytes, float]:
        with self._dir(*where) as d:
            return d.read(name)

    @staticmethod
    def _project_name(project_id: str) -> str:
        return f"{hashlib.sha256(project_id.encode()).hexdigest()[:32]}.json"

    # -- writing -------------------------------------------------------------
    def _write_atomic(self, where: tuple[str, ...], name: str, data: bytes) -> None:
        with self._dir(*where, create=True) as d:
            fd, tmp = d.temp(".tmp-")
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                d.replace(tmp, d, name)
            except BaseException:
                with contextlib.suppress(OSError):
                    d.unlink(tmp)
                raise

    def _store_blob(self, source: Path) -> tuple[str, int]:
        with self._dir("tmp", create=True) as tmpdir:
            fd, tmp = tmpdir.temp("blob-")
            try:
                digest, size = _copy_hashing(source, fd)
                with self._dir("blobs", digest[:2], create=True) as blobs:
                    try:
                        present = blobs.lstat(digest)
                    except FileNotFoundError:
                        present = None
                    if present is not None and stat.S_ISREG(present.st_mode) and present.st_size == size:
                        tmpdir.unlink(tmp)
                    else:
                        tmpdir.replace(tmp, blobs, digest)
            except BaseException:
                with contextlib.suppress(OSError):
                    tmpdir.unlink(tmp)
                raise
        return digest, size

    def put(
        self,
        key: str,
        kind: str,
        files: Sequence[tuple[str, Path]],
        *,
        build_seconds: float,
        parts: dict[str, Any],
        value: Any = None,
    ) -> Entry:
        if self.read_only:  # what a build made stays out of a read-only cache, silently
            return Entry(key, kind, (), time.time(), build_seconds, value)
        try:
            with (
                self._dir(create=True) as root,
                flock(  # blobs are not garbage yet
                    lambda: root.open("gc.lock", os.O_RDWR | os.O_CREAT, 0o666), "gc.lock", shared=True
                ),
            ):
                return self._put(key, kind, files, build_seconds=build_seconds, parts=parts, value=value)
        except OSError as e:
            raise StoreError(f"cannot write to the cache at {self.root} ({e})") from e

    def _put(
        self,
        key: str,
        kind: str,
        files: Sequence[tuple[str, Path]],
        *,
        build_seconds: float,
        parts: dict[str, Any],
        value: Any,
    ) -> Entry:
        stored = tuple(StoredFile(name, *self._store_blob(path)) for name, path in files)
        try:
            record, entry = make_record(
                key, kind, stored, build_seconds=build_seconds, value=value, project=parts.get("project")
            )
        except INVALID as e:
            raise StoreError(f"not caching this {kind} ({e})") from None
        # parts first: a record never points at a key whose explanation is missing
        self._write_atomic(("parts", key[:2]), f"{key}.json", json.dumps(parts).encode())
        self._write_atomic(("entries", key[:2]), f"{key}.json", record)
        project_id = parts.get("project")
        if isinstance(project_id, str):
            self._remember(project_id, kind, key)
        return entry

    def _remember(self, project_id: str, kind: str, key: str) -> None:
        name = self._project_name(project_id)
        try:
            data = check_projects(load_json(self._read(("projects",), name)[0]))
        except (OSError, ValueError):
            data = {}
        older = [data.get(f"{kind}#{n}" if n else kind) for n in range(RECENT)]
        for n, recent in enumerate([key, *[k for k in older if k and k != key]][:RECENT]):
            data[f"{kind}#{n}" if n else kind] = recent
        self._write_atomic(("projects",), name, json.dumps(data, sort_keys=True).encode())

    # -- reading -------------------------------------------------------------
    def discard(self, key: str) -> None:
        if self.read_only or not is_digest(key):
            return
        for where in ("entries", "parts"):
            with contextlib.suppress(OSError, StoreError), self._dir(where, key[:2]) as d:
                d.unlink(f"{key}.json")

    def reject(self, key: str) -> None:
        """Drop an entry that verification found wrong (``_verify``) and remember its key:
        nothing is stored under it again, nor imported from a remote that holds it."""
        self.discard(key)
        if self.read_only or not is_digest(key):
            return
        with contextlib.suppress(OSError, StoreError):
            self._write_atomic(("rejected", key[:2]), key, b"")

    def rejected(self, key: str) -> bool:
        if not is_digest(key):
            return False
        try:
            with self._dir("rejected", key[:2]) as d:
                d.read(key)
        except (OSError, StoreError):
            return False
        return True

    def _entry(self, key: str, raw: bytes) -> Entry:
        """The entry a record's bytes describe; CorruptEntryError (discarded) if none."""
        try:
            return check_record(key, load_json(raw))
        except INVALID as e:
            self.discard(key)
            raise CorruptEntryError(f"cache entry {key[:8]} was corrupt ({e}); discarded") from None

    def get(self, key: str) -> Entry | None:
        if not is_digest(key):
            raise CorruptEntryError(f"{str(key)[:80]!r} is not a cache key")
        name = f"{key}.json"
        try:
            with self._dir("entries", key[:2]) as d:
                entry = self._entry(key, d.read(name)[0])
                if not self.read_only:
                    with contextlib.suppress(OSError):
                        d.touch(name)  # last use, for least-recently-used eviction
        except FileNotFoundError:
            return None
        except PermissionError as e:
            raise StoreError(f"cannot read the cache at {self.root} ({e})") from e
        except OSError as e:  # a symlink, a FIFO, a directory: not a record
            self.discard(key)
            raise CorruptEntryError(f"cache entry {key[:8]} could not be read ({e}); discarded") from None
        return entry

    def materialize_file(self, stored: StoredFile, target: Path) -> None:
        """Copy one stored file to ``target``, verifying its digest on the way; refuse a
        target outside the directory its stored name is relative to."""
        check_target(stored.name, target)
        if not is_digest(stored.blob):
            raise CorruptEntryError(f"{stored.name} names no blob")
        try:
            with self._dir("blobs", stored.blob[:2]) as blobs:
                self._copy_blob(blobs, stored, target)
        except FileNotFoundError:
            raise CorruptEntryError(f"blob {stored.blob[:8]} of {stored.name} is missing") from None

    def _copy_blob(self, blobs: Dir, stored: StoredFile, target: Path) -> None:
        """Copy the blob of ``stored`` from ``blobs``; one that cannot be read or fails
        verification is discarded (CorruptEntryError)."""
        try:
            fd = blobs.open(stored.blob, os.O_RDONLY)
        except FileNotFoundError:
            raise
        except OSError as e:
            self._discard_blob(blobs, stored.blob)
            raise CorruptEntryError(
                f"blob {stored.blob[:8]} of {stored.name} cannot be read ({e}); discarded"
            ) from None
        with os.fdopen(fd, "rb") as src:
            if _copy_verified(src, target, stored):
                return
        self._discard_blob(blobs, stored.blob)
        raise CorruptEntryError(f"blob {stored.blob[:8]} of {stored.name} failed verification; discarded")

    def _discard_blob(self, blobs: Dir, name: str) -> None:
        if not self.read_only:
            with contextlib.suppress(OSError):
                blobs.unlink(name)

    def parts(self, key: str) -> dict[str, Any] | None:
        if not is_digest(key):
            return None
        try:
            data = load_json(self._read(("parts", key[:2]), f"{key}.json")[0])
        except (OSError, ValueError, StoreError):
            return None
        return data if check_parts(data) else None

    def last_key(self, project_id: str, kind: str) -> str | None:
        recent = self.recent_keys(project_id, kind)
        return recent[0] if recent else None

    def recent_keys(self, project_id: str, kind: str) -> list[str]:
        """The keys of the newest entries of a project for ``kind``, newest first (at
        most ``RECENT``): a miss is explained against the one that differs least."""
        try:
            data = check_projects(load_json(self._read(("projects",), self._project_name(project_id))[0]))
        except (OSError, ValueError, StoreError):
            return []
        found = [data.get(f"{kind}#{n}" if n else kind) for n in range(RECENT)]
        return [key for key in found if key]

    # -- locks ---------------------------------------------------------------------
    def _lock(
        self, name: str, label: str, *, shared: bool = False, wait: bool = True, required: bool = True
    ) -> contextlib.AbstractContextManager[bool]:
        """Hold the lock file ``locks/<name>`` (made if missing; ``flock``).  Pruning
        removes the lock files of what it evicts, and those of what is gone, while
        holding them (``_drop_lock``): so the file locked is checked after to be the
        one there, and the new one is taken if not."""
        return flock(
            lambda: self._open_lock(name),
            label,
            shared=shared,
            wait=wait,
            required=required,
            still_current=lambda fd: self._is_lock(fd, name),
        )

    def _open_lock(self, name: str) -> int:
        if not _is_lock_name(name):
            raise CorruptEntryError(f"{str(name)[:80]!r} names no lock of the cache")
        with self._dir("locks", create=True) as locks:
            return locks.open(name, os.O_RDWR | os.O_CREAT, 0o666)

    def _is_lock(self, fd: int, name: str) -> bool:
        """Whether ``fd`` is still the file ``locks/<name>`` (not removed by a pruner)."""
        try:
            with self._dir("locks") as locks:
                return same_file(fd, locks, name)
        except (OSError, StoreError):
            return False

    def _drop_lock(self, name: str) -> None:
        """Remove ``locks/<name>``, which the caller holds (``_lock``): a lock file for
        every key ever read or built would grow the cache without a bound."""
        with contextlib.suppress(OSError, StoreError), self._dir("locks") as locks:
            remove_held(locks, name)

    def lock(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Exclusive: held while the entry is built and stored (nothing is, read-only)."""
        if self.read_only:
            return contextlib.nullcontext(True)
        return self._lock(f"{key}.lock", f"{key[:8]} in {self.root / 'locks'}")

    def reading(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Shared: held while an entry is read, so that pruning leaves it alone.

        A read-only cache (shared with untrusted jobs) cannot hold locks; reads from it
        go on without one, verified as every read is; so do reads in read-only mode,
        which creates no lock file.
        """
        if self.read_only:
            return contextlib.nullcontext(False)
        return self._lock(f"{key}.lock", key[:8], shared=True, required=False)

    # -- a remote that failed ------------------------------------------------------
    @staticmethod
    def _remote_name(name: str) -> str:
        return hashlib.sha256(name.encode()).hexdigest()[:32]

    def mark_remote_down(self, name: str) -> None:
        """Remember that the remote ``name`` just failed, for the next hook calls of the
        same frontend run (each runs in a process of its own)."""
        if self.read_only:
            return
        with contextlib.suppress(OSError, StoreError):
            self._write_atomic(("remotes",), self._remote_name(name), b"")

    def remote_down(self, name: str, within: float) -> bool:
        """Whether the remote ``name`` failed less than ``within`` seconds ago."""
        try:
            with self._dir("remotes") as d:
                return time.time() - d.lstat(self._remote_name(name)).st_mtime < within
        except (OSError, StoreError):
            return False

    # -- statistics and maintenance ----------------------------------------------
    def _warn_symlink(self, error: BaseException, name: str) -> None:
        """Say so when ``name`` was not used because it is a symlink (planted?)."""
        if is_symlink_error(error):
            from ._log import warn_once

            warn_once(
                f"{self.root / name} is a symbolic link, which wheelmemo does not follow "
                "in its cache: statistics ignored"
            )

    def record_event(self, project: str, kind: str, event: str, seconds: float) -> None:
        """One memoized hook call of the local cache: a hit (saving ``seconds``) or a miss."""
        self._append(
            {"t": round(time.time(), 3), "project": project, "kind": kind, "event": event, "seconds": round(seconds, 3)}
        )

    def record_verification(self, project: str, kind: str, *, mismatch: bool) -> None:
        """A hit checked against a fresh build (``verify-rate``), and whether they differed."""
        self._append(
            {
                "t": round(time.time(), 3),
                "project": project,
                "kind": kind,
                "event": "verify",
                "mismatch": mismatch,
                "seconds": 0.0,
            }
        )

    def record_remote(
        self,
        project: str,
        kind: str,
        counts: dict[str, int],
        *,
        saved: float,
        seconds: float,
        bytes_down: int,
        bytes_up: int,
    ) -> None:
        """What a hook call did with the remote: hits, misses, uploads, errors, timeouts,
        bytes each way, the time it spent on it and the build time its hits saved."""
        self._append(
            {
                "t": round(time.time(), 3),
                "project": project,
                "kind": kind,
                "tier": "remote",
                **counts,
                "bytes_down": bytes_down,
                "bytes_up": bytes_up,
                "seconds": round(seconds, 3),
                "saved": round(saved, 3),
            }
        )

    def record_compiler(self, project: str, kind: str, counts: dict[str, int]) -> None:
        """What sccache did in one build (``_compcache.stats_counts``)."""
        self._append({"t": round(time.time(), 3), "project": project, "kind": kind, "tier": "sccache", **counts})

    def _append(self, event: dict[str, Any]) -> None:
        """Append one line to the statistics (O_APPEND: whole lines, no lock needed)."""
        if self.read_only:
            return
        line = json.dumps(event) + "\n"
        try:
            with self._dir() as root:
                fd = root.open("stats.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        except (OSError, StoreError) as e:  # statistics never hold a build up
            self._warn_symlink(e, "stats.jsonl")

    def events(self) -> list[dict[str, Any]]:
        """The lines of ``stats.jsonl`` that are events; others are skipped."""
        try:
            raw, _ = self._read((), "stats.jsonl")
        except (OSError, StoreError) as e:
            self._warn_symlink(e, "stats.jsonl")
            return []
        events = []
        for line in raw.splitlines():
            with contextlib.suppress(ValueError):
                event = load_json(line)
                if is_event(event):
                    events.append(event)
        return events

    def zero_stats(self) -> None:
        try:
            with self._dir() as root:
                root.unlink("stats.jsonl")
        except FileNotFoundError:
            pass
        except OSError as e:
            raise StoreError(f"cannot reset the statistics in {self.root} ({e})") from e

    def _record_names(self) -> Iterator[tuple[Dir, str, str]]:
        """(directory, file name, key) of every file in ``entries/`` named like a record,
        in directories that are directories (not symlinks)."""
        for below, prefix in self._subdirs("entries"):
            for name in sorted(list_names(below)):
                key = name[: -len(".json")]
                if name.endswith(".json") and is_digest(key) and key[:2] == prefix:
                    yield below, name, key

    def _subdirs(self, where: str) -> Iterator[tuple[Dir, str]]:
        """The directories in ``root/where`` (``entries/ab``, ``blobs/cd``), sorted, each
        open while it is handed out; files and symlinks there are skipped."""
        try:
            with self._dir(where) as top:
                try:
                    names = sorted(top.names())
                except OSError as e:
                    raise StoreError(f"cannot list {top.path} ({e})") from e
                for name in names:
                    try:
                        below = top.sub(name)
                    except OSError:
                        continue
                    with below:
                        yield below, name
        except FileNotFoundError:
            return

    def _scan(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Every valid record, with ``last_use`` (its mtime, touched on hits), and the keys
        of the records that are not valid (wrong types, a symlink, a bad checksum)."""
        valid: list[dict[str, Any]] = []
        invalid: list[str] = []
        for directory, name, key in self._record_names():
            try:
                raw, mtime = directory.read(name)
                record = load_json(raw)
                check_record(key, record)
            except FileNotFoundError:
                continue  # removed meanwhile
            except (OSError, *INVALID):
                invalid.append(key)
                continue
            valid.append(dict(record, last_use=mtime))
        return valid, invalid

    def records(self) -> list[dict[str, Any]]:
        """Every valid entry's record, with ``last_use``; its members have the types
        ``check_record`` checks (``key``, ``kind``, ``files``, ``size``, ``created``...)."""
        return self._scan()[0]

    def _blob_files(self) -> Iterator[tuple[Dir, str, os.stat_result]]:
        """(directory, name, lstat) of every file in ``blobs/*/``, symlinks not followed."""
        for below, _ in self._subdirs("blobs"):
            for name in list_names(below):
                try:
                    found = below.lstat(name)
                except OSError:
                    continue
                yield below, name, found

    def usage(self) -> Usage:
        """The bytes on disk of everything wheelmemo writes in the cache, per kind: one
        walk of ``v1`` (symlinks not followed) but for the build directories, whose
        measured sizes are read from their notes (one stale after a build that died is
        measured now, unless a build uses it)."""
        kinds = dict.fromkeys(KINDS, 0)
        files: dict[tuple[str, str], int] = {}
        measure = DiskUsage()
        build_dirs = self._build_dirs()  # first: measuring one writes its note (and lock)
        try:
            with self._dir() as root:
                kinds["other"] += measure(root.stat())
                for path, found in walk(root, skip=_is_build_dir):
                    if _is_build_dir(path):
                        continue  # measured by its note, below
                    size = measure(found)
                    kinds[_KIND_OF.get(path[0], "other")] += size
                    if len(path) == 3 and path[0] in ("entries", "parts", "blobs"):
                        files[path[0], path[2].removesuffix(".json")] = size
        except (OSError, StoreError):
            pass  # no cache yet (or not one wheelmemo can use): nothing in it
        kinds["build"] += sum(found.size for found in build_dirs)
        kinds["code"] = measure.of_tree(str(self.root.parent / CODE_DIR))
        return Usage(kinds, files, build_dirs)

    def _build_dirs(self) -> list[BuildDirUse]:
        from ._builddir import BuildDir, read_note

        found = []
        try:
            with self._dir("build") as builds:
                for name in sorted(list_names(builds)):
                    try:
                        st = builds.lstat(name)
                    except OSError:
                        continue
                    if not (stat.S_ISDIR(st.st_mode) and _is_build_dir(("build", name))):
                        continue
                    note = read_note(builds, name)
                    size = note["size"] if note else 0
                    if (note is None or not note["measured"]) and not self.read_only:
                        with self._lock(f"build-{name}.lock", name, wait=False, required=False) as free:
                            if free:  # a build that died before measuring it, or none yet
                                size = BuildDir(self.root / "build" / name).note_size(force=True)
                                note = read_note(builds, name)
                    found.append(
                        BuildDirUse(
                            name, note["project"] if note else "-", note["identity"] if note else "-", size, st.st_mtime
                        )
                    )
        except (OSError, StoreError):
            pass
        return found

    def size(self) -> int:
        """Bytes on disk of everything in the cache (``usage``): what ``max-size`` bounds."""
        return self.usage().total

    def remove(self, key: str) -> bool:
        """Drop an entry unless a process is reading or writing it right now."""
        try:
            with self._lock(f"{key}.lock", key[:8], wait=False) as locked:
                if locked:
                    self.discard(key)
                    self._drop_lock(f"{key}.lock")
                return locked
        except StoreError:  # no lock can be had: whether it is in use is unknown
            return False

    def collect_garbage(self) -> int:
        """Remove blobs no record points at; puts under way hold the gc lock shared."""
        freed = 0
        with (
            self._dir(create=True) as root,
            flock(lambda: root.open("gc.lock", os.O_RDWR | os.O_CREAT, 0o666), "gc.lock"),
        ):
            wanted = {f[1] for r in self.records() for f in r["files"]}
            for directory, name, found in self._blob_files():
                if name not in wanted:
                    with contextlib.suppress(OSError):
                        directory.unlink(name)
                        freed += found.st_size if stat.S_ISREG(found.st_mode) else 0
            # empty directories take room too; nothing writes in them but a put, which
            # holds the gc lock shared: none is under way
            for where in ("entries", "parts", "blobs"):
                with contextlib.suppress(OSError, StoreError), self._dir(where) as top:
                    for name in list_names(top):
                        with contextlib.suppress(OSError):
                            top.rmdir(name)
        return freed

    def prune(self, max_size: int | None = None, older_than: float | None = None) -> Pruned:
        """Evict entries and build directories, least recently used first, none in use:
        down to ``max_size`` bytes (0: all, ``clean``), or those unused for ``older_than``
        seconds.  Records that are not valid go first: nothing can hit them."""
        valid, invalid = self._scan()
        removed = sum(self.remove(key) for key in invalid)
        # stat caches of trees not built for a while (temporary copies, deleted checkouts),
        # wheelmemo's compiled modules (``_bytecode``) and remote notes written that long
        # ago: those still in use are written again by the next hook that needs them
        horizon = 0.0 if max_size == 0 else (older_than or 30 * 86400)
        forgotten = self._forget(lambda: self._dir("stat"), horizon)
        code = str(self.root.parent / CODE_DIR)
        forgotten += self._forget(lambda: open_dir(code, code, None), horizon)
        forgotten += self._forget(lambda: self._dir("remotes"), horizon)
        if max_size == 0:  # clean; else a project's index lives as long as the cache
            forgotten += self._forget(lambda: self._dir("projects"), 0.0)
        forgotten += self._forget(lambda: self._dir("tmp"), max(horizon, 86400.0))  # left by a process that died
        forgotten += self._forget_locks()
        usage = self.usage()
        # what each blob is kept for: an entry's blob is freed with the last entry holding it
        holders = Counter(blob for record in valid for blob in {f[1] for f in record["files"]})
        size = usage.total - sum(
            n for (where, name), n in usage.files.items() if where == "blobs" and not holders[name]
        )  # garbage already
        candidates: list[tuple[float, dict[str, Any] | BuildDirUse]] = [
            *((float(record["last_use"]), record) for record in valid),
            *((found.last_use, found) for found in usage.build_dirs),
        ]
        now = time.time()
        build_dirs = 0
        for last_use, candidate in sorted(candidates, key=lambda c: c[0]):
            too_old = older_than is not None and now - last_use > older_than
            # a limit of 0 (clean) takes them all, whatever they free
            too_big = max_size is not None and (size > max_size or max_size == 0)
            if not (too_old or too_big):
                continue
            if isinstance(candidate, BuildDirUse):
                if self._remove_build_dir(candidate):
                    build_dirs += 1
                    size -= candidate.size
            elif self.remove(candidate["key"]):
                removed += 1
                size -= _freed_by(candidate, usage.files, holders)
        if max_size is not None and (size > max_size or max_size == 0):
            # still over with every entry and build directory that could go gone: the
            # compiler cache's least recently used objects (all of them for ``clean``)
            freed = self._shrink_compiler_cache(None if max_size == 0 else size - max_size)
            forgotten += freed
            size -= freed
        self.collect_garbage()
        self._forget_notes()
        # what this call removed (garbage blobs included), not the change in the cache's
        # size, which builds storing beside it grow meanwhile ("freed -1.4 kB")
        return Pruned(removed, build_dirs, forgotten + usage.total - size)

    def remove_project(self, project_id: str) -> Pruned:
        """``clean`` of one project: its entries (with the manifests that list them and
        the sdist aliases that name it, ``owners``), its build directories and its index,
        none in use; other projects' are left alone, and so is the compiler cache, which
        projects share (an object is a compile's, whoever asked)."""
        valid, _ = self._scan()
        owner = owners(valid)
        usage = self.usage()
        holders = Counter(blob for record in valid for blob in {f[1] for f in record["files"]})
        removed = build_dirs = freed = 0
        for record in valid:
            if owner[record["key"]] == project_id and self.remove(record["key"]):
                removed += 1
                freed += _freed_by(record, usage.files, holders)
        from ._builddir import _NOTE_TEXT

        for found in usage.build_dirs:  # a note keeps the first _NOTE_TEXT characters of the id
            if found.project == project_id[:_NOTE_TEXT] and self._remove_build_dir(found):
                build_dirs += 1
                freed += found.size
        with contextlib.suppress(OSError, StoreError), self._dir("projects") as projects:
            projects.unlink(self._project_name(project_id))
        self.collect_garbage()
        self._forget_notes()
        return Pruned(removed, build_dirs, freed)

    def _shrink_compiler_cache(self, excess: int | None) -> int:
        """Remove the compiler cache's objects, least recently used first, until
        ``excess`` bytes are freed (None: all of them, ``clean``), unless a build's
        sccache server uses them (sccache reads its directory again when it starts);
        the bytes freed."""
        freed = 0
        if not (self.root / "compiler" / "objects").is_dir():
            return 0  # none: no lock file made for it
        with self.using_compiler_cache() as free:
            if not free:
                return 0
            measure = DiskUsage()
            found = []
            try:
                with self._dir("compiler", "objects") as objects:  # no symlink followed
                    for path, st in walk(objects):
                        if stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
                            found.append((max(st.st_atime, st.st_mtime), path, measure(st)))
            except (OSError, StoreError):
                return 0
            for _, path, size in sorted(found):
                if excess is not None and freed >= excess:
                    break
                with contextlib.suppress(OSError, StoreError), self._dir("compiler", "objects", *path[:-1]) as below:
                    below.unlink(path[-1])
                    freed += size
        return freed

    def _remove_build_dir(self, found: BuildDirUse) -> bool:
        """Remove a build directory and its note unless a build uses it, or used it
        since it was found (it is not the least recently used any more)."""
        import shutil

        with self._lock(f"build-{found.name}.lock", found.name, wait=False, required=False) as free:
            if not free:
                return False
            try:
                with self._dir("build") as builds:
                    if builds.lstat(found.name).st_mtime != found.last_use:
                        return False
                    # rmtree never follows a symlink below the directory, nor (from the
                    # opened build/) above it
                    if sys.version_info >= (3, 11) and builds.fd is not None:
                        shutil.rmtree(found.name, dir_fd=builds.fd, ignore_errors=True)
                    else:
                        shutil.rmtree(os.path.join(builds.path, found.name), ignore_errors=True)
                    if found.name in list_names(builds):  # not all of it could be removed
                        from ._builddir import BuildDir

                        BuildDir(self.root / "build" / found.name).note_size(force=True)
                        return False
                    with contextlib.suppress(FileNotFoundError):
                        builds.unlink(f"{found.name}.json")
            except (OSError, StoreError):
                return False
            self._drop_lock(f"build-{found.name}.lock")
        return True

    def _forget_notes(self) -> None:
        """Remove the notes of build directories that are gone (a prune that died
        between the two), unless a build is making one again, and the half-written
        notes of processes that died a day ago."""
        from ._builddir import NOTE_TEMP

        try:
            with self._dir("build") as builds:
                names = set(list_names(builds))
                for note in names:
                    if note.startswith(NOTE_TEMP):
                        with contextlib.suppress(OSError):
                            if builds.lstat(note).st_mtime < time.time() - 86400:
                                builds.unlink(note)
                        continue
                    name = note.removesuffix(".json")
                    if note == name or name in names or not _is_build_dir(("build", name)):
                        continue
                    with self._lock(f"build-{name}.lock", name, wait=False, required=False) as free:
                        if free and name not in list_names(builds):
                            builds.unlink(note)
                            self._drop_lock(f"build-{name}.lock")
        except (OSError, StoreError):
            return

    def _forget_locks(self) -> int:
        """Remove the lock files of entries and build directories that are not there
        (a miss that stored nothing, a key only looked up, a prune or an older version
        that left them), none held; the bytes they held."""
        entries = {key for _, _, key in self._record_names()}
        try:
            with self._dir("build") as builds:
                build_dirs = set(list_names(builds))
        except (OSError, StoreError):
            build_dirs = set()
        freed, measure = 0, DiskUsage()
        try:
            with self._dir("locks") as locks:
                names = list_names(locks)
        except (OSError, StoreError):
            return 0
        for name in names:
            stem = name.removesuffix(".lock")
            if not _is_lock_name(name) or stem in entries or stem.removeprefix("build-") in build_dirs:
                continue
            with self._lock(name, name, wait=False, required=False) as free:
                if free:
                    with contextlib.suppress(OSError, StoreError), self._dir("locks") as locks:
                        found = locks.lstat(name)
                        if remove_held(locks, name):
                            freed += measure(found)
        return freed

    def _forget(self, directory: Callable[[], contextlib.AbstractContextManager[Dir]], older_than: float) -> int:
        """Remove the files of ``directory`` last written more than ``older_than`` seconds
        ago; the bytes they held.  A file being written (a temporary name: a leading dot)
        is left a day: ``clean`` removing one under a put's feet failed its rename."""
        now = time.time()
        horizon, unfinished = now - older_than, now - max(older_than, 86400.0)
        freed, measure = 0, DiskUsage()
        try:
            with directory() as found:
                for name in found.names():
                    with contextlib.suppress(OSError):
                        st = found.lstat(name)
                        if st.st_mtime <= (unfinished if name.startswith(".") else horizon):
                            found.unlink(name)
                            freed += measure(st)
        except (OSError, StoreError):
            pass
        return freed

    def enforce_limit(self, max_size: int) -> None:
        """After a store: bring the cache under ``max_size`` (``usage``: a walk of the
        cache but for the build directories, which are measured after their builds)."""
        if not self.read_only and self.size() > max_size:
            self.prune(max_size=max_size)


def _is_build_dir(path: tuple[str, ...]) -> bool:
    """Whether ``path`` (below ``v1``) is where a build directory is, by its name."""
    return len(path) == 2 and path[0] == "build" and len(path[1]) == 32 and is_digest(path[1].ljust(64, "0"))


def _is_lock_name(name: str) -> bool:
    """Whether ``name`` is that of a lock file of ``locks/``: ``<key>.lock``, or
    ``build-<name>.lock`` of a build directory, ``compiler.lock`` of the compiler cache."""
    if name == "compiler.lock":
        return True
    stem = name.removesuffix(".lock")
    build = stem.removeprefix("build-")
    return stem != name and (is_digest(stem) or (build != stem and _is_build_dir(("build", build))))


def owners(records: list[dict[str, Any]]) -> dict[str, str | None]:
    """The project each record is of (by key): its own ``project``; for a manifest, that
    of the entries it lists; for an sdist alias, the project it names; else None."""
    found: dict[str, str | None] = {record["key"]: record.get("project") for record in records}
    for record in records:
        value = record.get("value")
        if record["kind"] == "manifest" and isinstance(value, list):
            listed = [found.get(str(c.get("key"))) for c in value if isinstance(c, dict)]
            found[record["key"]] = next((project for project in listed if project), None)
        elif record["kind"] == "sdist-alias" and isinstance(value, dict) and isinstance(value.get("project"), str):
            found[record["key"]] = value["project"]
    return found


def _freed_by(record: dict[str, Any], files: dict[tuple[str, str], int], holders: Counter[str]) -> int:
    """The bytes removing an entry frees: its record, its parts, and the blobs no other
    entry holds (``holders`` counts down as entries go)."""
    key = record["key"]
    freed = files.get(("entries", key), 0) + files.get(("parts", key), 0)
    for blob in {f[1] for f in record["files"]}:
        holders[blob] -= 1
        if not holders[blob]:
            freed += files.get(("blobs", blob), 0)
    return freed


def _copy_hashing(source: Path, fd: int) -> tuple[str, int]:
    """Copy ``source`` into the open file ``fd`` (closed after); its SHA-256 and size."""
    digest = hashlib.sha256()
    size = 0
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        while chunk := src.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return digest.hexdigest(), size
