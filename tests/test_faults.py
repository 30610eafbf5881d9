"""Fault injection: no damage, fault or race in the cache gives a wrong wheel, a crash or a hang.

Every case ends with a build whose wheel is compared byte for byte with the one the
inner backend builds (the fake backend is deterministic), and checks that nothing was
left where it does not belong.  ``pytest -m faults`` runs them alone; the figures of
the last full run are in ``docs/reliability.md``.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT, FakeSite, Hooks

pytestmark = pytest.mark.faults

IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


# -- helpers -------------------------------------------------------------------------------
def _driver(
    project: Path, site: Path, out: Path, env: dict[str, str], prelude: str = "", hook: str = "build_wheel"
) -> subprocess.Popen[str]:
    """A frontend's hook process: a fresh interpreter calling one wheelmemo hook."""
    code = f"{prelude}\nimport sys, wheelmemo\nsys.stdout.write(wheelmemo.{hook}(sys.argv[1]))\n"
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        cwd=project,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(site)]), **env},
    )


def _files(directory: Path) -> dict[str, bytes]:
    """Every file below ``directory`` (links as their target text), for before/after checks."""
    found: dict[str, bytes] = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            found[path.relative_to(directory).as_posix()] = os.readlink(path).encode()
        elif path.is_file():
            found[path.relative_to(directory).as_posix()] = path.read_bytes()
    return found


@pytest.fixture
def reference(hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """The wheel the inner backend builds for the project, built without the cache."""
    monkeypatch.setenv("WHEELMEMO_DISABLE", "1")
    wheel = hooks.build_wheel(subdir="reference").read_bytes()
    monkeypatch.delenv("WHEELMEMO_DISABLE")
    hooks.log.unlink()  # the tests count the inner backend's calls from here
    return wheel


@pytest.fixture
def populated(hooks: Hooks, cache_dir: Path, reference: bytes, tmp_path: Path) -> Path:
    """A copy of a cache holding every kind of file: requires, metadata and wheel entries,
    their manifests and parts, blobs, the stat cache, the project index, stats, locks."""
    hooks("get_requires_for_build_wheel")
    meta = hooks.out / "meta"
    meta.mkdir()
    hooks("prepare_metadata_for_build_wheel", str(meta))
    assert hooks.build_wheel(subdir="populate").read_bytes() == reference
    template = tmp_path / "template-cache"
    shutil.copytree(cache_dir, template, symlinks=True)
    return template


# -- corruption: any file, any damage -----------------------------------------------------------
_EXAMPLES = itertools.count()
DAMAGES = [
    "flip",
    "truncate",
    "empty",
    "garbage",
    "json-zero",
    "json-list",
    "json-wrong-files",
    "delete",
    "directory",
    "symlink-out",
]


def _damage(path: Path, how: str, position: int, outside: Path) -> None:
    data = path.read_bytes()
    if how == "flip" and data:
        data = bytearray(data)
        data[position % len(data)] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "truncate":
        path.write_bytes(data[: position % (len(data) + 1)])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(1 + position % 64))
    elif how == "json-zero":
        path.write_bytes(b"0")
    elif how == "json-list":
        path.write_bytes(b"[]")
    elif how == "json-wrong-files":
        path.write_bytes(
            json.dumps(
                {"format": 1, "key": path.stem, "kind": "wheel", "files": 5, "value": {"key": 1}, "checksum": "x"}
            ).encode()
        )
    elif how == "delete":
        path.unlink()
    elif how == "directory":
        path.unlink()
        path.mkdir()
    elif how == "symlink-out":
        path.unlink()
        path.symlink_to(outside)


@settings(
    max_examples=80,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pick=st.integers(min_value=0), how=st.sampled_from(DAMAGES), position=st.integers(min_value=0))
def test_any_damage_to_any_cache_file_gives_the_right_wheel(
    hooks: Hooks,
    cache_dir: Path,
    populated: Path,
    reference: bytes,
    tmp_path: Path,
    pick: int,
    how: str,
    position: int,
) -> None:
    """Flip, truncate, empty or replace any one file of a populated cache: the next build
    returns the inner backend's wheel (a hit or a rebuild), never a wrong one or a crash,
    and writes nothing outside its places.  Derandomized: the same 80 cases every run."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    shutil.copytree(populated, cache_dir, symlinks=True)
    outside = tmp_path / "outside.txt"
    outside.write_text("not the cache's\n")
    files = sorted(p for p in cache_dir.rglob("*") if p.is_file() and not p.is_symlink())
    victim = files[pick % len(files)]
    _damage(victim, how, position, outside)
    out = hooks.out / f"after-{next(_EXAMPLES)}"
    wheel = hooks.build_wheel(subdir=out.name)
    assert wheel.read_bytes() == reference, (victim, how)
    assert sorted(p.name for p in out.iterdir()) == [wheel.name], "nothing else in the wheel directory"
    assert outside.read_text() == "not the cache's\n"
    meta = hooks.out / f"meta-{out.name}"
    meta.mkdir()
    name = hooks("prepare_metadata_for_build_wheel", str(meta))
    assert (meta / name / "METADATA").read_bytes().startswith(b"Metadata-Version:")


# -- races --------------------------------------------------------------------------------------
def test_eight_parallel_builds_of_one_key_run_the_backend_once(
    hooks: Hooks, fake_site: FakeSite, reference: bytes
) -> None:
    procs = [_driver(hooks.project, fake_site.path, hooks.out / f"w{i}", {"FAKE_BACKEND_SLEEP": "1"}) for i in range(8)]
    results = [p.communicate(timeout=180) for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, results
    assert hooks.calls()["build_wheel"] == 1
    assert {(hooks.out / f"w{i}" / out).read_bytes() for i, (out, _) in enumerate(results)} == {reference}


def test_builds_of_different_keys_do_not_wait_for_each_other(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    """Two states of a project build at once: the second inner build starts while the
    first is still running (each sleeps 5 s after it starts), so neither waited on a lock."""
    other = tmp_path / "other-project"
    shutil.copytree(hooks.project, other)
    (other / "src" / "fakepkg" / "data.py").write_text("VALUE = 'other'\n")
    procs = [
        _driver(project, fake_site.path, hooks.out / f"k{i}", {"FAKE_BACKEND_SLEEP": "5"})
        for i, project in enumerate((hooks.project, other))
    ]
    deadline = time.monotonic() + 60
    while hooks.calls()["build_wheel"] < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    both_running = all(p.poll() is None for p in procs)
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert hooks.calls()["build_wheel"] == 2
    assert both_running, "the second build started only after the first had finished"


# -- SIGKILL at every write of a store --------------------------------------------------------------
_KILL_PRELUDE = """
import os, signal
_real_replace = os.replace
_count = [0]
def _replace(src, dst, *a, **k):
    _count[0] += 1
    if _count[0] == int(os.environ["KILL_AT_REPLACE"]):
        os.kill(os.getpid(), signal.SIGKILL)
    return _real_replace(src, dst, *a, **k)
os.replace = _replace
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_at_every_step_of_a_store_never_leaves_a_wrong_or_blocking_entry(
    hooks: Hooks,
    fake_site: FakeSite,
    cache_dir: Path,
    reference: bytes,
) -> None:
    """Kill the building process right before each rename that publishes a file of the
    cache (blobs, parts, records, manifests, the project index...), then build again."""
    step = 1
    while True:
        shutil.rmtree(cache_dir, ignore_errors=True)
        victim = _driver(
            hooks.project,
            fake_site.path,
            hooks.out / f"kill{step}",
            {"KILL_AT_REPLACE": str(step)},
            prelude=_KILL_PRELUDE,
        )
        victim.communicate(timeout=120)
        survivor = _driver(hooks.project, fake_site.path, hooks.out / f"after{step}", {})
        out, err = survivor.communicate(timeout=120)
        assert survivor.returncode == 0, (step, err)
        assert (hooks.out / f"after{step}" / out).read_bytes() == reference, step
        again = _driver(hooks.project, fake_site.path, hooks.out / f"again{step}", {})
        out2, err2 = again.communicate(timeout=120)
        assert again.returncode == 0 and " hit " in err2, (step, err2)
        assert (hooks.out / f"again{step}" / out2).read_bytes() == reference
        if victim.returncode != -signal.SIGKILL:
            break  # the victim finished: every rename of a store has had its kill
        step += 1
    assert step > 5, "a store publishes several files; the loop must have covered them"


# -- storage faults ---------------------------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path: Path) -> Any:
    """Mount a small tmpfs (root only, where mounting is allowed); yields a remounter."""
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("needs root to mount a tmpfs")
    where = tmp_path / "tmpfs"
    where.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True, check=False
    ).returncode:
        pytest.skip("mounting a tmpfs is not allowed here")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)

    yield where, remount
    subprocess.run(["umount", "-l", str(where)], check=False)


def test_read_only_filesystem(
    hooks: Hooks, tmpfs: Any, reference: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where, remount = tmpfs
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(where / "cache"))
    assert hooks.build_wheel(subdir="fill").read_bytes() == reference
    before = _files(where)
    remount("ro")
    assert hooks.build_wheel(subdir="ro-hit").read_bytes() == reference
    assert hooks.calls()["build_wheel"] == 1, "a read-only cache is still read"
    (hooks.project / "src" / "fakepkg" / "data.py").write_text("VALUE = 'changed'\n")
    hooks.build_wheel(subdir="ro-miss")
    assert hooks.calls()["build_wheel"] == 2
    assert _files(where) == before
    assert "Traceback" not in capsys.readouterr().err


def test_full_disk(
    hooks: Hooks, tmpfs: Any, reference: bytes, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where, _ = tmpfs
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(where / "cache"))
    (hooks.project / "src" / "fakepkg" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    wheel = hooks.build_wheel(subdir="full")
    assert wheel.is_file()
    hooks.build_wheel(subdir="full-again")
    assert hooks.calls()["build_wheel"] == 2
    assert "wheelmemo: warning:" in capsys.readouterr().err
    leftovers = [p for p in where.rglob("*") if p.is_file() and (".tmp-" in p.name or p.name.startswith("blob-"))]
    assert leftovers == [], "a failed write leaves no temporary file behind"


@pytest.mark.parametrize("where", ["v1", "v1/entries", "v1/blobs", "v1/locks", "v1/stat"])
def test_a_file_where_a_directory_should_be(
    hooks: Hooks, cache_dir: Path, reference: bytes, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (cache_dir / where).parent.mkdir(parents=True, exist_ok=True)
    if (cache_dir / where).is_dir():
        shutil.rmtree(cache_dir / where)
    (cache_dir / where).write_text("in the way")
    assert hooks.build_wheel(subdir="one").read_bytes() == reference
    assert hooks.build_wheel(subdir="two").read_bytes() == reference
    assert "Traceback" not in capsys.readouterr().err


# -- load ---------------------------------------------------------------------------------------------
def test_two_hundred_hits_leak_no_descriptors(hooks: Hooks, reference: bytes) -> None:
    hooks.build_wheel(subdir="warm")
    fds: Callable[[], int] = lambda: len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 0
    before = fds()
    for i in range(200):
        assert hooks.build_wheel(subdir=f"hit{i % 4}").read_bytes() == reference
    assert fds() <= before
    assert hooks.calls()["build_wheel"] == 1  # the warm-up


def test_twenty_concurrent_hits(hooks: Hooks, fake_site: FakeSite, reference: bytes) -> None:
    hooks.build_wheel(subdir="warm")
    procs = [_driver(hooks.project, fake_site.path, hooks.out / f"c{i}", {}) for i in range(20)]
    results = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, results
    assert {(hooks.out / f"c{i}" / out).read_bytes() for i, (out, _) in enumerate(results)} == {reference}
    assert hooks.calls()["build_wheel"] == 1  # the warm-up


# -- read-only use ------------------------------------------------------------------------------------
def _snapshot(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every entry below ``directory`` with its bytes and modification time."""
    found: dict[str, tuple[bytes, int]] = {}
    for path in sorted(directory.rglob("*")):
        data = path.read_bytes() if path.is_file() and not path.is_symlink() else b"<dir>"
        found[path.relative_to(directory).as_posix()] = (data, path.lstat().st_mtime_ns)
    return found


@pytest.mark.parametrize("how", ["environment", "config_settings"])
def test_read_only_mode_reads_the_cache_and_writes_nothing(
    hooks: Hooks,
    cache_dir: Path,
    reference: bytes,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
) -> None:
    """WHEELMEMO_CACHE_READ_ONLY (or -C wheelmemo.cache-read-only): hits from the cache,
    misses build, and not a byte, a statistics line, a stat cache or a lock is written."""
    hooks.build_wheel(subdir="fill")
    before = _snapshot(cache_dir)
    settings: dict[str, str] | None = None
    if how == "environment":
        monkeypatch.setenv("WHEELMEMO_CACHE_READ_ONLY", "1")
    else:
        settings = {"wheelmemo.cache-read-only": "true"}
    capsys.readouterr()
    assert hooks.build_wheel(settings, subdir="hit").read_bytes() == reference
    meta = hooks.out / "meta"
    meta.mkdir()
    hooks("prepare_metadata_for_build_wheel", str(meta), settings)
    assert hooks.calls()["build_wheel"] == 1  # the fill
    (hooks.project / "src" / "fakepkg" / "data.py").write_text("VALUE = 'read-only'\n")
    hooks.build_wheel(settings, subdir="miss1")
    hooks.build_wheel(settings, subdir="miss2")
    assert hooks.calls()["build_wheel"] == 3, "nothing was stored: the same state builds again"
    assert _snapshot(cache_dir) == before
    assert "warning" not in capsys.readouterr().err
