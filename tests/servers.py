"""Real servers on 127.0.0.1 for the remote tier's tests, as pytest fixtures.

- ``webdav``: nginx from Debian's packages (installed with apt-get when missing and we
  are root), WebDAV ``PUT`` everywhere (``url("team")`` is ``root / "team"``) but for
  basic auth at ``/auth/``, 500s at ``/fail500/`` and 429s for writes at ``/fail429/``;
  an https port with ``webdav_tls``.  Its access log is parsed by
  :meth:`WebDAV.requests`, so retries and kept-alive connections are counted.
- ``chromium_binary()``: Debian's Chromium, installed the same way, for the docs site's test.
- ``s3``: moto's S3 (``ThreadedMotoServer``, one per session) and a new bucket per test.
- ``strict_dav``: a stdlib WebDAV server without authentication that answers 409 to a
  PUT into a missing collection, as Apache's mod_dav does (nginx answers 500 without
  create_full_put_path), or refuses every PUT (``server.put_status``).
- ``hanging_server``: accepts connections and never answers; ``full_server`` never
  completes one (connect timeouts).
- ``truncating_server``: answers every request with a ``Content-Length`` larger than the
  body it sends, then closes the connection; ``echoing_server`` answers 403 (and
  ``failing_server`` 500) with what it was sent, credentials included.

Imported by ``conftest.py``, so every test module can ask for them.
"""

from __future__ import annotations

import http.client
import http.server
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import unquote

import pytest

NGINX_PACKAGE = "nginx"  # Debian's nginx-light is this binary plus the echo module since bookworm
NGINX_INSTALL = f"apt-get install -y --no-install-recommends {NGINX_PACKAGE}"
STARTUP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, alive: Any = None, what: str = "server") -> None:
    """Until 127.0.0.1:``port`` accepts a connection; ``alive()`` False means it died."""
    limit = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < limit:
        if alive is not None and not alive():
            raise RuntimeError(f"the {what} exited during its start")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the {what} does not listen on port {port} after {STARTUP_TIMEOUT} s")


# -- nginx -------------------------------------------------------------------------------
_nginx_binary: list[str] = []


def nginx_binary() -> str:
    """nginx's path; installed from Debian's packages when missing and we are root."""
    if _nginx_binary:
        return _nginx_binary[0]
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = shutil.which("nginx", path=search)
    if found is None:
        if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
            _apt_install(NGINX_PACKAGE)
            found = shutil.which("nginx", path=search)
        if found is None and sys.platform != "linux":
            pytest.skip(f"the WebDAV tests need nginx, which CI installs on Linux only (none on {sys.platform} here)")
        if found is None:
            pytest.fail(f"the WebDAV tests need nginx: {NGINX_INSTALL} (as root)", pytrace=False)
    _nginx_binary.append(found)
    return found


CHROMIUM_PACKAGE = "chromium"  # Debian's; the site's test drives it headless (tests/test_docs_site.py)
_chromium_binary: list[str] = []


def chromium_binary() -> str:
    """Chromium's path; installed from Debian's packages when missing and we are root, as nginx."""
    if _chromium_binary:
        return _chromium_binary[0]
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
            _apt_install(CHROMIUM_PACKAGE)
            found = shutil.which("chromium")
        if found is None:
            pytest.fail(
                f"the site's test needs Chromium: apt-get install -y --no-install-recommends {CHROMIUM_PACKAGE}"
                " (as root)",
                pytrace=False,
            )
    _chromium_binary.append(found)
    return found


def _apt_install(package: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    # another apt-get (another test run) may hold the lock: wait for it, do not fail
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300", package]
    done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a stale package list: refresh it once
        subprocess.run(
            ["apt-get", "update", "-q", "-o", "DPkg::Lock::Timeout=300"], env=env, capture_output=True, check=False
        )
        done = subprocess.run(install, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"`{' '.join(install)}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}", pytrace=False)


NGINX_CONF = """\
daemon off;
master_process off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 64; }}
http {{
    log_format wheelmemo '$request_method $uri $status $connection $connection_requests '
                         '"$http_authorization" "$http_x_wheelmemo_test"';
    access_log {state}/access.log wheelmemo;
    client_body_temp_path {state}/client_body_temp;
    proxy_temp_path {state}/proxy_temp;
    fastcgi_temp_path {state}/fastcgi_temp;
    uwsgi_temp_path {state}/uwsgi_temp;
    scgi_temp_path {state}/scgi_temp;
    default_type application/octet-stream;
    client_max_body_size 0;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port};
        {tls}
        root {root};
        location / {{
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
        }}
        location /auth/ {{
            auth_basic "wheelmemo tests";
            auth_basic_user_file {state}/htpasswd;
            dav_methods PUT DELETE;
            create_full_put_path on;
        }}
        location /fail500/ {{
            return 500;
        }}
        location /fail429/ {{
            if ($request_method !~ ^(GET|HEAD)$) {{
                return 429;
            }}
        }}
    }}
}}
"""


class Logged(NamedTuple):
    """One line of nginx's access log."""

    method: str
    uri: str
    status: int
    connection: int
    authorization: str
    test_header: str


class WebDAV:
    """nginx serving ``root`` on 127.0.0.1, in the foreground, with its state in tmp."""

    username = "wheelmemo-user"
    password = "correct-horse-battery"

    def __init__(self, base: Path, *, tls: bool = False) -> None:
        self.binary = nginx_binary()
        self.state = base / "nginx"
        #: the directory served: ``url("team")`` is ``root / "team"`` (to damage objects)
        self.root = base / "www"
        for directory in (self.state, self.root / "cache", self.root / "auth", self.root / "fail429"):
            directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        #: with ``tls``: a port that speaks https, and the self-signed certificate it shows
        self.tls_port = free_port() if tls else None
        self.certificate = self.state / "cert.pem"
        listen_tls = ""
        if tls:
            _self_signed(self.certificate, self.state / "key.pem")
            listen_tls = (
                f"listen 127.0.0.1:{self.tls_port} ssl; ssl_certificate {self.certificate}; "
                f"ssl_certificate_key {self.state / 'key.pem'};"
            )
        (self.state / "htpasswd").write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        (self.state / "nginx.conf").write_text(
            NGINX_CONF.format(state=self.state, root=self.root, port=self.port, tls=listen_tls)
        )
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, prefix: str = "cache/team", *, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}127.0.0.1:{self.port}/{prefix}"

    def https_url(self, prefix: str = "cache/team") -> str:
        assert self.tls_port is not None, "WebDAV(tls=True) / the webdav_tls fixture"
        return f"https://127.0.0.1:{self.tls_port}/{prefix}"

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [
                self.binary,
                "-p",
                str(self.state),
                "-c",
                str(self.state / "nginx.conf"),
                "-e",
                str(self.state / "error.log"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_for_port(self.port, lambda: self.process is not None and self.process.poll() is None, "nginx")
        except RuntimeError as e:
            stderr = self.process.communicate()[1].decode(errors="replace") if self.process.poll() is not None else ""
            self.stop()
            log = (self.state / "error.log").read_text() if (self.state / "error.log").exists() else ""
            pytest.fail(f"{e}:\n{stderr}{log}", pytrace=False)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            if self.process.stderr is not None:
                self.process.stderr.close()
            self.process = None

    def requests(self) -> list[Logged]:
        """The requests served so far, oldest first.

        nginx writes a line just after it has sent the response, so the log is read
        until it stops changing (20 ms).
        """
        path = self.state / "access.log"
        text, limit = None, time.monotonic() + 2
        while time.monotonic() < limit:
            again = path.read_text() if path.exists() else ""
            if again == text:
                break
            text = again
            time.sleep(0.02)
        found = []
        for line in (text or "").splitlines():
            head, _, quoted = line.partition(' "')
            method, uri, status, connection, _requests = head.split()
            authorization, _, rest = quoted.partition('" "')
            found.append(Logged(method, uri, int(status), int(connection), authorization, rest.rstrip('"')))
        return found


@pytest.fixture
def webdav(tmp_path: Path) -> Iterator[WebDAV]:
    server = WebDAV(tmp_path / "webdav")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webdav_tls(tmp_path: Path) -> Iterator[WebDAV]:
    """``webdav`` that also listens for https with a self-signed certificate for 127.0.0.1."""
    server = WebDAV(tmp_path / "webdav", tls=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _self_signed(cert: Path, key: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("the https tests need the openssl command: apt-get install openssl", pytrace=False)
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )


# -- a strict WebDAV server -------------------------------------------------------------
class _StrictDAVHandler(http.server.BaseHTTPRequestHandler):
    """GET, HEAD, PUT and MKCOL as RFC 4918 has them: no PUT into a missing collection."""

    protocol_version = "HTTP/1.1"
    server: StrictDAVServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes = b"") -> None:
        self.server.requests.append((self.command, self.path, status))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _target(self) -> Path:
        return self.server.root / unquote(self.path.split("?", 1)[0]).strip("/")

    def do_GET(self) -> None:
        target = self._target()
        if target.is_file():
            self._answer(200, target.read_bytes())
        else:
            self._answer(404)

    do_HEAD = do_GET

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        target = self._target()
        if self.server.put_status is not None:  # a server that takes no writes (of this user)
            self._answer(self.server.put_status)
        elif not target.parent.is_dir():
            self._answer(409)
        else:
            target.write_bytes(body)
            self._answer(201)

    def do_MKCOL(self) -> None:
        target = self._target()
        if target.exists():
            self._answer(405)
        elif not target.parent.is_dir():
            self._answer(409)
        else:
            target.mkdir()
            self._answer(201)


class StrictDAVServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _StrictDAVHandler)
        self.root = root
        self.requests: list[tuple[str, str, int]] = []
        #: the status of every PUT when set (401, 403, 405: a server that refuses writes)
        self.put_status: int | None = None


class StrictDAV:
    """A WebDAV server that answers 409 to a PUT whose parent collection is missing."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.server = StrictDAVServer(root)
        self.requests = self.server.requests
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, prefix: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{prefix}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


@pytest.fixture
def strict_dav(tmp_path: Path) -> Iterator[StrictDAV]:
    server = StrictDAV(tmp_path / "strict-dav")
    try:
        yield server
    finally:
        server.close()


# -- S3 (moto) ---------------------------------------------------------------------------
class MotoServer:
    """moto's S3 on 127.0.0.1, one per test session (its start is quick, its stop 0.5 s)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port, what="moto server")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def running(self) -> bool:
        return self._server is not None


class S3Server:
    """A bucket of its own on the session's moto server; ``environ`` holds what a client
    needs (moto checks no signature, so any key is accepted)."""

    def __init__(self, moto: MotoServer) -> None:
        self.moto = moto
        self.endpoint = moto.endpoint
        self.bucket = f"wheelmemo-{uuid.uuid4().hex[:12]}"
        self.environ = {
            "AWS_ACCESS_KEY_ID": "wheelmemo-test-key-id",
            "AWS_SECRET_ACCESS_KEY": "wheelmemo-test-secret-key",
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": "us-east-1",
        }

    def url(self, prefix: str = "team") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def stop(self) -> None:
        """Stop the server (the next test gets it running again)."""
        self.moto.stop()

    def start(self) -> None:
        self.moto.start()

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """An unsigned request: bucket set-up and inspection."""
        conn = http.client.HTTPConnection("127.0.0.1", self.moto.port, timeout=10)
        try:
            conn.request(method, f"/{self.bucket}{path}", body=body)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def create_bucket(self) -> None:
        status, body = self.request("PUT", "")
        assert status == 200, body

    def make_public(self) -> None:
        """Let anyone read the bucket's objects (a public cache for forks' pull requests)."""
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{self.bucket}/*",
                }
            ],
        }
        status, body = self.request("PUT", "?policy", json.dumps(policy).encode())
        assert status in (200, 204), body


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    werkzeug = logging.getLogger("werkzeug")  # moto's request log on stderr
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    server = MotoServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture
def s3(moto_server: MotoServer) -> S3Server:
    if not moto_server.running:  # a test stopped it
        moto_server.start()
    bucket = S3Server(moto_server)
    bucket.create_bucket()
    return bucket


# -- misbehaving servers -----------------------------------------------------------------
TRUNCATED_BODY = b"0123456789"
TRUNCATED_LENGTH = 1000


class RawServer:
    """A socket server on 127.0.0.1 that hangs (``"hang"``), truncates (``"truncate"``),
    refuses every request with a 403 whose body is the request's head (``"echo"``: a
    server that shows what it was sent, credentials included; ``"echo500"``: the same
    with a 500), or never completes a
    connection (``"full"``: a full accept queue, so the SYN is dropped)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=0 if mode == "full" else 16)
        self.listener.settimeout(0.05)  # a blocked accept() would not see close()
        self.port = int(self.listener.getsockname()[1])
        self._stop = threading.Event()
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        if mode == "full":  # one connection fills the queue; nothing is ever accepted
            self._open.append(socket.create_connection(("127.0.0.1", self.port), timeout=5))
        else:
            self._thread.start()

    def url(self, prefix: str = "cache/team") -> str:
        return f"http://127.0.0.1:{self.port}/{prefix}"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return  # closed
            self.accepted += 1
            self._open.append(conn)
            if self.mode != "hang":
                threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        try:
            received = b""
            while b"\r\n\r\n" not in received:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                received += chunk
            if self.mode in ("echo", "echo500"):  # the head as the body, the reason holds
                echoed = received.split(b"\r\n\r\n")[0]  # its Authorization and target
                reason = b"403 Forbidden" if self.mode == "echo" else b"500 Internal Server Error"
                for line in echoed.split(b"\r\n"):
                    if line.lower().startswith(b"authorization:"):
                        reason += b" " + line.partition(b":")[2].strip()
                target = echoed.split(b"\r\n")[0].split(b" ")[1]
                reason += b" " + target[target.find(b"?") :] if b"?" in target else b""
                conn.sendall(
                    b"HTTP/1.1 " + reason + b"\r\nConnection: close\r\n"
                    b"Content-Length: " + str(len(echoed)).encode() + b"\r\n\r\n" + echoed
                )
                return
            head = (
                f"HTTP/1.1 200 OK\r\nContent-Length: {TRUNCATED_LENGTH}\r\n"
                'Content-Type: application/octet-stream\r\nETag: "0123"\r\n'
                "Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\n\r\n"
            )
            body = b"" if received.startswith(b"HEAD ") else TRUNCATED_BODY
            conn.sendall(head.encode() + body)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)
        self.listener.close()
        for conn in self._open:
            conn.close()


@pytest.fixture
def hanging_server() -> Iterator[RawServer]:
    server = RawServer("hang")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def truncating_server() -> Iterator[RawServer]:
    server = RawServer("truncate")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def full_server() -> Iterator[RawServer]:
    server = RawServer("full")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def echoing_server() -> Iterator[RawServer]:
    server = RawServer("echo")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def failing_server() -> Iterator[RawServer]:
    server = RawServer("echo500")
    try:
        yield server
    finally:
        server.close()
