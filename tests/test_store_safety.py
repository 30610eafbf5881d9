"""A shared cache is not trusted: whoever can write to it can make a build return their
wheel (as with ccache), but never crash a build, nor make wheelmemo read or write
outside the cache, the frontend's directory and (native editables) the project's tree.

Records are forged here as such a writer can: with a checksum that fits.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from wheelmemo._cli import main
from wheelmemo._errors import CorruptEntryError, StoreError
from wheelmemo._records import StoredFile, checksum
from wheelmemo._store import LocalStore, materialize

from conftest import ROOT, FakeSite, Hooks

KEY = "ab" * 32


def _records(cache_dir: Path, kind: str = "wheel") -> list[Path]:
    found = []
    for path in sorted((cache_dir / "v1" / "entries").rglob("*.json")):
        if json.loads(path.read_bytes()).get("kind") == kind:
            found.append(path)
    return found


def _blobs(cache_dir: Path) -> list[Path]:
    return sorted(p for p in (cache_dir / "v1" / "blobs").rglob("*") if p.is_file())


def _forge(path: Path, change: Callable[[dict[str, Any]], Any]) -> None:
    """Rewrite a record with ``change``; a dict gets a fitting checksum, bytes are written as is."""
    record = json.loads(path.read_bytes())
    record.pop("checksum")
    forged = change(record)
    if isinstance(forged, dict):
        forged = dict(forged, checksum=checksum(forged))
    path.write_bytes(forged if isinstance(forged, bytes) else json.dumps(forged).encode())


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _wheel_file(change: Callable[[list[Any]], list[Any]]) -> Callable[[dict[str, Any]], Any]:
    return lambda r: {**r, "files": [change(f) for f in r["files"]]}


#: records that parse, and whose checksum fits, but that hold what wheelmemo never writes
WRONG_TYPES: dict[str, Callable[[dict[str, Any]], Any]] = {
    "the record is 0": lambda r: 0,
    "the record is a list": lambda r: [r],
    "nested too deeply": lambda r: b"[" * 100_000 + b"]" * 100_000,
    "files is a string": lambda r: {**r, "files": "files"},
    "a file is [name, blob]": _wheel_file(lambda f: f[:2]),
    "a file name is a number": _wheel_file(lambda f: [7, *f[1:]]),
    "a file size is a string": _wheel_file(lambda f: [*f[:2], str(f[2])]),
    "a file size is true": _wheel_file(lambda f: [*f[:2], True]),
    "kind is a number": lambda r: {**r, "kind": 5},
    "size is negative": lambda r: {**r, "size": -1},
    "size is true": lambda r: {**r, "size": True},
    "created is a string": lambda r: {**r, "created": str(r["created"])},
    "created is NaN": lambda r: {**r, "created": float("nan")},
    "build_seconds is a string": lambda r: {**r, "build_seconds": str(r["build_seconds"])},
    "format is true": lambda r: {**r, "format": True},
    "project is a list": lambda r: {**r, "project": [r["project"]]},
}


# -- 1. one validating read of every record ---------------------------------------------
@pytest.mark.parametrize("damage", list(WRONG_TYPES))
def test_record_of_wrong_types_is_discarded_and_rebuilt(
    hooks: Hooks, cache_dir: Path, damage: str, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir)
    _forge(record, WRONG_TYPES[damage])
    capsys.readouterr()
    assert hooks.build_wheel(subdir="b").read_bytes() == wheel.read_bytes()
    assert hooks.calls()["build_wheel"] == 2
    assert "was corrupt" in capsys.readouterr().err
    assert sorted(os.listdir(hooks.out / "b")) == [wheel.name]
    hooks.build_wheel(subdir="c")
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize("damage", list(WRONG_TYPES))
def test_commands_skip_records_of_wrong_types(
    hooks: Hooks, cache_dir: Path, damage: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """list, stats and prune read every record: a bad one is skipped, and pruned first."""
    hooks.build_wheel()
    monkeypatch.setenv("FAKE_BUILD_FLAG", "other")
    hooks.build_wheel(subdir="other")
    forged, good = _records(cache_dir)
    _forge(forged, WRONG_TYPES[damage])
    capsys.readouterr()
    code, out, _ = _cli(capsys, "list")
    assert code == 0
    assert sum(" wheel " in line for line in out.splitlines()) == 1
    code, out, _ = _cli(capsys, "stats", "--json")
    assert (code, json.loads(out)["total"]["entries"]) == (0, len(list(cache_dir.rglob("*.json"))) // 2 - 1)
    assert _cli(capsys, "prune", "--max-size", "10G")[0] == 0
    assert not forged.exists()
    assert good.exists()
    assert _cli(capsys, "clean")[0] == 0
    assert not good.exists()


MANIFEST_DAMAGE: dict[str, Callable[[list[Any]], Any]] = {
    "value is a string": lambda v: "results",
    "a candidate is a number": lambda v: [1, *v],
    "a candidate has no key": lambda v: [{"learned": {}}, *v],
    "learned env holds a number": lambda v: [{**v[0], "learned": {**v[0]["learned"], "env": {"X": 5}}}],
    "learned files is a list": lambda v: [{**v[0], "learned": {**v[0]["learned"], "files": ["x"]}}],
    "learned read holds a list": lambda v: [{**v[0], "learned": {**v[0]["learned"], "read": [["x"]]}}],
    "a candidate's key is a path": lambda v: [{**v[0], "key": "../../../escape"}],
}


@pytest.mark.parametrize("damage", list(MANIFEST_DAMAGE))
def test_manifest_of_wrong_types_is_discarded_and_rebuilt(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, damage: str
) -> None:
    hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir)
    key = json.loads(record.read_bytes())["key"]
    manifest = next(r for r in _records(cache_dir, "manifest") if json.loads(r.read_bytes())["value"][0]["key"] == key)
    _forge(manifest, lambda r: {**r, "value": MANIFEST_DAMAGE[damage](r["value"])})
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel(subdir="c")
    assert hooks.calls()["build_wheel"] == 2
    # a key is a file name in the cache: "../../../escape" would lock a file outside it
    assert not (tmp_path / "escape.lock").exists()


def test_requirements_of_wrong_types_are_asked_again(hooks: Hooks, cache_dir: Path) -> None:
    hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir, "requires-wheel")
    _forge(record, lambda r: {**r, "value": 5})
    hooks.build_wheel(subdir="b")
    assert hooks.calls() == {"get_requires_for_build_wheel": 2, "build_wheel": 1}


def test_sdist_alias_of_wrong_types_is_corrupt(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    store.put(
        KEY,
        "sdist-alias",
        [],
        build_seconds=0.0,
        parts={"hook": "sdist-alias"},
        value={"tree": "cd" * 32, "differs": [], "equivalent": []},
    )
    (record,) = _records(tmp_path / "cache", "sdist-alias")
    _forge(record, lambda r: {**r, "value": {**r["value"], "equivalent": 5}})
    with pytest.raises(CorruptEntryError, match="was corrupt"):
        store.get(KEY)
    assert store.get(KEY) is None  # discarded


def test_what_a_read_would_refuse_is_not_written(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    with pytest.raises(StoreError, match="not caching"):
        store.put(KEY, "requires-wheel", [], build_seconds=0.0, parts={}, value=[1])
    with pytest.raises(StoreError, match="not caching"):
        store.put("../../../x", "requires-wheel", [], build_seconds=0.0, parts={}, value=[])
    assert store.records() == []
    assert not (tmp_path / "x.json").exists()


def test_parts_and_last_key_of_wrong_types_are_none(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    store.put(KEY, "requires-wheel", [], build_seconds=0.0, parts={"project": "p", "versions": {}}, value=[])
    assert store.last_key("p", "requires-wheel") == KEY
    assert store.parts(KEY) == {"project": "p", "versions": {}}
    (projects,) = (tmp_path / "cache" / "v1" / "projects").iterdir()
    (parts,) = (tmp_path / "cache" / "v1" / "parts").rglob("*.json")
    for wrong in ({"requires-wheel": "../../x"}, {"requires-wheel": 5}, ["x"], {"requires-wheel": KEY.upper()}):
        projects.write_text(json.dumps(wrong))
        assert store.last_key("p", "requires-wheel") is None
    for wrong_parts in (
        {"project": "p", "versions": 5},
        {"project": "p"},
        {"inputs": ["a"]},
        {"versions": {"a": 1}},
        {"learned": {"env": {"X": 1}}},
        [],
        0,
    ):
        parts.write_text(json.dumps(wrong_parts))
        assert store.parts(KEY) is None, wrong_parts
    parts.write_bytes(b"[" * 100_000)
    assert store.parts(KEY) is None


def test_explain_with_parts_of_wrong_types(hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    for path in (cache_dir / "v1" / "parts").rglob("*.json"):
        path.write_text(json.dumps(dict(json.loads(path.read_bytes()), versions=5)))
    code, out, _ = _cli(capsys, "explain", str(hooks.project))
    assert code == 0
    assert "build_wheel: would" in out


def test_stats_skip_lines_that_are_no_events(hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    hooks.build_wheel()
    with open(cache_dir / "v1" / "stats.jsonl", "ab") as f:
        f.write(
            b'{"t": 1, "project": "p", "kind": "wheel", "event": "hit", "seconds": "a while"}\n'
            b'{"t": 1, "project": ["p"], "kind": "wheel", "event": "hit", "seconds": 1}\n'
            b'{"t": 1, "project": "p", "kind": "wheel", "event": "verify", "mismatch": "yes", "seconds": 0}\n'
            b'[1]\n"x"\n\xff\xfe\n{"event": "hit"}\n' + b"[" * 100_000 + b"\n"
        )
    code, out, _ = _cli(capsys, "stats", "--json")
    assert code == 0
    assert json.loads(out)["projects"] == {
        "fake-project": {
            "hits": 1,
            "misses": 1,
            "saved": pytest.approx(json.loads(out)["total"]["saved"]),
            "verified": 0,
            "mismatches": 0,
            "kinds": {"wheel": {"hits": 1, "misses": 1}},
        },
    }
    assert _cli(capsys, "stats")[0] == 0


# -- 2. every stored name is checked before anything is written ---------------------------
@pytest.mark.parametrize(
    "name",
    [
        "../escape.whl",
        "{absolute}",
        "sub/fake.whl",
        "a\\b.whl",
        "x\0.whl",
        "./fake.whl",
        "fake.txt",
        "",
        ".whl",
        "tree:fake.whl",
    ],
)
def test_wheel_entry_with_no_plain_wheel_name_is_rebuilt(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, name: str
) -> None:
    wheel = hooks.build_wheel(subdir="a")
    name = str(tmp_path / "absolute.whl") if name == "{absolute}" else name
    (record,) = _records(cache_dir)
    _forge(record, _wheel_file(lambda f: [name, *f[1:]]))
    assert hooks.build_wheel(subdir="b").name == wheel.name
    assert hooks.calls()["build_wheel"] == 2
    assert sorted(os.listdir(hooks.out / "b")) == [wheel.name]
    assert not (hooks.out / "escape.whl").exists()
    assert not (tmp_path / "absolute.whl").exists()


def test_wheel_entry_with_files_of_the_tree_is_rebuilt(hooks: Hooks, cache_dir: Path) -> None:
    """Only a native editable restores files into the tree; a wheel entry has one file."""
    hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir)
    _forge(
        record, lambda r: {**r, "files": [*r["files"], ["tree:planted.py", *r["files"][0][1:]]], "size": 2 * r["size"]}
    )
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert not (hooks.project / "planted.py").exists()


def test_metadata_entry_cannot_write_outside_its_directory(hooks: Hooks, cache_dir: Path, tmp_path: Path) -> None:
    first = hooks.out / "m1"
    first.mkdir(parents=True)
    name = hooks("prepare_metadata_for_build_wheel", str(first))
    (record,) = _records(cache_dir, "metadata-wheel")
    _forge(record, lambda r: {**r, "files": [[f"{name}/../../../escape", *r["files"][0][1:]], *r["files"][1:]]})
    second = hooks.out / "m2"
    second.mkdir()
    assert hooks("prepare_metadata_for_build_wheel", str(second)) == name
    assert hooks.calls()["prepare_metadata_for_build_wheel"] == 2
    assert not (tmp_path / "escape").exists()
    assert (second / name / "METADATA").is_file()


def _entry_with(tmp_path: Path, kind: str, name: str) -> tuple[LocalStore, StoredFile]:
    store = LocalStore(tmp_path / "cache")
    source = tmp_path / "source"
    source.write_bytes(b"stored bytes")
    files = [(name, source)] if kind != "editable" else [("pkg-1.0-py3-none-any.whl", source), (name, source)]
    entry = store.put(KEY, kind, files, build_seconds=0.0, parts={})
    return store, entry.files[-1]


def test_materialize_refuses_a_symlink_in_the_destination(tmp_path: Path) -> None:
    store, stored = _entry_with(tmp_path, "metadata-wheel", "pkg-1.0.dist-info/METADATA")
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "pkg-1.0.dist-info").symlink_to(outside, target_is_directory=True)
    entry = store.get(KEY)
    assert entry is not None
    with pytest.raises(CorruptEntryError, match="outside"):
        materialize(store, entry, dest)
    with pytest.raises(CorruptEntryError, match="outside"):
        store.materialize_file(stored, dest / "pkg-1.0.dist-info" / "METADATA")
    assert list(outside.iterdir()) == []
    (dest / "pkg-1.0.dist-info").unlink()
    materialize(store, entry, dest)
    assert (dest / "pkg-1.0.dist-info" / "METADATA").read_bytes() == b"stored bytes"


def test_tree_file_is_not_restored_through_a_symlink(tmp_path: Path) -> None:
    store, stored = _entry_with(tmp_path, "editable", "tree:src/pkg/_native.so")
    outside = tmp_path / "outside"
    outside.mkdir()
    tree = tmp_path / "tree"
    (tree / "src").mkdir(parents=True)
    (tree / "src" / "pkg").symlink_to(outside, target_is_directory=True)
    with pytest.raises(CorruptEntryError, match="outside"):
        store.materialize_file(stored, tree / "src" / "pkg" / "_native.so")
    assert list(outside.iterdir()) == []
    (tree / "src" / "pkg").unlink()
    (tree / "src" / "pkg").mkdir()
    store.materialize_file(stored, tree / "src" / "pkg" / "_native.so")
    assert (tree / "src" / "pkg" / "_native.so").read_bytes() == b"stored bytes"


def test_symlink_named_like_the_wheel_in_the_destination_is_replaced(hooks: Hooks, tmp_path: Path) -> None:
    wheel = hooks.build_wheel(subdir="a")
    outside = tmp_path / "outside.whl"
    outside.write_bytes(b"not yours")
    (hooks.out / "b").mkdir()
    (hooks.out / "b" / wheel.name).symlink_to(outside)
    hit = hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 1
    assert not hit.is_symlink()
    assert hit.read_bytes() == wheel.read_bytes()
    assert outside.read_bytes() == b"not yours"


def test_blob_named_by_a_path_is_neither_read_nor_removed(hooks: Hooks, cache_dir: Path, tmp_path: Path) -> None:
    wheel = hooks.build_wheel(subdir="a")
    victim = tmp_path / "victim"  # where v1/blobs/../../../victim leads
    victim.write_bytes(wheel.read_bytes())
    (record,) = _records(cache_dir)
    _forge(record, _wheel_file(lambda f: [f[0], "../../victim", f[2]]))
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert victim.read_bytes() == wheel.read_bytes()


# -- 3. no symlink in the cache is followed --------------------------------------------------
def test_statistics_are_not_written_or_read_through_a_symlink(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    outside = tmp_path / "outside.jsonl"
    line = '{"t": 1, "project": "someone", "kind": "wheel", "event": "hit", "seconds": 99}\n'
    outside.write_text(line)
    stats = cache_dir / "v1" / "stats.jsonl"
    stats.unlink()
    stats.symlink_to(outside)
    capsys.readouterr()
    hooks.build_wheel()  # a hit: one line of statistics
    assert hooks.calls()["build_wheel"] == 1
    assert "is a symbolic link" in capsys.readouterr().err
    assert outside.read_text() == line
    code, out, _ = _cli(capsys, "stats", "--json")
    assert code == 0
    assert json.loads(out)["projects"] == {}
    assert _cli(capsys, "stats", "--zero")[0] == 0
    assert outside.read_text() == line


def test_record_that_is_a_symlink_is_not_read_nor_touched(hooks: Hooks, cache_dir: Path, tmp_path: Path) -> None:
    hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir)
    outside = tmp_path / "record.json"
    shutil.copy(record, outside)
    os.utime(outside, (1, 1))
    record.unlink()
    record.symlink_to(outside)
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert outside.stat().st_mtime == 1
    assert not record.is_symlink()


def test_blob_that_is_a_symlink_is_not_read(hooks: Hooks, cache_dir: Path, tmp_path: Path) -> None:
    wheel = hooks.build_wheel(subdir="a")
    (blob,) = _blobs(cache_dir)
    outside = tmp_path / "blob"
    shutil.copy(blob, outside)
    blob.unlink()
    blob.symlink_to(outside)
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 2
    assert outside.read_bytes() == wheel.read_bytes()
    hooks.build_wheel(subdir="c")
    assert hooks.calls()["build_wheel"] == 2
    assert not blob.is_symlink()


def test_parts_and_projects_files_that_are_symlinks_are_not_read(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "cache")
    store.put(KEY, "requires-wheel", [], build_seconds=0.0, parts={"project": "p", "versions": {}}, value=[])
    (projects,) = (tmp_path / "cache" / "v1" / "projects").iterdir()
    (parts,) = (tmp_path / "cache" / "v1" / "parts").rglob("*.json")
    for path in (projects, parts):
        shutil.move(path, tmp_path / path.name)
        path.symlink_to(tmp_path / path.name)
    assert store.last_key("p", "requires-wheel") is None
    assert store.parts(KEY) is None


def test_lock_files_that_are_symlinks_are_not_followed(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel(subdir="a")
    outside = tmp_path / "outside"
    outside.mkdir()
    locks = list((cache_dir / "v1" / "locks").iterdir())
    for lock in locks:
        lock.unlink()
        lock.symlink_to(outside / lock.name)  # dangling: opening it to create would create it
    hooks.build_wheel(subdir="hit")  # a reader takes the result's lock, shared
    assert hooks.calls()["build_wheel"] == 1
    shutil.rmtree(cache_dir / "v1" / "entries")  # a miss takes the declared key's lock
    assert hooks.build_wheel(subdir="miss").is_file()
    assert hooks.calls()["build_wheel"] == 2
    _cli(capsys, "clean")
    assert list(outside.iterdir()) == []
    assert all(lock.is_symlink() for lock in locks)


@pytest.mark.parametrize("name", ["v1", "entries", "parts", "blobs", "projects", "locks", "tmp"])
def test_directory_of_the_cache_that_is_a_symlink_is_not_used(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = cache_dir / name if name == "v1" else cache_dir / "v1" / name
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    assert hooks.build_wheel(subdir="a").is_file()
    assert hooks.build_wheel(subdir="b").is_file()
    assert hooks.calls()["build_wheel"] == 2
    assert "wheelmemo: warning: cannot " in capsys.readouterr().err
    # the stat cache is written by _inputs.StatCache, not by the store: see below
    assert [p.name for p in outside.iterdir() if p.name != "stat"] == []


@pytest.mark.parametrize("name", ["v1", "v1/stat"])
def test_stat_cache_is_not_written_through_a_symlink(hooks: Hooks, cache_dir: Path, tmp_path: Path, name: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    link = cache_dir / name
    link.parent.mkdir(parents=True)
    link.symlink_to(outside, target_is_directory=True)
    hooks.build_wheel()
    assert list(outside.rglob("*")) == []


def test_pruning_never_removes_anything_through_a_symlink(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    outside = tmp_path / "outside"
    outside.mkdir()

    def unused(where: str) -> str:  # a two-hex-digit directory the build did not make
        return next(c * 2 for c in "0123456789abcdef" if not (cache_dir / "v1" / where / (c * 2)).exists())

    blob, record = unused("blobs"), unused("entries")
    precious = {"blob": blob * 32, "record": f"{record * 32}.json", "stat": "0" * 32 + ".m4"}
    (outside / precious["blob"]).write_text("not a blob")
    (outside / precious["record"]).write_text(json.dumps({"key": record * 32}))
    (outside / precious["stat"]).write_text("not a stat cache")
    for path in outside.iterdir():
        os.utime(path, (1, 1))  # unused for decades
    (cache_dir / "v1" / "blobs" / blob).symlink_to(outside, target_is_directory=True)
    (cache_dir / "v1" / "entries" / record).symlink_to(outside, target_is_directory=True)
    shutil.rmtree(cache_dir / "v1" / "stat")
    (cache_dir / "v1" / "stat").symlink_to(outside, target_is_directory=True)
    assert _cli(capsys, "prune", "--older-than", "1d")[0] == 0
    assert _cli(capsys, "clean")[0] == 0
    assert sorted(p.name for p in outside.iterdir()) == sorted(precious.values())
    assert not _blobs(cache_dir)  # what was really in the cache went


def _build_in_subprocess(hooks: Hooks, site: FakeSite, out: Path) -> subprocess.Popen[str]:
    code = "import sys, wheelmemo; sys.stdout.write(wheelmemo.build_wheel(sys.argv[1]))"
    out.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", code, str(out)],
        cwd=hooks.project,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(site.path)])},
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifo_in_the_cache_does_not_hang_a_build(hooks: Hooks, cache_dir: Path, fake_site: FakeSite) -> None:
    hooks.build_wheel(subdir="a")
    (record,) = _records(cache_dir)
    record.unlink()
    os.mkfifo(record)
    build = _build_in_subprocess(hooks, fake_site, hooks.out / "b")
    try:
        _, err = build.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        build.kill()
        build.communicate()
        pytest.fail("a FIFO in the cache blocked the build")
    assert build.returncode == 0, err
    assert hooks.calls()["build_wheel"] == 2


# -- 4. every OSError is the store's error ------------------------------------------------
def test_unreadable_blob_warns_and_rebuilds(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """chmod 000 stops no reader running as root: opening the blob is refused instead."""
    wheel = hooks.build_wheel(subdir="a")
    (blob,) = _blobs(cache_dir)
    real_open, real_os_open = builtins.open, os.open

    def refused(path: Any) -> bool:
        return not isinstance(path, int) and os.path.basename(os.fspath(path)) == blob.name

    def deny_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        if refused(file):
            raise PermissionError(errno.EACCES, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    def deny_os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if refused(path) and not flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_os_open(path, flags, *args, **kwargs)

    capsys.readouterr()
    with monkeypatch.context() as unreadable:
        unreadable.setattr(builtins, "open", deny_open)
        unreadable.setattr(os, "open", deny_os_open)
        assert hooks.build_wheel(subdir="b").read_bytes() == wheel.read_bytes()
    assert hooks.calls()["build_wheel"] == 2
    err = capsys.readouterr().err
    assert "cannot be read" in err
    assert "building it again" in err
    hooks.build_wheel(subdir="c")  # the unreadable blob was discarded, and stored again
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize("name", ["entries", "blobs"])
def test_file_where_a_directory_of_the_cache_should_be(
    hooks: Hooks, cache_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel(subdir="a")
    shutil.rmtree(cache_dir / "v1" / name)
    (cache_dir / "v1" / name).write_text("not a directory")
    capsys.readouterr()
    assert hooks.build_wheel(subdir="b").is_file()
    assert hooks.calls()["build_wheel"] == 2
    assert "building without the cache" in capsys.readouterr().err
    code, _, err = _cli(capsys, "list")
    assert code in (0, 2)
    assert err.count("\n") <= 1


@pytest.mark.parametrize("name", ["v1", "entries", "parts", "blobs", "projects", "locks", "tmp"])
def test_file_where_a_directory_of_an_empty_cache_should_be(
    hooks: Hooks, cache_dir: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = cache_dir / name if name == "v1" else cache_dir / "v1" / name
    path.parent.mkdir(parents=True)
    path.write_text("not a directory")
    assert hooks.build_wheel(subdir="a").is_file()
    assert hooks.build_wheel(subdir="b").is_file()
    assert hooks.calls()["build_wheel"] == 2
    assert "building without the cache" in capsys.readouterr().err
    for command in ("list", "stats", "prune", "clean"):
        code, _, err = _cli(capsys, command)
        assert code in (0, 2)
        assert err.count("\n") <= 1, err


# -- 5. the commands use the project's cache --------------------------------------------------
def _set_cache_dir(project: Path, cache_dir: str) -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace("[tool.wheelmemo]\n", f"[tool.wheelmemo]\ncache-dir = {cache_dir!r}\n"))


def _root_used(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The cache directory ``wheelmemo stats`` reads."""
    code, out, _ = _cli(capsys, "stats", *args)
    assert code == 0
    return out.rstrip().rsplit(" in ", 1)[1]


def test_commands_use_the_cache_dir_of_the_project(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    configured = tmp_path / "project-cache"
    _set_cache_dir(hooks.project, str(configured))
    hooks.build_wheel()
    hooks.build_wheel()
    assert (configured / "v1").is_dir()
    monkeypatch.chdir(hooks.project)
    assert _root_used(capsys) == str(configured)
    code, out, _ = _cli(capsys, "list")
    assert code == 0
    assert "fake-project" in out
    stats = json.loads(_cli(capsys, "stats", "--json")[1])["projects"]["fake-project"]
    assert (stats["hits"], stats["misses"]) == (1, 1)
    # elsewhere: --project names it
    monkeypatch.chdir(tmp_path)
    assert _root_used(capsys, "--project", str(hooks.project)) == str(configured)
    assert "the cache is empty" in _cli(capsys, "list")[1]  # no project here: the user cache
    assert _cli(capsys, "clean", "--project", str(hooks.project))[1].startswith("wheelmemo: removed ")
    assert not LocalStore(configured).records()
    assert not (tmp_path / "user-cache").exists()


def test_relative_cache_dir_is_the_projects(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hooks run in the project: a relative cache-dir is relative to it."""
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR")
    _set_cache_dir(hooks.project, "../relative-cache")
    monkeypatch.chdir(tmp_path)
    assert _root_used(capsys, "--project", "project") == os.path.join("project", "..", "relative-cache")


def test_environment_wins_over_the_project(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _set_cache_dir(hooks.project, str(tmp_path / "project-cache"))
    monkeypatch.chdir(hooks.project)
    assert _root_used(capsys) == str(cache_dir)
    assert _root_used(capsys, "--project", str(hooks.project)) == str(cache_dir)
    assert main(["--cache-dir", str(tmp_path / "given"), "stats"]) == 0
    assert capsys.readouterr().out.rstrip().endswith(str(tmp_path / "given"))


def test_without_project_configuration_the_user_cache_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    user = str(tmp_path / "user-cache" / "wheelmemo")
    monkeypatch.chdir(tmp_path)
    assert _root_used(capsys) == user  # no pyproject.toml
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "other"\n')
    assert _root_used(capsys) == user  # no [tool.wheelmemo]
    assert capsys.readouterr().err == ""
    (tmp_path / "pyproject.toml").write_text("[project\n")
    code, _, err = _cli(capsys, "list")
    assert code == 2
    assert err.startswith("wheelmemo: error: ") and err.count("\n") == 1


def _point_wheel_manifest_at_requires(cache_dir: Path) -> None:
    """A manifest whose candidate (with learned inputs that fit) names an entry of another kind."""
    (wheel,) = _records(cache_dir)
    (requires,) = _records(cache_dir, "requires-wheel")
    wheel_key, requires_key = (json.loads(p.read_bytes())["key"] for p in (wheel, requires))
    manifest = next(
        r for r in _records(cache_dir, "manifest") if json.loads(r.read_bytes())["value"][0]["key"] == wheel_key
    )
    _forge(manifest, lambda r: {**r, "value": [{**r["value"][0], "key": requires_key}]})


def test_export_refuses_an_entry_of_another_kind(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    _point_wheel_manifest_at_requires(cache_dir)
    code, _, err = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "exported"))
    assert code == 1
    assert "no cached wheel" in err


def test_build_with_a_manifest_naming_another_kind(hooks: Hooks, cache_dir: Path) -> None:
    hooks.build_wheel(subdir="a")
    _point_wheel_manifest_at_requires(cache_dir)
    assert hooks.build_wheel(subdir="b").is_file()
    assert hooks.calls()["build_wheel"] == 2
