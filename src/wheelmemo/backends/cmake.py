"""scikit-build-core: CMake, usually with Ninja.

A miss gives it a build directory in its scratch directory through ``config_settings``
(``build-dir``) unless the user named one, and reads it after the build for what the
compilers read: CMake runs every compile with ``-MD -MF file``, so the compilers'
reads are in Ninja's deps log and the depfiles, not seen by the recorder
(``_buildsys.build_dir_plan`` and ``_buildsys.read_build_dirs``, which know CMake's and
meson's layouts and stay there until the build directory they are handed moves here).
"""

from __future__ import annotations

from . import COMPILERS, Adapter

__all__ = ["ENV_PATTERNS", "CMake", "adapter"]

ENV_PATTERNS = frozenset({"SKBUILD_*", "CMAKE_*", "CMAKE", "NINJA", *COMPILERS})


class CMake(Adapter):
    """scikit-build-core."""

    env = tuple(sorted(ENV_PATTERNS))


def adapter(family: str) -> Adapter:
    return CMake(family)
