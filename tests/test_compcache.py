"""The compiler cache (``_compcache``): sccache's server around a miss and never on a hit,
one storage, the user's launcher first, and every problem a warning and a normal build.

The fast tests run a fake ``sccache`` (``fake_backend/fakesccache.py``: it logs every
call) under a fake family whose adapter puts it in ``FAKE_LAUNCHER`` and whose backend
compiles ``src/fakepkg/data.py`` through it; ``test_real_compcache.py`` runs the real
one under real backends.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from wheelmemo import _compcache
from wheelmemo._compcache import Launcher, stats_counts
from wheelmemo._errors import ConfigError
from wheelmemo._settings import load_settings
from wheelmemo.backends import Adapter, adapter_for

from conftest import HERE, Hooks

FAKE_LAUNCHING = """
import json, os, subprocess
import countingbackend
from countingbackend import *  # noqa


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    launcher = os.environ.get("FAKE_LAUNCHER")
    if launcher:
        subprocess.run([launcher, "cc", "-c", "src/fakepkg/data.py"], check=True)
    with open(os.environ["FAKE_LAUNCH_LOG"], "a") as f:
        f.write(json.dumps({"launcher": launcher}) + "\\n")
    return countingbackend.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


class Launching(Adapter):
    """A family whose compiler takes its launcher from ``FAKE_LAUNCHER``."""

    env = ("FAKE_LAUNCHER",)
    launcher_vars = ("FAKE_LAUNCHER",)

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        return {} if environ.get("FAKE_LAUNCHER") else {"FAKE_LAUNCHER": launcher.path}


class Fake:
    """The fake sccache's calls, and the fake backend's builds."""

    def __init__(self, tmp_path: Path) -> None:
        self.log = tmp_path / "sccache.log"
        self.builds_log = tmp_path / "launch.log"

    def calls(self) -> list[list[str]]:
        return [json.loads(line)["args"] for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def envs(self) -> list[dict[str, str]]:
        return [json.loads(line)["env"] for line in self.log.read_text().splitlines()] if self.log.exists() else []

    def launchers(self) -> list[str | None]:
        lines = self.builds_log.read_text().splitlines() if self.builds_log.exists() else []
        return [json.loads(line)["launcher"] for line in lines]


@pytest.fixture
def fake(
    hooks: Hooks, fake_family: Callable[[str, type[Any], str], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Fake]:
    """The project built by ``launchingbackend`` with ``compiler-cache = "sccache"``, the
    fake sccache the only one found."""
    fake_family("launchingbackend", Launching, FAKE_LAUNCHING)
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + 'compiler-cache = "sccache"\n')
    binary = tmp_path / "bin" / "sccache"
    binary.parent.mkdir()
    binary.write_text(f"#!{sys.executable}\n" + (HERE / "fake_backend" / "fakesccache.py").read_text())
    binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(_compcache, "_candidates", lambda root: [str(binary)])
    found = Fake(tmp_path)
    monkeypatch.setenv("FAKE_SCCACHE_LOG", str(found.log))
    monkeypatch.setenv("FAKE_LAUNCH_LOG", str(found.builds_log))
    monkeypatch.delenv("FAKE_LAUNCHER", raising=False)
    monkeypatch.delenv("WHEELMEMO_COMPILER_CACHE", raising=False)
    yield found


def _edit(hooks: Hooks, text: str) -> None:
    (hooks.project / "src" / "fakepkg" / "data.py").write_text(text)


def _events(cache_dir: Path) -> list[dict[str, Any]]:
    lines = (cache_dir / "v1" / "stats.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("tier") == "sccache"]


def test_a_miss_compiles_through_sccache_and_a_hit_starts_nothing(
    hooks: Hooks, fake: Fake, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    stable = str(cache_dir / "v1" / "compiler" / "bin" / "sccache")
    assert fake.calls() == [
        ["--version"],
        ["--start-server"],
        ["cc", "-c", "src/fakepkg/data.py"],
        ["--show-stats", "--stats-format=json"],
        ["--stop-server"],
    ]
    assert fake.launchers() == [stable]  # the stable copy, whatever environment found it
    hooks.build_wheel()  # a hit: no server
    assert len(fake.calls()) == 5
    assert hooks.calls()["build_wheel"] == 1
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    _edit(hooks, "VALUE = 1\n")  # back: its object is sccache's
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2  # the revert is wheelmemo's own hit
    counts = [(e["hits"], e["misses"]) for e in _events(cache_dir)]
    assert counts == [(0, 1), (0, 1)]
    assert "sccache: 0 hits, 1 misses, 0 not cacheable" in capsys.readouterr().err


def test_the_server_is_private_and_ours(
    hooks: Hooks, fake: Fake, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A user's SCCACHE_* (another storage, another server) does not reach the server."""
    monkeypatch.setenv("SCCACHE_BUCKET", "someone-elses")
    monkeypatch.setenv("SCCACHE_SERVER_PORT", "4226")
    monkeypatch.setenv("SCCACHE_LOG", "debug")
    hooks.build_wheel()
    start = fake.envs()[1]
    assert "SCCACHE_BUCKET" not in start and "SCCACHE_SERVER_PORT" not in start
    assert start["SCCACHE_LOG"] == "debug"  # its logs, for diagnosis
    assert start["SCCACHE_DIR"] == str(cache_dir / "v1" / "compiler" / "objects")
    assert start["SCCACHE_DIRECT"] == "false"
    assert start["SCCACHE_CONF"] == str(cache_dir / "v1" / "compiler" / "config")
    socket_dir = Path(start["SCCACHE_SERVER_UDS"]).parent
    assert not socket_dir.exists()  # removed after the build
    assert int(start["SCCACHE_CACHE_SIZE"]) == 10 * 1000**3 // 2  # half of max-size
    assert sys.prefix in start["SCCACHE_BASEDIRS"].split(os.pathsep)


def test_the_server_stops_when_the_build_fails(hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_BACKEND_FAIL", "1")
    with pytest.raises(RuntimeError):
        hooks.build_wheel()
    assert [c[0] for c in fake.calls()] == ["--version", "--start-server", "cc", "--show-stats", "--stop-server"]


def test_no_sccache_is_one_warning_and_a_plain_build(
    hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(_compcache, "_candidates", lambda root: [None, "/nonexistent/sccache"])
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert err.count("no sccache was found") == 1
    assert fake.launchers() == [None] and hooks.calls()["build_wheel"] == 1


@pytest.mark.parametrize(("setting", "message"), [("start", "sccache --start-server failed"), ("old", "older than")])
def test_a_server_that_cannot_start_is_one_warning_and_a_plain_build(
    hooks: Hooks,
    fake: Fake,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    setting: str,
    message: str,
) -> None:
    if setting == "start":
        monkeypatch.setenv("FAKE_SCCACHE_FAIL", "start")
    else:
        monkeypatch.setenv("FAKE_SCCACHE_VERSION", "sccache 0.10.0")
    hooks.build_wheel()
    assert message in capsys.readouterr().err
    assert fake.launchers() == [None]
    assert hooks.calls()["build_wheel"] == 1
    hooks.build_wheel()  # cached as usual
    assert hooks.calls()["build_wheel"] == 1


def test_the_users_launcher_wins(
    hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_LAUNCHER", "true")
    hooks.build_wheel()
    assert fake.calls() == [["cc", "-c", "src/fakepkg/data.py"]] or fake.calls() == []
    assert fake.launchers() == ["true"]
    from wheelmemo._cli import main

    capsys.readouterr()
    monkeypatch.chdir(hooks.project)
    main(["explain"])
    assert "compiler cache: FAKE_LAUNCHER is set by the user, and wins" in capsys.readouterr().out


def test_explain_says_whether_it_is_active(
    hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmemo._cli import main

    monkeypatch.chdir(hooks.project)
    main(["explain"])
    assert "compiler cache: sccache at " in capsys.readouterr().out
    monkeypatch.setenv("WHEELMEMO_COMPILER_CACHE", "none")
    main(["explain"])
    assert "compiler cache: off" in capsys.readouterr().out
    monkeypatch.setenv("WHEELMEMO_COMPILER_CACHE", "sccache")
    monkeypatch.setattr(Launching, "compiler_launcher_env", lambda self, launcher, environ: {})
    main(["explain"])
    assert "compiler cache: sccache has nothing to launch for this backend" in capsys.readouterr().out


def test_a_concurrent_build_compiles_without_it(
    hooks: Hooks, fake: Fake, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    import wheelmemo

    hold = (
        "import sys; from pathlib import Path; from wheelmemo._store import LocalStore\n"
        "with LocalStore(Path(sys.argv[1])).using_compiler_cache() as held:\n"
        "    print(held, flush=True); sys.stdin.read()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(wheelmemo.__file__).parents[1])}
    holder = subprocess.Popen(
        [sys.executable, "-c", hold, str(cache_dir)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "True\n"
        hooks.build_wheel()
    finally:
        holder.communicate("")
    assert fake.calls() == []
    assert fake.launchers() == [None]
    assert "another build is using it" in capsys.readouterr().err


def test_a_read_only_cache_compiles_without_it(hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_CACHE_READ_ONLY", "1")
    hooks.build_wheel()
    assert fake.calls() == [] and fake.launchers() == [None]


def test_it_is_not_part_of_the_key(hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks.build_wheel()
    monkeypatch.setenv("WHEELMEMO_COMPILER_CACHE", "none")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_get_requires_brings_sccache_until_its_stable_copy_is_there(hooks: Hooks, fake: Fake) -> None:
    assert "sccache>=0.15" in hooks("get_requires_for_build_wheel")
    hooks.build_wheel()
    assert "sccache>=0.15" not in hooks("get_requires_for_build_wheel")


def test_stats_counts_it_and_clean_empties_it(
    hooks: Hooks, fake: Fake, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmemo._cli import main

    objects = cache_dir / "v1" / "compiler" / "objects" / "a"
    objects.mkdir(parents=True)
    (objects / "object").write_bytes(b"x" * 50_000)
    hooks.build_wheel()
    capsys.readouterr()
    main(["stats", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["compiler_cache"] == {
        "builds": 1,
        "requests": 1,
        "hits": 0,
        "misses": 1,
        "not_cacheable": 0,
        "errors": 0,
        "timeouts": 0,
        "remote_hits": 0,
        "uploads": 0,
        "remote_errors": 0,
    }
    assert report["disk"]["compiler"] >= 50_000  # counted in max-size
    main(["stats"])
    assert "compiler cache (sccache), in 1 build: 0 hits (0 from the remote), 1 misses" in capsys.readouterr().out
    main(["clean"])
    assert not (objects / "object").exists()
    assert (cache_dir / "v1" / "compiler" / "bin" / "sccache").exists()


@pytest.mark.parametrize("value", ["sccache", "none", "", "SCCACHE"])
def test_the_setting(value: str, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wheelmemo]\nbackend = "x"\n')
    from wheelmemo._settings import load_project

    project = load_project(tmp_path)
    settings, _ = load_settings(project, None, {"WHEELMEMO_COMPILER_CACHE": value})
    assert settings.compiler_cache == ("sccache" if value.lower() == "sccache" else "none")


def test_a_wrong_setting_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.wheelmemo]\nbackend = "x"\ncompiler-cache = "ccache"\n')
    from wheelmemo._settings import load_project

    with pytest.raises(ConfigError, match=r'compiler-cache .* must be "sccache" or "none", got \'ccache\''):
        load_settings(load_project(tmp_path), None, {})


# -- the adapters ----------------------------------------------------------------------
LAUNCHER = Launcher("/c/sccache", "/c/cargo/sccache")


def test_cargo_wraps_rustc_and_the_users_wrapper_wins() -> None:
    maturin = adapter_for("maturin", [])
    assert maturin.compiler_launcher_env(LAUNCHER, {}) == {"RUSTC_WRAPPER": "/c/cargo/sccache"}
    assert maturin.compiler_launcher_env(LAUNCHER, {"RUSTC_WRAPPER": "ccache"}) == {}
    assert maturin.user_launchers({"CARGO_BUILD_RUSTC_WRAPPER": "x"}) == ["CARGO_BUILD_RUSTC_WRAPPER"]
    setuptools_rust = adapter_for("setuptools", ["setuptools-rust"])
    env = setuptools_rust.compiler_launcher_env(LAUNCHER, {})
    assert env["RUSTC_WRAPPER"] == "/c/cargo/sccache"
    if sys.platform != "win32":
        assert env["CC"].startswith("/c/sccache ")  # its C extensions too


@pytest.mark.skipif(sys.platform == "win32", reason="setuptools takes MSVC there, named by no variable")
def test_setuptools_puts_it_before_the_configured_compilers() -> None:
    import sysconfig

    setuptools = adapter_for("setuptools", [])
    env = setuptools.compiler_launcher_env(LAUNCHER, {})
    assert env["CC"] == f"/c/sccache {sysconfig.get_config_var('CC')}"
    assert setuptools.compiler_launcher_env(LAUNCHER, {"CC": "clang", "CXX": "clang++"}) == {}


def test_cmake_takes_launcher_variables() -> None:
    cmake = adapter_for("scikit_build_core", [])
    assert cmake.compiler_launcher_env(LAUNCHER, {}) == {
        "CMAKE_C_COMPILER_LAUNCHER": "/c/sccache",
        "CMAKE_CXX_COMPILER_LAUNCHER": "/c/sccache",
    }
    assert cmake.compiler_launcher_env(LAUNCHER, {"CMAKE_CXX_COMPILER_LAUNCHER": "ccache"}) == {
        "CMAKE_C_COMPILER_LAUNCHER": "/c/sccache"
    }


@pytest.mark.skipif(sys.platform == "win32", reason="meson takes MSVC first there")
def test_meson_finds_the_stable_copy_first_on_path() -> None:
    meson = adapter_for("mesonpy", [])
    env = meson.compiler_launcher_env(LAUNCHER, {"PATH": os.environ["PATH"]})
    assert env["CC"].startswith("sccache ") and env["PATH"].split(os.pathsep)[0] == "/c"


@pytest.mark.parametrize(
    ("family", "requires"),
    [
        ("maturin", []),
        ("setuptools", []),
        ("setuptools", ["setuptools-rust"]),
        ("scikit_build_core", []),
        ("mesonpy", []),
    ],
)
def test_every_variable_set_is_keyed_or_noise(family: str, requires: list[str]) -> None:
    """The key reads the environment before the launcher's variables are set; the
    recorder's environment after: a learned value of one would never match again, so
    each is a keyed name (not learned) or noise (``PATH``)."""
    from wheelmemo import _key
    from wheelmemo._recorder import is_noise_env

    adapter = adapter_for(family, requires)
    for name in adapter.compiler_launcher_env(LAUNCHER, {"PATH": os.environ["PATH"]}):
        assert is_noise_env(name) or _key.env_part(adapter.env_patterns(), (), {name: "x"}), name


def test_a_hatchling_build_has_nothing_to_launch() -> None:
    assert adapter_for("hatchling", []).compiler_launcher_env(LAUNCHER, {}) == {}


def test_stats_counts_reads_sccaches_report() -> None:
    report = {
        "stats": {
            "compile_requests": 30,
            "requests_not_cacheable": 16,
            "cache_hits": {"counts": {"Rust": 10, "C/C++": 2}},
            "cache_misses": {"counts": {"Rust": 4}},
            "cache_errors": {"counts": {"Rust": 1}},
            "cache_read_errors": 0,
            "cache_write_errors": 2,
            "cache_timeouts": 0,
            "non_cacheable_compilations": 0,
        },
        "cache_size": 99,
    }
    assert stats_counts(report) == {
        "requests": 30,
        "hits": 12,
        "misses": 4,
        "not_cacheable": 16,
        "errors": 3,
        "timeouts": 0,
        "size": 99,
    }


def test_no_requirement_for_a_backend_with_nothing_to_launch(hooks: Hooks, fake: Fake) -> None:
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('backend = "launchingbackend"', 'backend = "countingbackend"'))
    assert "sccache>=0.15" not in hooks("get_requires_for_build_wheel")


def test_no_requirement_where_pypi_has_no_wheel(hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch) -> None:
    """A requirement the frontend cannot install would fail the build (s390x, musl):
    there sccache must be on PATH, and a miss without it warns and builds."""
    import platform

    monkeypatch.setattr(platform, "machine", lambda: "s390x")
    assert "sccache>=0.15" not in hooks("get_requires_for_build_wheel")


def test_prune_takes_the_least_recently_used_objects_when_nothing_else_is_left(cache_dir: Path) -> None:
    from wheelmemo._store import LocalStore

    objects = cache_dir / "v1" / "compiler" / "objects" / "a"
    objects.mkdir(parents=True)
    for age, name in ((3000, "old"), (2000, "older-used-later"), (1000, "new")):
        (objects / name).write_bytes(b"x" * 100_000)
        os.utime(objects / name, (time.time() - age, time.time() - age))
    os.utime(objects / "older-used-later", (time.time() - 10, time.time() - 4000))  # read lately
    store = LocalStore(cache_dir)
    total = store.size()
    store.prune(max_size=total - 150_000)
    # 150 kB: two objects, the oldest by their last use (a read counts)
    assert sorted(p.name for p in objects.iterdir()) == ["older-used-later"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX ownership and modes")
def test_a_stable_copy_others_can_write_is_not_run(
    hooks: Hooks, fake: Fake, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a cache others can write to, the copy wheelmemo would run could be anyone's."""
    hooks.build_wheel()
    stable = cache_dir / "v1" / "compiler" / "bin" / "sccache"
    stable.chmod(0o777)
    monkeypatch.setattr(_compcache, "_candidates", lambda root: [str(stable)])
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    assert "others can write to it: compiling without sccache" in capsys.readouterr().err
    assert fake.launchers() == [str(stable), None]


def test_a_source_with_incbin_compiles_without_it(hooks: Hooks, fake: Fake, capsys: pytest.CaptureFixture[str]) -> None:
    """sccache hashes the preprocessed source: the file ``.incbin`` names is not in it, so
    its edit would return the old object (the stale fuzzer's ``incbin``; ccache refuses
    such sources too)."""
    (hooks.project / "src" / "blob.c").write_text(
        '__asm__(".pushsection .rodata\\n.incbin \\"" "src/blob.txt" "\\"\\n.popsection\\n");\n'
    )
    hooks.build_wheel()
    assert fake.calls() == [] and fake.launchers() == [None]
    assert "src/blob.c has the assembler read a file (.incbin): compiling without it" in capsys.readouterr().err


def test_the_base_directories_are_the_build_environments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """uv's and build's environments are venvs (their prefix), pip's an overlay of
    site-packages directories on sys.path: each at a new path every build."""
    from wheelmemo._compcache import environment_prefixes

    env = tmp_path / "builds-v0" / ".tmpAbC"
    overlay = tmp_path / "pip-build-env-x" / "overlay"
    monkeypatch.setattr(sys, "prefix", str(env))
    monkeypatch.setattr(
        sys,
        "path",
        [
            str(env / "lib" / "python3.11" / "site-packages"),
            str(overlay / "lib" / "python3.11" / "site-packages"),
            "relative",
        ],
    )
    assert environment_prefixes() == sorted([str(env), str(overlay)])


def test_a_family_whose_builds_record_the_launcher_keys_on_it(
    hooks: Hooks, fake: Fake, monkeypatch: pytest.MonkeyPatch
) -> None:
    """meson puts sccache in the compiler's command, which projects record in their wheel
    (contourpy's ``_build_config.py``): such a wheel built with it is not one built
    without it (``test_it_is_not_part_of_the_key``: the others' are)."""
    assert adapter_for("mesonpy", []).build_sees_launcher
    monkeypatch.setattr(Launching, "build_sees_launcher", True, raising=False)
    hooks.build_wheel()
    monkeypatch.setenv("WHEELMEMO_COMPILER_CACHE", "none")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    monkeypatch.setenv("WHEELMEMO_COMPILER_CACHE", "sccache")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.skipif(sys.platform == "win32", reason="a shell script as the tool")
def test_get_requires_keys_on_the_tools_on_path_that_decide_it(
    hooks: Hooks, fake: Fake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """scikit-build-core asks for cmake and ninja only when PATH has none (or too old):
    an answer given where PATH had cmake is wrong where it has none (found in the
    real-project trials: CMakeNotFoundError)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    monkeypatch.setattr(Launching, "requires_tools", ("faketool",), raising=False)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    hooks("get_requires_for_build_wheel")
    tool = tools / "faketool"
    tool.write_text("#!/bin/sh\necho faketool 1.0\n")
    tool.chmod(0o755)
    hooks("get_requires_for_build_wheel")
    hooks("get_requires_for_build_wheel")
    tool.write_text("#!/bin/sh\necho faketool 2.0 \n")
    hooks("get_requires_for_build_wheel")
    assert hooks.calls()["get_requires_for_build_wheel"] == 3
    assert adapter_for("scikit_build_core", []).requires_tools == ("cmake", "ninja")


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks")
def test_a_planted_symlink_is_never_written_through(
    hooks: Hooks, fake: Fake, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sccache writes its objects under ``SCCACHE_DIR``: a symlink planted there would
    carry them (and the binary's copy) anywhere."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (cache_dir / "v1" / "compiler").mkdir(parents=True)
    (cache_dir / "v1" / "compiler" / "objects").symlink_to(elsewhere)
    hooks.build_wheel()
    assert fake.calls() == [] and fake.launchers() == [None]
    assert list(elsewhere.iterdir()) == []
    assert "compiler cache: not used" in capsys.readouterr().err
