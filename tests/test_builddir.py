"""The persistent build directory's stamps: no input is older than the moment its
content was first handed to a build in the directory, whatever time a copy gave it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from wheelmemo._builddir import BuildDir

OLD_NS = 1_153_700_000 * 10**9  # 2006, as maturin's sdist members


def _copy(tmp_path: Path, name: str, content: str) -> Path:
    """A fresh copy of a one-file tree, its file with the sdist's old time."""
    root = tmp_path / name
    root.mkdir()
    (root / "lib.rs").write_text(content)
    os.utime(root / "lib.rs", ns=(OLD_NS, OLD_NS))
    return root


def _prepare(build_dir: BuildDir, root: Path) -> int:
    content = (root / "lib.rs").read_text()
    assert build_dir.prepare(root, {"lib.rs": content}, lambda label, path: "")
    return (root / "lib.rs").stat().st_mtime_ns


def test_a_content_keeps_its_stamp_and_a_new_content_gets_a_newer_one(tmp_path: Path) -> None:
    build_dir = BuildDir(tmp_path / "build")
    first = _prepare(build_dir, _copy(tmp_path, "a", "v1"))
    assert first > OLD_NS
    assert _prepare(build_dir, _copy(tmp_path, "b", "v1")) == first, "the same content, the same stamp"
    second = _prepare(build_dir, _copy(tmp_path, "c", "v2"))
    assert second > first
    # the case a record of the last build's inputs alone gets wrong: v2 again, after an
    # artifact of another feature set was built from v1 before v2 first appeared
    assert _prepare(build_dir, _copy(tmp_path, "d", "v2")) == second
    assert _prepare(build_dir, _copy(tmp_path, "e", "v1")) > second, "v1 came back after v2: newer than both"


def test_a_newer_time_is_left_alone(tmp_path: Path) -> None:
    build_dir = BuildDir(tmp_path / "build")
    _prepare(build_dir, _copy(tmp_path, "a", "v1"))
    root = _copy(tmp_path, "b", "v1")
    future = os.stat(build_dir.path).st_mtime_ns + 10**12
    os.utime(root / "lib.rs", ns=(future, future))
    assert _prepare(build_dir, root) == future


def test_a_damaged_record_gives_new_stamps(tmp_path: Path) -> None:
    build_dir = BuildDir(tmp_path / "build")
    first = _prepare(build_dir, _copy(tmp_path, "a", "v1"))
    for damage in (
        '{"stamps": {"lib.rs": ["v1", "soon"]}}',
        '{"stamps": [1]}',
        "[]",
        "{not json",
        '{"stamps": {"lib.rs": ["v1", 99999999999999999999]}, "learned": 7}',
    ):
        (build_dir.path / "inputs.json").write_text(damage)
        stamp = _prepare(build_dir, _copy(tmp_path, f"d{len(damage)}", "v1"))
        assert stamp > first  # (a stamp in the future is no stamp: clocks go back)
        assert json.loads((build_dir.path / "inputs.json").read_text())["stamps"]["lib.rs"][0] == "v1"


def test_a_path_dependency_outside_the_tree_keeps_its_stamp(tmp_path: Path) -> None:
    """Declared inputs outside the tree are labelled relative to it (``../dep/lib.rs``):
    their stamps are kept like any other, or cargo rebuilds the dependency every time."""
    build_dir = BuildDir(tmp_path / "build")
    (tmp_path / "dep").mkdir()
    dep = tmp_path / "dep" / "lib.rs"
    dep.write_text("dep v1")
    os.utime(dep, ns=(OLD_NS, OLD_NS))
    root = tmp_path / "proj"
    root.mkdir()
    assert build_dir.prepare(root, {"../dep/lib.rs": "dep v1"}, lambda label, path: "")
    first = dep.stat().st_mtime_ns
    assert first > OLD_NS
    os.utime(dep, ns=(OLD_NS, OLD_NS))  # a new copy with the old time, same content
    assert build_dir.prepare(root, {"../dep/lib.rs": "dep v1"}, lambda label, path: "")
    assert dep.stat().st_mtime_ns == first, "the same content, the same stamp"


def test_a_file_outside_the_project_is_never_touched_and_its_change_empties_the_directory(tmp_path: Path) -> None:
    """A learned file by its absolute path (a system header a compiler read) keeps its
    time (wheelmemo moved ``/usr/include``'s forward, for every build on the machine);
    when its content differs from what the artifacts were built from, they go, while the
    stable source copy and the record stay."""
    build_dir = BuildDir(tmp_path / "build")
    header = tmp_path / "usr" / "stdio.h"
    header.parent.mkdir()
    header.write_text("h1")
    os.utime(header, ns=(OLD_NS, OLD_NS))
    root = _copy(tmp_path, "a", "v1")
    states = {str(header): "h1"}

    def state_of(label: str, path: str) -> str:
        assert label == path == str(header)
        return states[label]

    assert build_dir.prepare(root, {"lib.rs": "v1"}, state_of)
    build_dir.remember_learned({str(header): ("h1", "a compiler")})
    for name in ("target", "cmake", "source"):
        (build_dir.path / name).mkdir()
        (build_dir.path / name / "artifact").write_text("built")
    assert build_dir.prepare(root, {"lib.rs": "v1"}, state_of)
    assert header.stat().st_mtime_ns == OLD_NS
    assert (build_dir.path / "cmake" / "artifact").exists(), "nothing changed: all is kept"

    states[str(header)] = "h2"  # another content, with its old time
    assert build_dir.prepare(root, {"lib.rs": "v1"}, state_of)
    assert header.stat().st_mtime_ns == OLD_NS
    assert sorted(p.name for p in build_dir.path.iterdir()) == ["inputs.json", "source"]
    assert (build_dir.path / "source" / "artifact").exists()
    # the new content is recorded: the next build keeps what this one makes
    (build_dir.path / "cmake").mkdir()
    assert build_dir.prepare(root, {"lib.rs": "v1"}, state_of)
    assert (build_dir.path / "cmake").is_dir()
