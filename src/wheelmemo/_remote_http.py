"""The remote tier's HTTP transport: WebDAV, bazel-remote, any GET/HEAD/PUT server.

``http(s)://host[:port]/prefix``: WebDAV (nginx ``dav_methods PUT``), bazel-remote, any
server that answers GET/HEAD/PUT; ``http.client`` on one kept-alive connection, imported
at the first request (with ``ssl``, which ``http.client`` always imports: ~30 ms that a
local hit never pays).  A 429 is retried after a backoff, a 409 on PUT makes the parent
collections first (WebDAV servers other than nginx).

Imported by :func:`wheelmemo._remote.open_transport` only, which owns the protocol, the
errors and the deadline.  No message holds a token, password, header value or the URL's
userinfo or query.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, BinaryIO, Callable

from ._errors import ConfigError
from ._remote_base import (
    ASKED,
    CHUNK,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    Sink,
    _Budget,
    _config_error,
    check_name,
)
from ._urls import scrub, split_userinfo, url_secrets

if TYPE_CHECKING:
    import http.client
    import socket
    from pathlib import Path

__all__ = ["HttpTransport"]

#: the 429 backoff of a PUT: three retries, then the write is dropped (capped by the deadline)
THROTTLE_BACKOFF = (0.2, 0.5, 1.0)
#: an error response's body is read to keep the connection, up to this much
DRAIN_LIMIT = 1 << 16


class HttpTransport(_Budget):
    """GET, HEAD and PUT on one kept-alive ``http.client`` connection.

    The connection is reopened once when the server closed it between two requests
    (keep-alive timeouts); any other failure is a RemoteError.  Authorization, in order:
    ``WHEELMEMO_REMOTE_TOKEN`` (``Bearer``), ``WHEELMEMO_REMOTE_USERNAME`` and
    ``WHEELMEMO_REMOTE_PASSWORD`` (``Basic``), the URL's userinfo (``Basic``).  Without
    any of them, nor ``WHEELMEMO_REMOTE_HEADERS``, the remote is only read, unless
    ``remote-read-only = false`` is set explicitly (a server on a trusted network that
    takes writes without credentials).  A 401, 403 or 405 to a write is
    :class:`RemoteRefused`: the remote may still be read.
    """

    def __init__(
        self,
        url: str,
        environ: Mapping[str, str],
        *,
        read_only: bool | None,
        connect_timeout: float,
        deadline: float | None,
    ) -> None:
        from urllib.parse import urlsplit

        try:
            # the userinfo first, up to the last '@': urlsplit ends it at a raw '/?#'
            userinfo, bare = split_userinfo(url)
        except ValueError as e:
            raise _config_error(url, str(e)) from None
        try:
            parts = urlsplit(bare)
            port = parts.port
        except ValueError:  # a port that is no number, a bracket that is no IPv6 address
            raise _config_error(url, "a bad host or port") from None
        if not parts.hostname:
            raise _config_error(url, "no host")
        self.https = parts.scheme.lower() == "https"
        self.host = parts.hostname
        self.port = port
        self.base = parts.path.rstrip("/")
        self.query = f"?{parts.query}" if parts.query else ""
        host = f"[{self.host}]" if ":" in self.host else self.host
        self.display = f"{parts.scheme.lower()}://{host}{f':{port}' if port else ''}{self.base}"
        self.connect_timeout = connect_timeout
        #: one socket operation (not a whole transfer) may wait this long
        self.read_timeout = max(10.0, 5 * connect_timeout)
        self.deadline = deadline
        username, colon, password = (userinfo or "").partition(":")
        self.headers, self.secrets = _http_headers(
            environ, username if userinfo is not None else None, password if colon else None
        )
        self.secrets += url_secrets(userinfo, parts.query)
        # unset: write with credentials; false, set explicitly: without them too
        self.writable = not read_only and (bool(self.headers) or read_only is False)
        self.read_only_because = (
            ""
            if self.writable
            else ASKED
            if read_only
            else (
                "no credentials (set WHEELMEMO_REMOTE_TOKEN, or WHEELMEMO_REMOTE_USERNAME and "
                "WHEELMEMO_REMOTE_PASSWORD; for a server that takes writes without them, set "
                "remote-read-only = false)"
            )
        )
        self._conn: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None
        from ._version import __version__

        self.headers["User-Agent"] = f"wheelmemo/{__version__}"

    def __repr__(self) -> str:
        return f"<HttpTransport {self.display}>"

    # the exchange ------------------------------------------------------------------------
    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is not None:
            return self._conn
        import http.client

        timeout = self._left(self.connect_timeout)
        if self.https:
            import ssl

            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.connect()
        except OSError as e:
            conn.close()
            if _is_timeout(e):
                raise RemoteTimeout(f"{self.display}: no connection within {timeout:.1f} s") from e
            raise RemoteError(f"{self.display}: cannot connect ({_os_reason(e)})") from e
        self._conn, self._sock = conn, conn.sock
        return conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._conn = self._sock = None

    def _tick(self) -> None:
        """Cap the next socket operation by the read timeout and the deadline."""
        timeout = self._left(self.read_timeout)
        if self._sock is not None:
            self._sock.settimeout(timeout)

    def _failed(self, method: str, name: str, error: BaseException) -> RemoteError:
        self.close()
        if _is_timeout(error):
            return RemoteTimeout(f"{self.display}: {method} {name}: no answer in time")
        return RemoteError(f"{self.display}: {method} {name}: {_os_reason(error)}")

    def _request(self, method: str, name: str, body: bytes | Path | None = None) -> http.client.HTTPResponse:
        """Send one request, on a new connection once more if the kept one was closed."""
        from urllib.parse import quote

        target = f"{self.base}/{quote(check_name(name))}{self.query}"
        if body is None or isinstance(body, bytes):
            return self._exchange(method, name, target, body, len(body) if body is not None else None)
        try:
            f = open(body, "rb")  # noqa: SIM115 - closed below, after the exchange
            size = os.fstat(f.fileno()).st_size
        except OSError as e:
            raise RemoteError(f"{self.display}: {method} {name}: cannot read {body}: {e.strerror}") from e
        with f:
            return self._exchange(method, name, target, f, size)

    def _exchange(
        self, method: str, name: str, target: str, body: bytes | BinaryIO | None, size: int | None
    ) -> http.client.HTTPResponse:
        import http.client

        for attempt in (0, 1):
            reused = self._conn is not None
            conn = self._connect()
            try:
                self._tick()
                conn.putrequest(method, target)
                for header, value in self.headers.items():
                    conn.putheader(header, value)
                if size is not None:
                    conn.putheader("Content-Length", str(size))
                conn.endheaders()
                if isinstance(body, bytes):
                    conn.send(body)
                elif body is not None:
                    body.seek(0)
                    while chunk := _read_local(body, self.display, method, name):
                        self._tick()
                        conn.send(chunk)
                self._tick()
                return conn.getresponse()
            except (ConnectionError, http.client.BadStatusLine) as e:
                # a kept-alive connection the server closed: reset, broken pipe, no status
                self.close()
                if not reused or attempt:
                    raise self._failed(method, name, e) from e
            except (OSError, http.client.HTTPException) as e:
                raise self._failed(method, name, e) from e
            except RemoteError:
                self.close()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(
        self,
        method: str,
        name: str,
        response: http.client.HTTPResponse,
        write: Callable[[bytes], object],
        limit: int | None = None,
    ) -> int:
        """Read the body into ``write``; RemoteError when short or over ``limit``."""
        import http.client

        expected = response.length
        if limit is not None and expected is not None and expected > limit:
            self.close()
            raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
        total = 0
        while True:
            self._tick()
            try:
                chunk = response.read(CHUNK)
            except (OSError, http.client.HTTPException) as e:  # IncompleteRead of a chunked body
                raise self._failed(method, name, e) from e
            if not chunk:
                break
            total += len(chunk)
            if limit is not None and total > limit:
                self.close()
                raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
            write(chunk)  # an error here is the local disk's, not the remote's
        if expected is not None and total < expected:
            self.close()
            raise RemoteError(f"{self.display}: {method} {name}: truncated, {total} of {expected} bytes")
        if response.will_close:
            self.close()
        return total

    def _drain(self, response: http.client.HTTPResponse) -> None:
        """Read a small error body so the connection can be kept; close it otherwise."""
        import http.client

        try:
            self._tick()
            if response.length is not None and response.length <= DRAIN_LIMIT:
                response.read()
                if not response.will_close:
                    return
        except (OSError, http.client.HTTPException, RemoteError):
            pass
        self.close()

    def _status_error(self, method: str, name: str, response: http.client.HTTPResponse) -> RemoteError:
        self._drain(response)
        reason = scrub(response.reason or "", self.secrets)[:80]
        refused = method in ("PUT", "MKCOL") and response.status in (401, 403, 405)
        return (RemoteRefused if refused else RemoteError)(
            f"{self.display}: {method} {name}: HTTP {response.status} {reason}".rstrip()
        )

    def _fetch(self, name: str, write: Callable[[bytes], object], limit: int | None) -> bool:
        response = self._request("GET", name)
        if response.status == 404:
            self._drain(response)
            return False
        if response.status != 200:
            raise self._status_error("GET", name, response)
        self._read("GET", name, response, write, limit)
        return True

    # the protocol ------------------------------------------------------------------------
    def get(self, name: str, *, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        return b"".join(chunks) if self._fetch(name, chunks.append, limit) else None

    def download(self, name: str, out: Sink, *, limit: int) -> bool:
        return self._fetch(name, out.write, limit)

    def exists(self, name: str) -> bool:
        response = self._request("HEAD", name)
        self._drain(response)
        if response.status in (200, 204):
            return True
        if response.status == 404:
            return False
        raise self._status_error("HEAD", name, response)

    def put(self, name: str, data: bytes | Path) -> None:
        if not self.writable:
            raise RemoteError(f"{self.display}: read-only, {name} not written: {self.read_only_because}")
        made_parents = False
        throttled = 0
        # a first try, one after each 429's backoff, one after making the parents
        for _ in range(len(THROTTLE_BACKOFF) + 2):
            response = self._request("PUT", name, data)
            if response.status in (200, 201, 204):
                self._drain(response)
                return
            if response.status == 429 and throttled < len(THROTTLE_BACKOFF):
                self._drain(response)
                self._sleep(THROTTLE_BACKOFF[throttled], f"PUT {name}: throttled (HTTP 429)")
                throttled += 1
                continue
            if response.status == 409 and not made_parents and "/" in name:
                # WebDAV servers other than nginx (create_full_put_path) want the parent
                # collections made first (RFC 4918 9.7.1)
                self._drain(response)
                self._make_parents(name)
                made_parents = True
                continue
            raise self._status_error("PUT", name, response)
        raise RemoteError(f"{self.display}: PUT {name}: not stored after {len(THROTTLE_BACKOFF) + 2} tries")

    def _make_parents(self, name: str) -> None:
        """MKCOL the prefix's and ``name``'s collections, from the top."""
        from urllib.parse import quote

        parts = [p for p in self.base.split("/") if p] + name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            collection = "/" + quote("/".join(parts[:depth])) + "/"
            response = self._exchange("MKCOL", collection, collection + self.query, None, None)
            self._drain(response)
            if response.status not in (200, 201, 204, 405):  # 405: it exists already
                raise self._status_error("MKCOL", collection, response)


def _http_headers(
    environ: Mapping[str, str], username: str | None, password: str | None
) -> tuple[dict[str, str], list[str]]:
    """The headers that authorize requests, and the secrets no message may show."""
    headers: dict[str, str] = {}
    secrets: list[str] = []
    lines = environ.get("WHEELMEMO_REMOTE_HEADERS", "").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        header, colon, value = line.partition(":")
        header = header.strip()
        if not colon or not header or any(c in header for c in ' \t()<>@,;="/[]?{}\\'):
            # the line is not shown: it may be a bare secret
            raise ConfigError(f"WHEELMEMO_REMOTE_HEADERS: line {number} is not 'Name: value' (one header a line)")
        headers[header] = value.strip()
        secrets += url_secrets(value.strip())
    token = environ.get("WHEELMEMO_REMOTE_TOKEN")
    if environ.get("WHEELMEMO_REMOTE_USERNAME"):
        username = environ["WHEELMEMO_REMOTE_USERNAME"]
        password = environ.get("WHEELMEMO_REMOTE_PASSWORD", "")
    elif username is not None:
        from urllib.parse import unquote

        username, password = unquote(username), unquote(password or "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
        secrets += url_secrets(token)
    elif username is not None:
        import base64

        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
        secrets += [*url_secrets(username, password), basic]
    return headers, secrets


def _read_local(f: BinaryIO, display: str, method: str, name: str) -> bytes:
    try:
        return f.read(CHUNK)
    except OSError as e:
        raise RemoteError(f"{display}: {method} {name}: cannot read the local file: {e.strerror}") from e


def _is_timeout(error: BaseException) -> bool:
    import socket

    return isinstance(error, (TimeoutError, socket.timeout))


def _os_reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, ConnectionError) or type(error).__name__ == "RemoteDisconnected":
        return "the server closed the connection"
    return type(error).__name__
