"""The dev loop as meson-python and scikit-build-core users meet it (issue 11): uv sync
and uv build on projects that do not commit uv.lock, an edit of a meson.build below the
root, the import warning and the command it names, explain before init.  Compiles
counted by the CC shim."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from realtools import Frontends, copy_project, tool

pytestmark = pytest.mark.real

SOURCE = "_speed.c"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_meson_python_sync_build_edit_warn_rebuild(frontends: Frontends, tmp_path: Path) -> None:
    project = copy_project("meson_cext", tmp_path)
    frontends.extra_env["UV_PYTHON"] = sys.executable
    python = project / ".venv" / "bin" / "python"
    greeting = "import meson_demo; print(meson_demo.greeting())"

    def wheelmemo(*args: str) -> subprocess.CompletedProcess[str]:
        return frontends.run(sys.executable, "-m", "wheelmemo", *args, cwd=project)

    # item 4: explain on a project that does not build through wheelmemo points to init
    not_adopted = subprocess.run(
        [sys.executable, "-m", "wheelmemo", "explain"],
        cwd=project,
        env=frontends.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert not_adopted.returncode == 2
    assert "'mesonpy'" in not_adopted.stderr and "wheelmemo init" in not_adopted.stderr

    wheelmemo("init")
    for git in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init"]):
        frontends.run("git", *git, cwd=project)  # meson dist packs what git tracks
    keys = (project / "pyproject.toml").read_text()
    assert '{file = "src/**/meson.build"}' in keys and '{file = "meson.build"}' in keys

    # item 3: the sdist is made once for a tree; item 1: uv.lock, which uv sync writes, is no input
    frontends.uv_build(project)
    assert frontends.compiles(SOURCE) == 1
    frontends.uv_build(project)
    assert "build_sdist hit" in frontends.last_stderr
    assert frontends.compiles(SOURCE) == 1
    assert not (project / "uv.lock").exists()
    frontends.run(tool("uv"), "sync", cwd=project)
    assert (project / "uv.lock").exists()
    assert frontends.compiles(SOURCE) == 1, "uv.lock made the cached wheel miss"
    assert frontends.run(str(python), "-c", greeting, cwd=tmp_path).stdout.strip() == "hello v1"

    # item 2: an edit of src/meson_demo/meson.build warns at import, and the command the
    # warning names rebuilds it
    _edit(project / "src" / "meson_demo" / "meson.build", "hello v1", "hello v2")
    stale = frontends.run(str(python), "-c", greeting, cwd=tmp_path)
    assert "src/meson_demo/meson.build changed since the installed build" in stale.stderr
    assert "uv sync --reinstall-package meson-demo" in stale.stderr
    frontends.run(tool("uv"), "sync", cwd=project)  # the cache-keys init wrote see it
    assert frontends.compiles(SOURCE) == 2
    fresh = frontends.run(str(python), "-c", greeting, cwd=tmp_path)
    assert (fresh.stdout.strip(), fresh.stderr) == ("hello v2", "")


def test_scikit_build_core_uv_sync_after_uv_build_compiles_nothing(frontends: Frontends, tmp_path: Path) -> None:
    """Where the uv.lock miss was seen (27 C/C++ files compiled again)."""
    project = copy_project("skbuild_cext", tmp_path)
    frontends.extra_env["UV_PYTHON"] = sys.executable
    frontends.run(sys.executable, "-m", "wheelmemo", "init", cwd=project)
    frontends.uv_build_wheel(project)
    assert frontends.compiles(SOURCE) == 1
    frontends.run(tool("uv"), "sync", cwd=project)
    assert (project / "uv.lock").exists()
    assert frontends.compiles(SOURCE) == 1
    python = project / ".venv" / "bin" / "python"
    out = frontends.run(str(python), "-c", "import _speed; print(_speed.greeting())", cwd=tmp_path)
    assert out.stdout.strip() == "hello v1"
