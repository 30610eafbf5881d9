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


def test_an_edit_rebuilds_only_the_crate_from_the_sdist_copy_and_the_tree(frontends: Frontends, tmp_path: Path) -> None:
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


def test_switching_features_back_after_an_edit_rebuilds_from_old_times(frontends: Frontends, tmp_path: Path) -> None:
    """One target directory holds an artifact per feature set of a library crate, each
    built from the sources of its day.  Under ``python -m build`` every copy's sources
    carry the sdist's fixed 2006 time, so after features off, on, an edit and off again,
    cargo would take the off artifact (built before the edit) as up to date: the wheel
    must have the edit."""
    project = copy_project("maturin_mixed", tmp_path)
    (project / "dep" / "src").mkdir(parents=True)
    (project / "dep" / "Cargo.toml").write_text(
        '[package]\nname = "dep"\nversion = "0.1.0"\nedition = "2021"\n\n[features]\nloud = []\n'
    )
    library = project / "dep" / "src" / "lib.rs"
    library.write_text(
        'pub fn word() -> &\'static str { if cfg!(feature = "loud") { "LOUD v1" } else { "hello v1" } }\n'
    )
    with (project / "Cargo.toml").open("a") as f:
        f.write('dep = { path = "dep" }\n\n[features]\nloud = ["dep/loud"]\n')
    _edit(project / "src" / "lib.rs", '    "hello v1"', "    dep::word()")
    pyproject = project / "pyproject.toml"
    off = pyproject.read_text()
    on = off.replace('features = ["pyo3/extension-module"]', 'features = ["pyo3/extension-module", "loud"]')
    greeting = "__import__('mixed_demo').greeting()"

    assert frontends.run_in_venv(frontends.python_m_build(project), greeting) == "hello v1"
    pyproject.write_text(on)
    assert frontends.run_in_venv(frontends.python_m_build(project), greeting) == "LOUD v1"
    _edit(library, '"LOUD v1" } else { "hello v1"', '"LOUD v2" } else { "hello v2"')
    assert frontends.run_in_venv(frontends.python_m_build(project), greeting) == "LOUD v2"
    pyproject.write_text(off)
    assert frontends.run_in_venv(frontends.python_m_build(project), greeting) == "hello v2"
    assert frontends.compiles(DEPENDENCY) == 1, "the dependencies were built again"


def test_uv_build_after_an_edit_recompiles_only_the_crate_in_the_stable_copy(
    frontends: Frontends, tmp_path: Path
) -> None:
    """``uv build`` builds the wheel in a new temporary copy of the sdist every time: cargo
    knows the project's own crates by their path, so without a stable source path the
    path dependency inside the project and rustc's incremental state were new in every
    copy.  After a one-line edit only the crate compiles, incrementally, and the wheel
    is the plain backend's."""
    from wheelmemo._verify import compare_with_probe

    project = copy_project("maturin_mixed", tmp_path)
    (project / "dep" / "src").mkdir(parents=True)
    (project / "dep" / "Cargo.toml").write_text('[package]\nname = "dep"\nversion = "0.1.0"\nedition = "2021"\n')
    (project / "dep" / "src" / "lib.rs").write_text('pub fn word() -> &\'static str { "hello" }\n')
    with (project / "Cargo.toml").open("a") as f:
        f.write('dep = { path = "dep" }\n\n[profile.release]\nincremental = true\n')
    frontends.uv_build(project)
    assert (frontends.compiles(CRATE), frontends.compiles("--crate-name dep ")) == (1, 1)

    _edit(project / "src" / "lib.rs", '"hello v1"', '"hello v2"')
    wheel = frontends.uv_build(project)
    assert frontends.compiles(CRATE) == 2
    assert frontends.compiles("--crate-name dep ") == 1, "the path dependency was built again"
    assert frontends.compiles(DEPENDENCY) == 1
    (target,) = (frontends.cache_dir / "v1" / "build").glob("*/target")
    assert len(list((target / "release" / "incremental").glob("mixed_demo-*"))) == 1, "new incremental state"

    frontends.extra_env["WHEELMEMO_DISABLE"] = "1"
    frontends.extra_env["CARGO_TARGET_DIR"] = str(tmp_path / "plain-target")
    plain = frontends.uv_build(project)
    diff = compare_with_probe(plain, wheel)
    assert diff.same, diff
