"""The "never stale" matrix: every input that can change a build changes the key.

Each case builds once, changes one thing, builds again and asserts that the inner
backend ran a second time; the control case (nothing changed) asserts it did not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from conftest import FakeSite, Hooks

pytestmark = pytest.mark.usefixtures("timestamps")  # each test racy and settled

Change = Callable[[Hooks, pytest.MonkeyPatch], None]


def _edit(rel: str, text: str) -> Change:
    def change(hooks: Hooks, _: pytest.MonkeyPatch) -> None:
        path = hooks.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as f:
            f.write(text)

    return change


def _delete(rel: str) -> Change:
    return lambda hooks, _: (hooks.project / rel).unlink()


def _rename(old: str, new: str) -> Change:
    return lambda hooks, _: (hooks.project / old).rename(hooks.project / new)


def _env(name: str, value: str) -> Change:
    return lambda _, monkeypatch: monkeypatch.setenv(name, value)


def _chmod_x(rel: str) -> Change:
    return lambda hooks, _: os.chmod(hooks.project / rel, 0o755)


CHANGES: dict[str, Change] = {
    "file content": _edit("src/fakepkg/__init__.py", "# changed\n"),
    "file added": _edit("src/fakepkg/new.py", "X = 1\n"),
    "file deleted": _delete("src/fakepkg/data.py"),
    "file renamed": _rename("src/fakepkg/data.py", "src/fakepkg/data2.py"),
    "file made executable": _chmod_x("src/fakepkg/data.py"),
    "pyproject.toml": _edit("pyproject.toml", "\n# changed\n"),
    "Cargo.toml": _edit("Cargo.toml", "\n# changed\n"),
    "Cargo.lock": _edit("Cargo.lock", "# changed\n"),
    "setup.py": _edit("setup.py", "# changed\n"),
    "MANIFEST.in": _edit("MANIFEST.in", "include README\n"),
    ".gitignore": _edit(".gitignore", "other/\n"),
    "file outside src (README)": _edit("README.md", "more\n"),
    "project-listed env var": _env("FAKE_BUILD_FLAG", "on"),
    "SOURCE_DATE_EPOCH": _env("SOURCE_DATE_EPOCH", "1700000000"),
    # the fake backend is unknown to wheelmemo, so every family's variables are keyed
    "RUSTFLAGS": _env("RUSTFLAGS", "-C opt-level=1"),
    "CARGO_TARGET_DIR": _env("CARGO_TARGET_DIR", "/tmp/elsewhere"),
    "MATURIN_PEP517_ARGS": _env("MATURIN_PEP517_ARGS", "--features x"),
    "PYO3_CROSS_LIB_DIR": _env("PYO3_CROSS_LIB_DIR", "/x"),
    "RUSTC_WRAPPER": _env("RUSTC_WRAPPER", "sccache"),
    "CC": _env("CC", "clang"),
    "CFLAGS": _env("CFLAGS", "-O0"),
    "LDFLAGS": _env("LDFLAGS", "-s"),
    "CPPFLAGS": _env("CPPFLAGS", "-DX"),
    "SETUPTOOLS_SCM_PRETEND_VERSION": _env("SETUPTOOLS_SCM_PRETEND_VERSION", "9.9"),
    "_PYTHON_HOST_PLATFORM": _env("_PYTHON_HOST_PLATFORM", "linux-aarch64"),
    "ARCHFLAGS": _env("ARCHFLAGS", "-arch arm64"),
    "MACOSX_DEPLOYMENT_TARGET": _env("MACOSX_DEPLOYMENT_TARGET", "11.0"),
    "interpreter version": lambda _, mp: mp.setattr(sys, "version", sys.version + " (patched)"),
}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            change,
            id=name,
            marks=pytest.mark.skipif(
                sys.platform == "win32" and name == "file made executable", reason="no executable bit on Windows"
            ),
        )
        for name, change in CHANGES.items()
    ],
)
def test_change_causes_rebuild(hooks: Hooks, monkeypatch: pytest.MonkeyPatch, change: Change) -> None:
    hooks.build_wheel()
    change(hooks, monkeypatch)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()  # and the new state is cached in turn
    assert hooks.calls()["build_wheel"] == 2


def test_unkeyed_env_var_is_a_hit(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks.build_wheel()
    monkeypatch.setenv("SOME_UNRELATED_VARIABLE", "1")
    monkeypatch.setenv("PATH", "/nonexistent:" + os.environ["PATH"])
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_reverting_a_change_hits_the_first_entry(hooks: Hooks) -> None:
    path = hooks.project / "src" / "fakepkg" / "__init__.py"
    original = path.read_bytes()
    hooks.build_wheel()
    path.write_bytes(original + b"# v2\n")
    hooks.build_wheel()
    path.write_bytes(original)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_config_settings_change(hooks: Hooks) -> None:
    hooks.build_wheel(config_settings={"build-args": "--release"})
    hooks.build_wheel(config_settings={"build-args": "--profile=dev"})
    hooks.build_wheel(config_settings={"build-args": ["--profile=dev"]})
    hooks.build_wheel(config_settings={"build-args": "--profile=dev"})
    assert hooks.calls()["build_wheel"] == 3


def test_same_size_same_mtime_edit_is_seen(hooks: Hooks) -> None:
    """The stat cache also compares ctime and inode, so restoring mtime cannot hide an edit."""
    path = hooks.project / "src" / "fakepkg" / "data.py"
    before = path.stat()
    hooks.build_wheel()
    path.write_text("VALUE = 2\n")  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_inner_backend_version_change(hooks: Hooks, fake_site: FakeSite) -> None:
    hooks.build_wheel()
    fake_site.install("countingbackend", "1.1")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_build_requirement_dependency_version_change(hooks: Hooks, fake_site: FakeSite) -> None:
    fake_site.install("countingbackend", "1.0", requires=("helperdep>=1", "winonly; sys_platform == 'win32'"))
    fake_site.install("helperdep", "1.0")
    hooks.build_wheel()
    fake_site.install("helperdep", "2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    # a distribution outside build-system.requires' closure is not part of the key
    fake_site.install("unrelated", "1.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    # a dependency that a marker excludes counts once it is installed: when in doubt, miss
    fake_site.install("winonly", "5.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=cwd, check=True, capture_output=True
    )


def test_git_commit_and_tag_for_vcs_versioned_project(hooks: Hooks) -> None:
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'requires = ["wheelmemo", "countingbackend"]',
            'requires = ["wheelmemo", "countingbackend", "setuptools-scm>=8"]',
        )
    )
    _git(hooks.project, "init", "-q")
    _git(hooks.project, "add", "-A")
    _git(hooks.project, "commit", "-qm", "one")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    _git(hooks.project, "commit", "-q", "--allow-empty", "-m", "two")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    _git(hooks.project, "tag", "v1.2.3")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3


def test_git_commit_is_ignored_without_a_vcs_plugin(hooks: Hooks) -> None:
    _git(hooks.project, "init", "-q")
    _git(hooks.project, "add", "-A")
    _git(hooks.project, "commit", "-qm", "one")
    hooks.build_wheel()
    _git(hooks.project, "commit", "-q", "--allow-empty", "-m", "two")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_extra_inputs_and_excludes(hooks: Hooks, tmp_path: Path) -> None:
    shared = tmp_path / "shared.h"
    shared.write_text("#define X 1\n")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'inputs = ["../shared.h", "ignored_dir/*.cfg"]\nexclude = ["docs/"]\n')
    (hooks.project / "ignored_dir").mkdir()
    (hooks.project / "ignored_dir" / "gen.cfg").write_text("a")
    (hooks.project / "docs").mkdir()
    hooks.build_wheel()
    (hooks.project / "docs" / "index.md").write_text("doc")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    shared.write_text("#define X 2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    (hooks.project / "ignored_dir" / "gen.cfg").write_text("b")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3


def test_miss_line_names_the_changed_file(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    (hooks.project / "src" / "fakepkg" / "data.py").write_text("VALUE = 3\n")
    capsys.readouterr()
    hooks.build_wheel()
    assert "build_wheel miss (src/fakepkg/data.py changed) → countingbackend" in capsys.readouterr().err


def test_content_behind_a_directory_symlink_is_an_input(hooks: Hooks, tmp_path: Path) -> None:
    shared = tmp_path / "shared-data"
    shared.mkdir()
    (shared / "table.txt").write_text("1\n")
    (hooks.project / "src" / "fakepkg" / "data_link").symlink_to(shared)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (shared / "table.txt").write_text("2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_a_cache_dir_inside_the_project_is_no_input(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """cache-dir = ".wheelmemo-cache" (relative: inside the project): its own files, which
    every build changes, must not be inputs, or it would never hit."""
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'cache-dir = ".wheelmemo-cache"\n')
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    assert (hooks.project / ".wheelmemo-cache" / "v1").is_dir()


def test_the_frontends_output_directory_inside_the_project_is_no_input(hooks: Hooks, tmp_path: Path) -> None:
    """pip wheel -w wheelhouse . (or python -m build -o out) inside the project: the
    wheel the last run wrote there is an output, not an input of the next run."""
    hooks.out = hooks.project  # the frontend writes into <project>/wheelhouse
    hooks.build_wheel(subdir="wheelhouse")
    hooks.build_wheel(subdir="wheelhouse")
    assert hooks.calls()["build_wheel"] == 1


def test_a_crates_target_dir_at_any_depth_is_no_input(hooks: Hooks) -> None:
    """setuptools-rust builds src/_ext/Cargo.toml into src/_ext/target/."""
    crate = hooks.project / "src" / "_ext"
    crate.mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "ext"\nversion = "0.1.0"\n')
    hooks.build_wheel()
    (crate / "target" / "release").mkdir(parents=True)
    (crate / "target" / "release" / "libext.so").write_bytes(b"built")
    (crate / "target" / ".rustc_info.json").write_text("{}")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_environment_values_are_never_stored_or_printed(
    hooks: Hooks,
    cache_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A keyed variable may hold a secret (CARGO_REGISTRY_TOKEN, MATURIN_PASSWORD)."""
    hooks.build_wheel()
    monkeypatch.setenv("FAKE_BUILD_FLAG", "secret-value-7")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert "build_wheel miss (FAKE_BUILD_FLAG set)" in capsys.readouterr().err
    for path in cache_dir.rglob("*"):
        # blobs are what the backend built: the fake one writes the flag into its wheel
        if path.is_file() and "blobs" not in path.parts:
            assert b"secret-value-7" not in path.read_bytes(), path


def test_a_backend_with_a_cargo_plugin_is_keyed_like_maturin() -> None:
    """setuptools-rust runs cargo under setuptools: RUSTFLAGS and rustc count."""
    from wheelmemo._key import env_part
    from wheelmemo.backends import adapter_for

    plugged = adapter_for("setuptools", ["setuptools>=70", "setuptools-rust>=1.9"])
    plain = adapter_for("setuptools", ["setuptools>=70"])
    assert plugged.takes_build_dir and not plain.takes_build_dir
    assert adapter_for("maturin", []).takes_build_dir
    environ = {"RUSTFLAGS": "-C debuginfo=2", "CFLAGS": "-O2"}
    assert set(env_part(plain.env_patterns(), (), environ)) == {"CFLAGS"}
    assert set(env_part(plugged.env_patterns(), (), environ)) == {"CFLAGS", "RUSTFLAGS"}
    # and the setuptools side still gets its fresh build_base
    assert plugged.scratch_env is not None and plugged.sdist_normalizers().keys() == {"setup.cfg", "Cargo.toml"}


def test_variables_the_backend_sets_in_the_process_are_not_keyed(
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """mesonpy sets NINJA (a per-build path) with os.environ.setdefault: a key computed
    later in the same hook process must still be the frontend's environment's."""
    from wheelmemo._memo import Memo

    monkeypatch.chdir(hooks.project)
    memo = Memo(None)
    monkeypatch.setenv("NINJA", "/tmp/build-env-1/bin/ninja")  # set by the backend, later
    assert "NINJA" not in memo.environ
