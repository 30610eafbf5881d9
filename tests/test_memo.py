"""Hits and misses of build_wheel and build_editable, asserted by counting inner calls."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from conftest import Hooks


def test_second_build_is_a_hit_with_identical_bytes(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    first = hooks.build_wheel(subdir="a")
    second = hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 1
    assert first.name == second.name == "fake_project-1.0.0-py3-none-any.whl"
    assert first.read_bytes() == second.read_bytes()
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith("wheelmemo: build_wheel miss (nothing cached for this project yet) → countingbackend (")
    assert err[1].startswith("wheelmemo: build_wheel hit ")


def test_hit_from_another_path_of_the_same_content(hooks: Hooks, tmp_path: Path) -> None:
    hooks.build_wheel(subdir="a")
    import shutil

    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(hooks.project, moved)
    hooks.project = moved
    hooks.build_wheel(subdir="b")
    assert hooks.calls()["build_wheel"] == 1


def test_touch_without_change_is_a_hit(hooks: Hooks) -> None:
    hooks.build_wheel()
    target = hooks.project / "src" / "fakepkg" / "__init__.py"
    target.write_bytes(target.read_bytes())
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_ignored_and_output_files_are_not_inputs(hooks: Hooks) -> None:
    hooks.build_wheel()
    for rel in (
        "ignored_dir/x.txt",
        "debug.log",
        "target/release/libfake.so",
        "build/lib/x.py",
        "src/fakepkg/_native.cpython-311-x86_64-linux-gnu.so",
        "src/fakepkg/__pycache__/a.pyc",
        "fake_project.egg-info/PKG-INFO",
        ".git/HEAD",
        "dist/old.whl",
    ):
        path = hooks.project / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("noise")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_native_editable_is_memoized_apart_from_the_wheel(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    dest = hooks.out / "ed"
    dest.mkdir(parents=True)
    hooks("build_editable", str(dest))
    hooks("build_editable", str(dest))
    hooks.build_wheel()
    assert hooks.calls()["build_editable"] == 1
    assert hooks.calls()["build_wheel"] == 1


def test_disable_turns_the_cache_off(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_DISABLE", "1")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    monkeypatch.delenv("WHEELMEMO_DISABLE")
    hooks.build_wheel(config_settings={"wheelmemo.disable": "true"})
    assert hooks.calls()["build_wheel"] == 3


def test_failed_builds_are_not_cached(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_BACKEND_FAIL", "1")
    with pytest.raises(RuntimeError, match="failed on purpose"):
        hooks.build_wheel()
    # the miss is said, with its reason, even though the build failed
    assert "build_wheel miss (nothing cached for this project yet) → countingbackend failed" in capsys.readouterr().err
    monkeypatch.delenv("FAKE_BACKEND_FAIL")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_wheelmemo_config_settings_are_not_passed_on(hooks: Hooks) -> None:
    wheel = hooks.build_wheel(config_settings={"wheelmemo.metadata": "hook", "build-args": ["--x", "--y"]})
    assert hooks.records()[-1]["config_settings"] == {"build-args": ["--x", "--y"]}
    with zipfile.ZipFile(wheel) as zf:
        info = json.loads(zf.read("fake_project/_build_info.json"))
    assert info["config_settings"] == {"build-args": ["--x", "--y"]}


def test_config_settings_none_reaches_the_backend_as_none(hooks: Hooks) -> None:
    hooks.build_wheel(config_settings=None)
    assert hooks.records()[-1]["config_settings"] is None
    # None and {} build the same wheel, so they share an entry
    hooks.build_wheel(config_settings={})
    assert hooks.calls()["build_wheel"] == 1


def test_debug_log_shows_the_whole_key(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("WHEELMEMO_LOG", "debug")
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert '"src/fakepkg/__init__.py":' in err
    assert '"interpreter":' in err


def test_cache_dir_from_pyproject_and_default(hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    hooks.build_wheel()
    assert list((tmp_path / "xdg" / "wheelmemo" / "v1" / "entries").rglob("*.json"))
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + f'cache-dir = "{tmp_path / "from-pyproject"}"\n')
    hooks.build_wheel()
    assert list((tmp_path / "from-pyproject" / "v1" / "entries").rglob("*.json"))
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "from-env"))  # the environment wins
    hooks.build_wheel()
    assert list((tmp_path / "from-env" / "v1" / "entries").rglob("*.json"))
    assert hooks.calls()["build_wheel"] == 3


def test_quiet_log(hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WHEELMEMO_LOG", "quiet")
    hooks.build_wheel()
    hooks.build_wheel()
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("lock", ["uv.lock", "pdm.lock", "poetry.lock", "pylock.toml", "pylock.dev.toml"])
def test_a_frontends_lock_file_is_not_an_input(hooks: Hooks, lock: str) -> None:
    """uv sync writes uv.lock before it builds: the wheel uv build cached still hits."""
    hooks.build_wheel()
    (hooks.project / lock).write_text("version = 1\n")
    hooks.build_wheel()
    (hooks.project / lock).write_text("version = 2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_build_sdist_is_memoized_on_the_tree(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    """meson-python and scikit-build-core configure their project to make an sdist:
    uv build must not pay for it again when the tree is the same."""
    first, second = hooks.out / "s1", hooks.out / "s2"
    for dest in (first, second):
        dest.mkdir(parents=True)
    name = hooks("build_sdist", str(first))
    assert hooks("build_sdist", str(second)) == name
    assert hooks.calls()["build_sdist"] == 1
    assert (first / name).read_bytes() == (second / name).read_bytes()
    assert "build_sdist hit" in capsys.readouterr().err
    (hooks.project / "src" / "fakepkg" / "__init__.py").write_text("VALUE = 2\n")
    third = hooks.out / "s3"
    third.mkdir()
    hooks("build_sdist", str(third))
    assert hooks.calls()["build_sdist"] == 2
    assert "build_sdist miss (src/fakepkg/__init__.py changed)" in capsys.readouterr().err


def test_a_miss_is_worded_against_the_closest_entry_not_the_newest(
    hooks: Hooks, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmemo._cli import main

    package = hooks.project / "src" / "fakepkg"
    (package / "extra.py").write_text("A = 1\n")
    original = (package / "__init__.py").read_text()
    hooks.build_wheel()
    (package / "__init__.py").write_text(original + "# an edit\n")
    hooks.build_wheel()
    # the edit reverted, another file changed: the first entry is one change away
    (package / "__init__.py").write_text(original)
    (package / "extra.py").write_text("A = 2\n")
    capsys.readouterr()
    assert main(["explain", str(hooks.project)]) == 1  # a miss, as git diff --exit-code says
    out = capsys.readouterr().out
    assert "src/fakepkg/extra.py changed" in out and "__init__.py" not in out
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert "build_wheel miss (src/fakepkg/extra.py changed)" in err and "__init__" not in err
    assert hooks.calls()["build_wheel"] == 3
