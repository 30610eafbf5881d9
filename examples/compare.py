"""The one-compile sequence of uv sync and uv build, through wheelmemo and without it.

For each example, in a fresh git checkout of a copy: uv sync, uv build (sdist then
wheel), uv build --wheel, python -m build, then rm -rf .venv + git clean -fdx + uv sync
and an import.  Each step's seconds and real compiles of the example's own code are
printed for the project as it is (through wheelmemo) and with its plain backend.
Run it as ``nox -s compare``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import EXAMPLES, HERE, ROOT, Workspace, tool

IMPORTS = {"maturin-pyo3": "maturin_pyo3_example", "setuptools-cext": "setuptools_cext_example"}


def _prepare(name: str, dest: Path, plain: bool) -> Path:
    project = dest / name
    shutil.copytree(HERE / name, project, ignore=shutil.ignore_patterns("target", "build", "*.egg-info", "*.so"))
    text = (project / "pyproject.toml").read_text()
    text = re.sub(r"\n# Take wheelmemo from this checkout.*?\n\[tool\.uv\.sources\]\nwheelmemo = .*?\n", "\n",
                  text, flags=re.DOTALL)
    if plain:
        inner = re.search(r'^backend = "(.+)"$', text, flags=re.MULTILINE)
        assert inner is not None
        text = text.replace('build-backend = "wheelmemo"', f'build-backend = "{inner.group(1)}"')
        text = text.replace('"wheelmemo", ', "")
    (project / "pyproject.toml").write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", "-c", "user.name=d", "-c", "user.email=d@d", *args], cwd=project, check=True)
    return project


def _sequence(work: Workspace, project: Path, needle: str, module: str, env: dict[str, str]) -> list[str]:
    cells = []

    def step(*cmd: str) -> None:
        before = work.compiles(needle)
        start = time.perf_counter()
        result = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, check=False)
        if result.returncode:
            sys.exit(f"{' '.join(cmd)} failed:\n{result.stderr[-3000:]}")
        cells.append(f"{time.perf_counter() - start:.1f} s, {work.compiles(needle) - before}")

    out = Path(tempfile.mkdtemp(dir=work.dir))
    step(tool("uv"), "sync")
    step(tool("uv"), "build", "--out-dir", str(out / "a"))
    step(tool("uv"), "build", "--wheel", "--out-dir", str(out / "b"))
    step(sys.executable, "-m", "build", "--outdir", str(out / "c"), ".")
    shutil.rmtree(project / ".venv")
    subprocess.run(["git", "clean", "-fdxq"], cwd=project, check=True)
    step(tool("uv"), "sync")
    check = subprocess.run([str(project / ".venv" / "bin" / "python"), "-c", f"import {module}"],
                           env=env, capture_output=True, text=True, check=False)
    cells.append("works" if check.returncode == 0 else check.stderr.strip().splitlines()[-1])
    return cells


def main() -> None:
    work = Workspace()
    wheelhouse = work.dir / "wheelhouse"
    subprocess.run([tool("uv"), "build", "--wheel", "--out-dir", str(wheelhouse), str(ROOT)],
                   check=True, capture_output=True)
    env = dict(work.env(), UV_FIND_LINKS=str(wheelhouse), PIP_FIND_LINKS=str(wheelhouse),
               UV_PYTHON=sys.executable, UV_CACHE_DIR=str(work.dir / "uv-cache"))
    env.pop("CARGO_TARGET_DIR")  # each copy builds in its own target/, as a user's would
    rows = []
    try:
        for name, needle in EXAMPLES.items():
            for plain in (True, False):
                project = _prepare(name, work.dir / ("plain" if plain else "wheelmemo"), plain)
                cells = _sequence(work, project, needle, IMPORTS[name], env)
                rows.append(f"| {name} | {'plain backend' if plain else 'wheelmemo'} | " + " | ".join(cells) + " |")
                print(rows[-1], flush=True)
    finally:
        work.close()
    print("\n| example | build backend | uv sync | uv build | uv build --wheel | python -m build "
          "| git clean + uv sync | import after |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\n(seconds, real compiles of the example's own code in that step)")


if __name__ == "__main__":
    main()
