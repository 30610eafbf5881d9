"""Never stale under ``--no-build-isolation``: ``setup.py`` imports an optional
accelerator when it is installed, and builds differently with it.

Real pip and setuptools in a real virtual environment.  The accelerator is a wheel
without ``top_level.txt`` (as hatchling and flit build them) under a distribution name
that is not its module's: installing, uninstalling and upgrading it are misses, and
each state found again is a hit (wheelmemo's own statistics count them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

import pytest

from realtools import Frontends, tool, wheel_members

pytestmark = pytest.mark.real

SETUP_PY = """\
import os

from setuptools import setup
from setuptools.command.build_py import build_py

try:
    import fastaccel
    FLAVOR = fastaccel.VALUE
except ImportError:
    FLAVOR = "plain"


class BuildPy(build_py):
    def run(self):
        super().run()
        with open(os.path.join(self.build_lib, "accel_demo", "_flavor.py"), "w") as f:
            f.write(f"FLAVOR = {FLAVOR!r}\\n")


setup(cmdclass={"build_py": BuildPy})
"""

PYPROJECT = """\
[build-system]
requires = ["wheelmemo", "setuptools>=64"]
build-backend = "wheelmemo"

[project]
name = "accel-demo"
version = "1.0"

[tool.setuptools]
packages = ["accel_demo"]

[tool.wheelmemo]
backend = "setuptools.build_meta"
"""


def _accelerator_wheel(dest: Path, version: str) -> Path:
    """fast-accel-lib providing the module fastaccel, with RECORD and no top_level.txt."""
    info = f"fast_accel_lib-{version}.dist-info"
    files = {
        "fastaccel/__init__.py": f"VALUE = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: fast-accel-lib\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = dest / f"fast_accel_lib-{version}-py3-none-any.whl"
    if wheel.exists():  # the same file again: uv's RECORD lists its uv_cache.json, made of the file's time
        return wheel
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, text in files.items():  # fixed times: the same wheel, the same RECORD installed
            zf.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return wheel


def test_pip_wheel_no_build_isolation_with_an_optional_accelerator(frontends: Frontends, tmp_path: Path) -> None:
    env = tmp_path / "env"
    frontends.run(tool("uv"), "venv", "--quiet", "--seed", "--python", sys.executable, str(env), cwd=tmp_path)
    python = str(env / "bin" / "python")
    frontends.run(
        tool("uv"), "pip", "install", "--quiet", "--python", python, "setuptools>=64", "wheelmemo", cwd=tmp_path
    )
    project = tmp_path / "accel-demo"
    (project / "accel_demo").mkdir(parents=True)
    (project / "accel_demo" / "__init__.py").write_text("")
    (project / "setup.py").write_text(SETUP_PY)
    (project / "pyproject.toml").write_text(PYPROJECT)
    wheels = tmp_path / "accelerators"
    wheels.mkdir()
    seen = {"hits": 0, "misses": 0}
    failures: list[str] = []

    def accelerator(version: str | None) -> None:
        if version is None:
            frontends.run(tool("uv"), "pip", "uninstall", "--quiet", "--python", python, "fast-accel-lib", cwd=tmp_path)
        else:
            frontends.run(
                tool("uv"),
                "pip",
                "install",
                "--quiet",
                "--python",
                python,
                str(_accelerator_wheel(wheels, version)),
                cwd=tmp_path,
            )

    def build(step: str, flavor: str, outcome: str) -> None:
        out = tmp_path / f"out-{len(list(tmp_path.glob('out-*')))}"
        frontends.run(
            python, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "-w", str(out), ".", cwd=project
        )
        (wheel,) = out.glob("*.whl")
        got = wheel_members(wheel)["accel_demo/_flavor.py"].decode()
        if got != f"FLAVOR = {flavor!r}\n":
            failures.append(f"{step}: the wheel has {got.strip()}, want FLAVOR = {flavor!r}")
        stats = json.loads(frontends.run(python, "-m", "wheelmemo", "stats", "--json", cwd=tmp_path).stdout)
        kinds = stats["projects"].get("accel-demo", {}).get("kinds", {})
        now = {k: int(kinds.get("wheel", {}).get(k, 0)) for k in ("hits", "misses")}
        delta = (
            "hit"
            if now["hits"] - seen["hits"] == 1 and now["misses"] == seen["misses"]
            else (
                "miss" if now["misses"] - seen["misses"] == 1 and now["hits"] == seen["hits"] else f"{now} after {seen}"
            )
        )
        seen.update(now)
        if delta != outcome:
            failures.append(f"{step}: {delta}, want {outcome}")

    accelerator("1.0")
    build("installed", "1.0", "miss")
    accelerator(None)
    build("uninstalled", "plain", "miss")
    build("again", "plain", "hit")
    accelerator("1.0")
    build("reinstalled", "1.0", "hit")
    accelerator("2.0")
    build("upgraded", "2.0", "miss")
    accelerator(None)
    build("uninstalled again", "plain", "hit")
    if failures:
        pytest.fail("\n".join(failures))
