"""sdist builds meet tree builds: a wheel built in an unpacked sdist is the tree's wheel.

uv build and python -m build make the sdist from the tree, unpack it into a temporary
directory and build the wheel there; wheelmemo recognises the unpacked copy by content.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

import pytest

from conftest import FakeSite, Hooks


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
    hooks: Hooks,
    tmp_path: Path,
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


def test_descriptive_cargo_fields_and_setuptools_tags_are_no_differences(tmp_path: Path) -> None:
    """maturin adds readme to the Cargo.toml it ships; setuptools adds egg_info tags."""
    from wheelmemo._sdist import _equivalent
    from wheelmemo.backends import adapter_for

    maturin, setuptools = adapter_for("maturin", []), adapter_for("setuptools", [])

    tree, unpacked = tmp_path / "tree", tmp_path / "unpacked"
    for where in (tree, unpacked):
        where.mkdir()
    manifest = '[package]\nname = "demo"\nversion = "1.0.0"\n\n[dependencies]\npyo3 = "0.30"\n'
    (tree / "Cargo.toml").write_text(manifest)
    (unpacked / "Cargo.toml").write_text(
        manifest.replace('version = "1.0.0"\n', 'version = "1.0.0"\nreadme = "README.md"\n')
    )
    assert _equivalent(maturin, "Cargo.toml", unpacked, tree, True)
    (unpacked / "Cargo.toml").write_text(manifest.replace('"0.30"', '"0.29"'))
    assert not _equivalent(maturin, "Cargo.toml", unpacked, tree, True)
    (unpacked / "setup.cfg").write_text("[egg_info]\ntag_build = \ntag_date = 0\n\n")
    assert _equivalent(setuptools, "setup.cfg", unpacked, tree, False)
    (unpacked / "setup.cfg").write_text("[egg_info]\ntag_build = .dev\ntag_date = 0\n\n")
    assert not _equivalent(setuptools, "setup.cfg", unpacked, tree, False)


def test_a_git_checkout_holding_a_pkg_info_is_a_tree(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    """An unpacked sdist put under git has a git state of its own: a new commit of a
    VCS-versioned project must rebuild, whatever the sdist it came from recorded."""
    import subprocess

    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"countingbackend"]', '"countingbackend", "setuptools-scm"]'))
    fake_site.install("setuptools-scm", "8.0")
    (hooks.project / ".gitignore").unlink()
    unpacked = _sdist_and_unpack(hooks, tmp_path / "unpacked")
    hooks.project = unpacked

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=unpacked, check=True, capture_output=True
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    hooks.build_wheel(subdir="one")
    git("commit", "-q", "--allow-empty", "-m", "two")
    hooks.build_wheel(subdir="two")
    assert hooks.calls()["build_wheel"] == 2


def test_an_sdist_is_built_again_after_a_commit_or_git_add(hooks: Hooks, tmp_path: Path) -> None:
    """``meson dist`` packs the last commit and setuptools-scm ships what git tracks: the
    same working tree after a commit or a ``git add`` may make another sdist."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=hooks.project,
            check=True,
            capture_output=True,
        )

    def sdist(where: str) -> None:
        (hooks.out / where).mkdir(parents=True)
        hooks("build_sdist", str(hooks.out / where))

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# an edit not committed yet\n")
    sdist("a")
    sdist("b")
    assert hooks.calls()["build_sdist"] == 1
    git("commit", "-qam", "two")  # the same files, another commit
    sdist("c")
    assert hooks.calls()["build_sdist"] == 2
    (hooks.project / "NEW.txt").write_text("new\n")
    sdist("d")
    git("add", "NEW.txt")  # the same files, another index
    sdist("e")
    assert hooks.calls()["build_sdist"] == 4


def test_an_sdist_is_keyed_on_the_ignored_files_it_ships(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An sdist packed by a program wheelmemo cannot watch (maturin's) ships a gitignored
    file (``include`` in a Cargo.toml): an edit of it is a miss, not the old sdist
    (found by the stale fuzzer: the wheel ``python -m build`` then built from it was stale)."""
    monkeypatch.setenv("FAKE_SDIST_UNSEEN", "1")
    generated = hooks.project / "ignored_dir" / "gen.cfg"  # .gitignore: ignored_dir/
    generated.parent.mkdir()
    generated.write_text("v1\n")

    def shipped() -> str:
        top = _sdist_and_unpack(hooks, tmp_path / f"unpacked{hooks.calls()['build_sdist']}")
        return (top / "ignored_dir" / "gen.cfg").read_text()

    assert shipped() == "v1\n" and hooks.calls()["build_sdist"] == 1
    assert shipped() == "v1\n" and hooks.calls()["build_sdist"] == 1  # a hit
    generated.write_text("v2\n")
    assert shipped() == "v2\n" and hooks.calls()["build_sdist"] == 2
    generated.write_text("v1\n")
    assert shipped() == "v1\n" and hooks.calls()["build_sdist"] == 2  # the first sdist again
