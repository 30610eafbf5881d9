"""The object gateway: sccache's WebDAV storage served from wheelmemo's own remote.

sccache has no ``file://`` storage, and its S3 and WebDAV clients take their credentials
and read-only rule from their own settings, not wheelmemo's.  So for one build wheelmemo
serves a tiny WebDAV endpoint on ``127.0.0.1`` (a random port, daemon threads of the
build's process) and points sccache at it (``SCCACHE_WEBDAV_ENDPOINT``, after its local
``disk`` level in ``SCCACHE_MULTILEVEL_CHAIN``).  Every object sccache reads or writes
goes through a wheelmemo :class:`~wheelmemo._remote_base.Transport` under the object
prefix ``sccache/`` of the configured remote: the same storage, credentials, deadline
and read-only rule as wheelmemo's own ``v1/`` objects.

What sccache 0.16 (Apache OpenDAL's ``webdav`` service) sends, observed with a logging
server, and what the gateway answers:

- at every server start, and again before each write to this level, its storage
  check: ``GET /.sccache_check`` (a 404 is fine; a 5xx makes ``sccache
  --start-server`` and every compile fail), then, unless told
  ``SCCACHE_WEBDAV_RW_MODE=READ_ONLY``, ``PROPFIND /`` + ``MKCOL /`` + ``PUT
  /.sccache_check`` (``Hello, World!``; a refusal makes it read-only).  The gateway
  answers the check itself, never touching the remote: GET is 404, PUT is 201.  An
  unreachable remote then costs misses, not a failed build, and a read-only one does
  not make sccache read-only: in 0.16 one read-only level (told, or learnt from the
  check) makes the whole chain read-only, so the local ``disk`` level would not be
  written either.  Do not set ``SCCACHE_WEBDAV_RW_MODE=READ_ONLY``: the gateway
  refuses a read-only remote's writes itself (403, a failed background write for
  sccache, the compile unaffected).
- a lookup: ``GET //a/b/c/<key>`` (OpenDAL joins the endpoint's trailing ``/`` and a
  rooted path): the object or 404.  A hit is read twice, once more to fill the local
  ``disk`` level.
- a write: ``PROPFIND`` (``Depth: 0``) on the parent collections, walking up until one
  exists, ``MKCOL`` on the missing ones from the top, then ``PUT`` with a
  ``Content-Length``.  Every collection exists here (object stores have none): a
  ``PROPFIND`` on one is a 207 multistatus naming a collection, ``MKCOL`` is 201.
  The write is sccache's background task, after the compile has answered, and
  ``--stop-server`` does not wait for it: whoever stops the server waits until
  ``--show-stats``' remote level counts as many writes (and write failures) as the
  ``disk`` level has writes.
- no HEAD, DELETE or ``PROPFIND`` on an object in 0.16; HEAD is answered (200/404) for
  people with curl, DELETE is 405 (shared objects are pruned by wheelmemo, never by a
  build), an object's ``PROPFIND`` is 501 (an OpenDAL stat that fails is a miss).

Anyone on the machine can reach a port on ``127.0.0.1``, and the gateway writes to the
team's remote with the build's credentials: every request but the start-up check must
carry the gateway's random token (``SCCACHE_WEBDAV_TOKEN``, sent as ``Authorization:
Bearer``; :meth:`Gateway.environ`), else 401.  A process's environment is readable by
its own user only.

A remote's failure is a 5xx answer (502, 504 for a timeout) that sccache counts as a
miss or a write error while the compile goes on; it is counted in :attr:`Gateway.errors`
and never leaves the serving thread.  Every request's path is checked before anything
is read or written: the request target must be a plain path whose decoded segments pass
:func:`~wheelmemo._remote_base.check_name` (no ``..``, ``.``, empty segment, backslash,
NUL, query), else 400.

Imported by the compiler cache's setup on a miss only (``http.server`` is not free).
"""

from __future__ import annotations

import contextlib
import hmac
import http.server
import secrets
import socket
import threading
from collections.abc import Iterator
from typing import Any, Callable

from ._errors import WheelmemoError
from ._log import logger
from ._remote_base import CHUNK, RemoteError, RemoteRefused, RemoteTimeout, Transport, check_name

__all__ = ["LIMIT", "Gateway", "serve"]

#: the largest object read or written (sccache's are at most tens of MB: an rlib, an object file)
LIMIT = 512 << 20
#: the object sccache reads and writes at every start to learn whether it may write
CHECK = ".sccache_check"
#: what a transport raises (and a socket that went away); anything else ends in
#: :meth:`_Server.handle_error`, counted too, with the connection closed
FAILURES = (WheelmemoError, OSError)
#: a request body that is not an object's (PROPFIND's XML) is read up to this much
SMALL_BODY = 1 << 16


class Gateway:
    """One running gateway: its endpoint and what went through it to the transport.

    The counters count transport operations only (sccache's start-up check never
    reaches the remote): ``gets`` objects asked for, ``hits`` of them found, ``puts``
    stored, ``refused`` writes refused (the remote read-only, or refusing), ``errors``
    requests that failed on the remote or the connection, ``denied`` requests without
    the token (401).
    """

    def __init__(self, url: str) -> None:
        #: ``SCCACHE_WEBDAV_ENDPOINT``
        self.url = url
        #: ``SCCACHE_WEBDAV_TOKEN``: any local user can reach the port, only the build may
        #: use the remote's credentials through it
        self.token = secrets.token_urlsafe(32)
        self.gets = self.hits = self.puts = self.refused = self.errors = self.denied = 0
        self.bytes_down = self.bytes_up = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"<Gateway {self.url} gets={self.gets} hits={self.hits} puts={self.puts} "
            f"refused={self.refused} errors={self.errors}>"
        )

    def environ(self) -> dict[str, str]:
        """What sccache's environment needs to use the gateway (beside ``SCCACHE_DIR``
        and ``SCCACHE_MULTILEVEL_CHAIN=disk,webdav``; never ``SCCACHE_WEBDAV_RW_MODE``)."""
        return {"SCCACHE_WEBDAV_ENDPOINT": self.url, "SCCACHE_WEBDAV_TOKEN": self.token}

    def count(self, **amounts: int) -> None:
        with self._lock:
            for field, amount in amounts.items():
                setattr(self, field, getattr(self, field) + amount)


class _Pool:
    """Transports for the serving threads: one per request at a time, reused, closed at exit.

    A transport keeps one connection and is not thread-safe; sccache sends requests in
    parallel, so each request takes an idle transport (or opens one) and gives it back.
    """

    def __init__(self, open_transport: Callable[[], Transport]) -> None:
        self._open = open_transport
        self._idle: list[Transport] = []
        self._all: list[Transport] = []
        self._lock = threading.Lock()
        self._closed = False

    @contextlib.contextmanager
    def transport(self) -> Iterator[Transport]:
        with self._lock:
            if self._closed:
                raise RemoteError("the sccache gateway is closed")
            transport = self._idle.pop() if self._idle else None
        if transport is None:
            transport = self._open()
            with self._lock:
                self._all.append(transport)
        try:
            yield transport
        finally:
            with self._lock:
                self._idle.append(transport)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            transports, self._all, self._idle = self._all, [], []
        for transport in transports:
            with contextlib.suppress(Exception):  # closing never breaks a build
                transport.close()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, pool: _Pool, prefix: str, writable: bool, limit: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)  # a free port, only this machine's
        self.gateway = Gateway(f"http://127.0.0.1:{self.server_address[1]}/")
        self.pool, self.prefix, self.writable, self.limit = pool, prefix, writable, limit
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:  # a TCP server's requests are sockets
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: object, client_address: object) -> None:
        # what escaped a handler (a client that went away mid-answer): counted, no traceback
        self.gateway.count(errors=1)

    def close_connections(self) -> None:
        """End the kept-alive connections, so that no serving thread outlives the build."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Reply:
    """A GET's answer, as a transport's download sink: an object that fits in one CHUNK
    is sent with its length; a larger one in chunked encoding as it arrives."""

    def __init__(self, handler: _Handler) -> None:
        self.handler = handler
        self.buffer = bytearray()
        #: the status line is sent: a failure can only cut the answer short
        self.started = self.streaming = False
        self.size = 0

    def write(self, data: bytes | memoryview, /) -> object:
        self.size += len(data)
        if not self.streaming:
            self.buffer += data
            if len(self.buffer) <= CHUNK:
                return None
            self.started = True
            self.handler.send_response(200)
            self.handler.send_header("Content-Type", "application/octet-stream")
            self.handler.send_header("Transfer-Encoding", "chunked")
            self.handler.end_headers()
            self.streaming = True
            data, self.buffer = bytes(self.buffer), bytearray()
        out = self.handler.wfile
        out.write(b"%x\r\n" % len(data))
        out.write(data)
        out.write(b"\r\n")
        return None

    def finish(self) -> None:
        self.started = True
        if self.streaming:
            self.handler.wfile.write(b"0\r\n\r\n")
        else:
            self.handler.answer(200, bytes(self.buffer), "application/octet-stream")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # sccache keeps its connections alive
    # the head and the body are two writes: with Nagle's algorithm the body waits for
    # the client's delayed ACK of the head (40 ms on Linux) on every kept-alive answer
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass  # a build's stderr is not an access log

    # the answers ---------------------------------------------------------------------------
    def answer(self, status: int, body: bytes = b"", content_type: str | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def refuse(self, status: int) -> None:
        """An answer that leaves the request's body unread, so the connection ends."""
        self.close_connection = True
        self.answer(status)

    def denied(self) -> bool:
        """Whether the request lacks the gateway's token: then answered with a 401."""
        expected = f"Bearer {self.server.gateway.token}".encode()
        if hmac.compare_digest(self.headers.get("Authorization", "").encode(), expected):
            return False
        self.server.gateway.count(denied=1)
        self.close_connection = True
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="wheelmemo sccache gateway"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def failed(self, error: BaseException, *, answered: bool) -> None:
        """A remote's or a connection's failure: counted, a 5xx when still possible."""
        self.server.gateway.count(errors=1)
        logger.debug("sccache gateway: %s %s: %s", self.command, self.path, error)
        if answered:  # the body is cut short: sccache's read fails, and it compiles
            self.close_connection = True
            return
        status = 504 if isinstance(error, RemoteTimeout) else 502 if isinstance(error, RemoteError) else 500
        with contextlib.suppress(OSError):
            self.answer(status)

    # the request ---------------------------------------------------------------------------
    def name(self, *, collection: bool = False) -> str | None:
        """The request's object name (a collection's: without the trailing ``/``, the
        root's is ``""``); None when the target is not one we serve."""
        from urllib.parse import unquote

        target = self.path
        if not target.startswith("/") or "?" in target or "#" in target:
            return None  # an absolute-form target, a query: none is ours
        path = target[2:] if target.startswith("//") else target[1:]  # OpenDAL's "//"
        if collection:
            if not path:
                return ""
            if not path.endswith("/"):
                return None
            path = path[:-1]
        try:
            return check_name(unquote(path, errors="strict"))
        except (ValueError, UnicodeDecodeError):  # '..', '%2e%2e', '%2F', '//', '\\', bad UTF-8
            return None

    def key(self, name: str) -> str:
        return f"{self.server.prefix}/{name}"

    def length(self, most: int) -> int | None:
        """The body's Content-Length, answered for (and None) when missing, bad or over ``most``."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.refuse(411)
            return None
        value = self.headers.get("Content-Length", "0").strip()
        if not value.isdigit():
            self.refuse(400)
            return None
        if int(value) > most:
            self.refuse(413)
            return None
        return int(value)

    def body(self, length: int, *, keep: bool) -> bytes | None:
        """Read the body (discarded unless ``keep``); None, the connection ended, when short."""
        kept: list[bytes] = []
        left = length
        while left:
            chunk = self.rfile.read(min(left, CHUNK))
            if not chunk:
                self.close_connection = True
                return None
            left -= len(chunk)
            if keep:
                kept.append(chunk)
        return b"".join(kept)

    # the methods ---------------------------------------------------------------------------
    def do_GET(self) -> None:
        name = self.name()
        if name == CHECK:  # without the token too: a 401 here would stop sccache's start
            self.answer(404)
            return
        if self.denied():
            return
        if name is None:
            self.refuse(400)
            return
        gateway, reply = self.server.gateway, _Reply(self)
        try:
            with self.server.pool.transport() as transport:
                found = transport.download(self.key(name), reply, limit=self.server.limit)
            if found:
                reply.finish()
        except FAILURES as e:  # a remote's failure is a miss, never a broken build
            self.failed(e, answered=reply.started)
            return
        gateway.count(gets=1, hits=int(found), bytes_down=reply.size)
        if not found:
            self.answer(404)

    def do_HEAD(self) -> None:
        name = self.name()
        if name != CHECK and self.denied():
            return
        if name is None:
            self.refuse(400)
            return
        found = False
        if name != CHECK:
            try:
                with self.server.pool.transport() as transport:
                    found = transport.exists(self.key(name))
            except FAILURES as e:
                self.failed(e, answered=False)
                return
        self.send_response(200 if found else 404)
        if not found:
            self.send_header("Content-Length", "0")
        self.end_headers()  # a found object's length is not known without reading it

    def do_PUT(self) -> None:
        name = self.name()
        if name != CHECK and self.denied():
            return
        length = self.length(self.server.limit)
        if length is None:
            return
        writable = self.server.writable
        data = self.body(length, keep=name is not None and name != CHECK and writable)
        if data is None:
            return
        if name is None:
            self.answer(400)
            return
        if name == CHECK:  # writable for sccache: its local level stays so (see above)
            self.answer(201)
            return
        gateway = self.server.gateway
        if not writable:
            gateway.count(refused=1)
            self.answer(403)
            return
        try:
            with self.server.pool.transport() as transport:
                transport.put(self.key(name), data)
        except RemoteRefused as e:
            logger.debug("sccache gateway: PUT %s: %s", name, e)
            gateway.count(refused=1)
            self.answer(403)
            return
        except FAILURES as e:
            self.failed(e, answered=False)
            return
        gateway.count(puts=1, bytes_up=len(data))
        self.answer(201)

    def do_MKCOL(self) -> None:
        if self.denied():
            return
        name = self.name(collection=True)
        length = self.length(SMALL_BODY)
        if length is None or self.body(length, keep=False) is None:
            return
        self.answer(201 if name is not None else 400)

    def do_PROPFIND(self) -> None:
        if self.denied():
            return
        collection = self.name(collection=True)
        length = self.length(SMALL_BODY)
        if length is None or self.body(length, keep=False) is None:
            return
        if collection is not None:
            self.answer(207, _multistatus(self.path, self.date_time_string()), 'application/xml; charset="utf-8"')
        elif self.name() is not None:
            self.answer(501)  # sccache 0.16 never stats an object; a failed stat is a miss
        else:
            self.answer(400)

    def do_DELETE(self) -> None:
        self.refuse(405)


def _multistatus(href: str, modified: str) -> bytes:
    """RFC 4918's answer to a ``Depth: 0`` PROPFIND: ``href`` is a collection."""
    from html import escape

    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<D:multistatus xmlns:D="DAV:"><D:response>'
        f"<D:href>{escape(href)}</D:href><D:propstat><D:prop>"
        f"<D:resourcetype><D:collection/></D:resourcetype><D:getlastmodified>{modified}</D:getlastmodified>"
        "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
        "</D:response></D:multistatus>\n"
    ).encode()


@contextlib.contextmanager
def serve(
    open_transport: Callable[[], Transport],
    *,
    prefix: str = "sccache",
    writable: bool,
    limit: int = LIMIT,
) -> Iterator[Gateway]:
    """Serve sccache's WebDAV storage from ``open_transport()``'s remote under ``prefix``.

    ``open_transport`` is called when every transport opened so far is busy (as many
    as requests served at once); ``writable`` is the remote's read-only rule: when
    False, every PUT is refused here (sccache must not be told read-only, see above).
    sccache gets :meth:`Gateway.environ`.  On exit (after ``sccache --stop-server``: a
    request still in flight would fail) the server stops, its connections end and its
    transports are closed.
    """
    check_name(prefix)
    pool = _Pool(open_transport)
    server = _Server(pool, prefix, writable, limit)
    # shutdown() waits for the loop to look at its flag, every poll_interval
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="wheelmemo-sccache-gateway", daemon=True)
    thread.start()
    try:
        yield server.gateway
    finally:
        server.shutdown()
        server.close_connections()
        server.server_close()
        pool.close()
        thread.join()
