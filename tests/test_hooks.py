"""Every PEP 517/660 hook is exposed and proxied with the frontend's arguments."""

from __future__ import annotations

import tarfile

import pytest

import wheelmemo

from conftest import Hooks

HOOKS = [
    "build_wheel",
    "build_sdist",
    "build_editable",
    "get_requires_for_build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_editable",
    "prepare_metadata_for_build_wheel",
    "prepare_metadata_for_build_editable",
]


def test_module_exposes_every_hook() -> None:
    for hook in HOOKS:
        assert callable(getattr(wheelmemo, hook))
    assert set(HOOKS) <= set(dir(wheelmemo))


def test_get_requires_returns_the_inner_answer(hooks: Hooks) -> None:
    assert hooks("get_requires_for_build_wheel", {"a": "b"}) == ["fake-requirement>=1"]
    assert hooks.records()[-1]["config_settings"] == {"a": "b"}
    assert hooks("get_requires_for_build_sdist") == []
    # editables are derived from the regular wheel: they need what it needs
    assert hooks("get_requires_for_build_editable", {"a": "b"}) == ["fake-requirement>=1"]
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "get_requires_for_build_sdist": 1}


def test_get_requires_for_native_editable(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    # the fake backend has no get_requires_for_build_editable: PEP 660 says []
    assert hooks("get_requires_for_build_editable") == []
    assert hooks.calls() == {}


def test_build_sdist_is_passed_through(hooks: Hooks) -> None:
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True)
    name = hooks("build_sdist", str(dest), {"x": ["1", "2"]})
    assert name == "fake_project-1.0.0.tar.gz"
    with tarfile.open(dest / name) as tf:
        assert "fake_project-1.0.0/pyproject.toml" in tf.getnames()
    (record,) = [r for r in hooks.records() if r["hook"] == "build_sdist"]
    assert record == {"hook": "build_sdist", "pid": record["pid"], "config_settings": {"x": ["1", "2"]}}


def test_native_editable_without_inner_hook_is_one_error_line(
    hooks: Hooks, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"countingbackend"\nenv', '"countingbackend:minimal"\nenv'))
    dest = hooks.out / "ed"
    dest.mkdir(parents=True)
    with pytest.raises(SystemExit) as exc:
        hooks("build_editable", str(dest))
    assert exc.value.code == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith("wheelmemo: error: backend 'countingbackend:minimal' has no build_editable")
    )


def test_in_tree_backend_via_backend_path(hooks: Hooks) -> None:
    import shutil

    from conftest import HERE

    (hooks.project / "_backend").mkdir()
    shutil.copy(HERE / "fake_backend" / "countingbackend.py", hooks.project / "_backend" / "intree.py")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('backend = "countingbackend"', 'backend = "intree"\nbackend-path = ["_backend"]')
    )
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "build_wheel": 1}
    # the in-tree backend's own code is an input
    with open(hooks.project / "_backend" / "intree.py", "a") as f:
        f.write("# changed\n")
    hooks.build_wheel()
    assert hooks.calls() == {"get_requires_for_build_wheel": 2, "build_wheel": 2}


def test_get_requires_is_memoized_per_state(hooks: Hooks) -> None:
    """setuptools answers get_requires by running setup.py; a hit must not pay for that."""
    assert hooks("get_requires_for_build_wheel", {}) == ["fake-requirement>=1"]
    assert hooks("get_requires_for_build_wheel", None) == ["fake-requirement>=1"]
    assert hooks.calls() == {"get_requires_for_build_wheel": 1}
    (hooks.project / "setup.py").write_text("# changed\n")
    assert hooks("get_requires_for_build_wheel", {}) == ["fake-requirement>=1"]
    assert hooks.calls() == {"get_requires_for_build_wheel": 2}
