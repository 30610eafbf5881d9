"""scikit-build-core: CMake, usually with Ninja.

A miss gives it a build directory through ``config_settings`` (``build-dir``) unless the
user named one: a regular wheel's in wheelmemo's persistent one, configured from scratch
with Ninja's state kept (``_ninja_builddir``), else one in its scratch directory, and
reads it after the build for what the compilers read: CMake runs every compile with ``-MD -MF file``, so the compilers'
reads are in Ninja's deps log and the depfiles, not seen by the recorder
(``_buildsys.read_build_dirs``).  Where the user names a build directory
(``user_build_dirs``) and what of its configure is removed before a build
(``configure_state``) are said here; ``_buildsys`` and ``_ninja_builddir`` hold the
machinery, which knows no backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import COMPILERS, Adapter

if TYPE_CHECKING:
    from .._compcache import Launcher

__all__ = ["ENV_PATTERNS", "CMake", "adapter"]

ENV_PATTERNS = frozenset({"SKBUILD_*", "CMAKE_*", "CMAKE", "NINJA", *COMPILERS})


class CMake(Adapter):
    """scikit-build-core."""

    env = tuple(sorted(ENV_PATTERNS))
    ninja_build_dir = "cmake"
    launcher_vars = ("CMAKE_C_COMPILER_LAUNCHER", "CMAKE_CXX_COMPILER_LAUNCHER")
    requires_tools = ("cmake", "ninja")

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        # CMake (3.17+) reads these variables as the launchers' defaults; a
        # -DCMAKE_<LANG>_COMPILER_LAUNCHER of the user's wins over them
        return {name: launcher.path for name in self.launcher_vars if not environ.get(name)}

    #: scikit-build-core (``CMaker.__post_init__``) deletes ``CMakeCache.txt`` and the whole
    #: ``CMakeFiles`` (every object) when ``.skbuild-info.json`` names another source
    #: directory or another scikit-build-core path (a new isolated environment); CMake's
    #: cache keeps what an earlier configure found or was told
    configure_state = ("CMakeCache.txt", ".skbuild-info.json")

    def user_build_dirs(
        self, kind: str, pyproject: Mapping[str, Any], config: Mapping[str, Any], environ: Mapping[str, str]
    ) -> list[object] | None:
        tool = (pyproject.get("tool") or {}).get("scikit-build") or {}
        tool = tool if isinstance(tool, dict) else {}
        overrides = tool.get("overrides")
        named = [config.get("skbuild.build-dir"), config.get("build-dir"), environ.get("SKBUILD_BUILD_DIR")]
        named.append(tool.get("build-dir"))
        named += [o.get("build-dir") for o in overrides or () if isinstance(o, dict)]
        return named

    def build_dir_config(self, directory: Path) -> dict[str, str]:
        return {"build-dir": str(directory)}


def adapter(family: str) -> Adapter:
    return CMake(family)
