"""The remote tier's transports: moving named objects to and from shared storage.

A transport knows nothing of entries, keys or verification: it gets, streams, checks
and puts objects named relative to the remote's prefix (``v1/ac/<key>``,
``v1/cas/<sha256>``, bazel-remote's HTTP layout) and turns every failure into a
:class:`RemoteError`, so the layer above can fail open with one warning.

What every transport shares (the :class:`Transport` protocol, its errors, the object
name check and the deadline) is in :mod:`wheelmemo._remote_base`, re-exported here.
This module owns :func:`open_transport`, which picks one by the URL's scheme, and the
one transport that costs no import:

- ``file:///abs/prefix``: a shared directory (NFS).  Writes go to a temporary file in
  the same directory and are renamed into place; no symlink below the prefix is followed.
- ``http(s)://host[:port]/prefix``: :mod:`wheelmemo._remote_http`.
- ``s3://bucket/prefix``: :mod:`wheelmemo._remote_s3`.

Both are imported only by :func:`open_transport` when a URL names them, and they import
their clients (``http.client`` with ``ssl``, obstore) later still, so a local hit pays
for none of them.

Time: ``deadline`` (a ``time.monotonic()`` instant, settable) caps every request's
timeouts; once it has passed, every call raises :class:`RemoteTimeout` before any
request.  No message names a secret (token, password, header value, URL userinfo or
query, S3 secret key or session token): ``display`` is the URL without them
(:mod:`wheelmemo._urls`), and what a server sends back is scrubbed of them.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._fsdir import AT, Dir, descend, is_symlink_error
from ._remote_base import (
    ASKED,
    CHUNK,
    ClientMissing,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    Sink,
    Transport,
    _Budget,
    _config_error,
    check_name,
)

if TYPE_CHECKING:  # pathlib imports urllib.parse: ~3 ms a local hit need not pay
    from pathlib import Path

__all__ = [
    "S3_REQUIREMENT",
    "ClientMissing",
    "RemoteError",
    "RemoteRefused",
    "RemoteTimeout",
    "Transport",
    "open_transport",
]

#: what ``wheelmemo[s3]`` installs, and what ``get_requires_for_build_*`` adds to an
#: isolated build environment when an S3 remote is configured (0.8 is the last release
#: with Python 3.9 wheels; the resolver picks the newest one the interpreter takes)
S3_REQUIREMENT = "obstore>=0.8"


def open_transport(
    url: str,
    environ: Mapping[str, str],
    *,
    read_only: bool | None = None,
    connect_timeout: float = 2.0,
    deadline: float | None = None,
) -> Transport:
    """The transport for ``url`` (``WHEELMEMO_REMOTE`` / ``[tool.wheelmemo] remote``).

    ``read_only`` is ``remote-read-only``: True, never write; None (unset), write when
    credentials are given; False, write even without them (HTTP only).

    Credentials come from ``environ``: ``WHEELMEMO_REMOTE_TOKEN`` (HTTP bearer token),
    ``WHEELMEMO_REMOTE_USERNAME`` + ``WHEELMEMO_REMOTE_PASSWORD`` (HTTP basic auth; the
    URL's userinfo does the same), ``WHEELMEMO_REMOTE_HEADERS`` (extra HTTP headers, one
    ``Name: value`` per line: a value may hold ``;``, as cookies do), and the usual
    ``AWS_*`` variables for S3.  Nothing is contacted here.
    """
    scheme, sep, _ = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in ("file", "http", "https", "s3"):
        raise _config_error(url, "an unknown kind of remote")
    if scheme == "file":
        return FileTransport(url, read_only=read_only, deadline=deadline)
    if scheme == "s3":
        from ._remote_s3 import S3Transport

        return S3Transport(url, environ, read_only=read_only, connect_timeout=connect_timeout, deadline=deadline)
    from ._remote_http import HttpTransport

    return HttpTransport(url, environ, read_only=read_only, connect_timeout=connect_timeout, deadline=deadline)


# -- file:// -----------------------------------------------------------------------------
class FileTransport(_Budget):
    """A directory, usually a team's NFS share; never follows a symlink below the prefix.

    The prefix itself may be (or lie below) a symlink an administrator made.  Objects are
    written to a temporary file in their directory and renamed into place, so a reader
    sees a whole object or none; no fsync: the layer above verifies what it reads.
    """

    def __init__(self, url: str, *, read_only: bool | None, deadline: float | None) -> None:
        from urllib.parse import unquote, urlsplit

        try:
            parts = urlsplit(url)
        except ValueError:  # brackets in a host: none is local
            raise _config_error(url, "not an absolute local path") from None
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not os.path.isabs(path) or parts.query:
            raise _config_error(url, "not an absolute local path")
        self.root = os.path.normpath(path)
        self.display = "file://" + self.root
        self.writable = not read_only
        self.read_only_because = "" if self.writable else ASKED
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"<FileTransport {self.display}>"

    def _dir(self, name: str, *, create: bool) -> tuple[Dir, str]:
        """The directory that holds ``name``, opened without following a symlink below
        the root, and the object's last component."""
        self._left(0)
        *parents, last = check_name(name).split("/")
        if create:
            os.makedirs(self.root, exist_ok=True)
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
        directory = descend(Dir(self.root, os.open(self.root, flags) if AT else None), parents, create=create)
        return directory, last

    def _fail(self, what: str, name: str, error: OSError) -> RemoteError:
        if is_symlink_error(error):
            why = "a symbolic link, not followed"
        elif isinstance(error, NotADirectoryError):  # O_DIRECTORY | O_NOFOLLOW on a symlink
            why = "not a directory (a symbolic link is not followed)"
        else:
            why = error.strerror or str(error)
        refused = what == "write" and error.errno in (errno.EACCES, errno.EPERM, errno.EROFS)
        return (RemoteRefused if refused else RemoteError)(f"{self.display}: cannot {what} {name}: {why}")

    def _open(self, name: str) -> int | None:
        """A descriptor of the object, None when it is absent."""
        try:
            directory, last = self._dir(name, create=False)
            with directory:
                return directory.open(last, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise self._fail("read", name, e) from e

    def get(self, name: str, *, limit: int) -> bytes | None:
        fd = self._open(name)
        if fd is None:
            return None
        with open(fd, "rb") as f:
            try:
                if os.fstat(fd).st_size > limit:
                    raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
                data = f.read(limit + 1)
            except OSError as e:
                raise self._fail("read", name, e) from e
        if len(data) > limit:
            raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
        return data

    def download(self, name: str, out: Sink, *, limit: int) -> bool:
        fd = self._open(name)
        if fd is None:
            return False
        total = 0
        with open(fd, "rb") as f:
            while True:
                self._left(0)
                try:
                    chunk = f.read(CHUNK)
                except OSError as e:
                    raise self._fail("read", name, e) from e
                if not chunk:
                    return True
                total += len(chunk)
                if total > limit:
                    raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
                out.write(chunk)  # an error here is the local disk's, not the remote's

    def exists(self, name: str) -> bool:
        try:
            directory, last = self._dir(name, create=False)
            with directory:
                return stat.S_ISREG(directory.lstat(last).st_mode)
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError as e:
            raise self._fail("read", name, e) from e

    def put(self, name: str, data: bytes | Path) -> None:
        if not self.writable:
            raise RemoteError(f"{self.display}: read-only, {name} not written: {self.read_only_because}")
        try:
            directory, last = self._dir(name, create=True)
        except OSError as e:
            raise self._fail("write", name, e) from e
        with directory:
            try:
                fd, temp = directory.temp(f".{last}.tmp-")
            except OSError as e:
                raise self._fail("write", name, e) from e
            try:
                with open(fd, "wb") as f:
                    if not isinstance(data, bytes):
                        with open(data, "rb") as source:
                            while chunk := source.read(CHUNK):
                                self._left(0)
                                f.write(chunk)
                    else:
                        f.write(data)
                # rename(2) replaces a symlink planted at ``last``, never what it points to
                directory.replace(temp, directory, last)
            except BaseException as e:
                with contextlib.suppress(OSError):
                    directory.unlink(temp)
                if isinstance(e, OSError):
                    raise self._fail("write", name, e) from e
                raise

    def close(self) -> None:
        pass
