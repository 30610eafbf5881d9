"""setuptools (and what runs through it: setuptools-rust's Python side, Cython's build_ext).

A cached result must be what a clean build would give (PEP 517: "the presence or
absence of any caches should not make a material difference").  setuptools' ``build_ext``
decides what to rebuild by timestamps alone: it skips an extension whose output in
``build/`` is newer than its sources, so a change of ``CFLAGS``, of ``define_macros`` or
of a header outside ``depends`` would give a stale ``.so`` from leftovers.  So every miss
gets a fresh ``build_base`` in its scratch directory, through ``DIST_EXTRA_CONFIG`` (the
last configuration file setuptools reads; a user's own file is merged in), and
``build_ext`` compiles everything and ``bdist_wheel`` stages in an empty directory.
``*.egg-info`` is still written into the tree; it is an output, never an input.  A
persistent ``build_temp`` would save nothing: distutils compiles every source of an
extension whenever it rebuilds it, and could only reuse by timestamp.

An sdist: setuptools writes ``[egg_info] tag_build = / tag_date = 0`` into the
``setup.cfg`` it ships, which set what an absent section sets.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import COMPILERS, Adapter

if TYPE_CHECKING:
    from .._compcache import Launcher

__all__ = ["ENV_PATTERNS", "Setuptools", "adapter"]

ENV_PATTERNS = frozenset({"SETUPTOOLS_*", "DISTUTILS_*", "DIST_EXTRA_CONFIG", *COMPILERS})


class Setuptools(Adapter):
    """setuptools: a fresh ``build_base`` per miss."""

    env = tuple(sorted(ENV_PATTERNS))
    launcher_vars = ("CC", "CXX")

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        # distutils' customize_compiler takes CC and CXX whole, and links through CC's
        # command when LDSHARED starts with the configured one (sccache passes a link on)
        if sys.platform == "win32":  # MSVC: no variable names its compiler
            return {}
        import shlex
        import sysconfig

        env = {}
        for name in self.launcher_vars:
            configured = sysconfig.get_config_var(name)
            if not environ.get(name) and isinstance(configured, str) and configured.strip():
                env[name] = f"{shlex.quote(launcher.path)} {configured}"
        return env

    def scratch_env(self, scratch: Path) -> dict[str, str]:
        import configparser

        config = configparser.RawConfigParser()
        user = os.environ.get("DIST_EXTRA_CONFIG")
        if user:
            config.read(user, encoding="utf-8")
        if not config.has_section("build"):
            config.add_section("build")
        config.set("build", "build_base", str(scratch / "build"))
        path = scratch / "setup-extra.cfg"
        with open(path, "w", encoding="utf-8") as f:
            config.write(f)
        return {"DIST_EXTRA_CONFIG": str(path)}

    def sdist_normalizers(self) -> dict[str, Callable[[Path | None], object]]:
        return {"setup.cfg": setup_cfg_sections}


def setup_cfg_sections(path: Path | None) -> object:
    """setup.cfg without the ``[egg_info] tag_build = / tag_date = 0`` setuptools adds."""
    import configparser

    parser = configparser.RawConfigParser()
    if path is not None:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as e:
            raise ValueError(str(e)) from None
    found = {name: dict(parser.items(name)) for name in parser.sections()}
    tags = found.get("egg_info", {})
    if tags.get("tag_build", None) == "" and tags.get("tag_date", None) == "0":
        del tags["tag_build"], tags["tag_date"]
    return {name: values for name, values in found.items() if values}


def adapter(family: str) -> Adapter:
    return Setuptools(family)
