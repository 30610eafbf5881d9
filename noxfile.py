"""Developer sessions: ``nox`` runs tests, lint and typing; ``nox -s demo`` / ``bench`` show figures."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typing"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole suite, real frontends and compilers included (pass pytest args after --)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "src", "tests", "noxfile.py", "examples")


@nox.session
def typing(session: nox.Session) -> None:
    session.install("mypy>=1.10", "nox", "tomli", "tomlkit", "pytest")
    session.run("mypy", "--strict")


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
    """Cold build, hit and the frontend's floor (a trivial pure project) for each example."""
    session.install("-e", ".", "uv", "build")
    session.run("python", "examples/bench.py", *session.posargs)
