"""Running real frontends (uv, pip, build) on real projects, counting real compiler runs.

Frontends build in isolated environments, so they install wheelmemo like any build
requirement: from a wheel of this checkout, found through ``PIP_FIND_LINKS`` and
``UV_FIND_LINKS``.  Compiles are counted by the shims in ``tests/shims``
(``RUSTC_WRAPPER`` and ``CC``), which log one line per real compile.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent
SHIMS = HERE / "shims"


def tool(name: str) -> str:
    """A tool from this interpreter's environment (nox's venv), else from PATH."""
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run the suite through nox (README)")
    return found


def build_wheelhouse(dest: Path, uv_cache: Path) -> Path:
    """A wheel of this checkout, for the frontends' isolated build environments."""
    dest.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [tool("uv"), "build", "--wheel", "--out-dir", str(dest), str(ROOT)],
        check=True,
        capture_output=True,
        env={**os.environ, "UV_CACHE_DIR": str(uv_cache)},
    )
    return dest


@dataclass
class Frontends:
    """Runs frontends with a private cache and compile log for one test."""

    wheelhouse: Path
    uv_cache: Path
    work: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    #: variables left out (the compile-counting shims, where a test wants sccache's own)
    dropped: tuple[str, ...] = ()
    #: what the last command printed on stderr (its end), for assertion messages
    last_stderr: str = ""

    @property
    def compile_log(self) -> Path:
        return self.work / "compiles.log"

    @property
    def cache_dir(self) -> Path:
        return self.work / "wheelmemo-cache"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WHEELMEMO_", "PIP_", "UV_"))}
        env.pop("VIRTUAL_ENV", None)
        env.update(
            PIP_FIND_LINKS=str(self.wheelhouse),
            UV_FIND_LINKS=str(self.wheelhouse),
            UV_CACHE_DIR=str(self.uv_cache),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            WHEELMEMO_CACHE_DIR=str(self.cache_dir),
            WHEELMEMO_TEST_COMPILE_LOG=str(self.compile_log),
            RUSTC_WRAPPER=str(SHIMS / "rustc_wrapper"),
            CC=str(SHIMS / "cc_wrapper"),
            # one interpreter path for pyo3 in every isolated env (pyo3#6113): faster misses
            MATURIN_PEP517_USE_BASE_PYTHON="1",
        )
        env.update(self.extra_env)
        for name in self.dropped:
            env.pop(name, None)
        return env

    def run(self, *cmd: str, cwd: Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            cmd, cwd=cwd, env=self.env(), capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
        )
        self.last_stderr = result.stderr[-6000:]
        if result.returncode:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
            )
        return result

    def compiles(self, needle: str) -> int:
        """Real compiles so far whose command line contains ``needle``."""
        if not self.compile_log.exists():
            return 0
        return sum(needle in line for line in self.compile_log.read_text().splitlines())

    # -- the frontends: each returns the wheel it built, alone in a fresh directory
    def _out(self, label: str) -> Path:
        n = len(list(self.work.glob(f"out-{label}-*")))
        out = self.work / f"out-{label}-{n}"
        out.mkdir(parents=True)
        return out

    @staticmethod
    def _one_wheel(out: Path) -> Path:
        (wheel,) = out.glob("*.whl")
        return wheel

    def uv_build_wheel(self, project: Path) -> Path:
        out = self._out("uv")
        self.run(tool("uv"), "build", "--wheel", "--out-dir", str(out), cwd=project)
        return self._one_wheel(out)

    def uv_build(self, project: Path) -> Path:
        """sdist, then the wheel from the unpacked sdist (uv build without flags)."""
        out = self._out("uvsdist")
        self.run(tool("uv"), "build", "--out-dir", str(out), cwd=project)
        return self._one_wheel(out)

    def pip_wheel(self, project: Path) -> Path:
        out = self._out("pip")
        self.run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), ".", cwd=project)
        return self._one_wheel(out)

    def python_m_build_wheel(self, project: Path) -> Path:
        out = self._out("build")
        self.run(sys.executable, "-m", "build", "--wheel", "--outdir", str(out), ".", cwd=project)
        return self._one_wheel(out)

    def python_m_build(self, project: Path) -> Path:
        """sdist, then the wheel from the unpacked sdist (python -m build without flags)."""
        out = self._out("buildsdist")
        self.run(sys.executable, "-m", "build", "--outdir", str(out), ".", cwd=project)
        return self._one_wheel(out)

    def run_in_venv(self, wheel: Path, code: str) -> str:
        """Install ``wheel`` into a fresh venv and print what ``code`` evaluates to."""
        venv = self._out("venv")
        self.run(tool("uv"), "venv", "--quiet", "--python", sys.executable, str(venv / "env"), cwd=self.work)
        python = venv / "env" / "bin" / "python"
        self.run(tool("uv"), "pip", "install", "--quiet", "--python", str(python), str(wheel), cwd=self.work)
        return self.run(str(python), "-c", f"print({code})", cwd=venv).stdout.strip()


def copy_project(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(
        HERE / "packages" / name, target, ignore=shutil.ignore_patterns("target", "build", "*.egg-info", "*.so", "dist")
    )
    return target


def wheel_members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as zf:
        return {name: zf.read(name) for name in zf.namelist()}
