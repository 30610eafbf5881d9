"""One bound on everything wheelmemo writes: ``max-size`` counts the entries, the
persistent build directories, stat caches, compiled modules and the rest, and pruning
evicts entries and build directories together, least recently used first, never one
in use (issue 19: 72 MB on disk, 729 kB reported, ``prune --max-size 1M`` freed 0 B)."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from pathlib import Path

import pytest

from wheelmemo._builddir import BuildDir, build_dir_name
from wheelmemo._cli import main
from wheelmemo._store import LocalStore

from conftest import FakeSite, Hooks

# every size here is checked against du's count of blocks on disk (st_blocks)
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="blocks on disk (st_blocks) are POSIX")

KB = 1024


def du(path: Path) -> int:
    """What ``du -s -B1`` says, minus ``path`` itself: blocks on disk of everything
    below it, hard links once, symlinks not followed."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            found = os.lstat(os.path.join(directory, name))
            if found.st_nlink > 1 and not stat.S_ISDIR(found.st_mode):
                if (found.st_dev, found.st_ino) in seen:
                    continue
                seen.add((found.st_dev, found.st_ino))
            total += found.st_blocks * 512
    return total


def _entry(store: LocalStore, tmp_path: Path, project: str, n: int, size: int) -> str:
    """Store a wheel of ``size`` bytes of its own for ``project``; its key."""
    key = f"{project}-{n}".encode().hex().ljust(64, "0")[:64]
    source = tmp_path / "src" / f"{project}-{n}.whl"
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(os.urandom(size))
    store.put(key, "wheel", [(source.name, source)], build_seconds=1.0, parts={"project": project})
    return key


def _build_dir(store: LocalStore, project: str, files: int, size: int) -> str:
    """A build directory of ``project`` as cargo leaves one (many small files, a few big
    ones, hard links): made, as an older wheelmemo did, with no note of its size."""
    name = build_dir_name(project, {"interpreter": {"version": "3.12.0"}})
    path = store.build_path(name)
    assert path is not None
    deps = path / "target" / "release" / "deps"
    deps.mkdir(parents=True)
    for i in range(files):
        (deps / f"dep{i}.d").write_bytes(os.urandom(size // files))
    os.link(deps / "dep0.d", path / "target" / "release" / "linked.d")  # counted once
    return name


def _age(path: Path, seconds_ago: float) -> None:
    when = time.time() - seconds_ago
    os.utime(path, (when, when), follow_symlinks=False)


def test_prune_bounds_entries_and_build_dirs_together_sparing_those_in_use(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = LocalStore(cache)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(os.urandom(300 * KB))
    last_use: dict[str, float] = {}  # entry key or build dir name -> seconds ago
    age = 10_000.0
    for project in ("alpha", "beta", "gamma"):
        for n in range(3):  # entries and build directories interleaved in time
            key = _entry(store, tmp_path, project, n, 60 * KB)
            _age(cache / "v1" / "entries" / key[:2] / f"{key}.json", age)
            last_use[key] = age
            age -= 100
        name = _build_dir(store, project, files=40, size=200 * KB)
        if project == "beta":  # a planted symlink: neither counted nor followed
            os.symlink(outside, cache / "v1" / "build" / name / "target" / "elsewhere")
        _age(cache / "v1" / "build" / name, age)
        last_use[name] = age
        age -= 100
    (cache / "v1" / "stat").mkdir()
    (cache / "v1" / "stat" / "tree").write_bytes(os.urandom(50 * KB))  # counted, not evicted by size

    # the whole cache, build directories included, as du sees it
    assert store.size() == du(cache)
    assert store.size() > 1500 * KB

    limit = du(cache) * 6 // 10  # more than what is in use, less than the rest
    oldest_entry = max((k for k in last_use if len(k) == 64), key=last_use.__getitem__)
    oldest_build = max((k for k in last_use if len(k) == 32), key=last_use.__getitem__)
    with store.reading(oldest_entry) as read, store.using_build_dir(oldest_build) as used:
        assert read and used
        pruned = store.prune(max_size=limit)
        after = du(cache)
    assert after <= limit, f"{after} bytes on disk after pruning to {limit}"
    assert store.size() == after
    assert pruned.entries and pruned.build_dirs

    # nothing in use removed: the entry still reads back, the build directory is whole
    assert store.get(oldest_entry) is not None
    assert (cache / "v1" / "build" / oldest_build / "target" / "release" / "linked.d").exists()
    # least recently used first: every survivor (but those in use) was used after every evicted one
    alive = {
        k
        for k in last_use
        if (cache / "v1" / "entries" / k[:2] / f"{k}.json").exists() or (cache / "v1" / "build" / k).exists()
    }
    gone = set(last_use) - alive
    assert gone
    kept = alive - {oldest_entry, oldest_build}
    assert min(last_use[k] for k in gone) > max(last_use[k] for k in kept)
    for name in (k for k in gone if len(k) == 32):  # a build directory goes with its note
        assert not list((cache / "v1" / "build").glob(f"{name}*"))
    assert (outside / "precious").stat().st_size == 300 * KB, "rmtree followed a symlink"

    # once nothing is in use, clean takes the rest, with what dead processes left: a
    # note whose directory is gone, a half-written note
    (cache / "v1" / "build" / f"{'e' * 32}.json").write_text("{}")
    (cache / "v1" / "build" / ".note-123-abc").write_text("{")
    _age(cache / "v1" / "build" / ".note-123-abc", 2 * 86400)
    store.prune(max_size=0)
    assert not [p for p in (cache / "v1" / "build").iterdir()]
    assert store.size() == du(cache) < 100 * KB


def test_a_build_dir_note_is_measured_after_its_build_and_again_after_a_crash(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    name = build_dir_name("proj", {})
    path = store.build_path(name)
    assert path is not None
    note = path.parent / f"{name}.json"
    build_dir = BuildDir(path)
    with store.using_build_dir(name):
        build_dir.note_use("proj", "cpython 3.12.0, rustc 1.83.0")
        (path / "target").mkdir()
        (path / "target" / "lib.rlib").write_bytes(os.urandom(100 * KB))
        before = os.stat(path).st_mtime_ns
        size = build_dir.note_size()
        assert os.stat(path).st_mtime_ns == before, "the note changed the directory's last use"
    assert size == du(path) + os.lstat(path).st_blocks * 512
    assert json.loads(note.read_text()) == {
        "project": "proj",
        "identity": "cpython 3.12.0, rustc 1.83.0",
        "size": size,
        "measured": True,
    }
    (found,) = store.usage().build_dirs
    assert (found.project, found.identity, found.size) == ("proj", "cpython 3.12.0, rustc 1.83.0", size)

    # a build that died after writing more: stale until someone finds it unlocked
    with store.using_build_dir(name):
        BuildDir(path).note_use("proj", "cpython 3.12.0, rustc 1.83.0")
        (path / "target" / "more.rlib").write_bytes(os.urandom(100 * KB))
        assert store.usage().build_dirs[0].size == size, "measured while a build uses it"
    assert store.usage().build_dirs[0].size == du(path) + os.lstat(path).st_blocks * 512 > size
    assert json.loads(note.read_text())["measured"] is True

    # a damaged or hostile note is no note: measured again, never trusted
    for damage in (
        b"{",
        b'{"project": "p", "identity": "i", "size": -5, "measured": true}',
        json.dumps({"project": "p", "identity": "i" * 10_000, "size": 1, "measured": True}).encode(),
    ):
        note.write_bytes(damage)
        assert store.usage().build_dirs[0].size == du(path) + os.lstat(path).st_blocks * 512
    note.unlink()
    os.symlink(tmp_path / "elsewhere.json", note)
    (tmp_path / "elsewhere.json").write_text(json.dumps({"project": "p", "identity": "i", "size": 1, "measured": True}))
    assert store.usage().build_dirs[0].size > 200 * KB
    assert json.loads((tmp_path / "elsewhere.json").read_text())["size"] == 1, "the note's write followed a symlink"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_stats_and_list_show_every_kind_and_the_build_dirs(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    store = LocalStore(cache_dir)
    name = build_dir_name("fake-project", {"toolchain": "rustc"})
    path = store.build_path(name)
    assert path is not None
    with store.using_build_dir(name):
        BuildDir(path).note_use("fake-project", "cpython 3.12.0, rustc 1.83.0")
        (path / "target").mkdir()
        (path / "target" / "big").write_bytes(os.urandom(2000 * KB))
        BuildDir(path).note_size(force=True)
    (cache_dir / "code").mkdir(exist_ok=True)
    (cache_dir / "code" / "module").write_bytes(os.urandom(30 * KB))
    capsys.readouterr()

    code, out = _cli(capsys, "stats", "--json")
    assert code == 0
    stats = json.loads(out)
    disk = stats["disk"]
    assert set(disk) == {"entries", "build", "compiler", "stat", "code", "other", "total"}
    assert disk["build"] >= 2000 * KB and disk["code"] >= 30 * KB and disk["stat"] > 0 and disk["entries"] > 0
    assert disk["total"] == stats["total"]["bytes"] == du(cache_dir) == sum(v for k, v in disk.items() if k != "total")
    (listed,) = stats["build_dirs"]
    assert (listed["name"], listed["project"], listed["identity"]) == (
        name,
        "fake-project",
        "cpython 3.12.0, rustc 1.83.0",
    )

    _, table = _cli(capsys, "stats")
    for kind in ("entries and blobs", "build directories", "stat caches", "compiled modules", "other"):
        assert kind in table
    assert "1 build directory," in table
    _, listing = _cli(capsys, "list")
    row = next(line for line in listing.splitlines() if line.startswith(name[:8]))
    assert row.split()[1:5] == ["fake-project", "cpython", "3.12.0,", "rustc"]
    assert "2.0 MB" in row or "2.1 MB" in row

    code, out = _cli(capsys, "prune", "--max-size", "1M")
    assert out.startswith("wheelmemo: removed ") and ", 1 build directory, freed 2." in out
    assert not path.exists()
    assert json.loads(_cli(capsys, "stats", "--json")[1])["disk"]["total"] == du(cache_dir) <= 1000 * KB


def test_a_miss_measures_its_build_dir_and_the_limit_after_the_store_evicts_older_ones(
    hooks: Hooks, fake_site: FakeSite, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the hooks: a build that runs cargo (setuptools-rust) gets a build
    directory, which is measured after the build, before the store that enforces
    ``max-size``; that store evicts an older project's build directory."""
    fake_site.install("setuptools-rust", "1.0")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"countingbackend"]', '"countingbackend", "setuptools-rust"]'))
    monkeypatch.setenv("FAKE_TARGET_BYTES", str(300 * KB))
    hooks.build_wheel(subdir="a")
    store = LocalStore(cache_dir)
    (first,) = store.usage().build_dirs
    assert first.project == "fake-project" and first.identity.startswith("cpython ")
    path = cache_dir / "v1" / "build" / first.name
    assert first.size == du(path) + os.lstat(path).st_blocks * 512 > 300 * KB
    assert json.loads((path.parent / f"{first.name}.json").read_text())["measured"] is True

    # another project's build directory, unused for a day, and a limit it does not fit in
    old = _build_dir(store, "other-project", files=10, size=1000 * KB)
    _age(cache_dir / "v1" / "build" / old, 86400)
    limit = store.size() + 100 * KB  # no room for one more build unless the old directory goes
    monkeypatch.setenv("WHEELMEMO_MAX_SIZE", str(limit))
    monkeypatch.setenv("FAKE_BUILD_FLAG", "1")  # a keyed variable: another build directory
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert du(cache_dir) <= limit
    assert not (cache_dir / "v1" / "build" / old).exists()
    names = {found.name for found in store.usage().build_dirs}
    assert first.name in names and len(names) == 2, "the new directory was measured before the limit"
