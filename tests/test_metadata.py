"""prepare_metadata_* memoization and the PEP 517 rule that the wheel carries that metadata."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from conftest import Hooks


def _prepare(hooks: Hooks, kind: str = "wheel", where: str = "meta") -> Path:
    dest = hooks.out / where
    dest.mkdir(parents=True, exist_ok=True)
    name = hooks(f"prepare_metadata_for_build_{kind}", str(dest))
    return dest / name


def test_metadata_is_memoized(hooks: Hooks) -> None:
    first = _prepare(hooks, where="m1")
    second = _prepare(hooks, where="m2")
    assert hooks.calls()["prepare_metadata_for_build_wheel"] == 1
    assert first.name == second.name == "fake_project-1.0.0.dist-info"
    assert (first / "METADATA").read_bytes() == (second / "METADATA").read_bytes()


def test_metadata_comes_from_a_cached_wheel(hooks: Hooks) -> None:
    wheel = hooks.build_wheel()
    dist_info = _prepare(hooks)
    assert hooks.calls()["prepare_metadata_for_build_wheel"] == 0
    with zipfile.ZipFile(wheel) as zf:
        assert (dist_info / "METADATA").read_bytes() == zf.read(f"{dist_info.name}/METADATA")
    assert not (dist_info.parent / ".wheelmemo-wheel").exists()


def test_build_with_metadata_directory_hits(hooks: Hooks) -> None:
    hooks.build_wheel(subdir="first")
    dist_info = _prepare(hooks)
    hooks.build_wheel(metadata_directory=str(dist_info), subdir="second")
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "build_wheel": 1}


def test_metadata_change_is_a_miss(hooks: Hooks) -> None:
    _prepare(hooks, where="m1")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0.0"', 'version = "1.0.1"'))
    assert _prepare(hooks, where="m2").name == "fake_project-1.0.1.dist-info"
    assert hooks.calls()["prepare_metadata_for_build_wheel"] == 2


def test_wheel_with_other_metadata_than_prepared_is_rebuilt(hooks: Hooks) -> None:
    hooks.build_wheel(subdir="first")
    dist_info = _prepare(hooks)
    (dist_info / "METADATA").write_bytes(b"Metadata-Version: 2.1\nName: other\nVersion: 9\n")
    hooks.build_wheel(metadata_directory=str(dist_info), subdir="second")
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize("how", ["backend without the hook", "metadata = wheel"])
def test_wheel_built_for_metadata_is_returned_by_build(hooks: Hooks, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Seed 004: a backend whose metadata needs the whole build builds once."""
    pyproject = hooks.project / "pyproject.toml"
    if how == "metadata = wheel":
        monkeypatch.setenv("WHEELMEMO_METADATA", "wheel")
    else:
        pyproject.write_text(pyproject.read_text().replace('"countingbackend"\nenv', '"countingbackend:minimal"\nenv'))
    dist_info = _prepare(hooks)
    assert dist_info.name == "fake_project-1.0.0.dist-info"
    wheel = hooks.build_wheel(metadata_directory=str(dist_info))
    # the minimal backend has no get_requires hook to count
    requires = {"get_requires_for_build_wheel": 1} if how == "metadata = wheel" else {}
    assert hooks.calls() == {**requires, "build_wheel": 1}
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"{dist_info.name}/METADATA") == (dist_info / "METADATA").read_bytes()
    # in another process, later: metadata and wheel both come from the cache
    _prepare(hooks, where="again")
    hooks.build_wheel(subdir="again")
    assert hooks.calls() == {**requires, "build_wheel": 1}


def test_wheel_built_for_metadata_is_reused_without_the_cache(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_DISABLE", "1")
    monkeypatch.setenv("WHEELMEMO_METADATA", "wheel")
    dist_info = _prepare(hooks)
    hooks.build_wheel(metadata_directory=str(dist_info))
    assert hooks.calls() == {"build_wheel": 1}  # no cache: no key, no get_requires


def test_native_editable_metadata(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    _prepare(hooks, kind="editable", where="e1")
    _prepare(hooks, kind="editable", where="e2")
    assert hooks.calls() == {"prepare_metadata_for_build_editable": 1}


def test_derived_editable_metadata_is_the_wheels(hooks: Hooks) -> None:
    """PEP 660: the editable's metadata is the regular wheel's; one answer serves both."""
    wheel_meta = _prepare(hooks, kind="wheel", where="w")
    editable_meta = _prepare(hooks, kind="editable", where="e")
    assert (wheel_meta / "METADATA").read_bytes() == (editable_meta / "METADATA").read_bytes()
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "prepare_metadata_for_build_wheel": 1}
