"""meson-python: meson and Ninja.

A miss gives it a build directory through ``config_settings`` (``build-dir``) unless the
user named one: a regular wheel's in wheelmemo's persistent one, configured from scratch
with Ninja's state kept (``_ninja_builddir``), else one in its scratch directory (an
editable's is ``build/{abi_tag}``), and reads it after the build for what the compilers read (meson's Cython ``*.dep`` files,
Ninja's deps log, ``build.ninja``: ``_buildsys.read_build_dirs``).  Where the user names
a build directory (``user_build_dirs``) and what of its configure is removed before a
build (``configure_state``) are said here.  meson-python sets ``NINJA`` in the process; the key is
computed from the frontend's environment as the hook found it (``_memo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import COMPILERS, Adapter

__all__ = ["ENV_PATTERNS", "Meson", "adapter"]

ENV_PATTERNS = frozenset({"MESON*", "NINJA", *COMPILERS})


class Meson(Adapter):
    """meson-python."""

    env = tuple(sorted(ENV_PATTERNS))
    ninja_build_dir = "meson"
    #: meson-python (``Project.__init__``) reconfigures a directory holding
    #: ``meson-private/coredata.dat``, keeping earlier setups' options (``cmd_line.txt``)
    #: and the recorded source directory
    configure_state = ("meson-private",)

    def user_build_dirs(
        self, kind: str, pyproject: Mapping[str, Any], config: Mapping[str, Any], environ: Mapping[str, str]
    ) -> list[object] | None:
        named: list[object] = [config.get("build-dir"), config.get("builddir")]
        if kind == "editable":
            named.append("build/{abi_tag}")  # meson-python's own for editables
        return named

    def build_dir_config(self, directory: Path) -> dict[str, str]:
        return {"build-dir": str(directory)}


def adapter(family: str) -> Adapter:
    return Meson(family)
