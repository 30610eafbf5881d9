"""The cache storage: small key -> entry records and large content-addressed blobs.

Layout of a local store (``<cache-dir>/v1``)::

    entries/ab/<key>.json   record: which files an entry has, by blob digest (checksummed)
    parts/ab/<key>.json     what the key was made of (read only to explain a miss)
    blobs/cd/<sha256>       file contents, named by their SHA-256
    projects/<id>.json      the newest key per hook kind of a project (to explain misses)
    locks/<key>.lock        per-key locks (flock: released when a process dies); builders
                            hold them exclusively, readers shared, pruning never waits
    tmp/                    files being written; renamed into place when complete
    stats.jsonl             one line per memoized hook call: hit or miss, time saved

Every write is a temp file plus ``os.replace``, so a reader never sees half an entry;
every read is verified (records by checksum, blobs by digest while copying), and what
fails is discarded.  ``Store`` is the interface a remote store will implement too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from ._errors import CorruptEntryError, StoreError

__all__ = ["Entry", "LocalStore", "Store", "StoredFile", "default_cache_dir"]

FORMAT = 1
_CHUNK = 1 << 20


class StoredFile(NamedTuple):
    name: str
    """Path relative to the destination: a wheel's basename or a ``.dist-info/`` member."""
    blob: str
    size: int


class Entry(NamedTuple):
    key: str
    kind: str
    files: tuple[StoredFile, ...]
    created: float
    build_seconds: float
    value: Any = None
    """A small JSON value kept in the record itself (``get_requires_*`` answers)."""


class Store(Protocol):
    """What the memoizer needs of a storage engine."""

    def get(self, key: str) -> Entry | None: ...

    def materialize(self, entry: Entry, dest: Path) -> None: ...

    def materialize_file(self, stored: StoredFile, target: Path) -> None: ...

    def put(
        self, key: str, kind: str, files: Sequence[tuple[str, Path]], *, build_seconds: float,
        parts: dict[str, Any], value: Any = None,
    ) -> Entry: ...

    def lock(self, key: str) -> contextlib.AbstractContextManager[bool]: ...

    def reading(self, key: str) -> contextlib.AbstractContextManager[bool]: ...

    def record_event(self, project: str, kind: str, event: str, seconds: float) -> None: ...

    def enforce_limit(self, max_size: int) -> None: ...

    def parts(self, key: str) -> dict[str, Any] | None: ...

    def last_key(self, project_id: str, kind: str) -> str | None: ...


def default_cache_dir() -> Path:
    """The platform's user cache directory for wheelmemo."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "wheelmemo" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wheelmemo"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wheelmemo"


def temp_file(directory: Path, prefix: str = ".tmp-") -> tuple[int, str]:
    """``tempfile.mkstemp`` without importing tempfile (and random) on the hit path."""
    while True:
        path = os.path.join(directory, f"{prefix}{os.getpid()}-{os.urandom(6).hex()}")
        try:
            return os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644), path
        except FileExistsError:
            continue


def _checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@contextlib.contextmanager
def _flock(path: Path, *, shared: bool = False, wait: bool = True, required: bool = True) -> Iterator[bool]:
    """Hold a lock on ``path``; yields False when ``wait`` is off and it is taken, or
    when the lock file cannot be created and the lock is not ``required``."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        if not required:
            yield False
            return
        raise StoreError(f"cannot create the lock {path} ({e})") from e
    try:
        if sys.platform == "win32":  # pragma: no cover - not exercised on this CI
            import msvcrt

            while True:
                try:
                    msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                    break
                except OSError:
                    continue
        else:
            import fcntl

            try:
                fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
                            | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
        yield True
    finally:
        os.close(fd)  # closing releases the lock; so does the death of the process


class LocalStore:
    """A store in a local directory, safe for concurrent processes."""

    def __init__(self, cache_dir: Path) -> None:
        self.root = cache_dir / f"v{FORMAT}"

    # -- paths -------------------------------------------------------------
    def _record_path(self, key: str) -> Path:
        return self.root / "entries" / key[:2] / f"{key}.json"

    def _parts_path(self, key: str) -> Path:
        return self.root / "parts" / key[:2] / f"{key}.json"

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / digest[:2] / digest

    def _project_path(self, project_id: str) -> Path:
        return self.root / "projects" / f"{hashlib.sha256(project_id.encode()).hexdigest()[:32]}.json"

    # -- writing -------------------------------------------------------------
    def _write_atomic(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file(path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _store_blob(self, source: Path) -> tuple[str, int]:
        tmpdir = self.root / "tmp"
        tmpdir.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        size = 0
        fd, tmp = temp_file(tmpdir, "blob-")
        try:
            with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            target = self.blob_path(digest.hexdigest())
            if target.is_file() and target.stat().st_size == size:
                os.unlink(tmp)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return digest.hexdigest(), size

    def put(
        self, key: str, kind: str, files: Sequence[tuple[str, Path]], *, build_seconds: float,
        parts: dict[str, Any], value: Any = None,
    ) -> Entry:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with _flock(self.root / "gc.lock", shared=True):  # blobs are not garbage yet
                return self._put(key, kind, files, build_seconds=build_seconds, parts=parts, value=value)
        except OSError as e:
            raise StoreError(f"cannot write to the cache at {self.root} ({e})") from e

    def _put(
        self, key: str, kind: str, files: Sequence[tuple[str, Path]], *, build_seconds: float,
        parts: dict[str, Any], value: Any,
    ) -> Entry:
        stored = tuple(StoredFile(name, *self._store_blob(path)) for name, path in files)
        entry = Entry(key, kind, stored, time.time(), build_seconds, value)
        body = {
            "format": FORMAT, "key": key, "kind": kind, "created": entry.created,
            "build_seconds": build_seconds, "value": value,
            "project": parts.get("project"), "size": sum(f.size for f in stored),
            "files": [[f.name, f.blob, f.size] for f in stored],
        }
        # parts first: a record never points at a key whose explanation is missing
        self._write_atomic(self._parts_path(key), json.dumps(parts).encode())
        record = dict(body, checksum=_checksum(body))
        self._write_atomic(self._record_path(key), json.dumps(record).encode())
        project_id = parts.get("project")
        if isinstance(project_id, str):
            self._remember(project_id, kind, key)
        return entry

    def _remember(self, project_id: str, kind: str, key: str) -> None:
        path = self._project_path(project_id)
        try:
            data = json.loads(path.read_bytes())
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}
        data[kind] = key
        self._write_atomic(path, json.dumps(data, sort_keys=True).encode())

    # -- reading -------------------------------------------------------------
    def discard(self, key: str) -> None:
        for path in (self._record_path(key), self._parts_path(key)):
            with contextlib.suppress(OSError):
                path.unlink()

    def get(self, key: str) -> Entry | None:
        path = self._record_path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read the cache at {self.root} ({e})") from e
        try:
            record = json.loads(raw)
            checksum = record.pop("checksum")
            if checksum != _checksum(record) or record["key"] != key or record["format"] != FORMAT:
                raise ValueError("checksum mismatch")
            files = tuple(StoredFile(str(n), str(b), int(s)) for n, b, s in record["files"])
            entry = Entry(key, str(record["kind"]), files, float(record["created"]),
                          float(record["build_seconds"]), record.get("value"))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            self.discard(key)
            raise CorruptEntryError(f"cache entry {key[:8]} was corrupt ({e}); discarded") from None
        with contextlib.suppress(OSError):
            os.utime(path)  # last use, for least-recently-used eviction
        return entry

    def materialize(self, entry: Entry, dest: Path) -> None:
        """Copy an entry's files into ``dest``, verifying every byte on the way."""
        written: list[Path] = []
        try:
            for stored in entry.files:
                target = dest / stored.name
                target.parent.mkdir(parents=True, exist_ok=True)
                written.append(target)
                self.materialize_file(stored, target)
        except BaseException:
            for path in written:
                with contextlib.suppress(OSError):
                    path.unlink()
            raise

    def materialize_file(self, stored: StoredFile, target: Path) -> None:
        """Copy one stored file to ``target``, verifying its digest on the way."""
        blob = self.blob_path(stored.blob)
        digest = hashlib.sha256()
        size = 0
        try:
            src = open(blob, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            raise CorruptEntryError(f"blob {stored.blob[:8]} of {stored.name} is missing") from None
        fd, tmp = temp_file(target.parent, ".wheelmemo-")
        try:
            with src, os.fdopen(fd, "wb") as out:
                while chunk := src.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    out.write(chunk)
            if digest.hexdigest() != stored.blob or size != stored.size:
                with contextlib.suppress(OSError):
                    blob.unlink()
                raise CorruptEntryError(
                    f"blob {stored.blob[:8]} of {stored.name} failed verification; discarded"
                )
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def parts(self, key: str) -> dict[str, Any] | None:
        try:
            data = json.loads(self._parts_path(key).read_bytes())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def last_key(self, project_id: str, kind: str) -> str | None:
        try:
            data = json.loads(self._project_path(project_id).read_bytes())
        except (OSError, ValueError):
            return None
        key = data.get(kind) if isinstance(data, dict) else None
        return key if isinstance(key, str) else None

    def _lock_path(self, key: str) -> Path:
        path = self.root / "locks" / f"{key}.lock"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create a lock in {path.parent} ({e})") from e
        return path

    def lock(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Exclusive: held while the entry is built and stored."""
        return _flock(self._lock_path(key))

    def reading(self, key: str) -> contextlib.AbstractContextManager[bool]:
        """Shared: held while an entry is read, so that pruning leaves it alone.

        A read-only cache (shared with untrusted jobs) cannot hold locks; reads from it
        go on without one, verified as every read is.
        """
        try:
            return _flock(self._lock_path(key), shared=True, required=False)
        except StoreError:
            return contextlib.nullcontext(False)

    # -- statistics and maintenance ----------------------------------------------
    def record_event(self, project: str, kind: str, event: str, seconds: float) -> None:
        """Append one line to the statistics (O_APPEND: whole lines, no lock needed)."""
        line = json.dumps({"t": round(time.time(), 3), "project": project, "kind": kind,
                           "event": event, "seconds": round(seconds, 3)}) + "\n"
        with contextlib.suppress(OSError):
            fd = os.open(self.root / "stats.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def events(self) -> list[dict[str, Any]]:
        try:
            lines = (self.root / "stats.jsonl").read_text().splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                if isinstance(event, dict):
                    events.append(event)
        return events

    def zero_stats(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.root / "stats.jsonl").unlink()

    def records(self) -> list[dict[str, Any]]:
        """Every entry's record, with ``last_use`` (the record's mtime, touched on hits)."""
        found = []
        for path in sorted((self.root / "entries").glob("*/*.json")):
            try:
                record = json.loads(path.read_bytes())
                record["last_use"] = path.stat().st_mtime
            except (OSError, ValueError):
                continue
            if isinstance(record, dict) and "key" in record:
                found.append(record)
        return found

    def size(self) -> int:
        """Bytes of blobs, the bulk of the store."""
        total = 0
        for path in (self.root / "blobs").glob("*/*"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def remove(self, key: str) -> bool:
        """Drop an entry unless a process is reading or writing it right now."""
        with _flock(self._lock_path(key), wait=False) as locked:
            if not locked:
                return False
            self.discard(key)
        return True

    def collect_garbage(self) -> int:
        """Remove blobs no record points at; puts under way hold the gc lock shared."""
        freed = 0
        self.root.mkdir(parents=True, exist_ok=True)
        with _flock(self.root / "gc.lock"):
            wanted = {f[1] for r in self.records() for f in r.get("files", [])}
            for path in (self.root / "blobs").glob("*/*"):
                with contextlib.suppress(OSError):
                    if path.name not in wanted:
                        size = path.stat().st_size
                        path.unlink()
                        freed += size
        return freed

    def prune(self, max_size: int | None = None, older_than: float | None = None) -> tuple[int, int]:
        """Evict least recently used entries first; returns (entries removed, bytes freed)."""
        before = self.size()
        records = sorted(self.records(), key=lambda r: float(r["last_use"]))
        removed = 0
        now = time.time()
        size = before
        for record in records:
            too_old = older_than is not None and now - float(record["last_use"]) > older_than
            too_big = max_size is not None and size > max_size
            if not (too_old or too_big):
                continue
            if self.remove(str(record["key"])):
                removed += 1
                size -= int(record.get("size") or 0)
        self.collect_garbage()
        self._forget_trees(0.0 if max_size == 0 else (older_than or 30 * 86400))
        return removed, before - self.size()

    def _forget_trees(self, older_than: float) -> None:
        """Stat caches of trees not built for a while (temporary copies, deleted checkouts)."""
        horizon = time.time() - older_than
        for path in (self.root / "stat").glob("*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime <= horizon:
                    path.unlink()

    def enforce_limit(self, max_size: int) -> None:
        """After a store: bring the cache under ``max_size`` (a scan of blob sizes)."""
        if self.size() > max_size:
            self.prune(max_size=max_size)
