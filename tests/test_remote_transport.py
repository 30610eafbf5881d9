"""The remote tier's transports against real servers: a directory, nginx (WebDAV), moto (S3).

Each behaviour is checked on every transport it applies to; faults (refused, hanging,
truncating, throttling and failing servers, wrong credentials, a spent deadline) must
end in a RemoteError, never a hang, a wrong answer or a secret in a message.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest
from servers import TRUNCATED_BODY, RawServer, S3Server, StrictDAV, WebDAV

from wheelmemo._errors import ConfigError, StoreError
from wheelmemo._remote import (
    S3_REQUIREMENT,
    RemoteError,
    RemoteRefused,
    RemoteTimeout,
    Transport,
    open_transport,
)

KEY = "v1/ac/" + "ab" * 32
BLOB = "v1/cas/" + "cd" * 32
TOKEN = "tok-3f9a1c7e5b2d4f6a"
KINDS = ["file", "webdav", "s3"]
SERVED = ["webdav", "s3"]


class Remote:
    """One remote of one kind: its URL, the environment that reaches it, its server."""

    def __init__(self, kind: str, url: str, environ: dict[str, str], server: Any) -> None:
        self.kind = kind
        self.url = url
        self.environ = environ
        self.server = server
        self.opened: list[Transport] = []

    def open(self, url: str | None = None, environ: dict[str, str] | None = None, **options: Any) -> Transport:
        transport = open_transport(url or self.url, self.environ if environ is None else environ, **options)
        self.opened.append(transport)
        return transport


@pytest.fixture
def remote(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Remote]:
    kind = request.param
    if kind == "file":
        made = Remote(kind, (tmp_path / "share" / "team").as_uri(), {}, None)
    elif kind == "webdav":
        server: WebDAV = request.getfixturevalue("webdav")
        made = Remote(kind, server.url("cache/team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN}, server)
    else:
        bucket: S3Server = request.getfixturevalue("s3")
        made = Remote(kind, bucket.url("team"), dict(bucket.environ), bucket)
    yield made
    for transport in made.opened:
        transport.close()


every_kind = pytest.mark.parametrize("remote", KINDS, indirect=True)
served = pytest.mark.parametrize("remote", SERVED, indirect=True)


def big_file(path: Path, size: int = 3 * 1024 * 1024 + 17) -> Path:
    path.write_bytes(os.urandom(size))
    return path


# -- round trips -------------------------------------------------------------------------
@every_kind
def test_bytes_round_trip(remote: Remote) -> None:
    transport = remote.open()
    assert transport.writable
    assert not transport.exists(KEY)
    transport.put(KEY, b"an entry")
    assert transport.exists(KEY)
    assert transport.get(KEY, limit=100) == b"an entry"
    out = io.BytesIO()
    assert transport.download(KEY, out, limit=100)
    assert out.getvalue() == b"an entry"
    transport.put(KEY, b"an entry")  # idempotent
    assert transport.get(KEY, limit=8) == b"an entry"


@every_kind
def test_path_round_trip_of_a_few_megabytes(remote: Remote, tmp_path: Path) -> None:
    source = big_file(tmp_path / "blob")
    transport = remote.open()
    transport.put(BLOB, source)
    with (tmp_path / "copy").open("wb") as out:
        assert transport.download(BLOB, out, limit=1 << 30)
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()
    assert transport.get(BLOB, limit=source.stat().st_size) == source.read_bytes()


@every_kind
def test_a_download_stops_at_its_limit(remote: Remote, tmp_path: Path) -> None:
    """An object larger than its record says (a damaged or hostile remote) is refused
    before more than the limit is written."""
    source = big_file(tmp_path / "blob")
    transport = remote.open()
    transport.put(BLOB, source)
    out = io.BytesIO()
    with pytest.raises(RemoteError, match="larger than 1000 bytes"):
        transport.download(BLOB, out, limit=1000)
    assert len(out.getvalue()) <= 1000
    out = io.BytesIO()
    assert transport.download(BLOB, out, limit=source.stat().st_size)
    assert out.getvalue() == source.read_bytes()


@pytest.mark.parametrize("remote", ["file", "webdav"], indirect=True)
def test_a_path_is_streamed_not_read_whole(remote: Remote, tmp_path: Path) -> None:
    """(S3: obstore reads the file itself, in Rust, out of tracemalloc's sight.)"""
    source = big_file(tmp_path / "blob", 8 * 1024 * 1024)
    transport = remote.open()
    transport.put("v1/ac/warm-up", b"x")  # connection and imports outside the measure
    tracemalloc.start()
    try:
        transport.put(BLOB, source)
        with (tmp_path / "copy").open("wb") as out:
            transport.download(BLOB, out, limit=1 << 30)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()


@every_kind
def test_absent(remote: Remote) -> None:
    transport = remote.open()
    out = io.BytesIO()
    assert transport.get(KEY, limit=100) is None
    assert not transport.download(BLOB, out, limit=1 << 30)
    assert out.getvalue() == b""
    assert not transport.exists(KEY)


@every_kind
def test_larger_than_the_limit(remote: Remote) -> None:
    transport = remote.open()
    transport.put(KEY, b"x" * 1000)
    with pytest.raises(RemoteError, match="larger than 999 bytes"):
        transport.get(KEY, limit=999)
    assert transport.get(KEY, limit=1000) == b"x" * 1000  # and the transport still works


@every_kind
def test_names_are_relative(remote: Remote) -> None:
    transport = remote.open()
    for name in ("", "/v1/ac/x", "v1/../x", "v1//x", "v1/ac/", "..", "v1\\x"):
        with pytest.raises(ValueError, match="not a relative object name"):
            transport.get(name, limit=10)


# -- read-only, credentials --------------------------------------------------------------
@every_kind
def test_read_only(remote: Remote) -> None:
    remote.open().put(KEY, b"shared")
    transport = remote.open(read_only=True)
    assert not transport.writable
    assert transport.get(KEY, limit=10) == b"shared"
    with pytest.raises(RemoteError, match=r"read-only, .* remote-read-only = true \(set it to false"):
        transport.put(BLOB, b"never")
    assert not transport.exists(BLOB)


def test_no_credentials_means_read_only(webdav: WebDAV, s3: S3Server, tmp_path: Path) -> None:
    for transport in (open_transport(webdav.url(), {}), open_transport(s3.url(), {"AWS_ENDPOINT_URL": s3.endpoint})):
        assert not transport.writable
        with pytest.raises(RemoteError, match=r"read-only, .* no (AWS )?credentials \(set "):
            transport.put(KEY, b"never")
        assert not transport.exists(KEY)
        transport.close()
    assert webdav.requests()[-1].method == "HEAD"  # the PUT was never sent
    assert open_transport((tmp_path / "share").as_uri(), {}).writable
    for environ in (
        {"WHEELMEMO_REMOTE_TOKEN": TOKEN},
        {"WHEELMEMO_REMOTE_USERNAME": "u", "WHEELMEMO_REMOTE_PASSWORD": "p"},
        {"WHEELMEMO_REMOTE_HEADERS": "X-Api-Key: k"},
    ):
        assert open_transport(webdav.url(), environ).writable
    assert open_transport(webdav.url(userinfo="u:p"), {}).writable
    # remote-read-only = false, set explicitly: an HTTP server that takes writes without
    # credentials is written; S3 never unsigned
    assert open_transport(webdav.url(), {}, read_only=False).writable
    assert not open_transport(s3.url(), {"AWS_ENDPOINT_URL": s3.endpoint}, read_only=False).writable


def test_bearer_token_and_extra_headers_are_sent(webdav: WebDAV) -> None:
    environ = {"WHEELMEMO_REMOTE_TOKEN": TOKEN, "WHEELMEMO_REMOTE_HEADERS": "X-Wheelmemo-Test: a; b=c\n\nX-Other: 1\n"}
    transport = open_transport(webdav.url(), environ)
    transport.put(KEY, b"1")
    transport.get(KEY, limit=1)
    transport.close()
    assert [(r.method, r.authorization, r.test_header) for r in webdav.requests()] == [
        ("PUT", f"Bearer {TOKEN}", "a; b=c"),
        ("GET", f"Bearer {TOKEN}", "a; b=c"),
    ]


def test_a_malformed_header_line_is_a_config_error_that_does_not_show_it(webdav: WebDAV) -> None:
    with pytest.raises(ConfigError, match="WHEELMEMO_REMOTE_HEADERS: line 2") as caught:
        open_transport(webdav.url(), {"WHEELMEMO_REMOTE_HEADERS": "X-A: 1\nsecret-value-only"})
    assert "secret-value-only" not in str(caught.value)


@pytest.mark.parametrize("how", ["environment", "userinfo"])
def test_basic_auth(webdav: WebDAV, how: str) -> None:
    if how == "environment":
        transport = open_transport(
            webdav.url("auth/team"),
            {"WHEELMEMO_REMOTE_USERNAME": webdav.username, "WHEELMEMO_REMOTE_PASSWORD": webdav.password},
        )
    else:
        transport = open_transport(webdav.url("auth/team", userinfo=f"{webdav.username}:{webdav.password}"), {})
    assert transport.display == webdav.url("auth/team")
    transport.put(KEY, b"behind a password")
    assert transport.get(KEY, limit=100) == b"behind a password"
    transport.close()
    anonymous = open_transport(webdav.url("auth/team"), {})
    with pytest.raises(RemoteError, match="HTTP 401"):
        anonymous.get(KEY, limit=100)
    anonymous.close()


def test_wrong_credentials_never_show_a_secret(webdav: WebDAV) -> None:
    password = "wrong-password-8d1f"
    secrets = [password, TOKEN, "query-signature-55e2"]
    attempts = [
        (
            {"WHEELMEMO_REMOTE_USERNAME": webdav.username, "WHEELMEMO_REMOTE_PASSWORD": password},
            webdav.url("auth/team"),
        ),
        ({}, webdav.url("auth/team", userinfo=f"{webdav.username}:{password}") + "?sig=query-signature-55e2"),
        ({"WHEELMEMO_REMOTE_TOKEN": TOKEN}, webdav.url("auth/team")),
    ]
    for environ, url in attempts:
        transport = open_transport(url, environ)
        for call in (lambda t: t.get(KEY, limit=10), lambda t: t.exists(KEY), lambda t: t.put(KEY, b"x")):
            with pytest.raises(RemoteError) as caught:
                call(transport)
            shown = f"{caught.value} {caught.value!r} {transport.display} {transport!r}"
            assert "401" in shown
            assert transport.display in str(caught.value)
            for secret in secrets:
                assert secret not in shown
        transport.close()


# -- server faults -----------------------------------------------------------------------
def test_500_is_an_error_naming_the_status_and_the_remote(webdav: WebDAV) -> None:
    transport = open_transport(webdav.url("fail500/team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    calls: list[Callable[[], object]] = [
        lambda: transport.get(KEY, limit=10),
        lambda: transport.exists(KEY),
        lambda: transport.download(KEY, io.BytesIO(), limit=100),
        lambda: transport.put(KEY, b"x"),
    ]
    for call in calls:
        with pytest.raises(RemoteError, match=r"HTTP 500") as caught:
            call()
        assert str(caught.value).startswith(webdav.url("fail500/team"))
        assert not isinstance(caught.value, RemoteTimeout)
    assert [r.status for r in webdav.requests()] == [500] * 4  # no retry of a 500
    transport.close()


def test_429_on_put_is_retried_three_times_then_an_error(webdav: WebDAV) -> None:
    transport = open_transport(webdav.url("fail429/team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    with pytest.raises(RemoteError, match="HTTP 429"):
        transport.put(KEY, b"throttled")
    assert [(r.method, r.status) for r in webdav.requests()] == [("PUT", 429)] * 4
    # reads are not throttled there, and the kept connection still serves them
    assert transport.get(KEY, limit=10) is None
    assert len({r.connection for r in webdav.requests()}) == 1
    transport.close()


def test_429_backoff_stops_at_the_deadline(webdav: WebDAV) -> None:
    transport = open_transport(
        webdav.url("fail429/team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN}, deadline=time.monotonic() + 0.4
    )
    with pytest.raises(RemoteTimeout, match="throttled"):
        transport.put(KEY, b"throttled")
    assert 1 <= len(webdav.requests()) < 4
    transport.close()


def test_409_makes_the_parent_collections(strict_dav: StrictDAV) -> None:
    """A WebDAV server that wants parent collections made first (RFC 4918 9.7.1)."""
    transport = open_transport(strict_dav.url("team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    transport.put(KEY, b"made")
    transport.put(KEY.replace("ab", "ef"), b"again")  # the parents exist now: no MKCOL
    assert transport.get(KEY, limit=10) == b"made"
    assert strict_dav.requests == [
        ("PUT", "/team/" + KEY, 409),
        ("MKCOL", "/team/", 201),
        ("MKCOL", "/team/v1/", 201),
        ("MKCOL", "/team/v1/ac/", 201),
        ("PUT", "/team/" + KEY, 201),
        ("PUT", "/team/" + KEY.replace("ab", "ef"), 201),
        ("GET", "/team/" + KEY, 200),
    ]
    transport.close()


def test_webdav_objects_are_files_under_root(webdav: WebDAV) -> None:
    """What fault tests damage: ``url("team")`` serves ``root / "team"``."""
    transport = open_transport(webdav.url("team"), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    transport.put(KEY, b"on disk")
    assert (webdav.root / "team" / KEY).read_bytes() == b"on disk"
    (webdav.root / "team" / KEY).write_bytes(b"on dusk")
    assert transport.get(KEY, limit=10) == b"on dusk"
    transport.close()


def test_https(webdav_tls: WebDAV, monkeypatch: pytest.MonkeyPatch) -> None:
    untrusted = open_transport(webdav_tls.https_url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    with pytest.raises(RemoteError, match="certificate verify failed") as caught:
        untrusted.get(KEY, limit=10)
    assert not isinstance(caught.value, RemoteTimeout)
    monkeypatch.setenv("SSL_CERT_FILE", str(webdav_tls.certificate))  # OpenSSL's own variable
    transport = open_transport(webdav_tls.https_url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    transport.put(KEY, b"over tls")
    assert transport.get(KEY, limit=10) == b"over tls"
    assert transport.exists(KEY)
    assert len({r.connection for r in webdav_tls.requests()}) == 1
    transport.close()


def test_one_kept_alive_connection(webdav: WebDAV, tmp_path: Path) -> None:
    transport = open_transport(webdav.url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    transport.put(KEY, b"1")
    transport.put(BLOB, big_file(tmp_path / "blob", 100_000))
    transport.get(KEY, limit=10)
    transport.get("v1/ac/absent", limit=10)
    transport.exists(BLOB)
    transport.download(BLOB, io.BytesIO(), limit=1 << 30)
    requests = webdav.requests()
    assert len(requests) == 6
    assert len({r.connection for r in requests}) == 1
    transport.close()


@served
def test_server_stopped_then_started(remote: Remote) -> None:
    transport = remote.open()
    transport.put(KEY, b"before")
    remote.server.stop()
    with pytest.raises(RemoteError) as caught:
        transport.get(KEY, limit=10)
    assert not isinstance(caught.value, RemoteTimeout)
    assert str(caught.value).startswith(transport.display)
    assert "refused" in str(caught.value)
    remote.server.start()
    assert transport.get(KEY, limit=10) == b"before"


def test_a_connection_the_server_closed_is_reopened_once(webdav: WebDAV) -> None:
    transport = open_transport(webdav.url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN})
    transport.put(KEY, b"kept")
    webdav.stop()
    webdav.start()  # the kept connection is dead now; the next request must not fail
    assert transport.get(KEY, limit=10) == b"kept"
    transport.put(BLOB, b"and written")
    # no failed attempt reached the new server (the old one may not have logged its last line)
    assert [(r.method, r.status) for r in webdav.requests()][-2:] == [("GET", 200), ("PUT", 201)]
    transport.close()


# -- time --------------------------------------------------------------------------------
@every_kind
def test_a_spent_deadline_raises_before_any_request(remote: Remote, tmp_path: Path) -> None:
    remote.open().put(KEY, b"there")
    requests_before = len(remote.server.requests()) if remote.kind == "webdav" else 0
    transport = remote.open(deadline=time.monotonic() - 1)
    calls: list[Callable[[], object]] = [
        lambda: transport.get(KEY, limit=10),
        lambda: transport.exists(KEY),
        lambda: transport.download(KEY, io.BytesIO(), limit=100),
        lambda: transport.put(BLOB, b"x"),
        lambda: transport.put(BLOB, big_file(tmp_path / "blob", 10)),
    ]
    for call in calls:
        with pytest.raises(RemoteTimeout, match="time budget"):
            call()
    if remote.kind == "webdav":
        assert len(remote.server.requests()) == requests_before
    transport.deadline = None  # the deadline of the next build
    assert transport.get(KEY, limit=10) == b"there"


@pytest.mark.parametrize("kind", ["http", "s3"])
def test_a_hanging_server_times_out_at_a_short_deadline(hanging_server: RawServer, kind: str) -> None:
    if kind == "http":
        url, environ = hanging_server.url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN}
    else:
        url = f"s3://bucket/team?endpoint={hanging_server.endpoint}"
        environ = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
    for call in (
        lambda t: t.get(KEY, limit=10),
        lambda t: t.exists(KEY),
        lambda t: t.put(KEY, b"x"),
        lambda t: t.download(KEY, io.BytesIO(), limit=100),
    ):
        transport = open_transport(url, environ, connect_timeout=0.2, deadline=time.monotonic() + 0.25)
        with pytest.raises(RemoteTimeout):
            call(transport)
        transport.close()
    assert hanging_server.accepted >= 4


def test_a_server_that_never_accepts_times_out_at_the_connect_timeout(full_server: RawServer) -> None:
    transport = open_transport(full_server.url(), {"WHEELMEMO_REMOTE_TOKEN": TOKEN}, connect_timeout=0.2)
    with pytest.raises(RemoteTimeout, match=r"no connection within 0\.2 s"):
        transport.get(KEY, limit=10)
    # the deadline caps the connect timeout too
    transport.deadline = time.monotonic() + 0.1
    with pytest.raises(RemoteTimeout, match=r"no connection within 0\.[01]\d* s|time budget"):
        transport.exists(KEY)


@pytest.mark.parametrize("kind", ["http", "s3"])
def test_a_truncated_response(truncating_server: RawServer, kind: str) -> None:
    if kind == "http":
        url, environ = truncating_server.url(), {}
    else:
        url = f"s3://bucket/team?endpoint={truncating_server.endpoint}"
        environ = {"AWS_ACCESS_KEY_ID": "id", "AWS_SECRET_ACCESS_KEY": "secret"}
    transport = open_transport(url, environ, deadline=time.monotonic() + 30)
    with pytest.raises(RemoteError) as caught:
        transport.get(KEY, limit=10_000)
    assert not isinstance(caught.value, RemoteTimeout)
    out = io.BytesIO()
    with pytest.raises(RemoteError):
        transport.download(KEY, out, limit=100)
    assert out.getvalue() in (b"", TRUNCATED_BODY)
    transport.close()


# -- S3 specifics ------------------------------------------------------------------------
def test_s3_anonymous_reads_of_a_public_bucket(s3: S3Server) -> None:
    writer = open_transport(s3.url(), s3.environ)
    writer.put(KEY, b"for everyone")
    anonymous = open_transport(s3.url(), {"AWS_ENDPOINT_URL": s3.endpoint})
    assert not anonymous.writable
    with pytest.raises(RemoteError, match=r"HTTP 403"):  # the bucket is private yet
        anonymous.get(KEY, limit=100)
    s3.make_public()
    assert anonymous.get(KEY, limit=100) == b"for everyone"
    with pytest.raises(RemoteError, match="read-only"):
        anonymous.put(KEY, b"poisoned")


def test_s3_endpoint_and_region_from_the_url(s3: S3Server) -> None:
    environ = {k: v for k, v in s3.environ.items() if k != "AWS_ENDPOINT_URL"}
    transport = open_transport(f"{s3.url()}?endpoint={s3.endpoint}&region=eu-west-1", environ)
    assert transport.display == s3.url()
    transport.put(KEY, b"via the query")
    assert open_transport(s3.url(), s3.environ).get(KEY, limit=100) == b"via the query"


@pytest.mark.parametrize("kind", ["http-token", "http-basic", "s3"])
def test_a_server_that_echoes_credentials_does_not_put_them_in_messages(echoing_server: RawServer, kind: str) -> None:
    """The server answers 403 with the request's head as the body, and its Authorization
    header as the reason phrase."""
    secrets = [TOKEN, "basic-password-1b2c", "session-token-77aa", "aws-secret-key-99ff", "query-sig-3d4e"]
    if kind == "http-token":
        url, environ = echoing_server.url() + "?sig=query-sig-3d4e", {"WHEELMEMO_REMOTE_TOKEN": TOKEN}
    elif kind == "http-basic":
        url, environ = (
            echoing_server.url(),
            {"WHEELMEMO_REMOTE_USERNAME": "someone", "WHEELMEMO_REMOTE_PASSWORD": "basic-password-1b2c"},
        )
    else:
        url = f"s3://bucket/team?endpoint={echoing_server.endpoint}"
        environ = {
            "AWS_ACCESS_KEY_ID": "id",
            "AWS_SECRET_ACCESS_KEY": "aws-secret-key-99ff",
            "AWS_SESSION_TOKEN": "session-token-77aa",
        }
    transport = open_transport(url, environ)
    for call, write in ((lambda: transport.get(KEY, limit=10), False), (lambda: transport.put(KEY, b"x"), True)):
        with pytest.raises(RemoteError) as caught:
            call()
        # a refused write leaves the remote read; a refused read is a failure
        assert isinstance(caught.value, RemoteRefused) is write
        shown = f"{caught.value} {caught.value!r} {transport!r} {transport.display}"
        assert "403" in shown
        assert "\n" not in str(caught.value)
        for secret in secrets:
            assert secret not in shown
    transport.close()


def test_s3_profile_credentials(s3: S3Server, tmp_path: Path) -> None:
    (tmp_path / "credentials").write_text(
        "[default]\naws_access_key_id = nope\n"
        f"[team]\naws_access_key_id = {s3.environ['AWS_ACCESS_KEY_ID']}\n"
        f"aws_secret_access_key = {s3.environ['AWS_SECRET_ACCESS_KEY']}\n"
    )
    environ = {"AWS_ENDPOINT_URL": s3.endpoint, "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}
    assert not open_transport(s3.url(), environ).writable  # [default] has no secret
    transport = open_transport(s3.url(), dict(environ, AWS_PROFILE="team"))
    assert transport.writable
    transport.put(KEY, b"from a profile")


def test_s3_client_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "obstore", None)
    with pytest.raises(RemoteError, match=r"pip install 'wheelmemo\[s3\]'"):
        open_transport("s3://bucket/team", {})
    assert S3_REQUIREMENT.startswith("obstore")


# -- file:// specifics -------------------------------------------------------------------
def test_file_writes_are_atomic_and_leave_no_temporary_file(tmp_path: Path) -> None:
    transport = open_transport((tmp_path / "share").as_uri(), {})
    transport.put(KEY, b"whole")
    # an overwrite that fails half-way (its source vanished) leaves the old object whole
    with pytest.raises(RemoteError, match="cannot write"):
        transport.put(KEY, tmp_path / "missing-source")
    assert transport.get(KEY, limit=100) == b"whole"
    assert [p.name for p in (tmp_path / "share").rglob("*") if p.is_file()] == ["ab" * 32]


def test_file_never_follows_a_symlink_planted_in_the_share(tmp_path: Path) -> None:
    share = tmp_path / "share"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_bytes(b"untouched")
    transport = open_transport(share.as_uri(), {})
    transport.put(KEY, b"first")
    # a symlink as the object itself: replaced by the object, never written through
    (share / "v1" / "ac" / ("ef" * 32)).symlink_to(outside / "victim")
    transport.put("v1/ac/" + "ef" * 32, b"written")
    assert (outside / "victim").read_bytes() == b"untouched"
    assert not (share / "v1" / "ac" / ("ef" * 32)).is_symlink()
    # a symlink as a directory of the share: nothing written or read through it
    (share / "v1" / "cas").symlink_to(outside)
    with pytest.raises(RemoteError, match="symbolic link is not followed"):
        transport.put("v1/cas/victim", b"poison")
    assert transport.get("v1/cas/victim", limit=100) is None
    assert not transport.exists("v1/cas/victim")
    assert (outside / "victim").read_bytes() == b"untouched"
    # a symlink as an object: refused for reads
    (share / "v1" / "ac" / "link").symlink_to(outside / "victim")
    with pytest.raises(RemoteError, match="symbolic link"):
        transport.get("v1/ac/link", limit=100)


def test_file_prefix_itself_may_be_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "mnt").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "mnt")
    transport = open_transport((tmp_path / "link").as_uri(), {})
    transport.put(KEY, b"through the mount's link")
    assert transport.get(KEY, limit=100) == b"through the mount's link"


# -- URLs --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "ftp://user:hunter2-pw@host/x",
        "/mnt/shared/cache",
        "s3:///prefix",
        "s3://user:hunter2-pw@bucket/x",
        "http:///prefix",
        "http://host:port/x",
        "file://server/share",
        "file:relative",
        "s3://bucket/x?unknown=hunter2-pw",
    ],
)
def test_bad_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_transport(url, {})
    message = str(caught.value)
    assert message.startswith("WHEELMEMO_REMOTE / [tool.wheelmemo] remote: ")
    assert "s3://bucket/prefix" in message
    assert "hunter2-pw" not in message.replace("unknown parameters unknown", "")
    assert "\n" not in message
    assert not isinstance(caught.value, StoreError)


def test_display_drops_userinfo_and_query(tmp_path: Path) -> None:
    assert (
        open_transport("https://u:pw@cache.example.com:8443/team/?sig=abc", {}).display
        == "https://cache.example.com:8443/team"
    )
    assert open_transport("s3://bucket/team/?region=eu-west-1", {}, read_only=True).display == "s3://bucket/team"
    assert open_transport((tmp_path / "a b").as_uri(), {}).display == f"file://{tmp_path}/a b"


def test_importing_the_transports_is_cheap() -> None:
    """A local hit never pays for http.client (~30 ms, with ssl) nor the S3 client."""
    code = (
        "import sys, wheelmemo._remote as r\n"
        "t = r.open_transport('http://127.0.0.1:9/x', {})\n"
        "print(sorted(m for m in ('http.client', 'ssl', 'obstore', 'email.parser') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_the_s3_extra_is_the_s3_requirement() -> None:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["s3"] == [S3_REQUIREMENT]
    assert S3_REQUIREMENT in project["optional-dependencies"]["test"]
