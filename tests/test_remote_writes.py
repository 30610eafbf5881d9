"""The remote says what it does: who may write to it, and one line when a build is not
uploaded.

The remote is a stdlib WebDAV server without authentication (``strict_dav``), which
takes writes from anyone, or refuses every one (``server.put_status``).  A frontend
run is a few hook calls, each as if in a process of its own (``Hooks``): the line is
said once in it, by the first hook that would upload.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from servers import StrictDAV

from wheelmemo._settings import load_project, load_settings

from conftest import Hooks

LINE = "nothing is uploaded"


def frontend_run(hooks: Hooks) -> None:
    """What ``pip wheel`` asks, then an edit and a second build: three hooks that miss."""
    hooks("get_requires_for_build_wheel")
    hooks.build_wheel(subdir="first")
    (hooks.project / "src" / "fakepkg" / "__init__.py").write_text("VALUE = 'edited'\n")
    hooks.build_wheel(subdir="second")
    assert hooks.calls()["build_wheel"] == 2


def writes(server: StrictDAV) -> list[tuple[str, str, int]]:
    return [r for r in server.requests if r[0] in ("PUT", "MKCOL")]


def stored(server: StrictDAV) -> list[Path]:
    return [p for p in server.server.root.rglob("*") if p.is_file()]


@pytest.fixture
def remote(strict_dav: StrictDAV, monkeypatch: pytest.MonkeyPatch) -> StrictDAV:
    monkeypatch.setenv("WHEELMEMO_REMOTE", strict_dav.url("cache/team"))
    for var in (
        "WHEELMEMO_REMOTE_READ_ONLY",
        "WHEELMEMO_REMOTE_TOKEN",
        "WHEELMEMO_REMOTE_USERNAME",
        "WHEELMEMO_REMOTE_PASSWORD",
        "WHEELMEMO_REMOTE_HEADERS",
        "WHEELMEMO_REMOTE_RESHARE",
    ):
        monkeypatch.delenv(var, raising=False)
    return strict_dav


def test_without_credentials_nothing_is_uploaded_and_one_line_says_why(
    hooks: Hooks, remote: StrictDAV, capsys: pytest.CaptureFixture[str]
) -> None:
    frontend_run(hooks)
    err = capsys.readouterr().err
    assert err.count(LINE) == 1, err
    line = next(line for line in err.splitlines() if LINE in line)
    assert line.startswith(f"wheelmemo: warning: remote cache {remote.url('cache/team')}: {LINE}: no credentials")
    assert "WHEELMEMO_REMOTE_TOKEN" in line and "remote-read-only = false" in line
    assert writes(remote) == [] and stored(remote) == []
    assert any(r[0] == "GET" for r in remote.requests)  # it was read all the same


@pytest.mark.parametrize("how", ["environment", "pyproject", "user configuration"])
def test_remote_read_only_false_writes_to_a_server_without_credentials(
    hooks: Hooks,
    remote: StrictDAV,
    how: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if how == "environment":
        monkeypatch.setenv("WHEELMEMO_REMOTE_READ_ONLY", "0")
    elif how == "pyproject":
        pyproject = hooks.project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text() + "remote-read-only = false\n")
    else:
        (tmp_path / "config.toml").write_text("remote-read-only = false\n")
        monkeypatch.setenv("WHEELMEMO_CONFIG", str(tmp_path / "config.toml"))
    wheel = hooks.build_wheel(subdir="a").read_bytes()
    assert LINE not in capsys.readouterr().err
    assert any(r[0] == "PUT" and r[2] == 201 for r in writes(remote))
    assert any(p.parent.name == "cas" for p in stored(remote))
    # another machine: its own cache, a hit from the remote
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "cache-b"))
    assert hooks.build_wheel(subdir="b").read_bytes() == wheel
    assert hooks.calls()["build_wheel"] == 1


@pytest.mark.parametrize("status", [401, 403, 405])
def test_a_refused_write_is_one_line_and_the_remote_is_still_read(
    hooks: Hooks,
    remote: StrictDAV,
    status: int,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("WHEELMEMO_REMOTE_TOKEN", "a-token-that-may-only-read")
    remote.server.put_status = status
    frontend_run(hooks)
    err = capsys.readouterr().err
    assert err.count(LINE) == 1 and "building without it" not in err, err
    line = next(line for line in err.splitlines() if LINE in line)
    assert line.startswith(
        f"wheelmemo: warning: remote cache {remote.url('cache/team')}: {LINE}: the remote refused a write (PUT "
    )
    assert f"HTTP {status}" in line and "remote-read-only = true" in line
    assert "a-token" not in err
    assert len(writes(remote)) == 1  # the next hooks of the run do not try again
    reads = len([r for r in remote.requests if r[0] == "GET"])
    hooks.build_wheel(subdir="third")  # a local hit; a miss on another machine reads the remote
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "cache-b"))
    hooks.build_wheel(subdir="fourth")
    assert len([r for r in remote.requests if r[0] == "GET"]) > reads


def test_read_only_as_asked_is_said_once_and_not_as_a_warning(
    hooks: Hooks, remote: StrictDAV, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WHEELMEMO_REMOTE_TOKEN", "a-token")
    monkeypatch.setenv("WHEELMEMO_REMOTE_READ_ONLY", "1")
    frontend_run(hooks)
    err = capsys.readouterr().err
    assert err.count(LINE) == 1, err
    line = next(line for line in err.splitlines() if LINE in line)
    assert (
        line == f"wheelmemo: remote cache {remote.url('cache/team')}: {LINE}: remote-read-only = true "
        "(set it to false, or WHEELMEMO_REMOTE_READ_ONLY=0, to upload)"
    )
    assert writes(remote) == []


def test_a_local_hit_to_reshare_to_a_read_only_remote_says_so(
    hooks: Hooks, remote: StrictDAV, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WHEELMEMO_REMOTE")
    hooks.build_wheel(subdir="first")
    capsys.readouterr()
    monkeypatch.setenv("WHEELMEMO_REMOTE", remote.url("cache/team"))
    monkeypatch.setenv("WHEELMEMO_REMOTE_RESHARE", "1")
    hooks.build_wheel(subdir="second")  # a local hit, which would be uploaded
    assert hooks.calls()["build_wheel"] == 1
    err = capsys.readouterr().err
    assert err.count(LINE) == 1 and "no credentials" in err, err
    assert writes(remote) == []


def test_the_line_is_said_again_in_a_later_frontend_run(
    hooks: Hooks, remote: StrictDAV, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmemo import _engine

    hooks.build_wheel(subdir="first")
    monkeypatch.setattr(_engine, "REMOTE_DOWN_SECONDS", 0.0)  # the run is long over
    (hooks.project / "src" / "fakepkg" / "__init__.py").write_text("VALUE = 'edited'\n")
    hooks.build_wheel(subdir="second")
    assert capsys.readouterr().err.count(LINE) == 2


def test_remote_read_only_is_unset_true_or_false(hooks: Hooks, tmp_path: Path) -> None:
    project = load_project(hooks.project)

    def setting(environ: dict[str, str], table: str = "") -> bool | None:
        if table:
            (hooks.project / "pyproject.toml").write_text((tmp_path / "pyproject.toml").read_text() + table)
        return load_settings(load_project(hooks.project), None, environ)[0].remote_read_only

    (tmp_path / "pyproject.toml").write_text((hooks.project / "pyproject.toml").read_text())
    assert load_settings(project, None, {})[0].remote_read_only is None
    assert setting({"WHEELMEMO_REMOTE_READ_ONLY": "0"}) is False
    assert setting({"WHEELMEMO_REMOTE_READ_ONLY": "1"}) is True
    assert setting({"WHEELMEMO_REMOTE_READ_ONLY": ""}) is None  # an empty variable sets nothing
    # ... and leaves what the project said
    assert setting({"WHEELMEMO_REMOTE_READ_ONLY": ""}, "remote-read-only = true\n") is True
    assert setting({"WHEELMEMO_REMOTE_READ_ONLY": "false"}, "remote-read-only = true\n") is False
