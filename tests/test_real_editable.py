"""One compile for uv sync and uv build (seeds 000 and 003), with real frontends.

Each project is copied into a fresh git checkout.  The sequence of the issue runs on
it and the real compiles of the project's own code are counted after each step: the
first `uv sync` compiles once, and nothing after it compiles again.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

from realtools import Frontends, copy_project, tool

pytestmark = pytest.mark.real


class Case(NamedTuple):
    needle: str  # what a real compile of the project's own code logs
    package: str
    module: str  # the module with the compiled greeting()
    package_dir: str  # where the package's sources are in the tree
    native_source: str  # a source file of the compiled part


PROJECTS = {
    "maturin_mixed": Case("--crate-name mixed_demo ", "mixed_demo", "mixed_demo", "python/mixed_demo", "src/lib.rs"),
    "setuptools_cext": Case("_speed.c", "cext_demo", "cext_demo._speed", "src/cext_demo", "src/cext_demo/_speed.c"),
    # the unpacked sdist has no git: its version is in PKG-INFO, its git state the tree's
    "scm_cext": Case("scm_demo/_speed.c", "scm_demo", "scm_demo._speed", "src/scm_demo", "src/scm_demo/_speed.c"),
}


def _greeting(module: str) -> str:
    return f"__import__('importlib').import_module({module!r}).greeting()"


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project, check=True, capture_output=True
    )


def _check_import(frontends: Frontends, python: Path, project: Path, case: Case) -> None:
    code = f"import {case.package}; print({case.package}.__file__); print({_greeting(case.module)})"
    out = frontends.run(str(python), "-c", code, cwd=project.parent).stdout.split("\n")
    assert out[0] == str(project / case.package_dir / "__init__.py"), "sources must be served from the tree"
    assert out[1] == "hello v1"


@pytest.mark.parametrize("name", list(PROJECTS))
def test_one_compile_for_sync_build_and_clean(frontends: Frontends, tmp_path: Path, name: str) -> None:
    case = PROJECTS[name]
    needle, module, package_dir = case.needle, case.package, case.package_dir
    project = copy_project(name, tmp_path)
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "commit", "-qm", "init")
    frontends.extra_env["UV_PYTHON"] = sys.executable
    venv_python = project / ".venv" / "bin" / "python"

    frontends.run(tool("uv"), "sync", cwd=project)
    assert frontends.compiles(needle) == 1
    _check_import(frontends, venv_python, project, case)

    wheel = frontends.uv_build(project)  # sdist, then the wheel from the unpacked sdist
    assert frontends.compiles(needle) == 1, "uv build must reuse the compile of uv sync"
    assert frontends.run_in_venv(wheel, _greeting(case.module)) == "hello v1"
    frontends.uv_build_wheel(project)
    frontends.python_m_build(project)
    assert frontends.compiles(needle) == 1

    # seed 003: the built module deleted from the tree, the venv gone, uv restores from its cache
    subprocess.run(["rm", "-rf", str(project / ".venv")], check=True)
    _git(project, "clean", "-fdxq")
    frontends.run(tool("uv"), "sync", cwd=project)
    _check_import(frontends, venv_python, project, case)
    assert frontends.compiles(needle) == 1

    # pip install -e . and uv pip install -e . into fresh venvs
    for installer in ("pip", "uv pip"):
        venv = tmp_path / f"venv-{installer.replace(' ', '-')}"
        frontends.run(tool("uv"), "venv", "--quiet", "--seed", "--python", sys.executable, str(venv), cwd=tmp_path)
        python = venv / "bin" / "python"
        if installer == "pip":
            frontends.run(str(python), "-m", "pip", "install", "--quiet", "-e", ".", cwd=project)
        else:
            frontends.run(tool("uv"), "pip", "install", "--quiet", "--python", str(python), "-e", ".", cwd=project)
        _check_import(frontends, python, project, case)
    assert frontends.compiles(needle) == 1

    # an edit to a .py file of the package is live at once, without reinstalling
    with open(project / package_dir / "__init__.py", "a") as f:
        f.write("\n\ndef appended():\n    return 'appended'\n")
    out = frontends.run(str(venv_python), "-c", f"import {module}; print({module}.appended())", cwd=tmp_path)
    assert out.stdout.strip() == "appended"
    assert frontends.compiles(needle) == 1

    # an edit to the compiled part's sources: the installed build is stale, import says so once
    with open(project / case.native_source, "a") as f:
        f.write("\n// edited\n")
    out = frontends.run(str(venv_python), "-c", f"import {module}; import {case.module}", cwd=tmp_path)
    assert out.stderr.count("wheelmemo: warning:") == 1
    assert f"{case.native_source} changed since the installed build" in out.stderr


def test_setup_py_only_project_compiles_once(frontends: Frontends, tmp_path: Path) -> None:
    """No [project] table (uv sync needs one): the metadata lives in setup.py alone, and the
    unpacked sdist must still meet the tree's wheel."""
    project = copy_project("setup_only_cext", tmp_path)
    needle = "setup_only_demo/_speed.c"
    tree_wheel = frontends.uv_build_wheel(project)
    assert frontends.compiles(needle) == 1
    from_sdist = frontends.uv_build(project)
    assert frontends.compiles(needle) == 1, "the unpacked sdist must meet the tree's wheel"
    assert from_sdist.read_bytes() == tree_wheel.read_bytes()
    frontends.python_m_build(project)
    frontends.pip_wheel(project)
    assert frontends.compiles(needle) == 1
    assert frontends.run_in_venv(from_sdist, _greeting("setup_only_demo._speed")) == "hello v1"
