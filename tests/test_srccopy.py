"""A stable source path for builds from a frontend's copy of an unpacked sdist
(``_srccopy``): the copy in the build directory holds exactly what the frontend's holds,
with times a build can trust, and a miss builds there, learning the same labels."""

from __future__ import annotations

import functools
import os
import sys
import tarfile
import time
from pathlib import Path

import pytest

from wheelmemo._srccopy import Unusable, stable_copy, sync
from wheelmemo.backends import adapter_for

from conftest import FakeSite, Hooks, use_learning_backend

OLD_NS = 1_153_700_000 * 10**9  # 2006, as maturin's sdist members (python -m build keeps them)


def _tree(root: Path, files: dict[str, str], mtime_ns: int = OLD_NS) -> Path:
    for label, text in files.items():
        path = root / label
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, ns=(mtime_ns, mtime_ns))
    return root


def test_a_changed_file_gets_the_current_time_and_an_unchanged_one_keeps_its_own(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    sync(str(_tree(tmp_path / "a", {"src/lib.rs": "v1", "Cargo.toml": "[package]"})), str(dest))
    assert (dest / "src" / "lib.rs").read_text() == "v1"
    kept = (dest / "Cargo.toml").stat()
    first = (dest / "src" / "lib.rs").stat().st_mtime_ns
    assert first > OLD_NS, "the frontend copy's old time is not the copy's"

    before = time.time_ns()
    changed = sync(str(_tree(tmp_path / "b", {"src/lib.rs": "v2", "Cargo.toml": "[package]"})), str(dest))
    assert changed == 1
    assert (dest / "src" / "lib.rs").read_text() == "v2"
    assert (dest / "src" / "lib.rs").stat().st_mtime_ns >= max(before, first + 1)
    after = (dest / "Cargo.toml").stat()
    assert (after.st_mtime_ns, after.st_ino) == (kept.st_mtime_ns, kept.st_ino), "an unchanged file is left alone"


def test_a_revert_to_old_content_with_an_old_time_is_written_anew(tmp_path: Path) -> None:
    """v1, v2, then v1 again with v1's old time (an archive, a backup): the copy's file
    is newer than anything built from v2, never given the old time."""
    dest = tmp_path / "copy"
    sync(str(_tree(tmp_path / "a", {"lib.rs": "v1"})), str(dest))
    sync(str(_tree(tmp_path / "b", {"lib.rs": "v2"})), str(dest))
    v2 = (dest / "lib.rs").stat().st_mtime_ns
    sync(str(_tree(tmp_path / "c", {"lib.rs": "v1"}, mtime_ns=OLD_NS)), str(dest))
    assert (dest / "lib.rs").read_text() == "v1"
    assert (dest / "lib.rs").stat().st_mtime_ns > v2


def test_a_file_with_a_time_in_the_future_is_replaced_by_a_newer_one(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    sync(str(_tree(tmp_path / "a", {"lib.rs": "v1"})), str(dest))
    future = time.time_ns() + 3600 * 10**9
    os.utime(dest / "lib.rs", ns=(future, future))
    sync(str(_tree(tmp_path / "b", {"lib.rs": "v2"})), str(dest))
    assert (dest / "lib.rs").stat().st_mtime_ns > future


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks and the executable bit")
def test_what_the_frontend_copy_lacks_is_removed(tmp_path: Path) -> None:
    dest = tmp_path / "copy"
    sync(str(_tree(tmp_path / "a", {"src/lib.rs": "v1", "gone/x.txt": "x", "kind": "a file"})), str(dest))
    # what a build wrote into its source directory
    (dest / "pkg.egg-info").mkdir()
    (dest / "pkg.egg-info" / "PKG-INFO").write_text("written by the build")
    (dest / "Cargo.lock").write_text("written by cargo")
    b = _tree(tmp_path / "b", {"src/lib.rs": "v1", "kind/now-a-dir.txt": "d"})
    os.symlink("src/lib.rs", b / "link")
    sync(str(b), str(dest))
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "kind",
        "kind/now-a-dir.txt",
        "link",
        "src",
        "src/lib.rs",
    ]
    assert os.readlink(dest / "link") == "src/lib.rs"
    os.chmod(b / "src" / "lib.rs", 0o755)
    assert sync(str(b), str(dest)) == 1
    assert (dest / "src" / "lib.rs").stat().st_mode & 0o777 == 0o755


def test_a_copy_behind_a_symlink_is_not_written_through(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"lib.rs": "v1"})
    elsewhere = _tree(tmp_path / "elsewhere", {"keep.txt": "not the cache's"})
    os.symlink(elsewhere, tmp_path / "copy")
    with pytest.raises(Unusable):
        sync(str(a), str(tmp_path / "copy"))
    assert stable_copy(a, tmp_path / "copy") == a
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_skipped_directories_are_not_copied(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"lib.rs": "v1", "dist/old.whl": "w"})
    sync(str(a), str(tmp_path / "copy"), skip=[str(a / "dist")])
    assert not (tmp_path / "copy" / "dist").exists()


@pytest.mark.parametrize("target", ["/etc/hostname", "../outside", "sub/../../outside", "up"])
def test_a_link_out_of_the_project_makes_no_copy(tmp_path: Path, target: str) -> None:
    a = _tree(tmp_path / "a", {"lib.rs": "v1", "sub/x": "x"})
    os.symlink("..", a / "sub" / "up")
    os.symlink(target, a / "link" if target != "up" else a / "via")
    if target == "up":  # through another link: sub/up is the project, sub/up/.. its parent
        os.unlink(a / "via")
        os.symlink("sub/up/../outside", a / "via")  # by its text: sub/outside
    with pytest.raises(Unusable):
        sync(str(a), str(tmp_path / "copy"))
    assert stable_copy(a, tmp_path / "copy2") == a


def test_a_cargo_path_dependency_outside_the_project_makes_no_copy(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a", {"Cargo.toml": '[package]\nname = "x"\n\n[dependencies]\ndep = { path = "../dep" }\n'})
    _tree(tmp_path / "dep", {"Cargo.toml": '[package]\nname = "dep"\n'})
    outside = functools.partial(adapter_for("maturin", []).outside_copy, pyproject={})
    assert stable_copy(a, tmp_path / "cache" / "copy", outside=outside) == a  # ../dep is not there
    inside = _tree(tmp_path / "b", {"Cargo.toml": '[package]\nname = "x"\n\n[dependencies]\ndep = { path = "dep" }\n'})
    _tree(inside / "dep", {"Cargo.toml": '[package]\nname = "dep"\n'})
    assert stable_copy(inside, tmp_path / "copy", outside=outside) == tmp_path / "copy"


# -- through the hooks: a miss in an unpacked sdist builds in the stable copy ------------------
def _unpacked(hooks: Hooks, where: Path) -> Path:
    """An sdist of the tree as it is now, unpacked at ``where`` (a frontend's temporary copy)."""
    tree = hooks.project
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True, exist_ok=True)
    name = hooks("build_sdist", str(dest))
    with tarfile.open(dest / name) as tf:
        tf.extractall(where, filter="data")
    hooks.project = tree
    (top,) = where.iterdir()
    return top


def _cargo_project(hooks: Hooks, fake_site: FakeSite, **learning: object) -> None:
    """The fake project as a setuptools-rust one (it gets a build directory), built by
    learningbackend, with ``notes/`` left out of the declared inputs."""
    (hooks.project / ".gitignore").unlink()  # the fake backend's sdists leave dotfiles out
    use_learning_backend(hooks, fake_site, **learning)
    fake_site.install("setuptools-rust", "1.0")
    pyproject = hooks.project / "pyproject.toml"
    text = pyproject.read_text().replace('"learningbackend"]', '"learningbackend", "setuptools-rust"]')
    pyproject.write_text(text.replace("[tool.wheelmemo]\n", '[tool.wheelmemo]\nexclude = ["notes/"]\n'))
    (hooks.project / "notes").mkdir()
    (hooks.project / "notes" / "extra.txt").write_text("n1")


def _build_in(hooks: Hooks, copy: Path, subdir: str) -> tuple[Path, str]:
    tree = hooks.project
    hooks.project = copy
    try:
        wheel = hooks.build_wheel(subdir=subdir)
    finally:
        hooks.project = tree
    return wheel, [r for r in hooks.records() if r["hook"] == "build_wheel"][-1]["cwd"]


def test_a_miss_in_an_unpacked_sdist_builds_in_one_stable_copy(
    hooks: Hooks, fake_site: FakeSite, cache_dir: Path, tmp_path: Path
) -> None:
    _cargo_project(hooks, fake_site, read=["notes/extra.txt"])
    data = hooks.project / "src" / "fakepkg" / "data.py"
    _, where = _build_in(hooks, _unpacked(hooks, tmp_path / "t1"), "one")
    stable = Path(where)
    assert stable.name == "source" and stable.parent.parent == cache_dir / "v1" / "build"

    data.write_text("VALUE = 'edited'\n")
    second, where = _build_in(hooks, _unpacked(hooks, tmp_path / "t2"), "two")
    assert where == str(stable), "the second copy built at the same path"
    assert hooks.calls()["build_wheel"] == 2
    import zipfile

    with zipfile.ZipFile(second) as zf:
        assert zf.read("fakepkg/data.py") == b"VALUE = 'edited'\n"

    # the learned input (notes/extra.txt, not declared) was recorded by its label: a new
    # copy of the same state hits, one whose notes differ misses
    _build_in(hooks, _unpacked(hooks, tmp_path / "t3"), "three")
    assert hooks.calls()["build_wheel"] == 2
    (hooks.project / "notes" / "extra.txt").write_text("n2")
    third = _unpacked(hooks, tmp_path / "t4")
    assert (third / "notes" / "extra.txt").read_text() == "n2"
    _build_in(hooks, third, "four")
    assert hooks.calls()["build_wheel"] == 3
    assert [r["notes/extra.txt"] for r in hooks.records() if r["hook"] == "saw"] == ["n1", "n1", "n2"]


def test_what_a_build_wrote_into_the_stable_copy_is_gone_before_the_next(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path
) -> None:
    """A build writes into its source directory: the next one must not find it there
    (it would not in a fresh frontend copy)."""
    _cargo_project(hooks, fake_site, read=["notes/scratch.txt"], scratch=["notes/made.txt"])
    _, where = _build_in(hooks, _unpacked(hooks, tmp_path / "t1"), "one")
    assert (Path(where) / "notes" / "made.txt").exists()
    (hooks.project / "src" / "fakepkg" / "data.py").write_text("VALUE = 'edited'\n")
    (hooks.project / "notes" / "scratch.txt").write_text("")  # present in the tree
    _build_in(hooks, _unpacked(hooks, tmp_path / "t2"), "two")
    assert hooks.calls()["build_wheel"] == 2
    assert [r["notes/scratch.txt"] for r in hooks.records() if r["hook"] == "saw"] == [None, ""]
