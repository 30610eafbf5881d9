"""The release check: is a built sdist and wheel of wheelmemo fit to publish?

``python .ci/release_check.py DIST [--tag vX.Y.Z]``, where DIST holds the one sdist and
the one wheel ``python -m build`` made from this tree. ``nox -s release-check`` runs it
on every CI run and ``.github/workflows/release.yml`` on a tag, so a release is checked
by the same code that checks every commit. In order:

- ``twine check --strict`` and ``check-wheel-contents`` (its ignores, each with its
  reason, in pyproject.toml's ``[tool.check-wheel-contents]``);
- the sdist holds what running the tests needs, the wheel holds no tests, and both are
  of the version in ``src/wheelmemo/_version.py`` (the one source of the version);
- ``CHANGELOG.md`` is in Keep a Changelog's shape and has a section for that version
  (with ``--tag``: a dated one, and the tag is ``v`` + the version) or an Unreleased one;
- the smoke build: the wheel installed in a fresh virtual environment answers
  ``wheelmemo --version`` with its version, and a small generated hatchling project
  built through it twice by pip is a miss then a hit, giving the same wheel.

The environment running it needs ``twine`` and ``check-wheel-contents``; the smoke
build needs the network (pip installs hatchling into its isolated build environment).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# what the test suite and the sessions read from a checkout: an sdist must run them
SDIST_NEEDS = (
    "pyproject.toml",
    "README.md",
    "CHANGELOG.md",
    "LICENSE",
    "noxfile.py",
    ".ci/run",
    ".ci/release_check.py",
    ".github/workflows/ci.yml",
    ".github/workflows/release.yml",
    "tests/conftest.py",
    "tests/fake_backend/",
    "examples/setuptools-cext/pyproject.toml",
    "src/wheelmemo/_version.py",
)
CHANGE_KINDS = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")
UNRELEASED = "## [Unreleased]"
RELEASE_HEADING = re.compile(r"## \[(?P<version>[^\]]+)\] - (?P<date>\d{4}-\d{2}-\d{2})")


def source_version(root: Path = ROOT) -> str:
    """``__version__`` as written in ``src/wheelmemo/_version.py`` (read, not imported)."""
    text = (root / "src" / "wheelmemo" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__ = "([^"]+)"$', text, re.MULTILINE)
    if match is None:
        raise SystemExit("release-check: error: src/wheelmemo/_version.py has no __version__ line")
    return match.group(1)


def changelog_problems(text: str, version: str, *, released: bool) -> list[str]:
    """What keeps CHANGELOG.md from being Keep a Changelog's shape with a section for ``version``.

    Sections are ``## [Unreleased]`` or ``## [X.Y.Z] - YYYY-MM-DD``, each once; under one,
    ``### <kind>`` headings from Keep a Changelog's six, each once, and ``- `` entries
    (an indented line continues the entry above). ``released``: the version's own dated
    section is required; otherwise an Unreleased section does too.
    """
    problems: list[str] = []
    sections: list[str] = []
    kinds: set[str] = set()
    section = ""
    for number, line in enumerate(text.splitlines(), 1):
        where = f"CHANGELOG.md:{number}"
        if line.startswith("## "):
            match = RELEASE_HEADING.fullmatch(line)
            if line != UNRELEASED and match is None:
                problems.append(f"{where}: {line!r} is neither {UNRELEASED!r} nor '## [X.Y.Z] - YYYY-MM-DD'")
            section = match.group("version") if match else "Unreleased" if line == UNRELEASED else line[3:].strip()
            if section in sections:
                problems.append(f"{where}: a second section for {section}")
            sections.append(section)
            kinds = set()
        elif line.startswith("### "):
            kind = line[4:].strip()
            if not section:
                problems.append(f"{where}: {line!r} before the first '## ' section")
            elif kind not in CHANGE_KINDS:
                problems.append(f"{where}: {line!r}: the kinds are {', '.join(CHANGE_KINDS)}")
            elif kind in kinds:
                problems.append(f"{where}: a second '### {kind}' in the section of {section}: merge them")
            kinds.add(kind)
        elif section and line.strip() and not line.startswith(("- ", "  ")):
            problems.append(f"{where}: not an entry ('- ' line, or an indented line continuing one): {line!r}")
    if released and version not in sections:
        problems.append(f"CHANGELOG.md has no '## [{version}] - YYYY-MM-DD' section for the release")
    elif version not in sections and "Unreleased" not in sections:
        problems.append(f"CHANGELOG.md has neither a section for {version} nor {UNRELEASED!r}")
    return problems


def sdist_problems(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as tf:
        names = {name.split("/", 1)[1] for name in tf.getnames() if "/" in name}
    problems = [
        f"{sdist.name} lacks {need}"
        for need in SDIST_NEEDS
        if need not in names and not any(name.startswith(need) for name in names if need.endswith("/"))
    ]
    problems += [f"{sdist.name} holds {name}" for name in sorted(names) if "__pycache__" in name.split("/")]
    return problems


def wheel_problems(wheel: Path, version: str) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = "".join(zf.read(name).decode() for name in names if name.endswith(".dist-info/METADATA"))
    tops = {name.split("/", 1)[0] for name in names}
    allowed = ("wheelmemo", f"wheelmemo-{version}.dist-info")
    problems = [
        f"{wheel.name} holds {top}: only the package and its .dist-info belong there"
        for top in sorted(tops - set(allowed))
    ]
    problems += [f"{wheel.name} holds {name}" for name in names if "tests" in name.split("/")[:-1]]
    if f"\nVersion: {version}\n" not in metadata:
        problems.append(f"{wheel.name}: its METADATA does not say 'Version: {version}'")
    return problems


def run(
    *command: str | Path, capture: bool = False, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    line = " ".join(str(part) for part in command)
    print(f"release-check: $ {line}", flush=True)
    done = subprocess.run(
        [str(part) for part in command], text=True, capture_output=capture, env=env, cwd=cwd, check=False
    )
    if done.returncode:
        sys.stderr.write((done.stdout or "") + (done.stderr or ""))
        raise SystemExit(f"release-check: error: {line} exited with {done.returncode}")
    return done


SMOKE_PYPROJECT = """\
[build-system]
requires = ["wheelmemo @ {wheel_uri}", "hatchling"]
build-backend = "wheelmemo"

[project]
name = "smoke-demo"
version = "1.0"

[tool.hatch.build.targets.wheel]
packages = ["smoke_demo"]

[tool.wheelmemo]
backend = "hatchling.build"
"""


def smoke(wheel: Path, version: str, work: Path) -> list[str]:
    """The wheel in a fresh environment: its ``--version``, and a miss then a hit through pip."""
    run(sys.executable, "-m", "venv", work / "venv")
    scripts = work / "venv" / ("Scripts" if sys.platform == "win32" else "bin")
    python = scripts / ("python.exe" if sys.platform == "win32" else "python")
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "WHEELMEMO_CACHE_DIR": str(work / "cache")}
    env.pop("WHEELMEMO_REMOTE", None)  # the smoke build is about this machine's cache alone
    run(python, "-m", "pip", "install", "--quiet", wheel.resolve(), env=env)
    problems = []
    said = run(scripts / "wheelmemo", "--version", capture=True, env=env).stdout.strip()
    if said != f"wheelmemo {version}":
        problems.append(f"the installed wheel's 'wheelmemo --version' says {said!r}, not 'wheelmemo {version}'")

    project = work / "smoke-demo"
    (project / "smoke_demo").mkdir(parents=True)
    (project / "smoke_demo" / "__init__.py").write_text("VALUE = 1\n")
    (project / "pyproject.toml").write_text(SMOKE_PYPROJECT.format(wheel_uri=wheel.resolve().as_uri()))
    lines, wheels, misses = [], [], []
    for attempt in ("first", "second"):
        out = work / attempt
        # -v: pip shows the backend's stderr, where every hook prints its one line
        log = run(python, "-m", "pip", "wheel", "--no-deps", "-v", "-w", out, project, capture=True, env=env)
        lines.append(re.findall(r"wheelmemo: (\w+ (?:hit|miss))\b", log.stdout + log.stderr))
        wheels.append(next(out.glob("smoke_demo-1.0-*.whl")).read_bytes())
        stats = json.loads(run(scripts / "wheelmemo", "stats", "--json", capture=True, env=env).stdout)["total"]
        misses.append(stats["misses"])
        print(
            f"release-check: smoke build, {attempt}: {', '.join(lines[-1])}; the cache counts {stats['misses']} misses"
        )
    first, second = lines
    if "build_wheel miss" not in first:
        problems.append(f"smoke build: the first build was not a build_wheel miss: {first}")
    if "build_wheel hit" not in second or any(line.endswith("miss") for line in second):
        problems.append(f"smoke build: the second build was not every hook a hit: {second}")
    if misses[1] != misses[0]:
        problems.append(f"smoke build: the second build added {misses[1] - misses[0]} misses to the cache's statistics")
    if wheels[0] != wheels[1]:
        problems.append("smoke build: the hit's wheel is not the miss's")
    return problems


def _one(dist: Path, pattern: str) -> Path:
    found = sorted(dist.glob(pattern))
    if len(found) != 1:
        raise SystemExit(f"release-check: error: {dist} must hold one {pattern}, not {len(found)}")
    return found[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release_check.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("dist", type=Path, help="the directory with the one sdist and the one wheel")
    parser.add_argument("--tag", help="the git tag being released (vX.Y.Z): must match the version")
    args = parser.parse_args(argv)
    version = source_version()
    sdist, wheel = (_one(args.dist.resolve(), pattern) for pattern in ("wheelmemo-*.tar.gz", "wheelmemo-*.whl"))
    run(sys.executable, "-m", "twine", "check", "--strict", sdist, wheel)
    run(sys.executable, "-m", "check_wheel_contents", wheel, cwd=ROOT)  # reads pyproject.toml's config
    problems = []
    for built in (sdist, wheel):
        if built.name.split("-")[1].removesuffix(".tar.gz") != version:
            problems.append(f"{built.name} is not version {version} (src/wheelmemo/_version.py)")
    problems += sdist_problems(sdist) + wheel_problems(wheel, version)
    if args.tag is not None and args.tag != f"v{version}":
        problems.append(f"the tag {args.tag} is not v{version} (src/wheelmemo/_version.py)")
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    problems += changelog_problems(changelog, version, released=args.tag is not None)
    with tempfile.TemporaryDirectory(prefix="wheelmemo-smoke-") as work:
        problems += smoke(wheel, version, Path(work))
    for problem in problems:
        print(f"release-check: error: {problem}", file=sys.stderr)
    if not problems:
        print(f"release-check: {sdist.name} and {wheel.name} are fit to publish")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
