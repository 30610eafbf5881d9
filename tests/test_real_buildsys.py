"""Never stale under CMake and meson, with real frontends: what the compiler read is
learned from the build system's own records (issue 18, item 1).

CMake and meson give the compiler ``-MD -MF``, so ``DEPENDENCIES_OUTPUT`` teaches
nothing; before ``_buildsys``, an edit of a gitignored source the build compiles or of a
header outside the tree was a stale hit, and a deleted one a hit where the plain build
fails.  Each step checks the wheel's compiled module (its string constants) and the
real compiles counted by the CC shim.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Callable

import pytest

from realtools import Frontends, copy_project
from realtools import tool as frontends_tool

pytestmark = pytest.mark.real


def _module_bytes(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.startswith("_learned_speed") and n.endswith(".so")]
        return zf.read(name)


def _generated(project: Path, value: str) -> None:
    (project / "src" / "generated.c").write_text(f'const char *generated_value(void) {{ return "{value}"; }}\n')


@pytest.mark.parametrize("package", ["skbuild_learned", "meson_learned"])
def test_ignored_source_and_outside_header_compiled_by_the_build_system(
    frontends: Frontends, tmp_path: Path, package: str
) -> None:
    tree = tmp_path / "tree"
    project = copy_project(package, tree)
    shared = copy_project("native_learned_shared", tree)
    _generated(project, "gen v1")
    failures: list[str] = []

    def compiles() -> tuple[int, int]:
        return frontends.compiles("src/generated.c"), frontends.compiles("src/_learned_speed.c")

    def step(name: str, build: Callable[[Path], Path], want: tuple[str, str], new: tuple[int, int]) -> Path:
        before = compiles()
        wheel = build(project)
        after = compiles()
        got = (after[0] - before[0], after[1] - before[1])
        if got != new:
            failures.append(f"{name}: compiles (generated.c, _learned_speed.c) {got}, want {new}")
        module = _module_bytes(wheel)
        for value in want:
            if value.encode() not in module:
                failures.append(f"{name}: the wheel's module lacks {value!r}")
        return wheel

    first = step("cold", frontends.uv_build_wheel, ("gen v1", "shared v1"), (1, 1))
    again = step("unchanged: a hit", frontends.pip_wheel, ("gen v1", "shared v1"), (0, 0))
    if again.read_bytes() != first.read_bytes():
        failures.append("unchanged: not the first wheel byte for byte")

    # the build directory persists (``_ninja_builddir``): Ninja recompiles what an edit touched
    _generated(project, "gen v2")
    step("gitignored src/generated.c edited", frontends.pip_wheel, ("gen v2", "shared v1"), (1, 0))

    # the object that includes the header was not rebuilt by the last build: the deps log
    # still names its header, so editing it is a miss; a file outside the project is never
    # given a time (``_builddir``), so its change empties the build directory: both compile
    header = shared / "shared.h"
    header.write_text(header.read_text().replace("shared v1", "shared v2"))
    step("header outside the project edited", frontends.uv_build_wheel, ("gen v2", "shared v2"), (1, 1))

    _generated(project, "gen v1")
    header.write_text(header.read_text().replace("shared v2", "shared v1"))
    back = step("both edits reverted: the first result", frontends.pip_wheel, ("gen v1", "shared v1"), (0, 0))
    if back.read_bytes() != first.read_bytes():
        failures.append("both edits reverted: not the first wheel byte for byte")

    # as after `git clean -fdx`: the plain backend fails, so must wheelmemo
    (project / "src" / "generated.c").unlink()
    before = compiles()
    try:
        frontends.uv_build_wheel(project)
        failures.append("gitignored src/generated.c deleted: the build did not fail")
    except AssertionError as failed:  # the frontend's exit status, with its output
        if "generated.c" not in str(failed):
            failures.append(f"gitignored src/generated.c deleted: failed otherwise: {failed}")
    if compiles()[0] != before[0]:
        failures.append("gitignored src/generated.c deleted: compiled?")
    frontends.extra_env["WHEELMEMO_DISABLE"] = "1"
    with pytest.raises(AssertionError, match=r"generated\.c"):
        frontends.uv_build_wheel(project)  # the plain backend: the same failure
    if failures:
        pytest.fail("\n".join(failures))


def test_a_meson_python_sdist_follows_the_commits(frontends: Frontends, tmp_path: Path) -> None:
    """``meson dist`` packs the last commit, not the working tree: the sdist of a tree
    whose edit was then committed is another sdist, though no file changed."""
    import subprocess
    import tarfile

    tree = tmp_path / "tree"
    project = copy_project("meson_learned", tree)
    copy_project("native_learned_shared", tree)
    _generated(project, "generated")

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=project, check=True, capture_output=True
        )

    def source_in_sdist() -> str:
        out = tmp_path / f"sdist{len(list(tmp_path.glob('sdist*')))}"
        frontends.run(frontends_tool("uv"), "build", "--sdist", "--out-dir", str(out), cwd=project)
        (sdist,) = out.glob("*.tar.gz")
        with tarfile.open(sdist) as tf:
            (member,) = [m for m in tf.getmembers() if m.name.endswith("_learned_speed.c")]
            data = tf.extractfile(member)
            assert data is not None
            return data.read().decode()

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    speed = project / "src" / "_learned_speed.c"
    speed.write_text(speed.read_text() + "/* GREETING_EDITED */\n")
    assert "GREETING_EDITED" not in source_in_sdist()  # meson's own choice: the commit
    git("commit", "-qam", "two")
    assert "GREETING_EDITED" in source_in_sdist()  # the same files: a new sdist all the same
