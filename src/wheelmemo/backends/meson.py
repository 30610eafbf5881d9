"""meson-python: meson and Ninja.

A miss gives it a build directory in its scratch directory through ``config_settings``
(``build-dir``) unless the user named one (an editable's is ``build/{abi_tag}``), and
reads it after the build for what the compilers read (meson's Cython ``*.dep`` files,
Ninja's deps log, ``build.ninja``): ``_buildsys.build_dir_plan`` and
``_buildsys.read_build_dirs``.  meson-python sets ``NINJA`` in the process; the key is
computed from the frontend's environment as the hook found it (``_memo``).
"""

from __future__ import annotations

from . import COMPILERS, Adapter

__all__ = ["ENV_PATTERNS", "Meson", "adapter"]

ENV_PATTERNS = frozenset({"MESON*", "NINJA", *COMPILERS})


class Meson(Adapter):
    """meson-python."""

    env = tuple(sorted(ENV_PATTERNS))


def adapter(family: str) -> Adapter:
    return Meson(family)
