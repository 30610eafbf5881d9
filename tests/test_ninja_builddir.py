"""The persistent build directories of scikit-build-core and meson-python
(``_ninja_builddir``): which directory a miss hands over, what of it is kept, and when it
is a fresh one.  A fake backend importable as ``mesonpy`` stands for meson-python; real
builds that count compiles are in ``test_real_ninja_builddir.py``."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wheelmemo._buildsys import build_dir_plan
from wheelmemo._ninja_builddir import compiler_signatures, identity_extra
from wheelmemo.backends import adapter_for

from conftest import FakeSite, Hooks

#: a meson-python stand-in: logs what it finds in the build-dir it is handed, then leaves
#: an object (Ninja's state) and a configure state there, as meson would
FAKE_MESONPY = """
import json, os
from pathlib import Path
from typing import Any
import countingbackend
from countingbackend import *  # noqa


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    build_dir = (config_settings or {}).get("build-dir")
    found = {}
    if build_dir:
        found = {name: os.path.exists(os.path.join(build_dir, name)) for name in ("obj.o", "meson-private")}
        with open(os.environ["FAKE_MESON_LOG"], "a") as f:
            f.write(json.dumps({"build_dir": build_dir, "found": found}) + "\\n")
        os.makedirs(os.path.join(build_dir, "meson-private"), exist_ok=True)
        Path(build_dir, "meson-private", "coredata.dat").write_text("configured")
        Path(build_dir, "obj.o").write_text("object")
    return countingbackend.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


@pytest.fixture
def meson_log(hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (fake_site.path / "mesonpy.py").write_text(FAKE_MESONPY)
    fake_site.install("meson-python", "1.0", requires=("countingbackend",))
    monkeypatch.delitem(sys.modules, "mesonpy", raising=False)
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('backend = "countingbackend"', 'backend = "mesonpy"'))
    log = tmp_path / "meson.log"
    monkeypatch.setenv("FAKE_MESON_LOG", str(log))
    return log


def _builds(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _edit(hooks: Hooks, text: str) -> None:
    (hooks.project / "src" / "fakepkg" / "data.py").write_text(text)


def test_a_regular_wheel_gets_one_persistent_build_dir_configured_from_scratch(
    hooks: Hooks, meson_log: Path, cache_dir: Path
) -> None:
    hooks.build_wheel()
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    first, second = _builds(meson_log)
    build_dir = Path(str(first["build_dir"]))
    # in the cache's build directory of this project, the same for both misses
    assert build_dir.parent.parent == cache_dir / "v1" / "build" and build_dir.name == "meson"
    assert second["build_dir"] == first["build_dir"]
    assert first["found"] == {"obj.o": False, "meson-private": False}
    # the object is kept, the configure state is not: meson sets up from scratch
    assert second["found"] == {"obj.o": True, "meson-private": False}
    assert hooks.calls()["build_wheel"] == 2


def test_a_new_file_empties_it(hooks: Hooks, meson_log: Path) -> None:
    """A new header earlier on the include path changes what an unchanged source compiles
    to, and is in no object's dependencies: Ninja would keep the old object (the stale
    fuzzer's ``shadow``).  A new file empties the directory; an edit does not."""
    hooks.build_wheel()
    (hooks.project / "src" / "fakepkg" / "shadow.h").write_text("#define VALUE 2\n")
    hooks.build_wheel()
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    first, second, third = _builds(meson_log)
    assert second == {"build_dir": first["build_dir"], "found": {"obj.o": False, "meson-private": False}}
    assert third["found"] == {"obj.o": True, "meson-private": False}


def test_a_source_with_incbin_gets_a_fresh_one(hooks: Hooks, meson_log: Path) -> None:
    """No dependency list names the file an ``.incbin`` reads: Ninja would keep the
    object when it changes."""
    (hooks.project / "src" / "fakepkg" / "blob.S").write_text('.incbin "blob.bin"\n')
    hooks.build_wheel()
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    first, second = _builds(meson_log)
    assert first["found"]["obj.o"] is False and second["found"]["obj.o"] is False


def test_other_config_settings_get_another_build_dir(hooks: Hooks, meson_log: Path) -> None:
    hooks.build_wheel()
    hooks.build_wheel({"setup-args": "-Dopt=1"})
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    first, second, third = _builds(meson_log)
    assert second["build_dir"] != first["build_dir"]
    assert second["found"] == {"obj.o": False, "meson-private": False}
    # back to the first settings: the first directory, with its objects
    assert third == {"build_dir": first["build_dir"], "found": {"obj.o": True, "meson-private": False}}


def test_a_failed_build_leaves_no_build_dir(hooks: Hooks, meson_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks.build_wheel()
    (first,) = _builds(meson_log)
    assert (Path(str(first["build_dir"])) / "obj.o").is_file()
    _edit(hooks, "VALUE = 3\n")
    monkeypatch.setenv("FAKE_BACKEND_FAIL", "1")
    with pytest.raises(RuntimeError):
        hooks.build_wheel()
    # what the failed build compiled is not in the directory's record: it is gone
    assert not Path(str(first["build_dir"])).exists()
    monkeypatch.delenv("FAKE_BACKEND_FAIL")
    hooks.build_wheel()
    assert _builds(meson_log)[-1]["found"] == {"obj.o": False, "meson-private": False}


def test_the_users_build_dir_and_native_editables_are_left_alone(
    hooks: Hooks, meson_log: Path, tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = str(tmp_path / "mine")
    hooks.build_wheel({"build-dir": mine})
    assert _builds(meson_log) == [{"build_dir": mine, "found": {"obj.o": False, "meson-private": False}}]
    # nor is a build directory of wheelmemo's prepared (its stamps are no business of the user's)
    assert not list((cache_dir / "v1").glob("build/*/inputs.json"))
    editable = hooks.out / "editable"
    editable.mkdir(parents=True)
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")  # (the default derives it from a regular wheel)
    hooks("build_editable", str(editable))
    assert hooks.records()[-1]["hook"] == "build_editable"
    assert "build-dir" not in (hooks.records()[-1]["config_settings"] or {})


def test_plan_and_paths(tmp_path: Path) -> None:
    skbuild, mesonpy = adapter_for("scikit_build_core", []), adapter_for("mesonpy", [])
    assert skbuild.ninja_dir_for("wheel") == "cmake" and mesonpy.ninja_dir_for("wheel") == "meson"
    assert mesonpy.ninja_dir_for("editable") is None and adapter_for("setuptools", []).ninja_dir_for("wheel") is None
    ours = tmp_path / "cache" / "meson"
    plan: dict[str, Any] = {"pyproject": {}, "environ": {}, "scratch": tmp_path / "scratch", "persistent": ours}
    assert build_dir_plan(mesonpy, "wheel", tmp_path, config=None, **plan) == (
        {"build-dir": str(ours)},
        [str(ours)],
    )
    config, _ = build_dir_plan(mesonpy, "wheel", tmp_path, config={"build-dir": "b"}, **plan)
    assert config == {}  # the user's wins


def test_fresh_configure_keeps_only_ninjas_state(tmp_path: Path) -> None:
    cmake, meson = tmp_path / "cmake", tmp_path / "meson"
    for name in ("CMakeCache.txt", ".skbuild-info.json", "CMakeFiles/t.dir/t.c.o", ".ninja_log", ".ninja_deps"):
        (cmake / name).parent.mkdir(parents=True, exist_ok=True)
        (cmake / name).write_text("x")
    for name in ("meson-private/coredata.dat", "meson-private/cmd_line.txt", "t.so.p/t.c.o", ".ninja_deps"):
        (meson / name).parent.mkdir(parents=True, exist_ok=True)
        (meson / name).write_text("x")
    adapter_for("scikit_build_core", []).fresh_configure(cmake)
    adapter_for("mesonpy", []).fresh_configure(meson)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "cmake/.ninja_deps",
        "cmake/.ninja_log",
        "cmake/CMakeFiles/t.dir/t.c.o",
        "meson/.ninja_deps",
        "meson/t.so.p/t.c.o",
    ]
    adapter_for("mesonpy", []).fresh_configure(meson)  # nothing to remove: no error


@pytest.mark.skipif(sys.platform == "win32", reason="a compiler is a shell script found on PATH without an extension")
def test_identity_names_config_settings_and_compilers(tmp_path: Path) -> None:
    compiler = tmp_path / "bin" / "cc"
    compiler.parent.mkdir()
    compiler.write_text("#!/bin/sh\n")
    compiler.chmod(0o755)
    environ = {"PATH": str(compiler.parent), "CC": "cc -O2"}
    base = identity_extra({"a": "1"}, environ)
    assert identity_extra({"a": "2"}, environ) != base
    os.utime(compiler, ns=(0, 10**9))  # an upgraded compiler at the same path
    assert identity_extra({"a": "1"}, environ) != base
    (cc, cxx) = compiler_signatures(environ)
    assert cc[:3] == ["CC", "cc", str(compiler)] and cxx[2] is None  # no c++ on this PATH


def test_builds_from_the_tree_and_from_sdist_copies_keep_a_build_dir_each(
    hooks: Hooks, meson_log: Path, tmp_path: Path
) -> None:
    """A CMake or meson build directory belongs to one source directory: the tree's
    builds and the stable copy's (``_srccopy``) alternating in one would configure anew
    and recompile everything each time."""
    from test_srccopy import _build_in, _unpacked

    hooks.build_wheel()
    _edit(hooks, "VALUE = 2\n")
    _build_in(hooks, _unpacked(hooks, tmp_path / "c1"), "c1")
    _edit(hooks, "VALUE = 3\n")
    hooks.build_wheel()
    _edit(hooks, "VALUE = 4\n")
    _build_in(hooks, _unpacked(hooks, tmp_path / "c2"), "c2")
    tree, copy, tree_again, copy_again = _builds(meson_log)
    assert copy["build_dir"] != tree["build_dir"]
    assert tree_again == {"build_dir": tree["build_dir"], "found": {"obj.o": True, "meson-private": False}}
    assert copy_again == {"build_dir": copy["build_dir"], "found": {"obj.o": True, "meson-private": False}}


#: a backend wheelmemo was never taught: it takes its build directory as ``out``
FAKE_NEWFAMILY = """
import json, os
from pathlib import Path
import countingbackend
from countingbackend import *  # noqa


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    out = (config_settings or {}).get("out")
    found = {name: os.path.exists(os.path.join(out, name)) for name in ("obj.o", "conf")} if out else {}
    with open(os.environ["FAKE_MESON_LOG"], "a") as f:
        f.write(json.dumps({"build_dir": out, "found": found}) + "\\n")
    if out:
        os.makedirs(out, exist_ok=True)
        Path(out, "conf").write_text("configured")
        Path(out, "obj.o").write_text("object")
    return countingbackend.build_wheel(wheel_directory, config_settings, metadata_directory)
"""


def test_adding_a_family_is_adding_an_adapter(
    hooks: Hooks, fake_family: Callable[[str, type[Any], str], None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine asks the adapter, never the family's name: an adapter module of a new
    family gets a persistent build directory handed over its way, configured from scratch."""
    from wheelmemo.backends import Adapter

    class NewFamily(Adapter):
        ninja_build_dir = "nb"
        configure_state = ("conf",)

        def user_build_dirs(self, kind: str, pyproject: Any, config: Any, environ: Any) -> list[object]:
            return [config.get("my-out")]

        def build_dir_config(self, directory: Path) -> dict[str, str]:
            return {"out": str(directory)}

    fake_family("newfamily", NewFamily, FAKE_NEWFAMILY)
    log = tmp_path / "meson.log"
    monkeypatch.setenv("FAKE_MESON_LOG", str(log))
    hooks.build_wheel()
    _edit(hooks, "VALUE = 2\n")
    hooks.build_wheel()
    hooks.build_wheel({"my-out": str(tmp_path / "mine")})  # the user's wins
    first, second, third = _builds(log)
    assert first["build_dir"] is not None and Path(str(first["build_dir"])).name == "nb"
    assert second == {"build_dir": first["build_dir"], "found": {"obj.o": True, "conf": False}}
    assert third == {"build_dir": None, "found": {}}
    assert hooks.calls()["build_wheel"] == 3
