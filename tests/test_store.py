"""A cache problem never breaks a build: corrupt, missing, unwritable, full or concurrent."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import ROOT, FakeSite, Hooks


def _blobs(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / "v1" / "blobs").rglob("*") if p.is_file())


def _records(cache_dir: Path, kind: str = "wheel") -> list[Path]:
    """The entry records of one kind: "wheel", "manifest" (what a key's results are)..."""
    found = []
    for path in sorted((cache_dir / "v1" / "entries").rglob("*.json")):
        if json.loads(path.read_bytes()).get("kind") == kind:
            found.append(path)
    return found


def test_entry_is_content_addressed(hooks: Hooks, cache_dir: Path) -> None:
    import hashlib

    wheel = hooks.build_wheel()
    (blob,) = _blobs(cache_dir)
    assert blob.name == hashlib.sha256(wheel.read_bytes()).hexdigest()
    (record,) = _records(cache_dir)
    assert json.loads(record.read_text())["files"] == [[wheel.name, blob.name, wheel.stat().st_size]]


def test_flipped_byte_in_blob_is_discarded_and_rebuilt(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = hooks.build_wheel(subdir="a").read_bytes()
    (blob,) = _blobs(cache_dir)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    rebuilt = hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert rebuilt.read_bytes() == good
    assert "failed verification; discarded" in capsys.readouterr().err
    assert not list((hooks.out / "b").glob(".wheelmemo-*"))  # no half-copied file left
    hooks.build_wheel(subdir="c")
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize(
    ("kind", "damage"),
    [(kind, damage) for kind in ("wheel", "manifest") for damage in ("truncate", "garbage", "checksum")]
    + [("wheel", "delete blob"), ("manifest", "delete record")],
)  # a manifest has no blob
def test_damaged_record_is_rebuilt(hooks: Hooks, cache_dir: Path, damage: str, kind: str) -> None:
    hooks.build_wheel()
    (record,) = _records(cache_dir)
    if kind == "manifest":  # the list of the declared key's results, each with its learned inputs
        key = json.loads(record.read_bytes())["key"]
        record = next(
            r for r in _records(cache_dir, "manifest") if json.loads(r.read_bytes())["value"][0]["key"] == key
        )
    if damage == "truncate":
        record.write_bytes(record.read_bytes()[:20])
    elif damage == "garbage":
        record.write_bytes(b"\x00\xff" * 10)
    elif damage == "checksum":
        record.write_text(record.read_text().replace('"build_seconds": ', '"build_seconds": 1'))
    elif damage == "delete record":
        record.unlink()
    else:
        _blobs(cache_dir)[0].unlink()
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_unwritable_cache_warns_and_builds(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(blocker / "cache"))
    wheel = hooks.build_wheel()
    assert wheel.is_file()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    err = capsys.readouterr().err
    assert "wheelmemo: warning: cannot " in err
    assert "building without the cache" in err


def _full_path(path: Any, dir_fd: int | None) -> str | None:
    """The absolute path ``path`` names (relative to ``dir_fd``, as the store opens its files)."""
    if isinstance(path, int):
        return None
    base = os.readlink(f"/proc/self/fd/{dir_fd}") if dir_fd is not None else ""
    return os.path.abspath(os.path.join(base, os.fspath(path)))


def _fail_writes(monkeypatch: pytest.MonkeyPatch, directory: Path, code: int) -> None:
    """Every write below ``directory`` fails with ``code``, as on a full or read-only file
    system (tests run as root, where chmod stops nothing)."""
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC

    def refuse(real: Any, path_arg: int, fd_arg: str, only: Any = None) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            path = _full_path(args[path_arg], kwargs.get(fd_arg))
            if path is not None and path.startswith(f"{directory}{os.sep}") and (only is None or only(path, args)):
                raise OSError(code, os.strerror(code), path)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(os, "open", refuse(os.open, 0, "dir_fd", lambda _, a: (a[1] if len(a) > 1 else 0) & writing))
    # as the kernel does, an existing directory is reported as such before the file system
    monkeypatch.setattr(os, "mkdir", refuse(os.mkdir, 0, "dir_fd", lambda p, _: not os.path.lexists(p)))
    monkeypatch.setattr(os, "unlink", refuse(os.unlink, 0, "dir_fd"))
    monkeypatch.setattr(os, "utime", refuse(os.utime, 0, "dir_fd"))
    monkeypatch.setattr(os, "replace", refuse(os.replace, 1, "dst_dir_fd"))


def test_full_disk_warns_and_builds(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with monkeypatch.context() as full:
        _fail_writes(full, cache_dir, errno.ENOSPC)
        wheel = hooks.build_wheel()
    assert wheel.is_file()
    assert "No space left on device" in capsys.readouterr().err
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_read_only_cache_still_hits(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lookups work from a cache that cannot be written: no lock file, no last-use time,
    no statistics; only a miss, which cannot take the key's lock, builds without it."""
    hooks.build_wheel()
    capsys.readouterr()
    _fail_writes(monkeypatch, cache_dir, errno.EROFS)
    hooks.build_wheel(subdir="hit")
    assert hooks.calls()["build_wheel"] == 1
    err = capsys.readouterr().err
    assert "build_wheel hit" in err
    assert "warning" not in err
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# edit\n")
    assert hooks.build_wheel(subdir="miss").is_file()
    assert hooks.calls()["build_wheel"] == 2
    err = capsys.readouterr().err
    assert "cannot create the lock" in err
    assert "Read-only file system" in err
    assert "building without the cache" in err


def _build_in_subprocess(project: Path, site: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    code = "import sys, wheelmemo; sys.stdout.write(wheelmemo.build_wheel(sys.argv[1]))"
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        cwd=project,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(site)]), **env},
    )


def test_concurrent_builds_of_one_key_build_once(hooks: Hooks, fake_site: FakeSite) -> None:
    procs = [
        _build_in_subprocess(hooks.project, fake_site.path, hooks.out / f"w{i}", {"FAKE_BACKEND_SLEEP": "1"})
        for i in range(4)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    assert hooks.calls()["build_wheel"] == 1
    wheels = {(hooks.out / f"w{i}" / out).read_bytes() for i, (out, _) in enumerate(results)}
    assert len(wheels) == 1
    assert sum(" hit " in err for _, err in results) == 3


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_process_killed_holding_the_lock_does_not_block(hooks: Hooks, fake_site: FakeSite) -> None:
    victim = _build_in_subprocess(hooks.project, fake_site.path, hooks.out / "victim", {"FAKE_BACKEND_SLEEP": "30"})
    deadline = time.monotonic() + 30
    while hooks.calls()["build_wheel"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until the victim is inside the inner build, holding the lock
    os.kill(victim.pid, signal.SIGKILL)
    victim.communicate()
    survivor = _build_in_subprocess(hooks.project, fake_site.path, hooks.out / "survivor", {})
    out, err = survivor.communicate(timeout=60)
    assert survivor.returncode == 0, err
    assert hooks.calls()["build_wheel"] == 2
    assert (hooks.out / "survivor" / out).is_file()


def test_really_read_only_cache_dir_still_hits(hooks: Hooks, cache_dir: Path) -> None:
    """A cache shared read-only (no locks can be created) is still read."""
    hooks.build_wheel()
    import shutil

    shutil.rmtree(cache_dir / "v1" / "locks")
    (cache_dir / "v1" / "locks").write_text("not a directory: lock files cannot be created")
    hooks.build_wheel(subdir="again")
    assert hooks.calls()["build_wheel"] == 1
