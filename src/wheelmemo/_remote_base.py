"""What the remote transports share, so that each imports it and none imports another.

The :class:`Transport` protocol and its errors, the URL check's message, the object
name check and the deadline (:class:`_Budget`).  :mod:`wheelmemo._remote` picks a
transport by its URL and holds the ``file://`` one; :mod:`wheelmemo._remote_http` and
:mod:`wheelmemo._remote_s3` hold the others.  All three import this module, which
imports none of them.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from ._errors import ConfigError, StoreError
from ._urls import display_url

if TYPE_CHECKING:  # pathlib imports urllib.parse: ~3 ms a local hit need not pay
    from pathlib import Path

__all__ = [
    "ACCEPTED",
    "ASKED",
    "CHUNK",
    "ClientMissing",
    "RemoteError",
    "RemoteRefused",
    "RemoteTimeout",
    "Sink",
    "Transport",
    "check_name",
]

#: why a remote asked to be read-only is, and what changes it
ASKED = "remote-read-only = true (set it to false, or WHEELMEMO_REMOTE_READ_ONLY=0, to upload)"
#: the size of one read or write of a streamed object, by every transport
CHUNK = 1 << 20
ACCEPTED = "file:///absolute/path, http(s)://host[:port]/prefix or s3://bucket/prefix[?endpoint=URL&region=NAME]"


class RemoteError(StoreError):
    """The remote cannot be used for this request: unreachable, refused, damaged, too big.

    The message names the remote by its ``display`` form and never holds a secret.
    """


class RemoteTimeout(RemoteError):
    """A connect or read timeout, or the overall deadline, passed."""


class RemoteRefused(RemoteError):
    """A write the remote refused (HTTP 401, 403, 405; a directory this user cannot
    write): the remote may still be read."""


class ClientMissing(RemoteError):
    """The remote's client is not installed here (an S3 remote in the process that
    answers ``get_requires_for_build_*``, which is what brings it)."""


class Sink(Protocol):
    """Where a download goes: a file, or one that hashes what it is given (``_tiers``)."""

    def write(self, data: bytes | memoryview, /) -> object: ...


class Transport(Protocol):
    """What every remote storage can do, on objects named relative to its prefix."""

    #: the URL without credentials, userinfo or query, for messages
    display: str
    #: False when read-only was asked, or when no credentials were given (HTTP, S3;
    #: an HTTP remote with ``remote-read-only = false`` set explicitly is written without)
    writable: bool
    #: when not writable, why and what changes it, for the line that says so
    read_only_because: str
    #: a ``time.monotonic()`` instant after which every call raises RemoteTimeout
    deadline: float | None

    def get(self, name: str, *, limit: int) -> bytes | None:
        """A small object; None when absent; RemoteError when larger than ``limit``."""

    def download(self, name: str, out: Sink, *, limit: int) -> bool:
        """Stream an object into ``out``; False when absent; RemoteError when it is larger
        than ``limit`` (a damaged or hostile remote does not fill the disk)."""

    def exists(self, name: str) -> bool: ...

    def put(self, name: str, data: bytes | Path) -> None:
        """Store an object (idempotent); a Path is streamed from disk."""

    def close(self) -> None: ...


def _config_error(url: str, problem: str) -> ConfigError:
    return ConfigError(f"WHEELMEMO_REMOTE / [tool.wheelmemo] remote: {problem} in {display_url(url)!r}; use {ACCEPTED}")


def check_name(name: str) -> str:
    """``name`` if it is a relative object name (``v1/cas/<hex>``); ValueError if not."""
    parts = name.split("/")
    if not name or "\\" in name or "\0" in name or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"not a relative object name: {name!r}")
    return name


class _Budget:
    """The deadline shared by a transport's requests."""

    deadline: float | None
    display: str

    def _left(self, own: float) -> float:
        """``own`` capped by the time left; RemoteTimeout when none is."""
        if self.deadline is None:
            return own
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise RemoteTimeout(f"{self.display}: the remote's time budget is spent")
        return min(own, left)

    def _sleep(self, seconds: float, why: str) -> None:
        if self.deadline is not None and self.deadline - time.monotonic() <= seconds:
            raise RemoteTimeout(f"{self.display}: {why}, and the time budget ends before a retry")
        time.sleep(seconds)
