"""What wheelmemo knows of each family of inner backends, one adapter per family.

The engine, the keys and ``init`` ask an :class:`Adapter` the few questions where the
families differ, and never test a backend's name themselves:

- ``cargo``: maturin, and setuptools-rust's cargo side (``cargo.py``);
- ``setuptools``: setuptools and what runs through it (``setuptools.py``);
- ``cmake``: scikit-build-core (``cmake.py``);
- ``meson``: meson-python (``meson.py``);
- ``generic``: hatchling, flit, pdm and any backend wheelmemo does not know (``generic.py``).

:func:`adapter_for` picks one by the inner backend's top-level module (its *family*,
``_key.backend_family``), and adds a plugin's adapter on top when a build requirement
runs another family's build inside it (setuptools-rust runs cargo for setuptools).
Adding a family is adding a module here and a line in :data:`FAMILIES`.

An adapter module is imported only when its family is built, and imports its tools'
machinery (TOML, dep-info parsing, configparser) only when asked: a hit pays for this
module and one small adapter.  The generic machinery (the tree walk, hashing, the
store, the recorder, Ninja's deps log) is not here: an adapter says where to look, the
machinery looks.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .._compcache import Launcher

__all__ = [
    "COMPILERS",
    "FAMILIES",
    "PLUGINS",
    "Adapter",
    "Findings",
    "adapter_for",
    "all_env_patterns",
    "tool_versions",
]

#: The inner backend's top-level module -> the adapter module that knows it; any other
#: backend is the generic one's.
FAMILIES: dict[str, str] = {
    "maturin": "cargo",
    "setuptools": "setuptools",
    "scikit_build_core": "cmake",
    "mesonpy": "meson",
}
#: Build requirements that run another family's build inside the backend's: the adapter
#: module that knows it, whose ``plug(adapter)`` adds it.
PLUGINS: dict[str, str] = {"setuptools-rust": "cargo"}

#: What a C or C++ compiler and the linker read from the environment, for every family
#: that compiles C (and cargo's ``cc`` crate).
COMPILERS = (
    "CC",
    "CXX",
    "CPP",
    "LD",
    "AR",
    "ARFLAGS",
    "CFLAGS",
    "CXXFLAGS",
    "CPPFLAGS",
    "LDFLAGS",
    "LDSHARED",
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "LIBRARY_PATH",
    "PKG_CONFIG_PATH",
    "MACOSX_DEPLOYMENT_TARGET",
    "ARCHFLAGS",
    "_PYTHON_HOST_PLATFORM",
    "_PYTHON_SYSCONFIGDATA_NAME",
)


class Findings:
    """What a build's own records (cargo's dep-info and build-script outputs) say it read."""

    def __init__(self, target_dirs: Iterable[Path] = ()) -> None:
        self.files: dict[str, str] = {}  # absolute path -> source
        self.env: dict[str, str] = {}  # name -> source
        #: the tool's own output directories (OUT_DIR's generated files, target/wheels): never inputs
        self.target_dirs = [str(d) for d in target_dirs]


class Adapter:
    """The questions the engine asks of a backend family; these answers are a backend's
    that wheelmemo knows nothing particular of (the generic adapter's)."""

    #: the variables its builds read (names and ``fnmatch`` globs), each in the key
    env: tuple[str, ...] = ()
    #: whether a miss hands it wheelmemo's persistent build directory (``_builddir``)
    takes_build_dir = False
    #: whether it builds compiled parts whatever files the project holds (``init``)
    always_compiles = False

    def __init__(self, family: str) -> None:
        #: the inner backend's top-level module (``maturin``, ``setuptools``, ``hatchling``...)
        self.family = family

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.family}>"

    # -- the key ------------------------------------------------------------------------
    def env_patterns(self) -> frozenset[str]:
        """The environment variables whose values are part of the key (names and globs)."""
        return frozenset(self.env)

    #: programs on PATH whose presence and version decide what its
    #: ``get_requires_for_build_*`` answers (scikit-build-core asks for ``cmake`` and
    #: ``ninja`` only when none is there, or too old): part of that hook's key
    requires_tools: tuple[str, ...] = ()

    def toolchain(self, memo: dict[str, Any], environ: Mapping[str, str]) -> str | None:
        """The part of the key for a toolchain no requirement's version names (``rustc
        -vV``), memoized in ``memo`` (the stat cache's); None when it runs none."""
        return None

    def outside_inputs(self, root: Path, pyproject: dict[str, Any]) -> dict[str, str]:
        """The files outside the tree that its builds read, known before one runs
        (cargo's path dependencies and configuration): label -> path."""
        return {}

    def outside_copy(self, root: Path, pyproject: dict[str, Any]) -> object:
        """What a build of ``root`` reads outside it, in a form that two copies of one
        project give alike when they build alike: a miss builds a frontend's copy of an
        unpacked sdist in a stable copy of it only then (``_srccopy``)."""
        return self.outside_inputs(root, pyproject)

    # -- a miss -------------------------------------------------------------------------
    def scratch_env(self, scratch: Path) -> dict[str, str]:
        """Variables that give one miss a clean build directory of its own in ``scratch``
        (setuptools' ``build_base``), set while the build is observed."""
        return {}

    def build_dir_env(self, build_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
        """Variables that hand it wheelmemo's persistent build directory ``build_dir``
        (only asked when :attr:`takes_build_dir`); none when the user named one."""
        return {}

    # -- a build directory handed over through config settings (CMake, meson) -----------
    #: the subdirectory of wheelmemo's persistent build directory that a regular wheel's
    #: miss hands it as its own (``build_dir_config``), configured from scratch with
    #: Ninja's state kept (``_ninja_builddir``); None when it takes none
    ninja_build_dir: str | None = None
    #: what its build system keeps of its configure, relative to its build directory:
    #: removed before every build (``fresh_configure``)
    configure_state: tuple[str, ...] = ()

    def ninja_dir_for(self, kind: str) -> str | None:
        """The subdirectory of wheelmemo's persistent build directory that a miss of this
        hook hands over (:attr:`ninja_build_dir`, for a regular wheel only: an editable
        wheel may name its build directory), or None."""
        return self.ninja_build_dir if kind == "wheel" else None

    def user_build_dirs(
        self, kind: str, pyproject: Mapping[str, Any], config: Mapping[str, Any], environ: Mapping[str, str]
    ) -> list[object] | None:
        """The build directories the user (or the backend itself) names for a build of
        ``kind`` (``wheel``, ``editable``), as written (relative to the project, with the
        backend's placeholders), read after the build (``_buildsys.build_dir_plan``);
        None when it takes no build directory through config settings."""
        return None

    def build_dir_config(self, directory: Path) -> dict[str, str]:
        """The config settings that hand it ``directory`` as its build directory."""
        return {}

    def fresh_configure(self, directory: Path) -> None:
        """Remove :attr:`configure_state` from its build directory ``directory`` (not
        Ninja's state), so that it configures from scratch; raises OSError when that
        cannot be done (then the directory must not be used)."""
        from .._ninja_builddir import remove_state

        remove_state(directory, self.configure_state)

    # -- a fresh build -----------------------------------------------------------------
    def fresh_build_env(self, directory: Path) -> dict[str, str]:
        """Variables that make a build start from nothing in ``directory`` (``verify``),
        rather than reuse a build directory of the tree or of wheelmemo's."""
        return {}

    # -- the compiler cache (``_compcache``) --------------------------------------------
    #: the variables a user sets to choose its compilers or their launcher: one set wins
    #: over the compiler cache for what it names (``user_launchers``)
    launcher_vars: tuple[str, ...] = ()
    #: whether the compiler cache shows in what its builds can record (meson puts it in
    #: the compiler's command, ``meson.get_compiler(...).cmd_array()``, which numpy's,
    #: scipy's and contourpy's build configurations ship): then it is part of the key
    build_sees_launcher = False

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        """Variables that put the compiler cache ``launcher`` in front of its compilers
        (``RUSTC_WRAPPER``; ``CC``/``CXX``; ``CMAKE_<LANG>_COMPILER_LAUNCHER``), less those
        the user chose (``user_launchers``): each one a name of :attr:`env`, so that the
        key never sees them (it reads the environment before they are set)."""
        return {}

    def user_launchers(self, environ: Mapping[str, str]) -> list[str]:
        """The variables of :attr:`launcher_vars` the user set: theirs win."""
        return [name for name in self.launcher_vars if environ.get(name)]

    def learned_inputs(
        self, root: Path, pyproject: dict[str, Any], environ: Mapping[str, str], declared: Iterable[str]
    ) -> Findings | None:
        """After a miss of a wheel: what its build tool's own records say the build read
        (``environ``: the build's, with the build directory's variables; ``declared``:
        the declared inputs' labels); None when it keeps none to read."""
        return None

    # -- an sdist ----------------------------------------------------------------------
    def sdist_normalizers(self) -> dict[str, Callable[[Path | None], object]]:
        """File name -> what of such a file counts for a build: an sdist's copy that
        differs from the tree's by the same normal form is the tree's (setuptools'
        ``[egg_info]`` tags in ``setup.cfg``, maturin's ``readme`` in ``Cargo.toml``)."""
        return {}

    # -- init --------------------------------------------------------------------------
    def cache_key_alone(self, label: str) -> bool:
        """Whether ``init`` keys this file by itself rather than by a pattern of its
        top-level directory (cargo's ``.cargo/config.toml``)."""
        return False

    def written_inputs(self, root: Path, pyproject: dict[str, Any]) -> list[str]:
        """Inputs (labels) that its first build writes when they are missing (cargo's
        ``Cargo.lock``): ``init`` keys them before they exist, so that the build that
        writes one leaves ``init --check`` passing."""
        return []


def _module(name: str) -> Any:
    return importlib.import_module(f"{__name__}.{name}")


def adapter_for(family: str, requires: Sequence[str]) -> Adapter:
    """The adapter of the inner backend ``family``, with those of the plugins that
    ``requires`` (``build-system.requires``) names on top."""
    from .._key import requirement_name

    adapter: Adapter = _module(FAMILIES.get(family, "generic")).adapter(family)
    for name in dict.fromkeys(requirement_name(r) for r in requires):
        if name in PLUGINS:
            adapter = _module(PLUGINS[name]).plug(adapter)
    return adapter


@functools.cache
def all_env_patterns() -> frozenset[str]:
    """Every known family's variables: the key of a backend wheelmemo does not know."""
    found: set[str] = set()
    for name in sorted({*FAMILIES.values(), "generic"}):
        found.update(_module(name).ENV_PATTERNS)
    return frozenset(found)


def tool_versions(names: Sequence[str], memo: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str | None]:
    """``name --version``'s first line for each program found on ``environ``'s PATH (None
    when there is none), memoized in ``memo`` (the stat cache's) by the file's path and
    stat: a new isolated environment's copy asks again, an unchanged one does not."""
    import shutil
    import subprocess

    from .._walk import tool_signature

    found: dict[str, str | None] = {}
    for name in names:
        path = shutil.which(name, path=environ.get("PATH"))
        if path is None:
            found[name] = None
            continue
        seen = [path, tool_signature(path)]
        remembered = memo.get(f"tool-version:{name}")  # one per name: the memo stays small
        if not (isinstance(remembered, list) and len(remembered) == 3 and remembered[:2] == seen):
            try:
                out = subprocess.run(
                    [path, "--version"], capture_output=True, timeout=30, check=False, stdin=subprocess.DEVNULL
                ).stdout
                version = out.decode("utf-8", "replace").strip().splitlines()[0] if out.strip() else "?"
            except (OSError, subprocess.SubprocessError):
                version = "?"
            remembered = memo[f"tool-version:{name}"] = [*seen, version]
        found[name] = str(remembered[2])
    return found
