"""The remote tier's transports: moving named objects to and from shared storage.

A transport knows nothing of entries, keys or verification: it gets, streams, checks
and puts objects named relative to the remote's prefix (``v1/ac/<key>``,
``v1/cas/<sha256>``, bazel-remote's HTTP layout) and turns every failure into a
:class:`RemoteError`, so the layer above can fail open with one warning.

- ``file:///abs/prefix``: a shared directory (NFS).  Writes go to a temporary file in
  the same directory and are renamed into place; no symlink below the prefix is followed.
- ``http(s)://host[:port]/prefix``: WebDAV (nginx ``dav_methods PUT``), bazel-remote,
  any server that answers GET/HEAD/PUT; ``http.client`` on one kept-alive connection,
  imported at the first request (with ``ssl``, which ``http.client`` always imports:
  ~30 ms that a local hit never pays).
- ``s3://bucket/prefix``: AWS or any S3-compatible store through obstore, the optional
  extra ``wheelmemo[s3]``; ~20 ms to import and build a client where boto3 takes ~270 ms.

Time: ``deadline`` (a ``time.monotonic()`` instant, settable) caps every request's
timeouts; once it has passed, every call raises :class:`RemoteTimeout` before any
request.  No message names a secret (token, password, header value, URL userinfo or
query, S3 secret key or session token): ``display`` is the URL without them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Protocol

from ._errors import ConfigError, StoreError
from ._fsdir import AT, Dir, is_symlink_error

if TYPE_CHECKING:  # pathlib imports urllib.parse: ~3 ms a local hit need not pay
    import http.client
    import socket
    from pathlib import Path

__all__ = ["S3_REQUIREMENT", "RemoteError", "RemoteTimeout", "Transport", "open_transport"]

#: what ``wheelmemo[s3]`` installs, and what ``get_requires_for_build_*`` adds to an
#: isolated build environment when an S3 remote is configured (0.8 is the last release
#: with Python 3.9 wheels; the resolver picks the newest one the interpreter takes)
S3_REQUIREMENT = "obstore>=0.8"

CHUNK = 1 << 20
#: the 429 backoff of a PUT: three retries, then the write is dropped (capped by the deadline)
THROTTLE_BACKOFF = (0.2, 0.5, 1.0)
#: an S3 client is rebuilt with shorter timeouts only when the deadline is nearer than
#: its timeouts by more than this (a client is a new connection pool and costs ~5 ms)
DEADLINE_SLACK = 1.0
#: without a deadline, the time a transfer may take when obstore (< 0.9, Python 3.9)
#: cannot cap each read of it
OLD_OBSTORE_TRANSFER_TIMEOUT = 300.0
#: an error response's body is read to keep the connection, up to this much
DRAIN_LIMIT = 1 << 16
ACCEPTED = ("file:///absolute/path, http(s)://host[:port]/prefix "
            "or s3://bucket/prefix[?endpoint=URL&region=NAME]")


class RemoteError(StoreError):
    """The remote cannot be used for this request: unreachable, refused, damaged, too big.

    The message names the remote by its ``display`` form and never holds a secret.
    """


class RemoteTimeout(RemoteError):
    """A connect or read timeout, or the overall deadline, passed."""


class Transport(Protocol):
    """What every remote storage can do, on objects named relative to its prefix."""

    #: the URL without credentials, userinfo or query, for messages
    display: str
    #: False when read-only was asked, or when no credentials were given (HTTP, S3)
    writable: bool
    #: a ``time.monotonic()`` instant after which every call raises RemoteTimeout
    deadline: float | None

    def get(self, name: str, *, limit: int) -> bytes | None:
        """A small object; None when absent; RemoteError when larger than ``limit``."""

    def download(self, name: str, out: BinaryIO) -> bool:
        """Stream an object into ``out``; False when absent."""

    def exists(self, name: str) -> bool: ...

    def put(self, name: str, data: bytes | Path) -> None:
        """Store an object (idempotent); a Path is streamed from disk."""

    def close(self) -> None: ...


def open_transport(url: str, environ: Mapping[str, str], *, read_only: bool = False,
                   connect_timeout: float = 2.0, deadline: float | None = None) -> Transport:
    """The transport for ``url`` (``WHEELMEMO_REMOTE`` / ``[tool.wheelmemo] remote``).

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
        return S3Transport(url, environ, read_only=read_only, connect_timeout=connect_timeout,
                           deadline=deadline)
    return HttpTransport(url, environ, read_only=read_only, connect_timeout=connect_timeout,
                         deadline=deadline)


def _config_error(url: str, problem: str) -> ConfigError:
    return ConfigError(f"WHEELMEMO_REMOTE / [tool.wheelmemo] remote: {problem} in "
                       f"{_display(url)!r}; use {ACCEPTED}")


def _display(url: str) -> str:
    """``url`` without userinfo, query or fragment: what messages may name."""
    scheme, sep, rest = url.partition("://")
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if not sep:
        return url.split("?", 1)[0].rpartition("@")[2]
    netloc, slash, path = rest.partition("/")
    return f"{scheme}://{netloc.rpartition('@')[2]}{slash}{path}".rstrip("/")


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


def _scrub(text: str, secrets: list[str]) -> str:
    """``text`` (from a server) without the secrets: no message of ours holds one, but a
    server may echo what it was sent.  Secrets shorter than 4 characters are left: they
    would turn every word into stars."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# -- file:// -----------------------------------------------------------------------------
class FileTransport(_Budget):
    """A directory, usually a team's NFS share; never follows a symlink below the prefix.

    The prefix itself may be (or lie below) a symlink an administrator made.  Objects are
    written to a temporary file in their directory and renamed into place, so a reader
    sees a whole object or none; no fsync: the layer above verifies what it reads.
    """

    def __init__(self, url: str, *, read_only: bool, deadline: float | None) -> None:
        from urllib.parse import unquote, urlsplit

        parts = urlsplit(url)
        path = unquote(parts.path)
        if parts.netloc not in ("", "localhost") or not os.path.isabs(path) or parts.query:
            raise _config_error(url, "not an absolute local path")
        self.root = os.path.normpath(path)
        self.display = "file://" + self.root
        self.writable = not read_only
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
        directory = Dir(self.root, os.open(self.root, flags) if AT else None)
        try:
            for part in parents:
                sub = directory.sub(part, create=create)
                directory.__exit__()
                directory = sub
        except BaseException:
            directory.__exit__()
            raise
        return directory, last

    def _fail(self, what: str, name: str, error: OSError) -> RemoteError:
        if is_symlink_error(error):
            why = "a symbolic link, not followed"
        elif isinstance(error, NotADirectoryError):  # O_DIRECTORY | O_NOFOLLOW on a symlink
            why = "not a directory (a symbolic link is not followed)"
        else:
            why = error.strerror or str(error)
        return RemoteError(f"{self.display}: cannot {what} {name}: {why}")

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

    def download(self, name: str, out: BinaryIO) -> bool:
        fd = self._open(name)
        if fd is None:
            return False
        with open(fd, "rb") as f:
            while True:
                self._left(0)
                try:
                    chunk = f.read(CHUNK)
                except OSError as e:
                    raise self._fail("read", name, e) from e
                if not chunk:
                    return True
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
            raise RemoteError(f"{self.display}: read-only (as asked), {name} not written")
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


# -- http:// and https:// ----------------------------------------------------------------
class HttpTransport(_Budget):
    """GET, HEAD and PUT on one kept-alive ``http.client`` connection.

    The connection is reopened once when the server closed it between two requests
    (keep-alive timeouts); any other failure is a RemoteError.  Authorization, in order:
    ``WHEELMEMO_REMOTE_TOKEN`` (``Bearer``), ``WHEELMEMO_REMOTE_USERNAME`` and
    ``WHEELMEMO_REMOTE_PASSWORD`` (``Basic``), the URL's userinfo (``Basic``).  Without
    any of them, nor ``WHEELMEMO_REMOTE_HEADERS``, the remote is only read.
    """

    def __init__(self, url: str, environ: Mapping[str, str], *, read_only: bool,
                 connect_timeout: float, deadline: float | None) -> None:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            raise _config_error(url, "a bad port") from None
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
        self.headers, self.secrets = _http_headers(environ, parts.username, parts.password)
        self.secrets.append(parts.query)
        self.read_only = read_only
        self.writable = bool(self.headers) and not read_only
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
                self.host, self.port, timeout=timeout, context=ssl.create_default_context())
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

    def _exchange(self, method: str, name: str, target: str, body: bytes | BinaryIO | None,
                  size: int | None) -> http.client.HTTPResponse:
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

    def _read(self, method: str, name: str, response: http.client.HTTPResponse,
              write: Callable[[bytes], object], limit: int | None = None) -> int:
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
            raise RemoteError(f"{self.display}: {method} {name}: truncated, "
                              f"{total} of {expected} bytes")
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
        reason = _scrub(response.reason or "", self.secrets)[:80]
        return RemoteError(f"{self.display}: {method} {name}: HTTP {response.status} {reason}".rstrip())

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

    def download(self, name: str, out: BinaryIO) -> bool:
        return self._fetch(name, out.write, None)

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
            raise RemoteError(f"{self.display}: read-only ({'as asked' if self.read_only else 'no credentials'}), "
                              f"{name} not written")
        made_parents = False
        throttled = 0
        while True:
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


def _http_headers(environ: Mapping[str, str], username: str | None,
                  password: str | None) -> tuple[dict[str, str], list[str]]:
    """The headers that authorize requests, and the secrets no message may show."""
    headers: dict[str, str] = {}
    secrets: list[str] = []
    lines = environ.get("WHEELMEMO_REMOTE_HEADERS", "").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        header, colon, value = line.partition(":")
        header = header.strip()
        if not colon or not header or any(c in header for c in " \t()<>@,;=\"/[]?{}\\"):
            # the line is not shown: it may be a bare secret
            raise ConfigError(f"WHEELMEMO_REMOTE_HEADERS: line {number} is not 'Name: value' "
                              "(one header a line)")
        headers[header] = value.strip()
        secrets.append(value.strip())
    token = environ.get("WHEELMEMO_REMOTE_TOKEN")
    if environ.get("WHEELMEMO_REMOTE_USERNAME"):
        username = environ["WHEELMEMO_REMOTE_USERNAME"]
        password = environ.get("WHEELMEMO_REMOTE_PASSWORD", "")
    elif username is not None:
        from urllib.parse import unquote

        username, password = unquote(username), unquote(password or "")
    if token:
        headers["Authorization"] = f"Bearer {token}"
        secrets.append(token)
    elif username is not None:
        import base64

        basic = base64.b64encode(f"{username}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {basic}"
        secrets += [password or "", basic]
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


# -- s3:// -------------------------------------------------------------------------------
class S3Transport(_Budget):
    """An S3 bucket (AWS, MinIO, R2, Ceph...) through obstore, imported here only.

    Endpoint: ``?endpoint=`` in the URL, else ``AWS_ENDPOINT_URL_S3``, else
    ``AWS_ENDPOINT_URL``; a custom endpoint is addressed path-style (MinIO, moto).
    Region: ``?region=``, ``AWS_REGION``, ``AWS_DEFAULT_REGION``, else us-east-1.
    Credentials: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``,
    a static profile of the shared credentials file (``AWS_PROFILE``, default
    ``default``), web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``) or
    container credentials (``AWS_CONTAINER_CREDENTIALS_*_URI``).  With none, requests are
    unsigned (a public bucket) and nothing is written.
    """

    def __init__(self, url: str, environ: Mapping[str, str], *, read_only: bool,
                 connect_timeout: float, deadline: float | None) -> None:
        from urllib.parse import parse_qsl, urlsplit

        parts = urlsplit(url)
        if not parts.netloc or any(c in parts.netloc for c in "@:"):
            raise _config_error(url, "no bucket")
        query = dict(parse_qsl(parts.query))
        unknown = set(query) - {"endpoint", "region"}
        if unknown:
            raise _config_error(url, f"unknown parameters {', '.join(sorted(unknown))}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.display = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        self.connect_timeout = connect_timeout
        self.read_timeout = max(10.0, 5 * connect_timeout)
        self.deadline = deadline
        endpoint = (query.get("endpoint") or environ.get("AWS_ENDPOINT_URL_S3")
                    or environ.get("AWS_ENDPOINT_URL"))
        region = (query.get("region") or environ.get("AWS_REGION")
                  or environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        config: dict[str, Any] = {"region": region}
        if endpoint:
            config.update(endpoint=endpoint, virtual_hosted_style_request=False)
        signed, credentials = _aws_credentials(environ)
        config.update(credentials if signed else {"skip_signature": True})
        self.secrets = [credentials.get(k, "") for k in ("secret_access_key", "session_token")]
        self.read_only = read_only
        self.writable = signed and not read_only
        self._client_options: dict[str, Any] = {"allow_http": bool(endpoint and endpoint.startswith("http:"))}
        try:
            import obstore  # type: ignore[import-not-found,unused-ignore]
            import obstore.store  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            raise RemoteError(f"{self.display}: an s3 remote needs the S3 client: "
                              "pip install 'wheelmemo[s3]'") from None
        self._obstore: Any = obstore
        self._config = config
        #: one client per kind of request, rebuilt with shorter timeouts near the deadline
        self._stores: dict[bool, tuple[float, Any]] = {}

    def __repr__(self) -> str:
        return f"<S3Transport {self.display}>"

    def _store(self, *, transfer: bool) -> Any:
        """A client whose timeouts fit the time left.

        ``timeout`` in obstore bounds a whole request, body included, so a small request
        gets the read timeout and a transfer only the deadline; obstore >= 0.9 also caps
        each read (``read_timeout``).  Retries (5xx, 429, dropped connections): three,
        0.2 to 1 s apart, like an HTTP PUT's.
        """
        total = self._left(3600.0 if transfer else self.read_timeout)
        cached = self._stores.get(transfer)
        if cached is not None and cached[0] <= total + DEADLINE_SLACK:
            return cached[1]
        from datetime import timedelta

        options = dict(self._client_options, connect_timeout=timedelta(seconds=min(total, self.connect_timeout)),
                       timeout=timedelta(seconds=total))
        if transfer:
            options["read_timeout"] = timedelta(seconds=min(total, self.read_timeout))
        retry = {"max_retries": 3, "retry_timeout": timedelta(seconds=total),
                 "backoff": {"init_backoff": timedelta(seconds=0.2), "max_backoff": timedelta(seconds=1),
                             "base": 2.5}}
        make = self._obstore.store.S3Store
        try:
            store = make(self.bucket, prefix=self.prefix or None, config=self._config,
                         client_options=options, retry_config=retry)
        except Exception as e:  # noqa: BLE001 - obstore's errors have no common base we may import
            if "read_timeout" not in options or "read_timeout" not in str(e):
                raise self._failed("open", "the bucket", e) from None
            del options["read_timeout"]  # obstore < 0.9: a whole transfer's timeout only
            options["timeout"] = retry["retry_timeout"] = timedelta(
                seconds=min(total, OLD_OBSTORE_TRANSFER_TIMEOUT))
            store = make(self.bucket, prefix=self.prefix or None, config=self._config,
                         client_options=options, retry_config=retry)
        self._stores[transfer] = (total, store)
        return store

    def _failed(self, method: str, name: str, error: Exception) -> RemoteError:
        """One line from obstore's message (its debug dump, which tells a timeout, is
        not shown)."""
        import re

        text, _, debug = str(error).partition("\nDebug source")
        first = text.strip().split("\n", 1)[0]
        status = re.search(r"status code: (\d{3}[\w ]*)", first)
        # the status, else the cause obstore names last ("error sending request"); never
        # the server's body
        detail = f"HTTP {status.group(1).strip()}" if status else first.rpartition(" - ")[2]
        if "ConnectionRefused" in debug:
            detail += " (connection refused)"
        detail = _scrub(detail or type(error).__name__, self.secrets)[:200]
        if "kind: Timeout" in debug or "TimedOut" in debug or "timed out" in first:
            return RemoteTimeout(f"{self.display}: {method} {name}: {detail} (timed out)")
        return RemoteError(f"{self.display}: {method} {name}: {detail}")

    def _call(self, method: str, name: str, function: Callable[[], Any]) -> Any:
        """``function()``; None when the object is absent, RemoteError for any failure."""
        try:
            return function()
        except FileNotFoundError:  # obstore's NotFoundError
            return None
        except RemoteError:
            raise
        except Exception as e:  # noqa: BLE001 - any failure of the client is the remote's
            if type(e).__name__ == "NotFoundError":
                return None
            raise self._failed(method, name, e) from None

    def _open(self, name: str, *, transfer: bool) -> tuple[Any, int] | None:
        obstore = self._obstore
        key = check_name(name)
        result = self._call("GET", name, lambda: obstore.get(self._store(transfer=transfer), key))
        return None if result is None else (result, int(result.meta["size"]))

    def get(self, name: str, *, limit: int) -> bytes | None:
        opened = self._open(name, transfer=False)
        if opened is None:
            return None
        result, size = opened
        if size > limit:
            raise RemoteError(f"{self.display}: {name} is larger than {limit} bytes")
        data: bytes = self._call("GET", name, lambda: bytes(result.bytes()))
        if data is None or len(data) != size:
            raise RemoteError(f"{self.display}: GET {name}: truncated")
        return data

    def download(self, name: str, out: BinaryIO) -> bool:
        opened = self._open(name, transfer=True)
        if opened is None:
            return False
        result, size = opened
        local: list[OSError] = []

        def stream() -> int:
            total = 0
            for chunk in result.stream(min_chunk_size=CHUNK):
                self._left(0)
                view = memoryview(chunk)
                try:
                    out.write(view)
                except OSError as e:  # the local disk's failure, not the remote's
                    local.append(e)
                    return -1
                total += len(view)
            return total

        total = self._call("GET", name, stream)
        if local:
            raise local[0]
        if total != size:
            raise RemoteError(f"{self.display}: GET {name}: truncated")
        return True

    def exists(self, name: str) -> bool:
        obstore = self._obstore
        key = check_name(name)
        return self._call("HEAD", name, lambda: obstore.head(self._store(transfer=False), key)) is not None

    def put(self, name: str, data: bytes | Path) -> None:
        if not self.writable:
            raise RemoteError(f"{self.display}: read-only ({'as asked' if self.read_only else 'no credentials'}), "
                              f"{name} not written")
        obstore = self._obstore
        key = check_name(name)
        if not isinstance(data, bytes) and not os.path.isfile(data):
            raise RemoteError(f"{self.display}: PUT {name}: cannot read {data}")
        if self._call("PUT", name, lambda: obstore.put(self._store(transfer=True), key, data)) is None:
            raise RemoteError(f"{self.display}: PUT {name}: the bucket does not exist")

    def close(self) -> None:
        self._stores.clear()


def _aws_credentials(environ: Mapping[str, str]) -> tuple[bool, dict[str, str]]:
    """Whether ``environ`` names credentials, and the obstore configuration that passes
    them.  Web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``) and container
    credentials (``AWS_CONTAINER_CREDENTIALS_*_URI``) obstore reads from the process
    environment itself (obstore 0.8 has no option for them)."""
    if environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY"):
        found = {"access_key_id": environ["AWS_ACCESS_KEY_ID"],
                 "secret_access_key": environ["AWS_SECRET_ACCESS_KEY"]}
        if environ.get("AWS_SESSION_TOKEN"):
            found["session_token"] = environ["AWS_SESSION_TOKEN"]
        return True, found
    if (environ.get("AWS_WEB_IDENTITY_TOKEN_FILE") and environ.get("AWS_ROLE_ARN")) or any(
            environ.get(f"AWS_CONTAINER_CREDENTIALS_{kind}_URI") for kind in ("RELATIVE", "FULL")):
        return True, {}
    found = _profile_credentials(environ)
    return bool(found), found


def _profile_credentials(environ: Mapping[str, str]) -> dict[str, str]:
    """The static keys of ``AWS_PROFILE`` in the shared credentials file, as boto3 reads
    them (SSO and assume-role profiles are not followed)."""
    path = environ.get("AWS_SHARED_CREDENTIALS_FILE") or (
        os.path.join(environ["HOME"], ".aws", "credentials") if environ.get("HOME") else "")
    if not path or not os.path.isfile(path):
        return {}
    import configparser

    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (OSError, configparser.Error, UnicodeDecodeError):
        return {}
    section = environ.get("AWS_PROFILE") or "default"
    if not parser.has_option(section, "aws_access_key_id") or not parser.has_option(section, "aws_secret_access_key"):
        return {}
    found = {"access_key_id": parser.get(section, "aws_access_key_id"),
             "secret_access_key": parser.get(section, "aws_secret_access_key")}
    if parser.has_option(section, "aws_session_token"):
        found["session_token"] = parser.get(section, "aws_session_token")
    return found

