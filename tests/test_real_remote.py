"""Two machines share one remote, through real frontends, real servers and real compiles.

Each machine is a cache directory and a checkout of the maturin example at a path of
its own; the remote is nginx's WebDAV module or an S3 server (moto), started on
127.0.0.1 by the fixtures in ``servers.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from realtools import Frontends, copy_project

pytestmark = pytest.mark.real

CRATE = "--crate-name mixed_demo "


def _machine(
    name: str, tmp_path: Path, wheelhouse: Path, uv_cache: Path, env: dict[str, str]
) -> tuple[Frontends, Path]:
    work = tmp_path / f"machine-{name}"
    project = copy_project("maturin_mixed", work / "checkout")
    return Frontends(wheelhouse=wheelhouse, uv_cache=uv_cache, work=work, extra_env=dict(env)), project


def _objects(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_two_machines_share_a_webdav_remote(webdav: Any, tmp_path: Path, wheelhouse: Path, uv_cache: Path) -> None:
    env = {"WHEELMEMO_REMOTE": webdav.url("team"), "WHEELMEMO_REMOTE_TOKEN": "ci-writer"}
    a, project_a = _machine("a", tmp_path, wheelhouse, uv_cache, env)
    b, project_b = _machine("b", tmp_path, wheelhouse, uv_cache, env)

    built = a.uv_build_wheel(project_a)
    assert a.compiles(CRATE) == 1
    uploaded = _objects(webdav.root / "team")
    assert any(name.startswith("v1/cas/") for name in uploaded)

    fetched = b.uv_build_wheel(project_b)
    assert b.compiles(CRATE) == 0, "machine B takes A's wheel from the remote"
    assert fetched.read_bytes() == built.read_bytes()
    assert b.run_in_venv(fetched, "__import__('mixed_demo').greeting()") == "hello v1"
    again = b.pip_wheel(project_b)  # now from B's own cache
    assert b.compiles(CRATE) == 0 and again.read_bytes() == built.read_bytes()

    # B, read-only, with a change: builds it, uploads nothing
    b.extra_env["WHEELMEMO_REMOTE_READ_ONLY"] = "1"
    _edit(project_b / "src" / "lib.rs", '"hello v1"', '"hello v2"')
    changed = b.uv_build_wheel(project_b)
    assert b.compiles(CRATE) == 1
    assert b.run_in_venv(changed, "__import__('mixed_demo').greeting()") == "hello v2"
    assert _objects(webdav.root / "team") == uploaded


def test_an_s3_remote_through_isolated_build_environments(
    s3: Any, tmp_path: Path, wheelhouse: Path, uv_cache: Path
) -> None:
    """The project lists plain ``wheelmemo``: the S3 client reaches the build
    environments through ``get_requires_for_build_wheel``."""
    env = {"WHEELMEMO_REMOTE": s3.url("team"), **s3.environ}
    a, project_a = _machine("a", tmp_path, wheelhouse, uv_cache, env)
    b, project_b = _machine("b", tmp_path, wheelhouse, uv_cache, env)
    built = a.uv_build_wheel(project_a)
    assert a.compiles(CRATE) == 1
    fetched = b.python_m_build_wheel(project_b)
    assert b.compiles(CRATE) == 0, b.last_stderr
    assert fetched.read_bytes() == built.read_bytes()
