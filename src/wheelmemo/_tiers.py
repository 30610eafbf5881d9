"""The remote tier: a cache shared by machines, on storage people already run.

Objects follow bazel-remote's HTTP layout, which plain WebDAV, S3 and a shared
directory hold as well: entry records at ``<prefix>/v1/ac/<key>`` (the same checked
records as the local cache's) and blobs at ``<prefix>/v1/cas/<sha256>``.  Blobs are
immutable, so every PUT is idempotent; a lookup that misses costs one small GET.

The remote is never trusted more than the local cache: every record is checked and
every blob verified by its SHA-256 on the way in.  It is never needed either: the
first failure (unreachable, slow, refused, a damaged object) is one warning, and the
remote is skipped for the rest of the hook call (sccache's and ccache's fail-open).
A remote that takes no writes (read-only as asked, no credentials, a write refused) is
still read, and the first hook that would upload says so in one line, with what
changes it: once per frontend run (the engine remembers it in the local cache).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable

from ._errors import StoreError
from ._log import logger, warn_once
from ._records import (
    INVALID,
    Entry,
    StoredFile,
    check_record,
    is_digest,
    load_json,
    make_record,
)
from ._store import FAILED, READ_ONLY, READ_WRITE, check_target, temp_file
from ._urls import display_url

if TYPE_CHECKING:
    from ._remote import Transport
    from ._settings import Settings

__all__ = ["RemoteStore", "open_remote"]

AC, CAS = "v1/ac", "v1/cas"
#: the largest entry record read (a manifest, a metadata directory's list): 16 MiB
MAX_RECORD = 16 << 20
_CHUNK = 1 << 20


class RemoteStats:
    """What one hook call did with the remote, for ``wheelmemo stats``."""

    def __init__(self) -> None:
        self.counts = {"hit": 0, "miss": 0, "upload": 0, "error": 0, "timeout": 0}
        self.bytes_down = self.bytes_up = 0
        self.seconds = 0.0

    @property
    def used(self) -> bool:
        return any(self.counts.values()) or self.seconds > 0


class RemoteStore:
    """A :class:`~wheelmemo._store.Store` on a remote; see the module's docstring."""

    def __init__(
        self,
        url: str,
        environ: Mapping[str, str],
        *,
        read_only: bool | None = None,
        connect_timeout: float = 2.0,
        budget: float = 60.0,
    ) -> None:
        self._url = url
        self._environ = environ
        self._read_only = read_only
        self._connect_timeout = connect_timeout
        self.deadline = time.monotonic() + budget
        self.name = display_url(url)
        self._transport: Transport | None = None
        self._failed = False
        self.stats = RemoteStats()
        #: called on the first failure (the engine remembers it in the local cache)
        self.on_failure: Callable[[], None] | None = None
        #: why a write was refused (then nothing more is uploaded, the remote is still read)
        self.refused: str | None = None
        #: whether the line saying that nothing is uploaded was said (by this process,
        #: or by a hook of the same frontend run: the engine sets it)
        self.said_read_only = False
        #: called when that line is said, with whether a write was refused (the engine
        #: remembers it for the next hooks of the frontend run)
        self.on_read_only: Callable[[bool], None] | None = None
        #: False in the get_requires call that brings the client (an S3 one) into an
        #: isolated build environment: its absence there is expected, not a warning
        self.client_expected = True

    def _open(self) -> Transport:
        if self._transport is None:
            # the transport (and an S3 client) is imported on first use: never on a local hit
            from ._remote import open_transport

            self._transport = open_transport(
                self._url,
                self._environ,
                read_only=self._read_only,
                connect_timeout=self._connect_timeout,
                deadline=self.deadline,
            )
        return self._transport

    @property
    def mode(self) -> str:
        if self._failed:
            return FAILED
        try:
            writable = self._open().writable
        except StoreError as e:
            self.fail(e)
            return FAILED
        return READ_WRITE if writable and self.refused is None else READ_ONLY

    def transport_opener(self) -> tuple[Callable[[], Transport], bool] | None:
        """For the compiler cache's gateway (``_objgate``): what opens another transport
        to this remote (one per serving thread; the build's time is not the hook's
        remote budget), and whether it may be written; None when the remote failed in
        this call already."""
        if self.mode == FAILED:
            return None
        from ._remote import open_transport

        def opener() -> Transport:
            return open_transport(
                self._url, self._environ, read_only=self._read_only, connect_timeout=self._connect_timeout
            )

        return opener, self.mode == READ_WRITE

    def not_uploaded(self) -> None:
        """A hook would upload, and the remote takes no writes: say why and what changes
        it, once in a frontend run (each such hook renews the note that it was said).  As
        asked (``remote-read-only = true``) it is an informational line, else a warning."""
        from ._remote_base import ASKED

        if self._failed:
            return
        if not self.said_read_only:
            self.said_read_only = True
            if self.refused is not None:
                because = (
                    f"the remote refused a write ({self.refused}); give the credentials "
                    "write access, or set remote-read-only = true to only read"
                )
            else:
                because = self._open().read_only_because
            line = f"remote cache {self.name}: nothing is uploaded: {because}"
            if because == ASKED:
                logger.info("%s", line)
            else:
                warn_once(line)
        if self.on_read_only is not None:
            self.on_read_only(self.refused is not None)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    def fail(self, error: BaseException) -> None:
        """Say why the remote is not used, once, and skip it for the rest of this call."""
        from ._remote import ClientMissing, RemoteTimeout

        if isinstance(error, ClientMissing) and not self._failed:
            # nothing is wrong with the remote: no "failed" mark for the next calls
            self._failed = True
            if self.client_expected:
                warn_once(f"{str(error).removeprefix(f'{self.name}: ')}; building without the remote cache")
            else:  # get_requires_for_build_*, whose answer brings the client
                logger.debug("%s", error)
            return
        self.stats.counts["timeout" if isinstance(error, RemoteTimeout) else "error"] += 1
        if not self._failed:
            self._failed = True
            message = str(error).removeprefix(f"{self.name}: ")  # the transport names it too
            warn_once(f"remote cache {self.name}: {message}; building without it")
            if self.on_failure is not None:
                self.on_failure()

    def skip(self) -> None:
        """Do not use the remote in this call (it failed in an earlier one), silently."""
        logger.debug("remote cache %s failed a moment ago: skipped", self.name)
        self._failed = True

    def _timed(self, started: float) -> None:
        self.stats.seconds += time.monotonic() - started

    # -- the Store protocol ------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        if self._failed or not is_digest(key):
            return None
        started = time.monotonic()
        try:
            raw = self._open().get(f"{AC}/{key}", limit=MAX_RECORD)
            if raw is None:
                return None
            self.stats.bytes_down += len(raw)
            return check_record(key, load_json(raw))
        except StoreError as e:
            self.fail(e)
        except INVALID as e:
            self.fail(StoreError(f"entry {key[:8]} is damaged ({e})"))
        finally:
            self._timed(started)
        return None

    def materialize_file(self, stored: StoredFile, target: Path) -> None:
        """Download a blob to ``target``, verified; StoreError (the remote now skipped)
        when it cannot be, whatever the reason."""
        if self._failed:
            raise StoreError(f"remote cache {self.name} skipped")
        check_target(stored.name, target)
        started = time.monotonic()
        try:
            fd, tmp = temp_file(target.parent, ".wheelmemo-")
        except OSError as e:
            raise StoreError(f"cannot write into {target.parent} ({e})") from e
        try:
            with os.fdopen(fd, "wb") as out:
                written = _Hashing(out)
                # never more than the record says: a hostile remote does not fill the disk
                found = self._open().download(f"{CAS}/{stored.blob}", written, limit=stored.size)
            if not found:
                raise StoreError(f"blob {stored.blob[:8]} of {stored.name} is missing")
            if (written.digest.hexdigest(), written.size) != (stored.blob, stored.size):
                raise StoreError(f"blob {stored.blob[:8]} of {stored.name} failed verification")
            os.replace(tmp, target)
            self.stats.bytes_down += written.size
        except BaseException as e:
            if isinstance(e, StoreError):
                self.fail(e)
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        finally:
            self._timed(started)

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
        """Upload the blobs the remote lacks, then the record (a reader never finds a
        record whose blobs are not there yet); ``parts`` stay on this machine."""
        stored: list[StoredFile] = []
        for name, path in files:
            with open(path, "rb") as f:
                digest, size = _digest(f)
            stored.append(StoredFile(name, digest, size))
        try:
            record, entry = make_record(
                key, kind, tuple(stored), build_seconds=build_seconds, value=value, project=parts.get("project")
            )
        except INVALID as e:  # past what a record may hold (``_records``): no reader would take it
            warn_once(f"not uploading this {kind} to {self.name} ({e})")
            return Entry(key, kind, tuple(stored), time.time(), build_seconds, value)
        if self.mode != READ_WRITE:
            return entry
        from ._remote import RemoteRefused

        started = time.monotonic()
        try:
            transport = self._open()
            for (_, path), blob in zip(files, stored):
                if not transport.exists(f"{CAS}/{blob.blob}"):
                    transport.put(f"{CAS}/{blob.blob}", Path(path))
                    self.stats.bytes_up += blob.size
            transport.put(f"{AC}/{key}", record)
            self.stats.bytes_up += len(record)
            if files:
                self.stats.counts["upload"] += 1
                logger.debug("uploaded %s to %s", key[:8], self.name)
        except RemoteRefused as e:  # read, but never written to again in this frontend run
            self.stats.counts["error"] += 1
            self.refused = str(e).removeprefix(f"{self.name}: ")
            self.not_uploaded()
        except StoreError as e:
            self.fail(e)
        finally:
            self._timed(started)
        return entry


class _Hashing:
    """A file being downloaded into, hashed on the way: verified without reading it back."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes | memoryview, /) -> object:
        self.digest.update(data)
        self.size += len(data)
        return self.out.write(data)


def _digest(f: Any) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def open_remote(settings: Settings, environ: Mapping[str, str]) -> RemoteStore | None:
    """The remote tier the settings name, or None."""
    if settings.remote is None or settings.disable:
        return None
    return RemoteStore(
        settings.remote,
        environ,
        read_only=settings.remote_read_only,
        connect_timeout=settings.remote_timeout,
        budget=settings.remote_budget,
    )
