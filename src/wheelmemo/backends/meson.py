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

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import COMPILERS, Adapter

if TYPE_CHECKING:
    from .._compcache import Launcher

__all__ = ["ENV_PATTERNS", "Meson", "adapter"]

ENV_PATTERNS = frozenset({"MESON*", "NINJA", *COMPILERS})


class Meson(Adapter):
    """meson-python."""

    env = tuple(sorted(ENV_PATTERNS))
    ninja_build_dir = "meson"
    launcher_vars = ("CC", "CXX")
    build_sees_launcher = True
    requires_tools = ("ninja",)

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        # meson takes a compiler cache in CC/CXX only by its bare name ("sccache cc",
        # BinaryTable.parse_entry), found on PATH: the stable copy's directory goes
        # first, or meson would find (and itself use, CC or not) the isolated
        # environment's sccache, a new path and so new compile commands every time
        if sys.platform == "win32":  # MSVC is meson's first choice there
            return {}
        import shutil

        env = {}
        for name, candidates in (("CC", ("cc", "gcc", "clang")), ("CXX", ("c++", "g++", "clang++"))):
            found = next((c for c in candidates if shutil.which(c, path=environ.get("PATH"))), None)
            if not environ.get(name) and found is not None:
                env[name] = f"sccache {found}"
        if env:
            bin_dir = os.path.dirname(launcher.path)
            env["PATH"] = os.pathsep.join([bin_dir, *(p for p in environ.get("PATH", "").split(os.pathsep) if p)])
        return env

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
