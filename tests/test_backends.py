"""The backend adapters: which one a project gets, and the answers the engine acts on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmemo._key import env_part
from wheelmemo.backends import COMPILERS, adapter_for, all_env_patterns
from wheelmemo.backends.cargo import Cargo
from wheelmemo.backends.cmake import CMake
from wheelmemo.backends.generic import Generic
from wheelmemo.backends.meson import Meson
from wheelmemo.backends.setuptools import Setuptools


@pytest.mark.parametrize(
    ("family", "kind"),
    [
        ("maturin", Cargo),
        ("setuptools", Setuptools),
        ("scikit_build_core", CMake),
        ("mesonpy", Meson),
        ("hatchling", Generic),
        ("flit_core", Generic),
        ("somebodys_backend", Generic),
    ],
)
def test_the_family_picks_the_adapter(family: str, kind: type) -> None:
    adapter = adapter_for(family, [])
    assert type(adapter) is kind
    assert adapter.family == family


def test_a_maturin_miss_silences_only_maturins_build_backend_warning(tmp_path: Path) -> None:
    """maturin (1.7+) warns on every build that build-backend "is not set to `maturin`",
    wrong through wheelmemo; the variable it checks is set for a miss, and nothing else."""
    assert adapter_for("maturin", []).scratch_env(tmp_path) == {"MATURIN_NO_MISSING_BUILD_BACKEND_WARNING": "1"}
    rust = adapter_for("setuptools", ["setuptools-rust"]).scratch_env(tmp_path)
    assert "MATURIN_NO_MISSING_BUILD_BACKEND_WARNING" not in rust


def test_setuptools_rust_puts_cargo_on_setuptools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both sides: cargo's target directory and variables, setuptools' fresh build_base."""
    monkeypatch.delenv("DIST_EXTRA_CONFIG", raising=False)
    adapter = adapter_for("setuptools", ["setuptools>=70", "setuptools-rust[toml] >= 1.9"])
    assert isinstance(adapter, Cargo) and isinstance(adapter.host, Setuptools)
    assert adapter.takes_build_dir and not adapter.always_compiles  # its .rs files say it compiles
    assert adapter.build_dir_env(tmp_path, {}) == {
        "CARGO_TARGET_DIR": str(tmp_path / "target"),
        "MATURIN_PEP517_USE_BASE_PYTHON": "1",
        # setuptools-rust's own: pyo3 rebuilt its chain in every isolated environment
        "SETUPTOOLS_RUST_PEP517_USE_BASE_PYTHON": "1",
    }
    config = adapter.scratch_env(tmp_path)["DIST_EXTRA_CONFIG"]
    assert f"build_base = {tmp_path / 'build'}" in Path(config).read_text()
    assert set(adapter.sdist_normalizers()) == {"setup.cfg", "Cargo.toml"}
    assert (
        adapter.env_patterns()
        == adapter_for("setuptools", []).env_patterns() | adapter_for("maturin", []).env_patterns()
    )
    # its crates are named in setup.py: learned after a build, not declared before
    assert adapter.outside_inputs(tmp_path, {}) == {}
    # a plugin of the family's own adds nothing
    assert type(adapter_for("maturin", ["setuptools-rust"])) is Cargo
    assert adapter_for("maturin", ["setuptools-rust"]).host is None


def test_a_user_target_dir_is_the_users(tmp_path: Path) -> None:
    cargo = adapter_for("maturin", [])
    assert cargo.build_dir_env(tmp_path, {"CARGO_TARGET_DIR": "mine"}) == {}
    assert cargo.build_dir_env(
        tmp_path, {"MATURIN_PEP517_USE_BASE_PYTHON": "0", "SETUPTOOLS_RUST_PEP517_USE_BASE_PYTHON": ""}
    ) == {"CARGO_TARGET_DIR": str(tmp_path / "target")}
    assert cargo.fresh_build_env(tmp_path / "t0") == {"CARGO_TARGET_DIR": str(tmp_path / "t0")}
    for family in ("setuptools", "scikit_build_core", "mesonpy", "hatchling"):
        adapter = adapter_for(family, [])
        assert not adapter.takes_build_dir
        assert adapter.fresh_build_env(tmp_path) == {}
        assert adapter.learned_inputs(tmp_path, {}, {}, ["Cargo.toml"]) is None
        assert adapter.toolchain({}, os.environ) is None


def test_the_variables_in_each_key() -> None:
    environ = {
        "RUSTFLAGS": "1",
        "CFLAGS": "1",
        "CMAKE_ARGS": "1",
        "MESONPY_X": "1",
        "HATCH_BUILD_HOOKS_ENABLE": "1",
        "SETUPTOOLS_SCM_PRETEND_VERSION": "1",
        "DIST_EXTRA_CONFIG": "1",
        "SOURCE_DATE_EPOCH": "1",
        "HOME": "1",
    }

    def keyed(family: str) -> set[str]:
        return set(env_part(adapter_for(family, []).env_patterns(), (), environ))

    assert keyed("maturin") == {"RUSTFLAGS", "CFLAGS", "SOURCE_DATE_EPOCH"}
    assert keyed("setuptools") == {"CFLAGS", "DIST_EXTRA_CONFIG", "SETUPTOOLS_SCM_PRETEND_VERSION", "SOURCE_DATE_EPOCH"}
    assert keyed("scikit_build_core") == {"CMAKE_ARGS", "CFLAGS", "SOURCE_DATE_EPOCH"}
    assert keyed("mesonpy") == {"MESONPY_X", "CFLAGS", "SOURCE_DATE_EPOCH"}
    assert keyed("hatchling") == {"HATCH_BUILD_HOOKS_ENABLE", "SETUPTOOLS_SCM_PRETEND_VERSION", "SOURCE_DATE_EPOCH"}
    assert keyed("flit_core") == {"SOURCE_DATE_EPOCH"}
    # a backend nobody knows: every family's variables, never HOME
    assert keyed("somebodys_backend") == set(environ) - {"HOME"}
    assert set(COMPILERS) < all_env_patterns()


def test_init_keys_cargo_config_alone() -> None:
    assert adapter_for("maturin", []).cache_key_alone(".cargo/config.toml")
    assert not adapter_for("maturin", []).cache_key_alone("src/lib.rs")
    assert not adapter_for("hatchling", []).cache_key_alone(".cargo/config.toml")
    assert adapter_for("maturin", []).always_compiles and not adapter_for("setuptools", []).always_compiles


def test_a_hit_imports_only_its_own_adapter() -> None:
    """The adapters of other families, and cargo's machinery, stay unimported."""
    code = (
        "import sys, wheelmemo._memo\n"
        "from wheelmemo.backends import adapter_for\n"
        "adapter_for('setuptools', ['setuptools>=70']).env_patterns()\n"
        "print(sorted(m for m in sys.modules if m.startswith('wheelmemo.backends')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['wheelmemo.backends', 'wheelmemo.backends.setuptools']"
