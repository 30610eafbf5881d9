"""Never stale, with real frontends: inputs that only the build itself knows about.

Each test takes one small real project through a sequence of builds.  Every step
changes one thing and checks the installed wheel shows it (the wheel a clean plain
build of that state would give) with the exact number of real compiles (for the pure
projects, of wheelmemo's misses); the non-changes (every file touched, the project
copied elsewhere, an edit reverted) must be hits: no compile, the same bytes.

The steps' checks are collected and reported together at the end of each test, so
one run shows every step that is wrong; the test fails if any is.  Compile counts are
taken per step, so a wrong step does not throw the later steps' counts off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from realtools import Frontends, copy_project, wheel_members

pytestmark = pytest.mark.real

Build = Callable[[Path], Path]


class Checks:
    """The failed checks of a sequence of builds, reported together by ``verify``."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    def equal(self, step: str, got: object, want: object) -> None:
        if got != want:
            self.failures.append(f"{step}: got {got!r}, want {want!r}")

    def same_wheel(self, step: str, got: Path, want: Path) -> None:
        if got.name != want.name or got.read_bytes() != want.read_bytes():
            self.failures.append(f"{step}: {got.name} is not byte for byte the wheel {want}")

    def verify(self) -> None:
        if self.failures:
            pytest.fail(f"{len(self.failures)} wrong:\n" + "\n".join(self.failures))


class Compiles:
    """Real compiles per step: what each needle counted since the previous call."""

    def __init__(self, frontends: Frontends, **needles: str) -> None:
        self.frontends = frontends
        self.needles = needles
        self.seen = dict.fromkeys(needles, 0)

    def new(self) -> dict[str, int]:
        now = {name: self.frontends.compiles(needle) for name, needle in self.needles.items()}
        delta = {name: now[name] - self.seen[name] for name in now}
        self.seen = now
        return delta


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def _touch_all(root: Path) -> None:
    """Every file below ``root`` gets a new mtime; no content changes."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path)


def _copy_elsewhere(tree: Path, dest: Path) -> Path:
    """``tree`` (a project and its siblings) at another path, as a fresh clone would be."""
    shutil.copytree(
        tree, dest, symlinks=True, ignore=shutil.ignore_patterns("target", "build", "*.egg-info", "*.so", "dist")
    )
    return dest


def _git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project, check=True, capture_output=True
    )


class WheelBuilds:
    """build_wheel hits and misses per step, from ``wheelmemo stats``."""

    def __init__(self, frontends: Frontends, project: str) -> None:
        self.frontends = frontends
        self.project = project
        self.seen = {"hits": 0, "misses": 0}

    def new(self) -> dict[str, int]:
        out = self.frontends.run(sys.executable, "-m", "wheelmemo", "stats", "--json", cwd=self.frontends.work).stdout
        kinds = json.loads(out)["projects"].get(self.project, {}).get("kinds", {})
        now = {k: int(kinds.get("wheel", {}).get(k, 0)) for k in ("hits", "misses")}
        delta = {k: now[k] - self.seen[k] for k in now}
        self.seen = now
        return delta


HIT = {"hits": 1, "misses": 0}
MISS = {"hits": 0, "misses": 1}


# -- A: maturin ---------------------------------------------------------------------
LEARNED = "(lambda m: (m.flavor(), m.generated(), m.dep_value()))(__import__('maturin_learned'))"


def test_maturin_env_of_build_script_generated_file_and_outside_path_dep(frontends: Frontends, tmp_path: Path) -> None:
    """Rows: an env var a build.rs reads (rerun-if-env-changed), a gitignored file the
    crate includes (include_str!), a path dependency outside the project; touching,
    copying and reverting are hits; the sdist route gives the same wheel."""
    tree = tmp_path / "tree"
    project = copy_project("maturin_learned", tree)
    dep = copy_project("maturin_learned_dep", tree)  # Cargo.toml: path = "../maturin_learned_dep"
    generated = project / "src" / "generated.txt"
    generated.write_text("gen v1\n")
    frontends.extra_env["MY_FLAVOR"] = "a"
    compiles = Compiles(frontends, lib="--crate-name maturin_learned ", dep="--crate-name learned_dep ")
    checks = Checks()

    def build(step: str, want: tuple[str, str, str], new: dict[str, int]) -> Path:
        wheel = frontends.uv_build_wheel(project)
        checks.equal(f"{step}: compiles", compiles.new(), new)
        checks.equal(f"{step}: installed wheel", frontends.run_in_venv(wheel, LEARNED), repr(want))
        return wheel

    def hit(step: str, same_as: Path, where: Path = project) -> None:
        wheel = frontends.uv_build_wheel(where)
        checks.equal(f"{step}: compiles", compiles.new(), {"lib": 0, "dep": 0})
        checks.same_wheel(step, wheel, same_as)

    first = build("cold, MY_FLAVOR=a", ("a", "gen v1", "dep v1"), {"lib": 1, "dep": 1})

    frontends.extra_env["MY_FLAVOR"] = "b"
    build("MY_FLAVOR=b", ("b", "gen v1", "dep v1"), {"lib": 1, "dep": 0})
    frontends.extra_env["MY_FLAVOR"] = "a"
    hit("MY_FLAVOR back to a", first)

    _edit(generated, "gen v1", "gen v2")
    build("gitignored src/generated.txt edited", ("a", "gen v2", "dep v1"), {"lib": 1, "dep": 0})

    _edit(dep / "src" / "lib.rs", '"dep v1"', '"dep v2"')
    latest = build("path dependency outside the project edited", ("a", "gen v2", "dep v2"), {"lib": 1, "dep": 1})

    _touch_all(tree)
    hit("every file touched", latest)
    moved = _copy_elsewhere(tree, tmp_path / "elsewhere" / "deeper")
    hit("project and dependency copied to another path", latest, moved / "maturin_learned")

    _edit(generated, "gen v2", "gen v1")
    _edit(dep / "src" / "lib.rs", '"dep v2"', '"dep v1"')
    hit("edits reverted", first)

    from_sdist = frontends.python_m_build(project)
    compiles.new()  # a hit or a build from the unpacked sdist: both are right
    checks.equal(
        "python -m build (sdist, then wheel): installed wheel",
        frontends.run_in_venv(from_sdist, LEARNED),
        repr(("a", "gen v1", "dep v1")),
    )
    checks.verify()


# -- B: setuptools ------------------------------------------------------------------
VALUES = "__import__('learned_c').values()"


def _plain_setuptools_build(frontends: Frontends, project: Path) -> None:
    """`pip wheel .` with plain setuptools (no wheelmemo), then pyproject.toml as it was."""
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    plain = text.replace('requires = ["wheelmemo", "setuptools>=64"]', 'requires = ["setuptools>=64"]')
    plain = plain.replace('build-backend = "wheelmemo"', 'build-backend = "setuptools.build_meta"')
    assert plain != text
    pyproject.write_text(plain)
    try:
        frontends.pip_wheel(project)
    finally:
        pyproject.write_text(text)


def test_setuptools_outside_header_env_macro_version_file_and_cflags(frontends: Frontends, tmp_path: Path) -> None:
    """Rows: a header outside the project (include_dirs), an env var setup.py reads
    (define_macros), a gitignored file setup.py reads (the version), CFLAGS over a
    leftover build/ directory; touching, copying and reverting are hits."""
    tree = tmp_path / "tree"
    project = copy_project("setuptools_learned", tree)
    shared = copy_project("setuptools_learned_shared", tree)  # include_dirs=["../setuptools_learned_shared"]
    (project / "version.txt").write_text("1.0\n")
    compiles = Compiles(frontends, c="_values.c")
    builds = WheelBuilds(frontends, "learned-c")
    checks = Checks()

    def build(step: str, frontend: Build, want: tuple[int, int, int], version: str, new: int | None = 1) -> Path:
        wheel = frontend(project)
        checks.equal(f"{step}: wheelmemo build_wheel", builds.new(), MISS)
        compiled = compiles.new()["c"]
        if new is not None:
            checks.equal(f"{step}: compiles", compiled, new)
        checks.equal(f"{step}: version", wheel.name.split("-")[1], version)
        checks.equal(f"{step}: installed wheel", frontends.run_in_venv(wheel, VALUES), repr(want))
        return wheel

    def hit(step: str, frontend: Build, same_as: Path, where: Path = project) -> None:
        wheel = frontend(where)
        checks.equal(f"{step}: wheelmemo build_wheel", builds.new(), HIT)
        checks.equal(f"{step}: compiles", compiles.new()["c"], 0)
        checks.same_wheel(step, wheel, same_as)

    first = build("cold", frontends.pip_wheel, (1, 1, 1), "1.0")

    _edit(shared / "shared.h", "SHARED_VALUE 1", "SHARED_VALUE 2")
    build("header outside the project edited", frontends.uv_build_wheel, (2, 1, 1), "1.0")

    frontends.extra_env["CEXT_FLAVOR"] = "3"
    build("CEXT_FLAVOR=3 (define_macros)", frontends.pip_wheel, (2, 3, 1), "1.0")

    (project / "version.txt").write_text("1.1\n")
    # the C part is unchanged: setuptools may or may not compile it again
    build("gitignored version.txt edited", frontends.pip_wheel, (2, 3, 1), "1.1", new=None)

    # a leftover build/ in the tree, as `pip wheel .` leaves one without wheelmemo
    _plain_setuptools_build(frontends, project)
    assert (project / "build").is_dir()
    compiles.new()
    builds.new()

    frontends.extra_env["CFLAGS"] = "-DEXTRA=2"
    cflags = build("CFLAGS=-DEXTRA=2 over a leftover build/", frontends.uv_build_wheel, (2, 3, 2), "1.1")
    shutil.rmtree(project / "build")
    hit("build/ removed: the cached wheel of this state", frontends.pip_wheel, cflags)

    _touch_all(tree)
    hit("every file touched", frontends.uv_build_wheel, cflags)
    moved = _copy_elsewhere(tree, tmp_path / "elsewhere" / "deeper")
    hit("project and header copied to another path", frontends.pip_wheel, cflags, moved / "setuptools_learned")

    _edit(shared / "shared.h", "SHARED_VALUE 2", "SHARED_VALUE 1")
    (project / "version.txt").write_text("1.0\n")
    del frontends.extra_env["CEXT_FLAVOR"], frontends.extra_env["CFLAGS"]
    hit("everything reverted", frontends.uv_build_wheel, first)
    checks.verify()


# -- C: hatchling, an sdist that leaves out a file the wheel ships -------------------
HAS_EXTRA = "__import__('sdx_demo').has_extra()"


def test_hatchling_wheel_from_sdist_is_not_the_wheel_of_the_tree(frontends: Frontends, tmp_path: Path) -> None:
    """Row: the sdist excludes src/sdx_demo/extra.py, which a wheel built from the tree
    ships; a wheel built from the unpacked sdist must not stand for the tree's (nor the
    other way round), in either order."""
    checks = Checks()

    def check(step: str, wheel: Path, fe: Frontends, shipped: bool) -> None:
        checks.equal(f"{step}: sdx_demo/extra.py in the wheel", "sdx_demo/extra.py" in wheel_members(wheel), shipped)
        checks.equal(f"{step}: installed has_extra()", fe.run_in_venv(wheel, HAS_EXTRA), str(shipped))

    project = copy_project("hatch_sdist_exclude", tmp_path / "sdist-first")
    check("sdist first: python -m build", frontends.python_m_build(project), frontends, False)
    check("sdist first: then pip wheel . in the tree", frontends.pip_wheel(project), frontends, True)

    fresh = Frontends(wheelhouse=frontends.wheelhouse, uv_cache=frontends.uv_cache, work=tmp_path / "fresh-cache")
    project = copy_project("hatch_sdist_exclude", tmp_path / "tree-first")
    check("tree first: pip wheel .", fresh.pip_wheel(project), fresh, True)
    check("tree first: then python -m build", fresh.python_m_build(project), fresh, False)
    checks.verify()


# -- D: a file .gitignore matches but git tracks -------------------------------------
SETTINGS = "__import__('tracked_demo').settings()"


def test_tracked_file_that_gitignore_matches(frontends: Frontends, tmp_path: Path) -> None:
    """Row: `*.dat` is gitignored, yet settings.dat is tracked (git add -f) and shipped
    (a hatchling artifact): editing it rebuilds; touching and reverting are hits."""
    project = copy_project("hatch_tracked_ignored", tmp_path)
    settings = project / "src" / "tracked_demo" / "settings.dat"
    settings.write_text("data v1\n")
    _git(project, "init", "-q")
    _git(project, "add", "-A")
    _git(project, "add", "-f", "src/tracked_demo/settings.dat")
    _git(project, "commit", "-qm", "init")
    builds = WheelBuilds(frontends, "tracked-demo")
    checks = Checks()

    first = frontends.uv_build_wheel(project)
    checks.equal("cold: wheelmemo build_wheel", builds.new(), MISS)
    checks.equal("cold: installed wheel", frontends.run_in_venv(first, SETTINGS), "data v1")

    _edit(settings, "data v1", "data v2")
    edited = frontends.pip_wheel(project)
    checks.equal("tracked, gitignored settings.dat edited: wheelmemo build_wheel", builds.new(), MISS)
    checks.equal(
        "tracked, gitignored settings.dat edited: installed wheel", frontends.run_in_venv(edited, SETTINGS), "data v2"
    )

    _touch_all(project)
    checks.same_wheel("every file touched", frontends.uv_build_wheel(project), edited)
    checks.equal("every file touched: wheelmemo build_wheel", builds.new(), HIT)
    _edit(settings, "data v2", "data v1")
    checks.same_wheel("edit reverted", frontends.pip_wheel(project), first)
    checks.equal("edit reverted: wheelmemo build_wheel", builds.new(), HIT)
    checks.verify()
