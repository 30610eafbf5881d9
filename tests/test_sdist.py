"""sdist builds meet tree builds: a wheel built in an unpacked sdist is the tree's wheel.

uv build and python -m build make the sdist from the tree, unpack it into a temporary
directory and build the wheel there; wheelmemo recognises the unpacked copy by content.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from conftest import Hooks


def _sdist_and_unpack(hooks: Hooks, where: Path) -> Path:
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True, exist_ok=True)
    name = hooks("build_sdist", str(dest))
    with tarfile.open(dest / name) as tf:
        tf.extractall(where, filter="data")
    (top,) = where.iterdir()
    return top


@pytest.mark.parametrize("order", ["tree first", "sdist first"])
def test_wheel_from_unpacked_sdist_meets_the_tree_wheel(hooks: Hooks, tmp_path: Path, order: str) -> None:
    tree = hooks.project
    (tree / ".gitignore").unlink()  # the fake backend's sdists leave dotfiles out
    unpacked = _sdist_and_unpack(hooks, tmp_path / "somewhere" / "deep" / "tmp")
    first, second = (tree, unpacked) if order == "tree first" else (unpacked, tree)
    hooks.project = first
    one = hooks.build_wheel(subdir="one")
    hooks.project = second
    two = hooks.build_wheel(subdir="two")
    assert hooks.calls()["build_wheel"] == 1
    assert one.read_bytes() == two.read_bytes()


def test_unpacked_sdist_of_another_state_is_a_miss(hooks: Hooks, tmp_path: Path) -> None:
    unpacked = _sdist_and_unpack(hooks, tmp_path / "unpacked")
    hooks.build_wheel(subdir="tree")
    (unpacked / "src" / "fakepkg" / "data.py").write_text("VALUE = 'edited in the copy'\n")
    hooks.project = unpacked
    hooks.build_wheel(subdir="copy")
    assert hooks.calls()["build_wheel"] == 2


def test_sdist_of_an_edited_tree_does_not_meet_the_old_wheel(hooks: Hooks, tmp_path: Path) -> None:
    hooks.build_wheel(subdir="old")
    (hooks.project / "src" / "fakepkg" / "data.py").write_text("VALUE = 2\n")
    unpacked = _sdist_and_unpack(hooks, tmp_path / "unpacked")
    hooks.project = unpacked
    hooks.build_wheel(subdir="new")
    assert hooks.calls()["build_wheel"] == 2


def test_sdist_lacking_a_file_meets_the_tree_only_when_the_tree_build_did_not_read_it(
    hooks: Hooks, tmp_path: Path,
) -> None:
    """The fake sdist leaves .gitignore out: the tree's build never read it, so the copy
    may use the tree's wheel; a wheel built first in the copy is not the tree's (what the
    tree's build would read of the missing file is unknown), so the tree builds its own."""
    tree = hooks.project
    unpacked = _sdist_and_unpack(hooks, tmp_path / "unpacked")
    assert not (unpacked / ".gitignore").exists()
    hooks.build_wheel(subdir="tree")
    hooks.project = unpacked
    hooks.build_wheel(subdir="copy")
    assert hooks.calls()["build_wheel"] == 1

    other = _sdist_and_unpack(hooks, tmp_path / "other")  # the copy first, in a fresh cache
    hooks.monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "fresh-cache"))
    hooks.project = other
    hooks.build_wheel(subdir="copy2")
    hooks.project = tree
    hooks.build_wheel(subdir="tree2")
    assert hooks.calls()["build_wheel"] == 3


def test_sdist_lacking_a_file_the_tree_build_read_builds_its_own(hooks: Hooks, tmp_path: Path) -> None:
    """hatchling's sdist.exclude: the tree's wheel ships a file the sdist leaves out."""
    tree = hooks.project
    (tree / "src" / "fakepkg" / "_native_table.py").write_text("T = 1\n")  # shipped, not in the sdist
    unpacked = _sdist_and_unpack(hooks, tmp_path / "unpacked")
    hooks.build_wheel(subdir="tree")
    hooks.project = unpacked
    hooks.build_wheel(subdir="copy")
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel(subdir="copy-again")  # stored under the copy's own key
    assert hooks.calls()["build_wheel"] == 2
