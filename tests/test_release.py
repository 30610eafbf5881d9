"""Releasing: one source for the version, CHANGELOG.md's shape, and release-check's own checks.

``nox -s release-check`` builds and smoke-tests the real sdist and wheel; these are the
fast checks of the same rules (``.ci/release_check.py``) on the tree and on made-up
files, so that each rule is seen to catch what it is for.
"""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

import wheelmemo
from wheelmemo._settings import tomllib

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def release_check() -> ModuleType:
    spec = importlib.util.spec_from_file_location("release_check", ROOT / ".ci" / "release_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_version_has_one_source() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"] == {"path": "src/wheelmemo/_version.py"}


def test_the_built_metadata_has_wheelmemo_version(tmp_path: Path) -> None:
    """What hatchling writes into METADATA is ``wheelmemo.__version__`` (and ``--version``'s)."""
    code = "import sys; from hatchling.build import prepare_metadata_for_build_wheel as p; print(p(sys.argv[1]))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    metadata = (tmp_path / done.stdout.strip() / "METADATA").read_text()
    assert f"\nVersion: {wheelmemo.__version__}\n" in metadata


def test_source_version_reads_version_py(release_check: ModuleType) -> None:
    assert release_check.source_version() == wheelmemo.__version__


def test_the_changelog_is_in_shape(release_check: ModuleType) -> None:
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert release_check.changelog_problems(text, wheelmemo.__version__, released=False) == []


GOOD = """\
# Changelog

## [Unreleased]

### Added

- a thing
  continued on the next line

### Fixed

- a bug

## [0.1.0] - 2026-12-01

### Fixed

- an older bug
"""


@pytest.mark.parametrize(
    ("text", "version", "released", "problem"),
    [
        (GOOD, "0.2.0", False, None),
        (GOOD, "0.1.0", True, None),
        (GOOD.replace("### Fixed\n\n- a bug", "### Added\n\n- a bug"), "0.2.0", False, "a second '### Added'"),
        (GOOD.replace("## [Unreleased]", "## Unreleased"), "0.2.0", False, "is neither"),
        (GOOD.replace("### Fixed\n\n- a bug", "### Bugs\n\n- a bug"), "0.2.0", False, "the kinds are"),
        (GOOD.replace("- a thing", "a thing"), "0.2.0", False, "not an entry"),
        (GOOD.replace("2026-12-01", "soon"), "0.1.0", False, "is neither"),
        (GOOD + "\n## [0.1.0] - 2026-11-01\n", "0.1.0", False, "a second section for 0.1.0"),
        (GOOD, "0.2.0", True, "no '## [0.2.0] - YYYY-MM-DD' section"),
        (GOOD.replace("## [Unreleased]", "## [0.0.9] - 2026-11-01"), "0.2.0", False, "neither a section"),
    ],
)
def test_changelog_problems(
    release_check: ModuleType, text: str, version: str, released: bool, problem: str | None
) -> None:
    problems = release_check.changelog_problems(text, version, released=released)
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1
        assert problem in problems[0]


def _sdist(path: Path, names: list[str]) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name in names:
            info = tarfile.TarInfo(f"wheelmemo-9.9/{name}")
            tf.addfile(info, io.BytesIO(b""))
    return path


def test_the_sdist_must_hold_what_the_tests_need(release_check: ModuleType, tmp_path: Path) -> None:
    needs = [need + "x.py" if need.endswith("/") else need for need in release_check.SDIST_NEEDS]
    assert release_check.sdist_problems(_sdist(tmp_path / "all.tar.gz", needs)) == []
    lacking = [need for need in needs if need != "LICENSE"] + ["tests/__pycache__/x.pyc"]
    assert release_check.sdist_problems(_sdist(tmp_path / "lacking.tar.gz", lacking)) == [
        "lacking.tar.gz lacks LICENSE",
        "lacking.tar.gz holds tests/__pycache__/x.pyc",
    ]


def _wheel(path: Path, names: list[str], version: str = "9.9") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(
            "wheelmemo-9.9.dist-info/METADATA", f"Metadata-Version: 2.4\nName: wheelmemo\nVersion: {version}\n\n"
        )
        for name in names:
            zf.writestr(name, "")
    return path


def test_the_wheel_holds_no_tests(release_check: ModuleType, tmp_path: Path) -> None:
    assert release_check.wheel_problems(_wheel(tmp_path / "a.whl", ["wheelmemo/__init__.py"]), "9.9") == []
    names = ["wheelmemo/__init__.py", "tests/test_x.py", "wheelmemo/tests/test_y.py"]
    assert release_check.wheel_problems(_wheel(tmp_path / "b.whl", names, version="9.8"), "9.9") == [
        "b.whl holds tests: only the package and its .dist-info belong there",
        "b.whl holds tests/test_x.py",
        "b.whl holds wheelmemo/tests/test_y.py",
        "b.whl: its METADATA does not say 'Version: 9.9'",
    ]
