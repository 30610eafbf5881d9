"""The fuzzer's projects: one small real project per backend family, and what can vary in it.

A template is a set of files below a *tree* (``proj/`` is the project, ``shared/`` a
sibling directory the build reads from outside the project).  A **slot** is a file
whose whole content is a text with one ``@V@`` placeholder: the operations write a
token there (an edit) or restore an older content (a revert).  Every compiled module
and every pure package exposes ``probe()``, a string of everything the build baked in
(source and header constants, variables, features, data files), so that two wheels
whose compiled bytes differ can be compared by what they do.

Each template reads what its backend family's real projects read, in the ways
wheelmemo promises to see (README "what can change a build"): ``setup.py`` and build
hooks read variables by ``os.environ``, ``os.environb`` and ``os.getenv`` and files by
``open`` and a relative ``os.open``; compilers read gitignored generated sources and
headers outside the project, and their assemblers a file that ``.incbin`` names (in
no compiler's dependency list); ``build.rs`` reads a variable cargo is told about.
What the README documents as unseen (a variable CMake reads from the environment) is
declared in ``[tool.wheelmemo] env``, as the README tells users to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

V = "@V@"
#: the tokens a slot takes: few, so that states recur (hits) as often as they change
TOKENS = ("a", "b", "c")

#: every tree's outputs, never part of a state (the backends' and frontends' own)
OUTPUT_DIRS = {"build", "target", ".venv", "dist", "__pycache__", "builddir", ".git"}
OUTPUT_SUFFIXES = (".so", ".pyd", ".egg-info", ".dist-info")
OUTPUT_FILES = {"uv.lock"}

GITIGNORE = "build/\ndist/\n*.egg-info/\n*.so\n.venv/\nuv.lock\ntarget/\n__pycache__/\ndata.txt\ngen/\n"


@dataclass(frozen=True)
class Slot:
    """A file whose content is ``text`` with a token in place of ``@V@``."""

    path: str  # relative to the tree
    text: str
    ignored: bool = False  # gitignored (generated): not in git, maybe not in the sdist
    outside: bool = False  # below shared/, outside the project


@dataclass(frozen=True)
class Template:
    family: str
    dist: str  # the distribution name (uv sync --reinstall-package, stats)
    module: str  # ``import module; module.probe()``
    files: dict[str, str]  # fixed files, relative to the tree
    slots: tuple[Slot, ...]
    frontends: tuple[str, ...]
    #: variables the build reads (each set, changed and unset by the operations)
    env_vars: tuple[str, ...] = ()
    #: config settings the operations choose from: (key, values); "" = not passed
    config: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: extra operations this family supports: ``accel`` (an optional module without
    #: isolation), ``shadow`` (a header in csrc/ of the name core.c includes from shared/),
    #: ``embed`` (csrc/embed.h, which has the assembler read csrc/blob.txt)
    extra_ops: tuple[str, ...] = ()
    #: pure modules the add/remove/rename operations move around, in this directory
    module_dir: str = ""
    #: the project's own crates (a cargo family): never in the oracle's seeded target dir
    crates: tuple[str, ...] = ()
    #: what ``embed`` writes to ``EMBED`` (an ``.incbin`` of csrc/blob.txt)
    embed: str = ""
    #: slots whose tokens are not ``TOKENS``
    slot_tokens: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def slot(self, name: str) -> Slot:
        (found,) = (s for s in self.slots if s.path == name)
        return found

    def tokens(self, path: str) -> tuple[str, ...]:
        return self.slot_tokens.get(path, TOKENS)


def _pyproject(dist: str, requires: str, backend: str, body: str) -> str:
    return f"""[build-system]
requires = ["wheelmemo", {requires}]
build-backend = "wheelmemo"

[project]
name = "{dist}"
version = "1.0"
description = "stale fuzz project"
requires-python = ">=3.9"
{body}
[tool.wheelmemo]
backend = "{backend}"
"""


# a pure package's probe: its constant, what the build baked in and the modules it has
PY_INIT = """import os

PY = "@V@"


def _mods():
    here = os.path.dirname(__file__)
    return ",".join(sorted(n for n in os.listdir(here) if n.startswith("mod_") and n.endswith(".py")))


def probe():
    return "py=" + PY + ";mods=" + _mods() + ";" + _baked()
"""

C_MODULE = """#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "inner.h"
#include "fz_shared.h"
#define CORE_VALUE "@V@"
%(extra_decl)s
static PyObject *probe(PyObject *self, PyObject *args) {
    return PyUnicode_FromFormat(%(fmt)s);
}
static PyMethodDef methods[] = {{"probe", probe, METH_NOARGS, NULL}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "_core", NULL, -1, methods};
PyMODINIT_FUNC PyInit__core(void) { return PyModule_Create(&mod); }
"""


def _c_module(values: list[str], extra_decl: str = "") -> str:
    fmt = '"' + ";".join(f"{v.lower()}=%s" for v in values) + '", ' + ", ".join(values)
    return C_MODULE % {"fmt": fmt, "extra_decl": extra_decl}


# -- setuptools C --------------------------------------------------------------------
SETUP_PY = """import os

from setuptools import Extension, setup

try:  # an optional accelerator, seen only without build isolation
    import fzaccel
    accel = fzaccel.VALUE
except ImportError:
    accel = "none"
with open("data.txt") as f:  # gitignored, generated by a release script
    data = f.read().strip()
fd = os.open("opened.txt", os.O_RDONLY)  # a read the audit event names only relatively
opened = os.read(fd, 100).decode().strip()
os.close(fd)
values = {
    "FZ_ENV": os.environ.get("FZ_ENV", "unset"),
    "FZ_ENVB": os.environb.get(b"FZ_ENVB", b"unset").decode(),
    "FZ_GETENV": os.getenv("FZ_GETENV", "unset"),
    "FZ_DATA": data,
    "FZ_OPENED": opened,
    "FZ_ACCEL": accel,
}
setup(
    ext_modules=[
        Extension(
            "fzs._core",
            ["csrc/core.c"],
            include_dirs=["csrc", os.environ.get("FZ_SHARED_DIR", "../shared")],
            define_macros=[(k, '"%s"' % v) for k, v in values.items()],
        )
    ],
)
"""


# a file only the assembler reads (``.incbin``): the preprocessor sees its name, no
# compiler's dependency list names it; setuptools compiles in the project, so a relative
# path; CMake and meson compile in their build directory and pass FZ_BLOB, the absolute one
def _incbin(path: str) -> str:
    return (
        '__asm__(".pushsection .rodata\\n.hidden fz_blob\\n.globl fz_blob\\nfz_blob:\\n'
        f'.incbin \\"" {path} "\\"\\n.byte 0\\n.popsection\\n");\n'
        "extern const char fz_blob[];"
    )


#: core.c embeds blob.txt only while csrc/embed.h is there (the ``embed`` operation): a
#: project with an ``.incbin`` compiles without a persistent build directory and without
#: the compiler cache, so the templates have one only some of the time
EMBED_DECL = """#if __has_include("embed.h")
#include "embed.h"
#else
static const char fz_blob[] = "none";
#endif"""
EMBED = "proj/csrc/embed.h"

SETUPTOOLS = Template(
    family="setuptools",
    dist="fz-setuptools",
    module="fzs",
    files={
        "proj/pyproject.toml": _pyproject(
            "fz-setuptools",
            '"setuptools>=64"',
            "setuptools.build_meta",
            '\n[tool.setuptools]\npackages = ["fzs"]\npackage-dir = {"" = "src"}\n',
        ),
        "proj/setup.py": SETUP_PY,
        "proj/MANIFEST.in": "include data.txt opened.txt csrc/*.h csrc/blob.txt\n",
        "proj/.gitignore": GITIGNORE,
        "proj/src/fzs/_glue.py": "from ._core import probe as _baked  # noqa\n",
    },
    slots=(
        Slot("proj/src/fzs/__init__.py", PY_INIT + "\n\nfrom ._glue import _baked  # noqa: E402\n"),
        Slot(
            "proj/csrc/core.c",
            _c_module(
                [
                    "CORE_VALUE",
                    "INNER_VALUE",
                    "SHARED_VALUE",
                    "FZ_ENV",
                    "FZ_ENVB",
                    "FZ_GETENV",
                    "FZ_DATA",
                    "FZ_OPENED",
                    "FZ_ACCEL",
                    "fz_blob",
                ],
                EMBED_DECL,
            ),
        ),
        Slot("proj/csrc/inner.h", '#define INNER_VALUE "@V@"\n'),
        Slot("shared/fz_shared.h", '#define SHARED_VALUE "@V@"\n', outside=True),
        Slot("proj/data.txt", "@V@\n", ignored=True),
        Slot("proj/opened.txt", "@V@\n"),
        Slot("proj/csrc/blob.txt", "@V@"),
    ),
    frontends=("uv-wheel", "pip-wheel", "uv-build", "build", "build-wheel", "pip-e", "uv-sync", "pip-noiso"),
    env_vars=("FZ_ENV", "FZ_ENVB", "FZ_GETENV"),
    extra_ops=("accel", "shadow", "embed"),
    embed=_incbin('"csrc/blob.txt"'),
    module_dir="proj/src/fzs",
)


# -- hatchling with a build hook -------------------------------------------------------
HATCH_HOOK = """import os
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class Hook(BuildHookInterface):
    def initialize(self, version, build_data):
        with open(os.path.join(self.root, "data.txt")) as f:  # gitignored, an artifact
            data = f.read().strip()
        shared = os.environ.get("FZ_SHARED_DIR", os.path.join(self.root, "..", "shared"))
        with open(os.path.join(shared, "shared.txt")) as f:  # outside the project
            outside = f.read().strip()
        fd = os.open("opened.txt", os.O_RDONLY)
        opened = os.read(fd, 100).decode().strip()
        os.close(fd)
        values = {
            "env": os.environ.get("FZ_ENV", "unset"),
            "envb": os.environb.get(b"FZ_ENVB", b"unset").decode(),
            "getenv": os.getenv("FZ_GETENV", "unset"),
            "data": data, "outside": outside, "opened": opened,
        }
        out = os.path.join(tempfile.mkdtemp(), "fzh_baked.py")
        with open(out, "w") as f:
            f.write("VALUE = %r\\n" % ";".join("%s=%s" % kv for kv in values.items()))
        build_data["force_include"][out] = "fzh_baked.py"
"""

HATCH = Template(
    family="hatchling",
    dist="fz-hatch",
    module="fzh",
    files={
        "proj/pyproject.toml": _pyproject(
            "fz-hatch",
            '"hatchling"',
            "hatchling.build",
            """
[tool.hatch.build.targets.wheel]
packages = ["src/fzh"]

[tool.hatch.build.targets.sdist]
artifacts = ["data.txt"]

[tool.hatch.build.hooks.custom]
""",
        ),
        "proj/hatch_build.py": HATCH_HOOK,
        "proj/.gitignore": GITIGNORE,
    },
    slots=(
        Slot(
            "proj/src/fzh/__init__.py",
            PY_INIT + "\n\ndef _baked():\n    import fzh_baked\n\n    return fzh_baked.VALUE\n",
        ),
        Slot("proj/data.txt", "@V@\n", ignored=True),
        Slot("proj/opened.txt", "@V@\n"),
        Slot("shared/shared.txt", "@V@\n", outside=True),
    ),
    frontends=("uv-wheel", "pip-wheel", "uv-build", "build", "build-wheel", "pip-e", "uv-sync"),
    env_vars=("FZ_ENV", "FZ_ENVB", "FZ_GETENV"),
    module_dir="proj/src/fzh",
)


# -- scikit-build-core C ----------------------------------------------------------------
CMAKELISTS = """cmake_minimum_required(VERSION 3.15)
project(fzk LANGUAGES C)
find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)
if(NOT DEFINED FZ_OPT)
  set(FZ_OPT "unset")
endif()
set(FZ_ENV_VALUE "$ENV{FZ_ENV}")
# a cache variable's default: a CMakeCache.txt kept from an earlier configure keeps its
# old value when the default is edited (wheelmemo's build directory configures afresh)
include(cmake/defaults.cmake)
set(FZ_SHARED "$ENV{FZ_SHARED_DIR}")
if(FZ_SHARED STREQUAL "")
  set(FZ_SHARED "${CMAKE_SOURCE_DIR}/../shared")
endif()
Python_add_library(_core MODULE csrc/core.c gen/gen.c WITH_SOABI)
target_include_directories(_core PRIVATE csrc "${FZ_SHARED}")
target_compile_definitions(_core PRIVATE FZ_OPT="${FZ_OPT}" FZ_ENV="${FZ_ENV_VALUE}" FZ_CACHED="${FZ_CACHED}"
  FZ_BLOB="${CMAKE_SOURCE_DIR}/csrc/blob.txt")
install(TARGETS _core DESTINATION fzk)
"""

GEN_DECL = "const char *gen_value(void);"

SKBUILD = Template(
    family="skbuild",
    dist="fz-skbuild",
    module="fzk",
    files={
        "proj/pyproject.toml": _pyproject(
            "fz-skbuild",
            '"scikit-build-core>=0.10"',
            "scikit_build_core.build",
            """
[tool.scikit-build]
wheel.packages = ["src/fzk"]
# the generated source is gitignored, and the sdist ships it (as real projects do)
sdist.include = ["gen/gen.c"]
""",
        )
        + 'env = ["FZ_ENV"]  # CMake reads it: documented as unseen, so declared\n',
        "proj/CMakeLists.txt": CMAKELISTS,
        "proj/.gitignore": GITIGNORE,
        "proj/src/fzk/_glue.py": "from ._core import probe as _baked  # noqa\n",
    },
    slots=(
        Slot("proj/src/fzk/__init__.py", PY_INIT + "\n\nfrom ._glue import _baked  # noqa: E402\n"),
        Slot(
            "proj/csrc/core.c",
            _c_module(
                [
                    "CORE_VALUE",
                    "INNER_VALUE",
                    "SHARED_VALUE",
                    "FZ_OPT",
                    "FZ_ENV",
                    "FZ_CACHED",
                    "gen_value()",
                    "fz_blob",
                ],
                GEN_DECL + "\n" + EMBED_DECL,
            ),
        ),
        Slot("proj/csrc/inner.h", '#define INNER_VALUE "@V@"\n'),
        Slot("proj/csrc/blob.txt", "@V@"),
        Slot("proj/cmake/defaults.cmake", 'set(FZ_CACHED "@V@" CACHE STRING "a default the cache keeps")\n'),
        Slot("shared/fz_shared.h", '#define SHARED_VALUE "@V@"\n', outside=True),
        Slot("proj/gen/gen.c", 'const char *gen_value(void) { return "@V@"; }\n', ignored=True),
    ),
    frontends=("uv-wheel", "pip-wheel", "uv-build", "build", "build-wheel", "pip-e", "uv-sync"),
    env_vars=("FZ_ENV",),
    config=(("cmake.define.FZ_OPT", ("", "x", "y")),),
    extra_ops=("shadow", "embed"),
    embed=_incbin("FZ_BLOB"),
    module_dir="proj/src/fzk",
)


# -- meson-python C ---------------------------------------------------------------------
MESON_BUILD = """project('fzm', 'c', version: '1.0')
py = import('python').find_installation(pure: false)
py.extension_module('_core', 'csrc/core.c', 'gen/gen.c',
  include_directories: include_directories('csrc', '../shared'),
  c_args: ['-DFZ_OPT="' + get_option('fz_opt') + '"', '-DFZ_ENV="none"',
            '-DFZ_BLOB="' + (meson.current_source_dir() / 'csrc' / 'blob.txt') + '"'],
  install: true, subdir: 'fzm')
py.install_sources('src/fzm/__init__.py', 'src/fzm/_glue.py', subdir: 'fzm')
"""

MESON = Template(
    family="meson",
    dist="fz-meson",
    module="fzm",
    files={
        "proj/pyproject.toml": _pyproject("fz-meson", '"meson-python>=0.15", "meson>=1.1", "ninja"', "mesonpy", ""),
        "proj/meson.build": MESON_BUILD,
        "proj/.gitignore": GITIGNORE,
        "proj/src/fzm/_glue.py": "from ._core import probe as _baked  # noqa\n",
    },
    slots=(
        Slot("proj/src/fzm/__init__.py", PY_INIT + "\n\nfrom ._glue import _baked  # noqa: E402\n"),
        # an option's default: `meson setup --reconfigure` keeps the value of an earlier
        # setup (wheelmemo's build directory sets up afresh)
        Slot("proj/meson.options", "option('fz_opt', type: 'string', value: '@V@')\n"),
        Slot(
            "proj/csrc/core.c",
            _c_module(
                ["CORE_VALUE", "INNER_VALUE", "SHARED_VALUE", "FZ_OPT", "gen_value()", "fz_blob"],
                GEN_DECL + "\n" + EMBED_DECL,
            ),
        ),
        Slot("proj/csrc/inner.h", '#define INNER_VALUE "@V@"\n'),
        Slot("proj/csrc/blob.txt", "@V@"),
        Slot("shared/fz_shared.h", '#define SHARED_VALUE "@V@"\n', outside=True),
        Slot("proj/gen/gen.c", 'const char *gen_value(void) { return "@V@"; }\n', ignored=True),
    ),
    # meson-python's sdist is `meson dist` of the last commit, and its editable needs
    # --no-build-isolation: the tree routes only
    frontends=("uv-wheel", "pip-wheel", "build-wheel"),
    config=(("setup-args", ("", "-Dfz_opt=x", "-Dfz_opt=y")),),
    extra_ops=("shadow", "embed"),
    embed=_incbin("FZ_BLOB"),
)


# -- maturin + pyo3 ----------------------------------------------------------------------
MATURIN_LIB = """use pyo3::prelude::*;

const CORE: &str = "@V@";
const GEN: &str = include_str!("../gen/gen.txt");

#[cfg(feature = "extra")]
const FEATURE: &str = "extra";
#[cfg(not(feature = "extra"))]
const FEATURE: &str = "none";

#[pyfunction]
fn probe() -> String {
    format!("core={};gen={};dep={};inner={};env={};feature={}", CORE, GEN.trim(), fzdep::VALUE, fzin::VALUE,
            env!("FZ_ENV_BAKED"), FEATURE)
}

#[pymodule]
fn fzr(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(probe, m)?)
}
"""

# the path dependencies (one outside the project, one inside): the feature reaches them,
# so cargo keeps an artifact of each per feature set
FZDEP_LIB = """#[cfg(feature = "extra")]
pub const VALUE: &str = concat!("@V@", "+extra");
#[cfg(not(feature = "extra"))]
pub const VALUE: &str = "@V@";
"""

BUILD_RS = """fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=FZ_ENV");
    let v = std::env::var("FZ_ENV").unwrap_or_else(|_| "unset".to_string());
    println!("cargo:rustc-env=FZ_ENV_BAKED={v}");
}
"""

MATURIN = Template(
    family="maturin",
    dist="fzr",
    module="fzr",
    files={
        "proj/Cargo.toml": """[package]
name = "fzr"
version = "1.0.0"
edition = "2021"
publish = false
include = ["/build.rs", "/src/", "/gen/"]

[lib]
name = "fzr"
crate-type = ["cdylib"]

[features]
extra = ["fzdep/extra", "fzin/extra"]

[dependencies]
pyo3 = "0.30.1"
fzdep = { path = "../shared/fzdep" }
fzin = { path = "inner" }
""",
        "proj/build.rs": BUILD_RS,
        "proj/.gitignore": GITIGNORE,
        "shared/fzdep/Cargo.toml": '[package]\nname = "fzdep"\nversion = "1.0.0"\nedition = "2021"\npublish = false\n'
        "\n[features]\nextra = []\n",
        "proj/inner/Cargo.toml": '[package]\nname = "fzin"\nversion = "1.0.0"\nedition = "2021"\npublish = false\n'
        "\n[features]\nextra = []\n",
    },
    slots=(
        Slot(
            "proj/pyproject.toml",
            """[build-system]
requires = ["wheelmemo", "maturin>=1.7,<2"]
build-backend = "wheelmemo"

[project]
name = "fzr"
description = "stale fuzz project"
requires-python = ">=3.9"
dynamic = ["version"]

[tool.maturin]
features = ["pyo3/extension-module"@V@]

[tool.wheelmemo]
backend = "maturin"
""",
        ),
        Slot("proj/src/lib.rs", MATURIN_LIB),
        Slot("proj/gen/gen.txt", "@V@\n", ignored=True),
        Slot("shared/fzdep/src/lib.rs", FZDEP_LIB, outside=True),
        Slot("proj/inner/src/lib.rs", FZDEP_LIB),
    ),
    frontends=("uv-wheel", "pip-wheel", "uv-build", "build", "build-wheel", "pip-e", "uv-sync"),
    env_vars=("FZ_ENV", "MATURIN_PEP517_ARGS"),
    config=(("build-args", ("", "--features=extra")),),
    crates=("fzr", "fzdep", "fzin"),
    slot_tokens={"proj/pyproject.toml": ("", ', "extra"')},
)

# -- setuptools-rust ------------------------------------------------------------------------
SETUP_RUST = """import os

from setuptools import setup
from setuptools_rust import Binding, RustExtension

features = ["extra"] if os.environ.get("FZ_FEATURE") == "on" else []
setup(rust_extensions=[RustExtension("fzsr._core", binding=Binding.PyO3, features=features)])
"""

SETUPTOOLS_RUST = Template(
    family="setuptools-rust",
    dist="fz-setuptools-rust",
    module="fzsr",
    files={
        "proj/pyproject.toml": _pyproject(
            "fz-setuptools-rust",
            '"setuptools>=64", "setuptools-rust>=1.9"',
            "setuptools.build_meta",
            '\n[tool.setuptools]\npackages = ["fzsr"]\npackage-dir = {"" = "src"}\n',
        ),
        "proj/setup.py": SETUP_RUST,
        "proj/Cargo.toml": MATURIN.files["proj/Cargo.toml"]
        .replace('name = "fzr"', 'name = "fzsr"')
        .replace('pyo3 = "0.30.1"', 'pyo3 = { version = "0.30.1", features = ["extension-module"] }'),
        "proj/build.rs": BUILD_RS,
        "proj/.gitignore": GITIGNORE,
        "proj/src/fzsr/_glue.py": "from ._core import probe as _baked  # noqa\n",
        "shared/fzdep/Cargo.toml": MATURIN.files["shared/fzdep/Cargo.toml"],
        "proj/inner/Cargo.toml": MATURIN.files["proj/inner/Cargo.toml"],
    },
    slots=(
        Slot("proj/src/fzsr/__init__.py", PY_INIT + "\n\nfrom ._glue import _baked  # noqa: E402\n"),
        Slot("proj/src/lib.rs", MATURIN_LIB.replace("fn fzr(", "fn _core(")),
        Slot("proj/gen/gen.txt", "@V@\n", ignored=True),
        Slot("shared/fzdep/src/lib.rs", FZDEP_LIB, outside=True),
        Slot("proj/inner/src/lib.rs", FZDEP_LIB),
    ),
    # the path dependency outside the project is not in setuptools' sdist: tree routes only
    frontends=("uv-wheel", "pip-wheel", "build-wheel", "pip-e", "uv-sync"),
    env_vars=("FZ_ENV", "FZ_FEATURE"),
    crates=("fzsr", "fzdep", "fzin"),
    module_dir="proj/src/fzsr",
)

# the same with both path dependencies inside the project, so that its sdist holds them:
# the routes through an unpacked sdist (uv build, python -m build), whose misses build in
# the stable copy in wheelmemo's build directory (``_srccopy``)
SETUPTOOLS_RUST_SDIST = Template(
    family="setuptools-rust-sdist",
    dist="fz-setuptools-rust",
    module="fzsr",
    files={
        **{k: v for k, v in SETUPTOOLS_RUST.files.items() if not k.startswith("shared/")},
        "proj/Cargo.toml": SETUPTOOLS_RUST.files["proj/Cargo.toml"].replace('"../shared/fzdep"', '"fzdep"'),
        "proj/fzdep/Cargo.toml": MATURIN.files["shared/fzdep/Cargo.toml"],
        "proj/MANIFEST.in": "include Cargo.toml Cargo.lock build.rs gen/gen.txt\n"
        "recursive-include src *.rs\nrecursive-include inner *.rs *.toml\nrecursive-include fzdep *.rs *.toml\n",
    },
    slots=(
        *(s for s in SETUPTOOLS_RUST.slots if not s.outside),
        Slot("proj/fzdep/src/lib.rs", FZDEP_LIB),
    ),
    frontends=("uv-wheel", "pip-wheel", "uv-build", "build", "build-wheel", "pip-e", "uv-sync"),
    env_vars=("FZ_ENV", "FZ_FEATURE"),
    crates=("fzsr", "fzdep", "fzin"),
    module_dir="proj/src/fzsr",
)
ENV_VALUES_RUST = {"FZ_FEATURE": ("on", "off")}

#: what a variable takes; MATURIN_PEP517_ARGS selects features
ENV_VALUES = {"MATURIN_PEP517_ARGS": ("--features=extra", ""), **ENV_VALUES_RUST}

TEMPLATES = {t.family: t for t in (SETUPTOOLS, HATCH, SKBUILD, MESON, MATURIN, SETUPTOOLS_RUST, SETUPTOOLS_RUST_SDIST)}
