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


def test_flipped_byte_in_blob_is_discarded_and_rebuilt(hooks: Hooks, cache_dir: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
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


@pytest.mark.parametrize("kind", ["wheel", "manifest"])
@pytest.mark.parametrize("damage", ["truncate", "garbage", "checksum", "delete blob"])
def test_damaged_record_is_rebuilt(hooks: Hooks, cache_dir: Path, damage: str, kind: str) -> None:
    hooks.build_wheel()
    (record,) = _records(cache_dir)
    if kind == "manifest":  # the list of the declared key's results, each with its learned inputs
        key = json.loads(record.read_bytes())["key"]
        record = next(r for r in _records(cache_dir, "manifest")
                      if json.loads(r.read_bytes())["value"][0]["key"] == key)
    if damage == "truncate":
        record.write_bytes(record.read_bytes()[:20])
    elif damage == "garbage":
        record.write_bytes(b"\x00\xff" * 10)
    elif damage == "checksum":
        record.write_text(record.read_text().replace('"build_seconds": ', '"build_seconds": 1'))
    else:
        _blobs(cache_dir)[0].unlink()
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_unwritable_cache_warns_and_builds(hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
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


def test_full_disk_warns_and_builds(hooks: Hooks, monkeypatch: pytest.MonkeyPatch,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    from wheelmemo import _store

    real_replace = os.replace

    def full(src: str, dst: str) -> None:
        if "/blobs/" in str(dst) or "/entries/" in str(dst):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(_store.os, "replace", full)
    wheel = hooks.build_wheel()
    assert wheel.is_file()
    assert "No space left on device" in capsys.readouterr().err
    monkeypatch.setattr(_store.os, "replace", real_replace)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_read_only_cache_still_hits(hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lookups work from a cache that cannot be written (a lock that cannot be taken only on misses)."""
    hooks.build_wheel()
    from wheelmemo import _store

    def no_lock(self: object, key: str) -> None:
        raise _store.StoreError("read-only")

    monkeypatch.setattr(_store.LocalStore, "lock", no_lock)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def _build_in_subprocess(project: Path, site: Path, out: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    code = ("import sys, wheelmemo; sys.stdout.write(wheelmemo.build_wheel(sys.argv[1]))")
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(out)], cwd=project, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(site)]), **env},
    )


def test_concurrent_builds_of_one_key_build_once(hooks: Hooks, fake_site: FakeSite) -> None:
    procs = [_build_in_subprocess(hooks.project, fake_site.path, hooks.out / f"w{i}", {"FAKE_BACKEND_SLEEP": "1"})
             for i in range(4)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], results
    assert hooks.calls()["build_wheel"] == 1
    wheels = {(hooks.out / f"w{i}" / out).read_bytes() for i, (out, _) in enumerate(results)}
    assert len(wheels) == 1
    assert sum(" hit " in err for _, err in results) == 3


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
