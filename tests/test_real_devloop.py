"""The dev loop of a maturin project adopted with `wheelmemo init` (seeds 002 and 000).

One fresh copy of the mixed Rust/Python project, taken through the issue's sequence
with real uv, real cargo, and the real `wheelmemo` command; compiles counted exactly.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from realtools import Frontends, copy_project, tool

pytestmark = pytest.mark.real
CRATE = "--crate-name mixed_demo "


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    time.sleep(0.01)


def _plain(project: Path) -> None:
    """Back to plain maturin, as a project is before it adopts wheelmemo."""
    text = (project / "pyproject.toml").read_text()
    text = text.replace('requires = ["wheelmemo", "maturin>=1.7,<2"]', 'requires = ["maturin>=1.7,<2"]')
    text = text.replace('build-backend = "wheelmemo"', 'build-backend = "maturin"')
    (project / "pyproject.toml").write_text(text.split("[tool.wheelmemo]")[0])


def test_init_sync_edit_warn_rebuild_explain_stats_export_prune(frontends: Frontends, tmp_path: Path) -> None:
    project = copy_project("maturin_mixed", tmp_path)
    _plain(project)
    frontends.extra_env["UV_PYTHON"] = sys.executable
    python = project / ".venv" / "bin" / "python"
    greeting = "import mixed_demo; print(mixed_demo.greeting())"

    def wheelmemo(*args: str) -> subprocess.CompletedProcess[str]:
        return frontends.run(sys.executable, "-m", "wheelmemo", *args, cwd=project)

    wheelmemo("init")
    assert 'build-backend = "wheelmemo"' in (project / "pyproject.toml").read_text()
    wheelmemo("init", "--check")

    frontends.run(tool("uv"), "sync", cwd=project)
    assert frontends.compiles(CRATE) == 1
    assert frontends.run(str(python), "-c", greeting, cwd=tmp_path).stdout.strip() == "hello v1"

    # seed 002: a Rust edit is rebuilt by uv sync, with no hand-written cache-keys
    lib = project / "src" / "lib.rs"
    _edit(lib, '"hello v1"', '"hello v2"')
    frontends.run(tool("uv"), "sync", cwd=project)
    assert frontends.compiles(CRATE) == 2
    assert frontends.run(str(python), "-c", greeting, cwd=tmp_path).stdout.strip() == "hello v2"

    # edited again without syncing: the import warns, naming the file
    _edit(lib, '"hello v2"', '"hello v3"')
    stale = frontends.run(str(python), "-c", greeting, cwd=tmp_path)
    assert stale.stdout.strip() == "hello v2"
    assert "src/lib.rs changed since the installed build" in stale.stderr

    # from a subdirectory, as uv and git find their project; exit 1: the next build would miss
    done = subprocess.run(
        [sys.executable, "-m", "wheelmemo", "explain"],
        cwd=lib.parent,
        env=frontends.env(),
        capture_output=True,
        text=True,
        check=False,
    )
    explained = done.stdout
    assert done.returncode == 1, done.stderr
    assert "build_wheel: would miss" in explained
    assert "src/lib.rs changed" in explained

    # with rebuild on, the import rebuilds (through the cache) and returns the new behaviour
    frontends.extra_env["WHEELMEMO_EDITABLE_REBUILD"] = "1"
    rebuilt = frontends.run(str(python), "-c", greeting, cwd=tmp_path)
    del frontends.extra_env["WHEELMEMO_EDITABLE_REBUILD"]
    assert rebuilt.stdout.strip() == "hello v3", rebuilt.stderr
    assert frontends.compiles(CRATE) == 3
    assert frontends.run(str(python), "-c", greeting, cwd=tmp_path).stderr == ""

    # export: the cached wheel of the current state, byte for byte what uv build --wheel gives next
    exported = Path(wheelmemo("export", "-o", str(tmp_path / "exported")).stdout.strip())
    built = frontends.uv_build_wheel(project)
    assert frontends.compiles(CRATE) == 3
    assert exported.read_bytes() == built.read_bytes()

    # stats: three wheels were built (three compiles) and one was served
    stats = json.loads(wheelmemo("stats", "--json").stdout)["projects"]["mixed-demo"]["kinds"]
    assert stats["wheel"] == {"hits": 1, "misses": 3}

    # prune under a limit while a build of a new state runs
    _edit(lib, '"hello v3"', '"hello v4"')
    out = tmp_path / "concurrent"
    build = subprocess.Popen(
        [tool("uv"), "build", "--wheel", "--out-dir", str(out)],
        cwd=project,
        env=frontends.env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    size_before = sum(p.stat().st_size for p in (frontends.cache_dir / "v1" / "blobs").glob("*/*"))
    limit = size_before // 2
    pruned = wheelmemo("prune", "--max-size", str(limit)).stdout
    assert pruned.startswith("wheelmemo: removed ")
    assert sum(p.stat().st_size for p in (frontends.cache_dir / "v1" / "blobs").glob("*/*")) <= limit
    _, err = build.communicate(timeout=600)
    assert build.returncode == 0, err
    (wheel,) = out.glob("*.whl")
    assert frontends.run_in_venv(wheel, "__import__('mixed_demo').greeting()") == "hello v4"
