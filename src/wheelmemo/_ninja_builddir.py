"""Persistent build directories of CMake (scikit-build-core) and meson (meson-python):
what makes a miss after an edit rebuild only the objects the edit touched.

A regular wheel's miss hands the backend a build directory through its config settings
(``Adapter.build_dir_config``) inside wheelmemo's persistent build directory
(``_builddir.BuildDir``: one per project and build-environment identity, locked,
measured and evicted with the entries), in a subdirectory named after the build system
(``Adapter.ninja_build_dir``: ``cmake``, ``meson``).  A user's own ``build-dir`` wins
(``Adapter.user_build_dirs``, ``_buildsys.build_dir_plan``); editable builds keep a
fresh one (meson-python writes the build directory's path into the editable wheel).
What each backend does with such a directory is its adapter's knowledge
(``backends/cmake.py``, ``backends/meson.py``); this module holds what they share.

**What throws such a directory away, and what is kept.**  Read in their sources:

- scikit-build-core (``scikit_build_core/cmake.py``, ``CMaker.__post_init__``) compares the
  ``source_dir`` and ``skbuild_path`` (its own package directory) of ``.skbuild-info.json``
  with this run's and, when either differs, deletes ``CMakeCache.txt`` and the whole
  ``CMakeFiles`` directory, which holds every object: under uv, build and pip each
  isolated environment has a new random path, so every build recompiled everything.
- CMake's cache keeps what a previous configure found or was told (``CMAKE_COMMAND``,
  ``Python_EXECUTABLE`` and the paths of the old environment, and every ``option()`` or
  ``set(... CACHE ...)`` value, which a later edit of its default does not change).
- meson (``mesonpy/__init__.py``, ``Project.__init__``) reconfigures a directory holding
  ``meson-private/coredata.dat`` (``meson setup --reconfigure``), which keeps option
  values from earlier setups (``cmd_line.txt``) and the recorded source directory.

So before every build the *configure state* is removed (``Adapter.fresh_configure``: CMake's
``CMakeCache.txt`` and scikit-build-core's ``.skbuild-info.json``; meson's
``meson-private``) and only Ninja's state is kept: the objects, ``.ninja_log`` (each
output's command) and ``.ninja_deps`` (each object's headers).  Every build configures
from scratch, as a plain build does, so the new environment's paths, the current
options and the current source directory are what the build files say; Ninja then
rebuilds an object whose command line changed (flags, an include directory of the
new environment, another source path) or whose inputs are newer than it, and keeps the
others.  Measured with uv: ``ninja: no work to do`` after a fresh configure with a new
isolated environment, for both backends.  The configure costs what it costs in a cold
build (CMake's compiler checks included); the compiles are what a miss saves.

**Never stale.**  Ninja decides by times as cargo does: the stamps of
``BuildDir.prepare`` give every declared input and every file of the project an earlier
build was seen reading (the Ninja deps log's headers, gitignored generated sources) a
time no older than the moment its content was first handed to a build here, so a revert
to older content with an older time rebuilds; a file outside the project (a header of
``../shared``, a system header) is never given a time: when it changed, the directory
is emptied.  A build whose reads were not
all learned (it failed, or its result was not cached) may have compiled files the
directory's record does not name: the directory is then removed (:func:`discard`).  The
identity of the directory adds what Ninja cannot see to ``_builddir``'s: the config
settings (a ``setup-args`` removed from them leaves no trace in a command line) and the
compilers' files (an upgraded compiler at the same path gives the same command lines).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._walk import tool_signature

__all__ = ["compiler_signatures", "discard", "identity_extra", "remove_state"]


def identity_extra(config_settings: Any, environ: Mapping[str, str]) -> dict[str, Any]:
    """What the identity of a CMake or meson build directory holds beyond cargo's: the
    config settings and the compilers' files (by path, size, time and inode)."""
    return {"config_settings": config_settings, "compilers": compiler_signatures(environ)}


def compiler_signatures(environ: Mapping[str, str]) -> list[Any]:
    """The C and C++ compilers a configure would pick (``CC``/``CXX``, else ``cc``/``c++``
    on ``PATH``), each resolved, with the stat of the file it resolves to."""
    found: list[Any] = []
    for variable, default in (("CC", "cc"), ("CXX", "c++")):
        words = (environ.get(variable) or "").split()
        name = words[0] if words else default
        path = shutil.which(name, path=environ.get("PATH"))
        real = os.path.realpath(path) if path else None
        found.append([variable, name, real, tool_signature(real) if real else None])
    return found


def remove_state(directory: Path, names: tuple[str, ...]) -> None:
    """Remove the named files and directories of a build directory (its configure state:
    ``Adapter.fresh_configure``); raises OSError when that cannot be done."""
    for name in names:
        path = directory / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def discard(directory: Path) -> None:
    """Remove a build directory whose last build's reads are not all known."""
    shutil.rmtree(directory, ignore_errors=True)
