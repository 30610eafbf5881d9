"""Shared by demo.py and bench.py: run `uv build --wheel` on an example, timed, compiles counted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHIMS = ROOT / "tests" / "shims"
EXAMPLES = {"maturin-pyo3": "--crate-name maturin_pyo3_example ", "setuptools-cext": ".c "}


def tool(name: str) -> str:
    local = Path(sys.executable).parent / name
    found = str(local) if local.exists() else shutil.which(name)
    if found is None:
        sys.exit(f"{name} is not installed: run this through nox (see README.md)")
    return found


@dataclass
class Run:
    seconds: float
    compiles: int
    stderr: str
    #: compiles counted with the ``count`` needles of ``Workspace.uv_build``
    counts: dict[str, int] = field(default_factory=dict)


class Workspace:
    """A private wheelmemo cache, cargo target dir and compile log for one demo or bench."""

    def __init__(self, directory: Path | None = None) -> None:
        """In a new temporary directory, or in ``directory`` (made, removed by ``close``)."""
        if directory is not None:
            directory.mkdir(parents=True)
        self.dir = directory or Path(tempfile.mkdtemp(prefix="wheelmemo-demo-"))
        self.log = self.dir / "compiles.log"
        #: more variables for the builds (a remote cache)
        self.extra_env: dict[str, str] = {}
        #: False: leave ``CARGO_TARGET_DIR`` unset, so that wheelmemo's own persistent
        #: build directory (or maturin's ``target/``) is what cargo uses
        self.cargo_target_dir = True
        #: False: no ``RUSTC_WRAPPER``/``CC`` shims (a compiler cache that wheelmemo sets
        #: must not meet a user's own wrapper, which wins); compiles are then not counted
        self.shims = True

    def env(self, cache: bool = True) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WHEELMEMO_")}
        env.pop("VIRTUAL_ENV", None)
        env.pop("CARGO_TARGET_DIR", None)
        env["WHEELMEMO_CACHE_DIR"] = str(self.dir / "cache")
        if self.shims:
            env.update(RUSTC_WRAPPER=str(SHIMS / "rustc_wrapper"), CC=str(SHIMS / "cc_wrapper"),
                       WHEELMEMO_TEST_COMPILE_LOG=str(self.log))
        else:
            for name in ("RUSTC_WRAPPER", "CC", "CXX"):
                env.pop(name, None)
        if self.cargo_target_dir:
            env["CARGO_TARGET_DIR"] = str(self.dir / "target")
        env.update(self.extra_env)
        if not cache:
            env["WHEELMEMO_DISABLE"] = "1"
        return env

    def compiles(self, needle: str) -> int:
        if not self.log.exists():
            return 0
        return sum(needle in line for line in self.log.read_text().splitlines())

    def uv_build_wheel(self, project: Path, needle: str = "\0", cache: bool = True) -> Run:
        return self.uv_build(project, needle, cache)

    def uv_build(self, project: Path, needle: str = "\0", cache: bool = True, wheel_only: bool = True,
                 count: tuple[str, ...] = ()) -> Run:
        """``uv build --wheel`` (``wheel_only``) or ``uv build``: an sdist, then a wheel
        built from it in uv's temporary copy; compiles of ``needle`` and of each of
        ``count`` (in ``Run.counts``) counted."""
        out = Path(tempfile.mkdtemp(dir=self.dir, prefix="out-"))
        needles = (needle, *count)
        before = {n: self.compiles(n) for n in needles}
        start = time.perf_counter()
        result = subprocess.run(
            [tool("uv"), "build", *(["--wheel"] if wheel_only else []), "--out-dir", str(out), str(project)],
            env=self.env(cache), capture_output=True, text=True, check=False, stdin=subprocess.DEVNULL,
        )
        seconds = time.perf_counter() - start
        shutil.rmtree(out, ignore_errors=True)
        if result.returncode:
            sys.exit(f"uv build failed for {project}:\n{result.stderr[-5000:]}")
        lines = [line for line in result.stderr.splitlines() if line.startswith(("wheelmemo:", "sccache:"))]
        after = {n: self.compiles(n) for n in needles}
        return Run(seconds, after[needle] - before[needle], "\n".join(lines),
                   {n: after[n] - before[n] for n in count})

    def clean(self, project: Path) -> None:
        """Remove in-tree build outputs so that a cold build is really cold."""
        shutil.rmtree(project / "build", ignore_errors=True)
        shutil.rmtree(project / "target", ignore_errors=True)
        shutil.rmtree(self.dir / "target", ignore_errors=True)
        shutil.rmtree(self.dir / "cache", ignore_errors=True)
        for egg in project.rglob("*.egg-info"):
            shutil.rmtree(egg, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
