"""Bad configuration is one ``wheelmemo: error:`` line; the inner backend's errors pass through.

These run the hooks the way frontends do, in a subprocess through pyproject-hooks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from pyproject_hooks import BuildBackendHookCaller

from conftest import ROOT, FakeSite, Hooks


def _caller(project: Path, fake_site: FakeSite, extra_env: dict[str, str]) -> BuildBackendHookCaller:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)]), **extra_env}

    def runner(cmd: list[str], cwd: str | None = None, extra_environ: dict[str, str] | None = None) -> None:
        import subprocess

        result = subprocess.run(
            cmd,
            cwd=cwd,
            env={**os.environ, **(extra_environ or {}), **env},
            capture_output=True,
            text=True,
            check=False,
        )
        runner.stderr = result.stderr  # type: ignore[attr-defined]
        if result.returncode:
            raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)

    return BuildBackendHookCaller(str(project), "wheelmemo", runner=runner, python_executable=sys.executable)


def _set_table(project: Path, table: str) -> None:
    text = (project / "pyproject.toml").read_text()
    head = text.split("[tool.wheelmemo]")[0]
    (project / "pyproject.toml").write_text(head + table)


CASES = {
    "missing backend": ("[tool.wheelmemo]\nenv = []\n", "backend is not set"),
    "no table": ("", "backend is not set"),
    "unknown key": (
        '[tool.wheelmemo]\nbackend = "countingbackend"\nbakend-path = []\n',
        "unknown key 'bakend-path' in [tool.wheelmemo] of pyproject.toml: did you mean 'backend-path'?",
    ),
    "wrong type": ('[tool.wheelmemo]\nbackend = ["countingbackend"]\n', "backend (in [tool.wheelmemo]"),
    "wrong list type": ('[tool.wheelmemo]\nbackend = "countingbackend"\nenv = "X"\n', "env (in [tool.wheelmemo]"),
    "unimportable backend": (
        '[tool.wheelmemo]\nbackend = "no_such_backend"\n',
        "backend = 'no_such_backend' cannot be imported",
    ),
    "missing object": ('[tool.wheelmemo]\nbackend = "countingbackend:nope"\n', "has no attribute 'nope'"),
    "bad metadata mode": (
        '[tool.wheelmemo]\nbackend = "countingbackend"\nmetadata = "fast"\n',
        "metadata = 'fast' is not valid",
    ),
    "malformed toml": ('[tool.wheelmemo\nbackend = "countingbackend"\n', "is not valid TOML"),
}


@pytest.mark.parametrize(("table", "message"), list(CASES.values()), ids=list(CASES))
def test_configuration_error_is_one_line(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, table: str, message: str
) -> None:
    _set_table(hooks.project, table)
    caller = _caller(hooks.project, fake_site, {})
    with pytest.raises(Exception) as exc:
        caller.build_wheel(str(tmp_path))
    stderr = exc.value.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("wheelmemo: error: ")
    assert message in lines[0]


def test_unknown_config_settings_key(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    caller = _caller(hooks.project, fake_site, {})
    with pytest.raises(Exception) as exc:
        caller.build_wheel(str(tmp_path), config_settings={"wheelmemo.cache-dri": "/x"})
    assert exc.value.stderr.strip() == (  # type: ignore[attr-defined]
        "wheelmemo: error: unknown key 'cache-dri' in config_settings 'wheelmemo.cache-dri': did you mean 'cache-dir'?"
    )


def test_inner_backend_exception_passes_through(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    caller = _caller(hooks.project, fake_site, {"FAKE_BACKEND_FAIL": "1"})
    with pytest.raises(Exception) as exc:
        caller.build_wheel(str(tmp_path))
    stderr = exc.value.stderr  # type: ignore[attr-defined]
    assert "Traceback" in stderr
    assert "RuntimeError: countingbackend: build failed on purpose" in stderr
    assert "wheelmemo: error" not in stderr


def test_hooks_through_a_real_frontend_process(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    caller = _caller(hooks.project, fake_site, {})
    assert caller.get_requires_for_build_wheel() == ["fake-requirement>=1"]
    for sub in ("m", "w1", "w2"):
        (tmp_path / sub).mkdir()
    meta = caller.prepare_metadata_for_build_wheel(str(tmp_path / "m"))
    first = caller.build_wheel(str(tmp_path / "w1"), metadata_directory=str(tmp_path / "m" / meta))
    second = caller.build_wheel(str(tmp_path / "w2"))
    assert first == second
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "prepare_metadata_for_build_wheel": 1, "build_wheel": 1}
    assert (tmp_path / "w1" / first).read_bytes() == (tmp_path / "w2" / second).read_bytes()


def test_backend_path_outside_the_project_is_one_line(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    """PEP 517: backend-path must not point outside the source tree (its code would not be hashed)."""
    (tmp_path / "elsewhere").mkdir()
    _set_table(hooks.project, '[tool.wheelmemo]\nbackend = "countingbackend"\nbackend-path = ["../elsewhere"]\n')
    caller = _caller(hooks.project, fake_site, {})
    with pytest.raises(Exception) as exc:
        caller.build_wheel(str(tmp_path))
    assert exc.value.stderr.strip() == (  # type: ignore[attr-defined]
        "wheelmemo: error: [tool.wheelmemo] backend-path entry '../elsewhere' points outside the project "
        f"({(tmp_path / 'elsewhere').resolve()}): PEP 517 requires in-tree backends to live in the "
        "source tree; move the backend into the project"
    )
    assert hooks.calls()["build_wheel"] == 0


@pytest.mark.parametrize("value", ["inf", "nan", "1e400", "-1", "", "10Q"])
def test_bad_max_size_is_one_line(hooks: Hooks, fake_site: FakeSite, tmp_path: Path, value: str) -> None:
    for caller, config in (
        (_caller(hooks.project, fake_site, {"WHEELMEMO_MAX_SIZE": value}), None),
        (_caller(hooks.project, fake_site, {}), {"wheelmemo.max-size": value}),
    ):
        with pytest.raises(Exception) as exc:
            caller.build_wheel(str(tmp_path), config_settings=config)
        stderr = exc.value.stderr  # type: ignore[attr-defined]
        assert "Traceback" not in stderr
        assert stderr.count("\n") == 1, stderr
        assert stderr.startswith("wheelmemo: error: max-size (in ")
        assert f'must be a size such as "10G", "500M" or a number of bytes, got {value!r}' in stderr
    assert hooks.calls()["build_wheel"] == 0


def test_pyproject_not_utf8_is_one_line(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    (hooks.project / "pyproject.toml").write_bytes(b"\xff\xfe[tool.wheelmemo]\n")
    caller = _caller(hooks.project, fake_site, {})
    with pytest.raises(Exception) as exc:
        caller.build_wheel(str(tmp_path))
    stderr = exc.value.stderr  # type: ignore[attr-defined]
    assert stderr.count("\n") == 1, stderr
    assert stderr.startswith(f"wheelmemo: error: {hooks.project / 'pyproject.toml'} is not valid TOML/UTF-8 (")
    assert stderr.rstrip().endswith("fix the encoding, TOML files are UTF-8")


def test_missing_mandatory_hook_is_one_line_when_called(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    """A backend without build_sdist builds wheels; asked for an sdist, it is one line."""
    (fake_site.path / "countingbackend_wheelonly.py").write_text(
        "from countingbackend import build_wheel, get_requires_for_build_wheel  # noqa: F401\n"
    )
    _set_table(hooks.project, '[tool.wheelmemo]\nbackend = "countingbackend_wheelonly"\n')
    caller = _caller(hooks.project, fake_site, {})
    (tmp_path / "w").mkdir()
    assert caller.build_wheel(str(tmp_path / "w")) == "fake_project-1.0.0-py3-none-any.whl"
    with pytest.raises(Exception) as exc:
        caller.build_sdist(str(tmp_path))
    assert exc.value.stderr.strip() == (  # type: ignore[attr-defined]
        "wheelmemo: error: backend 'countingbackend_wheelonly' has no build_sdist hook, which PEP 517 "
        "requires of every backend: name a complete backend object, e.g. 'setuptools.build_meta' or "
        "'hatchling.build'"
    )
