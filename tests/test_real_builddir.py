"""The persistent build directory: a miss recompiles what changed, even in the
temporary copy a frontend unpacks an sdist into, and never reuses by timestamp alone.

Compiles are counted per crate: ``mixed_demo`` is the project's, ``pyo3`` a dependency
that only a cold build directory compiles.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from realtools import Frontends, copy_project

pytestmark = pytest.mark.real

CRATE, DEPENDENCY = "--crate-name mixed_demo ", "--crate-name pyo3 "


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_an_edit_rebuilds_only_the_crate_from_the_sdist_copy_and_the_tree(frontends: Frontends,
                                                                          tmp_path: Path) -> None:
    project = copy_project("maturin_mixed", tmp_path)
    frontends.uv_build(project)  # sdist, then the wheel in uv's temporary copy
    assert frontends.compiles(CRATE) == 1
    cold_dependency = frontends.compiles(DEPENDENCY)
    assert cold_dependency == 1

    _edit(project / "src" / "lib.rs", '"hello v1"', '"hello v2"')
    wheel = frontends.uv_build(project)  # another temporary copy, at another path
    assert frontends.compiles(CRATE) == 2
    assert frontends.compiles(DEPENDENCY) == 1, "the dependencies were built again"
    assert frontends.run_in_venv(wheel, "__import__('mixed_demo').greeting()") == "hello v2"

    # from the tree, with no target/ in it: the same build directory
    _edit(project / "src" / "lib.rs", '"hello v2"', '"hello v3"')
    wheel = frontends.uv_build_wheel(project)
    assert not any((project / "target").glob("*/deps")), "cargo built in the tree"
    assert (frontends.compiles(CRATE), frontends.compiles(DEPENDENCY)) == (3, 1)
    assert frontends.run_in_venv(wheel, "__import__('mixed_demo').greeting()") == "hello v3"

    # clean removes build directories with the rest: then it is cold again
    frontends.run(*_wheelmemo(), "clean", cwd=project)
    assert not any((frontends.cache_dir / "v1" / "build").glob("*"))


def _wheelmemo() -> list[str]:
    import sys

    return [sys.executable, "-m", "wheelmemo"]


def test_a_changed_file_with_an_old_time_is_rebuilt(frontends: Frontends, tmp_path: Path) -> None:
    """A file restored with its old modification time (a backup, an archive) and new
    content: cargo would take it as built; the wheel must have the new content."""
    project = copy_project("maturin_mixed", tmp_path)
    source = project / "src" / "lib.rs"
    saved = tmp_path / "lib.rs.v1"
    shutil.copy2(source, saved)  # the v1 file, with its time
    frontends.uv_build_wheel(project)
    _edit(source, '"hello v1"', '"hello v2"')
    frontends.uv_build_wheel(project)
    assert frontends.compiles(CRATE) == 2

    # v3, given v1's old time: older than every build cargo recorded
    source.write_text(saved.read_text().replace('"hello v1"', '"hello v3"'))
    stat = saved.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    wheel = frontends.pip_wheel(project)
    assert frontends.compiles(CRATE) == 3
    assert frontends.run_in_venv(wheel, "__import__('mixed_demo').greeting()") == "hello v3"

    # and v1 itself, restored with its old time: the first wheel, from the cache
    shutil.copy2(saved, source)
    wheel = frontends.uv_build_wheel(project)
    assert frontends.compiles(CRATE) == 3
    assert frontends.run_in_venv(wheel, "__import__('mixed_demo').greeting()") == "hello v1"
