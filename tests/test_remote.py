"""The remote tier with the counting fake backend: two machines sharing one remote.

Each "machine" is a cache directory and a checkout of the project at a path of its
own; the remote is a shared directory (``file://``) here, and a real WebDAV (nginx)
and S3 (moto) server in ``test_remote_servers.py``.  Hits and misses are counted in the
inner backend's calls; what reached the remote is counted in its objects.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from wheelmemo import _tiers

from conftest import Hooks


class Machines:
    def __init__(self, hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: str) -> None:
        self.hooks = hooks
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.remote = remote
        self.checkouts = {"A": hooks.project}
        monkeypatch.setenv("WHEELMEMO_REMOTE", remote)

    def on(self, name: str) -> Hooks:
        """Run the next hooks on machine ``name``: its own cache and checkout."""
        if name not in self.checkouts:
            checkout = self.tmp_path / f"machine-{name}" / "checkout"
            shutil.copytree(self.checkouts["A"], checkout)
            self.checkouts[name] = checkout
        self.hooks.project = self.checkouts[name]
        self.monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(self.tmp_path / f"cache-{name}"))
        return self.hooks

    def stats(self, name: str) -> dict[str, object]:
        from wheelmemo._cli import main

        self.on(name)
        out = self.tmp_path / "stats.json"
        import contextlib
        import io

        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            assert main(["stats", "--json"]) == 0
        out.write_text(buffer.getvalue())
        return json.loads(buffer.getvalue())  # type: ignore[no-any-return]


@pytest.fixture
def shared(tmp_path: Path) -> Path:
    path = tmp_path / "shared"
    path.mkdir()
    return path


@pytest.fixture
def machines(hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: Path) -> Machines:
    for var in ("WHEELMEMO_REMOTE_READ_ONLY", "WHEELMEMO_REMOTE_RESHARE", "WHEELMEMO_REMOTE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    return Machines(hooks, tmp_path, monkeypatch, shared.as_uri() + "/team")


def objects(shared: Path) -> dict[str, int]:
    return {kind: len(list((shared / "team" / "v1" / kind).glob("*"))) for kind in ("ac", "cas")}


def test_a_builds_and_uploads_b_hits_from_the_remote(
    machines: Machines, shared: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = machines.on("A").build_wheel(subdir="a")
    assert machines.hooks.calls()["build_wheel"] == 1
    uploaded = objects(shared)
    assert uploaded["cas"] >= 1 and uploaded["ac"] >= 2  # the wheel, its record and manifest
    b = machines.on("B").build_wheel(subdir="b")
    assert machines.hooks.calls()["build_wheel"] == 1  # no build on B
    assert a.read_bytes() == b.read_bytes()
    assert "from the remote" in capsys.readouterr().err
    assert objects(shared) == uploaded  # a hit uploads nothing
    # B's own cache now holds it: with the remote gone, B still hits
    shutil.rmtree(shared / "team")
    machines.on("B").build_wheel(subdir="c")
    assert machines.hooks.calls()["build_wheel"] == 1
    remote = machines.stats("B")["remote"]
    assert isinstance(remote, dict)
    assert (remote["hit"], remote["upload"], remote["error"]) == (1, 0, 0)
    assert remote["bytes_down"] >= a.stat().st_size
    remote = machines.stats("A")["remote"]
    assert isinstance(remote, dict)
    assert (remote["hit"], remote["miss"], remote["upload"]) == (0, 1, 1)
    assert remote["bytes_up"] >= a.stat().st_size


def test_read_only_builds_a_change_and_uploads_nothing(
    machines: Machines, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    machines.on("A").build_wheel()
    before = objects(shared)
    monkeypatch.setenv("WHEELMEMO_REMOTE_READ_ONLY", "1")
    hooks = machines.on("B")
    (hooks.project / "src" / "fakepkg" / "__init__.py").write_text("VALUE = 'changed on B'\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert objects(shared) == before


def test_a_local_hit_uploads_nothing_unless_reshare(
    machines: Machines, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELMEMO_REMOTE_READ_ONLY", "1")
    machines.on("A").build_wheel()  # built while the remote took no writes
    monkeypatch.delenv("WHEELMEMO_REMOTE_READ_ONLY")
    assert objects(shared) == {"ac": 0, "cas": 0}
    machines.on("A").build_wheel()
    assert objects(shared) == {"ac": 0, "cas": 0}
    monkeypatch.setenv("WHEELMEMO_REMOTE_RESHARE", "1")
    machines.on("A").build_wheel()
    assert objects(shared)["cas"] == 1
    monkeypatch.delenv("WHEELMEMO_REMOTE_RESHARE")
    machines.on("B").build_wheel()
    assert machines.hooks.calls()["build_wheel"] == 1


def test_a_reshared_narrow_hit_stays_narrow_on_the_remote(
    machines: Machines, shared: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A narrow hit reshared under the edited tree's key is marked narrow there too: a
    machine with narrow on takes it, one with narrow off builds."""
    monkeypatch.setenv("WHEELMEMO_NARROW", "1")
    hooks = machines.on("A")
    (hooks.project / "NOTES.txt").write_text("first\n")  # no build reads it
    monkeypatch.setenv("WHEELMEMO_REMOTE_READ_ONLY", "1")  # the remote lacks it: reshared
    hooks.build_wheel()
    monkeypatch.delenv("WHEELMEMO_REMOTE_READ_ONLY")
    (hooks.project / "NOTES.txt").write_text("edited\n")
    monkeypatch.setenv("WHEELMEMO_REMOTE_RESHARE", "1")
    machines.on("A").build_wheel()
    assert machines.hooks.calls()["build_wheel"] == 1
    monkeypatch.delenv("WHEELMEMO_REMOTE_RESHARE")
    machines.on("B").build_wheel()  # narrow on: the reshared result, from the remote
    assert machines.hooks.calls()["build_wheel"] == 1
    monkeypatch.setenv("WHEELMEMO_NARROW", "0")  # B's copy and the remote's listing: both narrow
    machines.on("B").build_wheel()
    assert machines.hooks.calls()["build_wheel"] == 2
    machines.on("C").build_wheel()  # B's plain build of this state, uploaded
    assert machines.hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize("damage", ["flip", "truncate", "grow", "record", "missing-blob"])
def test_a_damaged_remote_object_is_one_warning_and_a_correct_build(
    machines: Machines, shared: Path, damage: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = machines.on("A").build_wheel(subdir="a").read_bytes()
    (blob,) = (shared / "team" / "v1" / "cas").iterdir()
    written: list[int] = []
    real = _tiers._Hashing.write

    def counting(self: Any, data: Any) -> object:
        written.append(len(data))
        return real(self, data)

    monkeypatch.setattr(_tiers._Hashing, "write", counting)
    if damage == "grow":  # a remote that sends more than the record says: never on disk
        blob.write_bytes(blob.read_bytes() + b"\0" * (8 << 20))
    elif damage == "flip":
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
    elif damage == "truncate":
        blob.write_bytes(blob.read_bytes()[:-10])
    elif damage == "missing-blob":
        blob.unlink()
    else:
        for record in (shared / "team" / "v1" / "ac").iterdir():
            record.write_bytes(record.read_bytes()[:-3])
    capsys.readouterr()
    built = machines.on("B").build_wheel(subdir="b")
    assert machines.hooks.calls()["build_wheel"] == 2
    assert built.read_bytes() == good
    err = capsys.readouterr().err
    assert err.count("remote cache file://") == 1, err
    assert "building without it" in err
    assert sum(written) <= len(good)
    # nothing damaged reached B's local cache: with the remote gone, B hits its own build
    machines.monkeypatch.delenv("WHEELMEMO_REMOTE")
    assert machines.on("B").build_wheel(subdir="c").read_bytes() == good
    assert machines.hooks.calls()["build_wheel"] == 2


def test_an_unreachable_remote_never_breaks_a_build_and_hides_its_secret(
    machines: Machines, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("WHEELMEMO_REMOTE", f"http://user:s3cr3t-pw@127.0.0.1:{port}/cache?sig=s3cr3t-q")
    monkeypatch.setenv("WHEELMEMO_REMOTE_TOKEN", "s3cr3t-token")
    wheel = machines.on("A").build_wheel()
    assert wheel.is_file()
    assert machines.hooks.calls()["build_wheel"] == 1
    err = capsys.readouterr().err
    assert f"remote cache http://127.0.0.1:{port}/cache" in err
    assert err.count("remote cache") == 1  # skipped after the first failure
    assert "s3cr3t" not in err
    # the cache and the statistics hold no secret either
    for path in (machines.tmp_path / "cache-A").rglob("*"):
        if path.is_file():
            assert b"s3cr3t" not in path.read_bytes(), path
    machines.on("A").build_wheel()
    assert machines.hooks.calls()["build_wheel"] == 1  # a local hit does not ask the remote


def test_keys_are_the_same_with_and_without_a_remote(
    machines: Machines, monkeypatch: pytest.MonkeyPatch, shared: Path
) -> None:
    monkeypatch.delenv("WHEELMEMO_REMOTE")
    machines.on("A").build_wheel()
    monkeypatch.setenv("WHEELMEMO_REMOTE", machines.remote)
    monkeypatch.setenv("WHEELMEMO_REMOTE_RESHARE", "1")
    machines.on("A").build_wheel()  # a local hit: the key did not change with the remote
    assert machines.hooks.calls()["build_wheel"] == 1
    monkeypatch.delenv("WHEELMEMO_REMOTE_RESHARE")
    monkeypatch.setenv("WHEELMEMO_REMOTE", "s3://bucket/team")  # unused on a local hit
    machines.on("A").build_wheel()
    assert machines.hooks.calls()["build_wheel"] == 1


def test_an_s3_remote_brings_its_client_into_isolated_build_environments(
    machines: Machines, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wheelmemo._remote import S3_REQUIREMENT

    hooks = machines.on("A")
    monkeypatch.delenv("WHEELMEMO_REMOTE")
    plain = hooks("get_requires_for_build_wheel")
    monkeypatch.setenv("WHEELMEMO_REMOTE", "s3://bucket/team")
    assert hooks("get_requires_for_build_wheel") == [*plain, S3_REQUIREMENT]
    assert hooks.calls()["get_requires_for_build_wheel"] == 1  # the inner answer is memoized alone


def test_a_bad_remote_url_is_one_line_naming_the_setting(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WHEELMEMO_REMOTE", "ftp://user:pw@host/x")
    with pytest.raises(SystemExit):
        hooks.build_wheel()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WHEELMEMO_REMOTE" in err and "pw" not in err


def test_the_remote_can_come_from_the_user_configuration(
    machines: Machines, monkeypatch: pytest.MonkeyPatch, shared: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'remote = "{machines.remote}"\n')
    monkeypatch.delenv("WHEELMEMO_REMOTE")
    monkeypatch.setenv("WHEELMEMO_CONFIG", str(config))
    machines.on("A").build_wheel()
    assert objects(shared)["cas"] == 1
    config.write_text('backend = "setuptools.build_meta"\n')
    with pytest.raises(SystemExit):
        machines.on("A").build_wheel()


# -- faults of real servers: each ends with a correct wheel ----------------------------
def _reference(machines: Machines, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The wheel a build without any remote makes (on a machine of its own)."""
    monkeypatch.delenv("WHEELMEMO_REMOTE")
    wheel = machines.on("reference").build_wheel(subdir="reference").read_bytes()
    monkeypatch.setenv("WHEELMEMO_REMOTE", machines.remote)
    return wheel


@pytest.mark.parametrize("fault", ["stopped", "500", "429", "wrong-credentials", "flip", "truncate"])
def test_a_failing_webdav_server_is_one_warning_and_a_correct_wheel(
    machines: Machines, webdav: Any, fault: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _reference(machines, monkeypatch)
    prefix = {"500": "fail500/team", "429": "fail429/team", "wrong-credentials": "auth/team"}.get(fault, "team")
    monkeypatch.setenv("WHEELMEMO_REMOTE", webdav.url(prefix))
    monkeypatch.setenv("WHEELMEMO_REMOTE_USERNAME", webdav.username)
    monkeypatch.setenv("WHEELMEMO_REMOTE_PASSWORD", "wrong" if fault == "wrong-credentials" else webdav.password)
    machines.on("A").build_wheel(subdir="a")  # builds (1), uploads where it can
    if fault in ("flip", "truncate"):
        for blob in (webdav.root / "team" / "v1" / "cas").iterdir():
            data = bytearray(blob.read_bytes())
            if fault == "flip":
                data[len(data) // 2] ^= 0x01
            blob.write_bytes(bytes(data if fault == "flip" else data[:-10]))
    if fault == "stopped":
        webdav.stop()
    capsys.readouterr()
    built = machines.on("B").build_wheel(subdir="b")
    assert built.read_bytes() == good
    assert machines.hooks.calls()["build_wheel"] == 3  # reference, A and B: no hit from a failing remote
    err = capsys.readouterr().err
    assert err.count("wheelmemo: warning: remote cache http://127.0.0.1") == 1, err
    assert "correct-horse" not in err and "wrong" not in err.replace("wrong wheel", "")
    if fault == "429":
        puts = [r for r in webdav.requests() if r.method == "PUT"]
        assert puts and all(r.status == 429 for r in puts)
        # on each machine, the first PUT (the get_requires answer) and 3 retries; then the
        # remote is skipped, by the build_wheel call too
        assert len(puts) == 2 * 4


def test_a_remote_that_hangs_costs_at_most_the_budget(
    machines: Machines, hanging_server: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _reference(machines, monkeypatch)
    monkeypatch.setenv("WHEELMEMO_REMOTE", hanging_server.url())
    monkeypatch.setenv("WHEELMEMO_REMOTE_BUDGET", "0.5")
    built = machines.on("A").build_wheel()
    assert built.read_bytes() == good
    assert machines.hooks.calls()["build_wheel"] == 2
    err = capsys.readouterr().err
    assert err.count("wheelmemo: warning: remote cache") == 1 and "no answer in time" in err, err
    assert machines.stats("A")["remote"]["timeout"] == 1  # type: ignore[index]


def test_two_machines_share_an_s3_remote(machines: Machines, s3: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WHEELMEMO_REMOTE", s3.url("team"))
    a = machines.on("A").build_wheel(subdir="a")
    b = machines.on("B").build_wheel(subdir="b")
    assert machines.hooks.calls()["build_wheel"] == 1
    assert a.read_bytes() == b.read_bytes()
    s3.stop()
    try:
        (machines.on("C").project / "src" / "fakepkg" / "__init__.py").write_text("VALUE = 'C'\n")
        assert machines.on("C").build_wheel(subdir="c").is_file()
        assert machines.hooks.calls()["build_wheel"] == 2
    finally:
        s3.start()


def test_get_requires_without_the_s3_client_is_quiet_and_leaves_the_remote_to_build_wheel(
    machines: Machines, s3: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An isolated environment has no client while get_requires runs (its answer brings
    it): no warning then, and the build_wheel call that follows still asks the remote."""
    import sys

    for name, value in s3.environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("WHEELMEMO_REMOTE", s3.url("team"))
    built = machines.on("A").build_wheel(subdir="a")
    hooks = machines.on("B")
    with monkeypatch.context() as without:
        without.setitem(sys.modules, "obstore", None)  # import obstore fails
        capsys.readouterr()
        hooks("get_requires_for_build_wheel")
        assert "warning" not in capsys.readouterr().err
    assert hooks.build_wheel(subdir="b").read_bytes() == built.read_bytes()
    assert hooks.calls()["build_wheel"] == 1
    assert "from the remote" in capsys.readouterr().err
