"""Real projects through real frontends, with real compiles counted.

The second build of an unchanged project compiles nothing under any frontend; after an
edit exactly one more compile happens and the installed wheel shows the edit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from realtools import Frontends, copy_project, wheel_members

pytestmark = pytest.mark.real


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _wheel_entries(frontends: Frontends) -> int:
    records = (frontends.cache_dir / "v1" / "entries").rglob("*.json")
    return sum(json.loads(p.read_text())["kind"] == "wheel" for p in records)


def test_maturin_pyo3_mixed_project(frontends: Frontends, tmp_path: Path) -> None:
    project = copy_project("maturin_mixed", tmp_path)
    crate = "--crate-name mixed_demo "
    cold = frontends.uv_build_wheel(project)
    assert frontends.compiles(crate) == 1
    assert frontends.run_in_venv(cold, "__import__('mixed_demo').greeting()") == "hello v1"

    again = [frontends.uv_build_wheel(project), frontends.pip_wheel(project), frontends.python_m_build_wheel(project)]
    assert frontends.compiles(crate) == 1, "a hit must compile nothing, under every frontend"
    for wheel in again:
        assert wheel.name == cold.name
        assert wheel.read_bytes() == cold.read_bytes()

    _edit(project / "src" / "lib.rs", '"hello v1"', '"hello v2"')
    edited = frontends.pip_wheel(project)
    assert frontends.compiles(crate) == 2
    assert frontends.run_in_venv(edited, "__import__('mixed_demo').greeting()") == "hello v2"
    frontends.uv_build_wheel(project)
    frontends.python_m_build_wheel(project)
    assert frontends.compiles(crate) == 2

    _edit(project / "python" / "mixed_demo" / "__init__.py", '"pure v1"', '"pure v2"')
    pure_edit = frontends.uv_build_wheel(project)
    assert frontends.run_in_venv(pure_edit, "__import__('mixed_demo').pure()") == "pure v2"


def test_setuptools_c_extension(frontends: Frontends, tmp_path: Path) -> None:
    project = copy_project("setuptools_cext", tmp_path)
    source = "_speed.c"
    cold = frontends.pip_wheel(project)
    assert frontends.compiles(source) == 1
    assert frontends.run_in_venv(cold, "__import__('cext_demo._speed').greeting()") == "hello v1"

    again = [frontends.pip_wheel(project), frontends.uv_build_wheel(project), frontends.python_m_build_wheel(project)]
    assert frontends.compiles(source) == 1
    for wheel in again:
        assert wheel.read_bytes() == cold.read_bytes()

    _edit(project / "src" / "cext_demo" / "_speed.c", '"hello v1"', '"hello v2"')
    edited = frontends.uv_build_wheel(project)
    assert frontends.compiles(source) == 2
    assert frontends.run_in_venv(edited, "__import__('cext_demo._speed').greeting()") == "hello v2"

    assert _wheel_entries(frontends) == 2
    frontends.extra_env["CFLAGS"] = "-O1"
    frontends.uv_build_wheel(project)
    # a keyed variable changed: wheelmemo calls setuptools again (which may itself reuse
    # its build/ directory: setuptools does not track CFLAGS, with or without wheelmemo)
    assert _wheel_entries(frontends) == 3


def test_hatchling_pure_project(frontends: Frontends, tmp_path: Path) -> None:
    project = copy_project("hatch_pure", tmp_path)
    first = frontends.uv_build_wheel(project)
    second = frontends.pip_wheel(project)
    third = frontends.python_m_build_wheel(project)
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()
    entries = list((frontends.cache_dir / "v1" / "entries").rglob("*.json"))
    # one wheel built, one get_requires answer; pip's metadata came from that wheel;
    # each declared key lists its results in a manifest
    kinds = sorted(json.loads(p.read_text())["kind"] for p in entries)
    assert kinds == ["manifest"] * 3 + ["metadata-wheel", "requires-wheel", "wheel"]
    _edit(project / "src" / "pure_demo" / "__init__.py", '"pure v1"', '"pure v2"')
    edited = frontends.uv_build_wheel(project)
    assert frontends.run_in_venv(edited, "__import__('pure_demo').pure()") == "pure v2"
    assert wheel_members(edited) != wheel_members(first)


def test_hatchling_edits_of_files_it_never_read_are_hits(frontends: Frontends, tmp_path: Path) -> None:
    """Narrow inputs: hatchling opens only what it ships (and pyproject.toml) and runs no
    other process, so editing the tests or the docs needs no build; any other edit does."""
    frontends.extra_env["WHEELMEMO_NARROW"] = "1"  # opted in: the default is off
    project = copy_project("hatch_pure", tmp_path)
    for rel in ("docs/guide.md", "tests/test_pure.py"):
        (project / rel).parent.mkdir()
        (project / rel).write_text("first\n")
    first = frontends.uv_build_wheel(project)
    (project / "docs" / "guide.md").write_text("edited\n")
    (project / "tests" / "test_pure.py").write_text("edited\n")
    assert frontends.uv_build_wheel(project).read_bytes() == first.read_bytes()
    assert "build_wheel hit" in frontends.last_stderr
    assert frontends.pip_wheel(project).read_bytes() == first.read_bytes()

    def wheels() -> int:
        entries = (frontends.cache_dir / "v1" / "entries").rglob("*.json")
        return sum(json.loads(p.read_text())["kind"] == "wheel" for p in entries)

    assert wheels() == 1
    _edit(project / "src" / "pure_demo" / "__init__.py", '"pure v1"', '"pure v2"')
    edited = frontends.uv_build_wheel(project)
    assert "build_wheel miss" in frontends.last_stderr
    assert frontends.run_in_venv(edited, "__import__('pure_demo').pure()") == "pure v2"
    assert wheels() == 2


def test_wheelmemo_packages_itself(frontends: Frontends, tmp_path: Path) -> None:
    from realtools import ROOT, tool

    out = tmp_path / "self"
    frontends.run(tool("uv"), "build", "--out-dir", str(out), str(ROOT), cwd=tmp_path)
    sdist = next(out.glob("wheelmemo-*.tar.gz"))
    wheel = next(out.glob("wheelmemo-*.whl"))
    from wheelmemo import __version__

    assert frontends.run_in_venv(wheel, "__import__('wheelmemo').__version__") == __version__
    members = wheel_members(wheel)
    assert "wheelmemo/py.typed" in members
    assert "wheelmemo/_memo.py" in members
    assert sdist.name == f"wheelmemo-{__version__}.tar.gz"
