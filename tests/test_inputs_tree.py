"""Which files are inputs, seen through whole hook calls: a change to an input misses.

Three kinds of input that are easy to miss: files git tracks although an ignore rule
matches them, files behind a directory symlink found behind another one, and files
the project's metadata names although ``[tool.wheelmemo] exclude`` matches them.
Each case builds, changes one thing and counts the inner backend's builds; a few
check ``collect_inputs`` directly for the labels.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from wheelmemo._inputs import StatCache, collect_inputs
from wheelmemo.backends import adapter_for
from wheelmemo.backends.cargo import tomllib

from conftest import Hooks

pytestmark = pytest.mark.usefixtures("timestamps")  # each test racy and settled

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True, env=env
    )


def _append(path: Path, text: str) -> None:
    with open(path, "a") as f:
        f.write(text)


def _set_project_keys(project: Path, lines: str) -> None:
    """Add keys to the fake project's [project] table."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text.replace('version = "1.0.0"\n', 'version = "1.0.0"\n' + lines, 1))


def _set_exclude(project: Path, globs: str) -> None:
    _append(project / "pyproject.toml", f"exclude = {globs}\n")  # [tool.wheelmemo] is last


def _inputs(project: Path, exclude: tuple[str, ...] = ()) -> dict[str, str]:
    with open(project / "pyproject.toml", "rb") as f:
        pyproject: dict[str, Any] = tomllib.load(f)
    return collect_inputs(
        project, pyproject, adapter=adapter_for("countingbackend", []), exclude=exclude, stat_cache=StatCache(None)
    )


# -- tracked files that an ignore rule matches ---------------------------------


@needs_git
@pytest.mark.parametrize("version", [2, 4])
def test_editing_a_force_added_ignored_file_rebuilds(hooks: Hooks, version: int) -> None:
    # the fake project's .gitignore ignores ignored_dir/ and *.log
    gen = hooks.project / "ignored_dir" / "gen.cfg"
    gen.parent.mkdir()
    gen.write_text("a\n")
    (hooks.project / "notes.log").write_text("a\n")
    _git(hooks.project, "init", "-q")
    _git(hooks.project, "add", "-A")
    _git(hooks.project, "add", "-f", "ignored_dir/gen.cfg")
    _git(hooks.project, "update-index", "--index-version", str(version))
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (hooks.project / "notes.log").write_text("b\n")  # ignored and untracked: no input
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    gen.write_text("b\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()  # and the new state is cached in turn
    assert hooks.calls()["build_wheel"] == 2


@needs_git
def test_touching_a_force_added_ignored_file_still_hits(hooks: Hooks) -> None:
    gen = hooks.project / "ignored_dir" / "gen.cfg"
    gen.parent.mkdir()
    gen.write_text("a\n")
    _git(hooks.project, "init", "-q")
    _git(hooks.project, "add", "-f", "ignored_dir/gen.cfg")
    hooks.build_wheel()
    st = gen.stat()
    os.utime(gen, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


@needs_git
def test_force_added_ignored_file_is_an_input_label(project: Path) -> None:
    gen = project / "ignored_dir" / "sub" / "gen.cfg"
    gen.parent.mkdir(parents=True)
    gen.write_text("a\n")
    (project / "ignored_dir" / "sub" / "other.cfg").write_text("a\n")
    assert "ignored_dir/sub/gen.cfg" not in _inputs(project)
    _git(project, "init", "-q")
    _git(project, "add", "-f", "ignored_dir/sub/gen.cfg")
    labels = _inputs(project)
    assert "ignored_dir/sub/gen.cfg" in labels
    assert "ignored_dir/sub/other.cfg" not in labels
    # [tool.wheelmemo] exclude still applies: tracking only overrides git's ignore rules
    assert "ignored_dir/sub/gen.cfg" not in _inputs(project, exclude=("ignored_dir/",))


# -- directory symlinks behind directory symlinks ------------------------------


def test_editing_behind_a_nested_directory_symlink_rebuilds(hooks: Hooks, tmp_path: Path) -> None:
    x = tmp_path / "x"
    y = tmp_path / "y"
    x.mkdir()
    y.mkdir()
    (x / "table.txt").write_text("1\n")
    (y / "file").write_text("1\n")
    (x / "inner_link").symlink_to(y, target_is_directory=True)
    (hooks.project / "src" / "fakepkg" / "data_link").symlink_to(x, target_is_directory=True)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (y / "file").write_text("2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    (y / "new").write_text("")  # a file added behind the inner link
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    (x / "inner_link").unlink()  # the inner link retargeted
    (x / "inner_link").symlink_to(tmp_path / "site", target_is_directory=True)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 4


def test_symlink_cycles_end_and_hit(hooks: Hooks, tmp_path: Path) -> None:
    pkg = hooks.project / "src" / "fakepkg"
    (pkg / "loop").symlink_to("..", target_is_directory=True)  # up to its own parent's parent
    (pkg / "self").symlink_to(".", target_is_directory=True)  # its own parent
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "f").write_text("1\n")
    (outside / "deep" / "up").symlink_to(outside, target_is_directory=True)
    (pkg / "out_link").symlink_to(outside, target_is_directory=True)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (outside / "deep" / "f").write_text("2\n")  # inside the cycle: still an input
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_cycle_digests_are_stable_and_say_where_they_point(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "a").mkdir(parents=True)
    (outside / "a" / "f").write_text("1\n")
    (outside / "a" / "back").symlink_to(outside, target_is_directory=True)
    (project / "link").symlink_to(outside, target_is_directory=True)
    first = _inputs(project)["link"]
    assert first.startswith("dir:")
    assert _inputs(project)["link"] == first
    (outside / "a" / "back").unlink()  # now a link to its own parent, another cycle
    (outside / "a" / "back").symlink_to(outside / "a", target_is_directory=True)
    assert _inputs(project)["link"] != first


# -- files the metadata names --------------------------------------------------


def test_excluded_readme_is_still_an_input(hooks: Hooks) -> None:
    # README.md's own example: exclude = ["*.md"] with readme = "README.md"
    _set_project_keys(hooks.project, 'readme = "README.md"\n')
    _set_exclude(hooks.project, '["*.md"]')
    (hooks.project / "README.md").write_text("# one\n")
    (hooks.project / "docs").mkdir()
    (hooks.project / "docs" / "other.md").write_text("one\n")
    hooks.build_wheel()
    _append(hooks.project / "docs" / "other.md", "two\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    _append(hooks.project / "README.md", "two\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_excluded_license_files_are_still_inputs(hooks: Hooks) -> None:
    _set_project_keys(
        hooks.project,
        'license-files = ["LICEN[CS]E*", "licenses/**/*.txt"]\n'
        'readme = {file = "docs/README.rst", content-type = "text/x-rst"}\n',
    )
    _set_exclude(hooks.project, '["LICENSE*", "*.txt", "docs/"]')
    (hooks.project / "LICENSE.txt").write_text("MIT\n")
    (hooks.project / "licenses" / "vendored").mkdir(parents=True)
    (hooks.project / "licenses" / "vendored" / "dep.txt").write_text("BSD\n")
    (hooks.project / "docs").mkdir()
    (hooks.project / "docs" / "README.rst").write_text("one\n")
    (hooks.project / "docs" / "other.rst").write_text("one\n")
    hooks.build_wheel()
    _append(hooks.project / "docs" / "other.rst", "two\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    for n, path in enumerate(["LICENSE.txt", "licenses/vendored/dep.txt", "docs/README.rst"]):
        _append(hooks.project / path, "more\n")
        hooks.build_wheel()
        assert hooks.calls()["build_wheel"] == 2 + n, path


def test_metadata_named_files_are_labelled_relative_to_the_root(project: Path) -> None:
    _set_project_keys(project, 'readme = "./README.md"\nlicense = {file = "COPYING"}\n')
    (project / "README.md").write_text("r\n")
    (project / "COPYING").write_text("c\n")
    (project / ".gitignore").write_text("COPYING\n")  # named by the metadata: read anyway
    labels = _inputs(project, exclude=("*.md",))
    assert "README.md" in labels
    assert "COPYING" in labels


def test_setuptools_dynamic_files_are_inputs(project: Path) -> None:
    _append(
        project / "pyproject.toml",
        '\n[tool.setuptools.dynamic]\nversion = {file = "VERSION.txt"}\ndependencies = {file = ["requirements.txt"]}\n',
    )
    (project / "VERSION.txt").write_text("1.0\n")
    (project / "requirements.txt").write_text("x\n")
    labels = _inputs(project, exclude=("*.txt",))
    assert {"VERSION.txt", "requirements.txt"} <= set(labels)


def test_metadata_naming_missing_files_is_fine(project: Path) -> None:
    _set_project_keys(project, 'readme = "NOPE.md"\nlicense-files = ["NOPE*", "**/NOPE"]\n')
    assert "NOPE.md" not in _inputs(project)
