"""What CMake's and meson's records say the compilers read (``_buildsys``), and builds
whose compiler reads nobody reported (``_engine``: not cached)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from wheelmemo._buildsys import (
    build_dir_plan,
    build_dirs,
    parse_build_ninja,
    parse_ninja_deps,
    read_build_dirs,
)
from wheelmemo.backends import adapter_for

from conftest import FakeSite, Hooks, use_learning_backend

DATA = Path(__file__).parent / "data"
#: written by ninja 1.13 for CMake 4.4 building /tmp/cm/p/src/t.c, which includes
#: ../shared/v.h (include_directories outside the project)
CMAKE_LOG = DATA / "cmake-ninja-1.13.ninja_deps"
CMAKE_DEPS = {"CMakeFiles/t.dir/src/t.c.o": ["/tmp/cm/p/src/t.c", "/usr/include/stdc-predef.h", "/tmp/cm/shared/v.h"]}


def _log(version: int, *records: tuple[str, object]) -> bytes:
    """A deps log as ninja writes it: ("path", name) and ("deps", (out_id, [ids]))."""
    data = b"# ninjadeps\n" + struct.pack("=i", version)
    count = 0
    for kind, value in records:
        if kind == "path":
            assert isinstance(value, str)
            name = value.encode()
            name += b"\0" * (-len(name) % 4)
            data += struct.pack("=I", len(name) + 4) + name + struct.pack("=I", ~count & 0xFFFFFFFF)
            count += 1
        else:
            out, ids = value  # type: ignore[misc]
            mtime = struct.pack("=Q", 123) if version == 4 else struct.pack("=I", 123)
            body = struct.pack("=i", out) + mtime + struct.pack(f"={len(ids)}i", *ids)
            data += struct.pack("=I", len(body) | 0x80000000) + body
    return data


# -- the deps log ---------------------------------------------------------------------------
def test_real_deps_log_of_cmake_and_ninja() -> None:
    assert parse_ninja_deps(CMAKE_LOG.read_bytes()) == (CMAKE_DEPS, True)


def test_every_truncation_and_damaged_byte_of_a_real_log_is_read_safely() -> None:
    data = CMAKE_LOG.read_bytes()
    for end in range(len(data)):
        deps, whole = parse_ninja_deps(data[:end])
        assert deps == {}, end  # the one deps record is the last: cut, it is not read
        # whole only where the cut falls between records (ninja would read the same)
        assert not whole or end in (16, 52, 80, 116, 144), end
    for at in range(len(data)):
        for value in (0x00, 0xFF, 0x80):
            damaged = data[:at] + bytes([value]) + data[at + 1 :]
            deps, whole = parse_ninja_deps(damaged)  # never raises
            assert isinstance(deps, dict)
            assert all(isinstance(p, str) for dep_list in deps.values() for p in dep_list)
    assert parse_ninja_deps(b"") == ({}, False)
    assert parse_ninja_deps(b"# ninjalog\n\x04\0\0\0") == ({}, False)


@pytest.mark.parametrize("version", [3, 4])
def test_versions_latest_record_wins_and_bad_ids_stop_the_read(version: int) -> None:
    log = _log(
        version,
        ("path", "a.o"),
        ("path", "../src/a.c"),
        ("path", "old.h"),
        ("deps", (0, [1, 2])),
        ("path", "new.h"),
        ("deps", (0, [1, 3])),
    )
    assert parse_ninja_deps(log) == ({"a.o": ["../src/a.c", "new.h"]}, True)
    bad = _log(version, ("path", "a.o"), ("deps", (0, [0])), ("deps", (0, [7])))
    assert parse_ninja_deps(bad) == ({"a.o": ["a.o"]}, False)
    assert parse_ninja_deps(_log(2, ("path", "a.o")))[1] is False
    huge = log + struct.pack("=I", (1 << 19) | 0x80000000)
    assert parse_ninja_deps(huge) == ({"a.o": ["../src/a.c", "new.h"]}, False)


# -- build.ninja ------------------------------------------------------------------------------
def test_build_ninja_statements() -> None:
    text = (
        "ninja_required_version = 1.5\n"
        "include CMakeFiles/rules.ninja\n"
        "subninja sub$ dir/more.ninja\n"
        "build obj/a$ b.o | obj/a.stamp: CC ../src/a$ b.c ../src/c$:d.c $\n"
        "    ../gen$$x.c | ../shared/v.h || order_only |@ check\n"
        "  FLAGS = -O2\n"
        "build gen.c: CUSTOM ../src/m.pyx | $out.extra\n"
        "build all: phony obj/a$ b.o\n"
        "build ../meson.build: phony\n"
    )
    edges, included = parse_build_ninja(text)
    assert included == ["CMakeFiles/rules.ninja", "sub dir/more.ninja"]
    assert edges == [
        (["obj/a b.o", "obj/a.stamp"], ["../src/a b.c", "../src/c:d.c", "../gen$x.c", "../shared/v.h"]),
        (["gen.c"], ["../src/m.pyx"]),
        ([], ["obj/a b.o"]),  # phony: its outputs are names, not files
        ([], []),
    ]


# -- build directories ------------------------------------------------------------------------
def test_read_build_dirs_depfiles_ninja_inputs_outputs_and_damage(tmp_path: Path) -> None:
    build = tmp_path / "build"
    (build / "sub").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    for name in ("a.c", "m.pyx", "m.pxd", "in.txt"):
        (tmp_path / "src" / name).write_text(name)
    (build / ".ninja_deps").write_bytes(
        _log(4, ("path", "a.o"), ("path", "../src/a.c"), ("path", "gen/config.h"), ("deps", (0, [1, 2])))
    )
    (build / "sub" / "m.pyx.c.dep").write_text("sub/m.pyx.c: ../src/m.pyx ../src/m.pxd\n")
    (build / "sub" / "compiler_depend.make").write_text("x.o: /abs/x.h \\\n  /abs/y.h\n")
    (build / "build.ninja").write_text("build ../src/out.c: GEN ../src/in.txt\nbuild a.o: CC ../src/a.c ../src/out.c\n")
    found = read_build_dirs([build])
    src = str(tmp_path / "src")
    assert found.files == {
        f"{src}/a.c": "a compiler (Ninja deps log)",
        f"{src}/m.pyx": "a compiler (depfile m.pyx.c.dep)",
        f"{src}/m.pxd": "a compiler (depfile m.pyx.c.dep)",
        "/abs/x.h": "a compiler (depfile compiler_depend.make)",
        "/abs/y.h": "a compiler (depfile compiler_depend.make)",
        f"{src}/in.txt": "a step of build.ninja",
    }  # gen/config.h is in the build directory, ../src/out.c a step's output: neither is an input
    assert found.complete and found.compiler_reported
    # a reported file that is not there: resolved against the wrong directory, unless the
    # directory is the user's (ninja keeps records of deleted sources until it compacts)
    (build / "sub" / "more.d").write_text("x.o: ../src/gone.c\n")
    assert read_build_dirs([build]).complete
    assert not read_build_dirs([build], fresh=True).complete
    (build / "sub" / "more.d").unlink()
    assert read_build_dirs([build], fresh=True).complete is False  # /abs/x.h is not there either
    (build / "sub" / "compiler_depend.make").unlink()
    assert read_build_dirs([build], fresh=True).complete
    (build / ".ninja_deps").write_bytes((build / ".ninja_deps").read_bytes()[:-2])
    assert not read_build_dirs([build]).complete


def _which(name: str) -> str | None:
    from realtools import tool

    try:
        return tool(name)
    except RuntimeError:
        return None


@pytest.mark.skipif(not (_which("cmake") and _which("ninja")), reason="needs cmake and ninja")
def test_a_real_cmake_ninja_build_names_the_outside_header_and_the_ignored_source(tmp_path: Path) -> None:
    project, shared = tmp_path / "p", tmp_path / "shared"
    (project / "src").mkdir(parents=True)
    shared.mkdir()
    (shared / "v.h").write_text("#define V 1\n")
    (project / "src" / "gen.c").write_text('#include "v.h"\nint f(void) { return V; }\n')
    (project / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.15)\nproject(t LANGUAGES C)\n"
        "include_directories(${CMAKE_SOURCE_DIR}/../shared)\nadd_library(t MODULE src/gen.c)\n"
    )
    build = tmp_path / "build"
    env = {**os.environ, "PATH": f"{Path(str(_which('ninja'))).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("DEPENDENCIES_OUTPUT", None)
    subprocess.run(
        [str(_which("cmake")), "-S", str(project), "-B", str(build), "-G", "Ninja"],
        check=True,
        capture_output=True,
        env=env,
    )
    subprocess.run([str(_which("ninja")), "-C", str(build)], check=True, capture_output=True, env=env)
    found = read_build_dirs([build])
    assert found.complete and found.compiler_reported
    assert found.files[str(project / "src" / "gen.c")] == "a compiler (Ninja deps log)"
    assert found.files[str(shared / "v.h")] == "a compiler (Ninja deps log)"
    assert found.files[str(project / "CMakeLists.txt")] == "a step of build.ninja"
    assert not any(path.startswith(str(build) + os.sep) for path in found.files)


def test_build_dir_plan(tmp_path: Path) -> None:
    scratch = tmp_path / "scratch"
    plan = {"pyproject": {}, "config": None, "environ": {}, "scratch": scratch}
    ours = ({"build-dir": str(scratch / "build-dir")}, [str(scratch / "build-dir")])
    skbuild, mesonpy = adapter_for("scikit_build_core", []), adapter_for("mesonpy", [])
    assert build_dir_plan(skbuild, "wheel", tmp_path, **plan) == ours
    assert build_dir_plan(mesonpy, "wheel", tmp_path, **plan) == ours
    # editables write their build directory into the wheel; other hooks compile nothing
    assert build_dir_plan(skbuild, "editable", tmp_path, **plan) == ({}, [])
    assert build_dir_plan(mesonpy, "metadata-wheel", tmp_path, **plan) == ({}, [])
    assert build_dir_plan(adapter_for("setuptools", []), "wheel", tmp_path, **plan) == ({}, [])
    # the user's own directory is read, not replaced: placeholders match any name, and
    # it is looked for after the build (the first build makes it)
    for settings in (
        {"pyproject": {"tool": {"scikit-build": {"build-dir": "build/{wheel_tag}"}}}},
        {"pyproject": {"tool": {"scikit-build": {"overrides": [{"if": {}, "build-dir": "build/{state}"}]}}}},
        {"environ": {"SKBUILD_BUILD_DIR": "build/{cache_tag}"}},
        {"config": {"skbuild.build-dir": str(tmp_path / "build" / "{wheel_tag}")}},
    ):
        config, patterns = build_dir_plan(skbuild, "wheel", tmp_path, **{**plan, **settings})
        assert config == {}
        assert build_dirs(patterns, tmp_path) == []
        (tmp_path / "build" / "cp311-abi3").mkdir(parents=True, exist_ok=True)
        assert build_dirs(patterns, tmp_path) == [tmp_path / "build" / "cp311-abi3"]
        shutil.rmtree(tmp_path / "build")
    (tmp_path / "mi[n]e").mkdir()
    _, patterns = build_dir_plan(mesonpy, "wheel", tmp_path, **{**plan, "config": {"builddir": "mi[n]e"}})
    assert build_dirs(patterns, tmp_path) == [tmp_path / "mi[n]e"]
    (tmp_path / "build" / "cp311").mkdir(parents=True)
    _, patterns = build_dir_plan(mesonpy, "editable", tmp_path, **plan)  # meson-python's build/<abi>
    assert build_dirs(patterns, tmp_path) == [tmp_path / "build" / "cp311"]
    _, patterns = build_dir_plan(mesonpy, "wheel", tmp_path, **{**plan, "config": {"build-dir": "."}})
    assert build_dirs(patterns, tmp_path) == []  # the project itself holds no build records of its own


# -- builds whose compiler reads nobody reported ----------------------------------------------
def _compiled_member_in_src(hooks: Hooks) -> None:
    package = hooks.project / "src" / "native_pkg"
    package.mkdir(parents=True, exist_ok=True)
    (package / "_native.cpython-311-x86_64-linux-gnu.so").write_bytes(b"\x7fELF compiled elsewhere")


def test_a_compiled_member_from_another_process_that_reported_nothing_is_not_cached(
    hooks: Hooks,
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_learning_backend(hooks, fake_site, run=["pass"])  # another process: its reads unseen
    _compiled_member_in_src(hooks)
    first = hooks.build_wheel()
    with zipfile.ZipFile(first) as zf:
        assert "native_pkg/_native.cpython-311-x86_64-linux-gnu.so" in zf.namelist()
    err = capsys.readouterr().err
    assert err.count("with a compiler whose reads wheelmemo cannot see") == 1
    assert "learningbackend built native_pkg/_native" in err and "[tool.wheelmemo] inputs" in err
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2  # never stored: every build is a miss


def test_declared_inputs_make_such_a_build_cacheable(hooks: Hooks, fake_site: FakeSite) -> None:
    use_learning_backend(hooks, fake_site, run=["pass"])
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.wheelmemo]\n", '[tool.wheelmemo]\ninputs = ["src/**"]\n'))
    assert 'inputs = ["src/**"]' in pyproject.read_text()
    _compiled_member_in_src(hooks)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_a_sealed_build_with_a_compiled_member_stays_cached(hooks: Hooks, fake_site: FakeSite) -> None:
    use_learning_backend(hooks, fake_site)  # no other process: every read seen
    _compiled_member_in_src(hooks)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_another_process_and_no_compiled_member_stays_cached(hooks: Hooks, fake_site: FakeSite) -> None:
    use_learning_backend(hooks, fake_site, run=["pass"])
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
