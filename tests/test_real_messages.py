"""What a newcomer reads in a real build's log (issue 22's "messages" row)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from realtools import Frontends, copy_project

pytestmark = pytest.mark.real


@pytest.mark.parametrize("frontend", ["uv_build", "python_m_build"])
def test_first_setuptools_build_says_nothing_cached_yet(frontends: Frontends, tmp_path: Path, frontend: str) -> None:
    """Every hook of a project's first build misses because nothing is cached: no reason
    names wheelmemo's own temporary files (setuptools' setup-extra.cfg, a scratch
    directory), which python -m build once stored as an input of get_requires."""
    project = copy_project("setuptools_cext", tmp_path)
    frontends.extra_env["UV_PYTHON"] = sys.executable
    getattr(frontends, frontend)(project)
    lines = [line for line in frontends.last_stderr.splitlines() if line.startswith("wheelmemo:")]
    misses = [line for line in lines if " miss (" in line]
    assert misses and all("miss (nothing cached for this project yet)" in line for line in misses), lines
    assert not [line for line in lines if "setup-extra" in line or "wheelmemo-build-" in line], lines
