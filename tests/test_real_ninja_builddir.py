"""The persistent build directories of scikit-build-core and meson-python
(``_ninja_builddir``), with uv's fresh isolated environment for every build: an edit
recompiles the one object it touched, a revert to older content with an older time
recompiles it too (Ninja decides by times), a hit compiles nothing.

Compiles are counted per source file by the CC shim (``tests/shims/cc_wrapper``); the
wheel's module is checked for the string constants of the sources it was built from.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from realtools import Frontends

pytestmark = pytest.mark.real

SOURCES = ("f1", "f2", "f3")
MODULE = """#define PY_SSIZE_T_CLEAN
#include <Python.h>
const char *f1(void); const char *f2(void); const char *f3(void);
static PyObject *values(PyObject *self, PyObject *args) { return Py_BuildValue("sss", f1(), f2(), f3()); }
static PyMethodDef methods[] = {{"values", values, METH_NOARGS, ""}, {0}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "ninjamod", 0, -1, methods};
PyMODINIT_FUNC PyInit_ninjamod(void) { return PyModule_Create(&module); }
"""
BUILD = {
    "skbuild": {
        "requires": '"scikit-build-core>=0.10"',
        "backend": "scikit_build_core.build",
        "CMakeLists.txt": (
            "cmake_minimum_required(VERSION 3.15)\nproject(ninjademo LANGUAGES C)\n"
            "find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)\n"
            "python_add_library(ninjamod MODULE src/mod.c src/f1.c src/f2.c src/f3.c WITH_SOABI)\n"
            "install(TARGETS ninjamod DESTINATION .)\n"
        ),
    },
    "meson": {
        "requires": '"meson-python>=0.15", "meson>=1.1", "ninja"',
        "backend": "mesonpy",
        "meson.build": (
            "project('ninjademo', 'c', version: '1.0')\n"
            "py = import('python').find_installation(pure: false)\n"
            "py.extension_module('ninjamod', 'src/mod.c', 'src/f1.c', 'src/f2.c', 'src/f3.c', install: true)\n"
        ),
    },
}


def _project(root: Path, family: str) -> Path:
    spec = BUILD[family]
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["wheelmemo", {spec["requires"]}]\nbuild-backend = "wheelmemo"\n\n'
        f'[project]\nname = "ninjademo"\nversion = "1.0"\n\n[tool.wheelmemo]\nbackend = "{spec["backend"]}"\n'
    )
    for name, text in spec.items():
        if "." in name:
            (root / name).write_text(text)
    (root / "src" / "mod.c").write_text(MODULE)
    for name in SOURCES:
        _source(root, name, "v1")
    return root


def _source(root: Path, name: str, version: str) -> Path:
    path = root / "src" / f"{name}.c"
    path.write_text(f'const char *{name}(void) {{ return "{name} {version}"; }}\n')
    return path


def _values(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        (member,) = [n for n in zf.namelist() if n.startswith("ninjamod") and n.endswith(".so")]
        data = zf.read(member)
    return [f"{name} {v}" for name in SOURCES for v in ("v1", "v2") if f"{name} {v}".encode() in data]


@pytest.mark.parametrize("family", ["skbuild", "meson"])
def test_an_edit_recompiles_one_object_in_a_new_isolated_environment(
    frontends: Frontends, tmp_path: Path, family: str
) -> None:
    root = _project(tmp_path / "project", family)
    failures: list[str] = []

    def counts() -> dict[str, int]:
        return {name: frontends.compiles(f"src/{name}.c") for name in ("mod", *SOURCES)}

    def step(name: str, want_compiled: dict[str, int], want_values: list[str]) -> None:
        before = counts()
        wheel = frontends.uv_build_wheel(root)
        after = counts()
        compiled = {k: after[k] - before[k] for k in after if after[k] != before[k]}
        if compiled != want_compiled:
            failures.append(f"{name}: compiled {compiled}, want {want_compiled}")
        if _values(wheel) != want_values:
            failures.append(f"{name}: the module holds {_values(wheel)}, want {want_values}")

    step("cold", {"mod": 1, "f1": 1, "f2": 1, "f3": 1}, ["f1 v1", "f2 v1", "f3 v1"])
    old = os.stat(root / "src" / "f2.c").st_mtime_ns
    _source(root, "f2", "v2")
    step("f2 edited", {"f2": 1}, ["f1 v1", "f2 v2", "f3 v1"])
    _source(root, "f3", "v2")
    step("f3 edited", {"f3": 1}, ["f1 v1", "f2 v2", "f3 v2"])
    # f2 back to the content of the cold build, with its time: older than f2's object
    os.utime(_source(root, "f2", "v1"), ns=(old, old))
    step("f2 reverted with its old time", {"f2": 1}, ["f1 v1", "f2 v1", "f3 v2"])
    step("unchanged: a hit", {}, ["f1 v1", "f2 v1", "f3 v2"])
    assert not failures, "\n".join(failures) + "\n" + frontends.last_stderr
