"""The inner backend: imported in-process and called with the frontend's arguments.

Every outer hook already runs in a fresh process (PEP 517 frontends spawn one per
hook), so importing the inner backend here is as isolated as pyproject-hooks'
subprocess would be, costs no extra interpreter start, and lets the inner backend's
exceptions reach the frontend untouched.  What it may change of the process
(``sys.argv``, the working directory: setuptools does both) is put back after a call.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any, Callable

from ._errors import ConfigError

__all__ = ["ALIASES", "InnerBackend"]

#: Distribution-style names users write for well-known backends.
ALIASES = {
    "setuptools": "setuptools.build_meta",
    "hatchling": "hatchling.build",
    "flit_core": "flit_core.buildapi",
    "pdm-backend": "pdm.backend",
    "poetry-core": "poetry.core.masonry.api",
    "scikit-build-core": "scikit_build_core.build",
    "meson-python": "mesonpy",
}


class InnerBackend:
    """A lazily imported PEP 517 backend object."""

    def __init__(self, ref: str, backend_path: tuple[str, ...], root: Path) -> None:
        self.ref = ALIASES.get(ref, ref)
        self.backend_path = tuple(_in_tree(root, entry) for entry in backend_path)
        self._obj: Any = None

    @property
    def name(self) -> str:
        """The top-level module, which is how a log line names the backend."""
        return self.ref.split(":")[0].split(".")[0]

    def load(self) -> Any:
        if self._obj is not None:
            return self._obj
        module_name, _, qualname = self.ref.partition(":")
        for path in reversed(self.backend_path):
            if path not in sys.path:
                sys.path.insert(0, path)
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as e:
            where = (
                f"in backend-path {list(self.backend_path)}"
                if self.backend_path
                else "to build-system.requires"
            )
            raise ConfigError(
                f"[tool.wheelmemo] backend = {self.ref!r} cannot be imported ({e}): "
                f"add the package that provides it {where}"
            ) from None
        for attr in filter(None, qualname.split(".")):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                raise ConfigError(
                    f"[tool.wheelmemo] backend = {self.ref!r}: {module_name} has no attribute "
                    f"{attr!r}; use the form 'package.module' or 'package.module:object'"
                ) from None
        if self.backend_path:
            # PEP 517: an in-tree backend must be loaded from backend-path.  A module of
            # that name imported earlier from elsewhere (a .pth, sitecustomize) is what
            # import_module hands back, and a meta path finder can win over sys.path:
            # both fail this check rather than build with code the key does not hash.
            file = getattr(sys.modules[module_name], "__file__", None)
            origin = os.path.realpath(file) if file else "(no __file__)"
            if not any(origin.startswith(p + os.sep) for p in self.backend_path):
                raise ConfigError(
                    f"[tool.wheelmemo] backend = {self.ref!r} was imported from {origin}, "
                    f"not from backend-path {list(self.backend_path)}: rename the module or fix the path"
                )
        if not callable(getattr(obj, "build_wheel", None)):
            raise ConfigError(
                f"[tool.wheelmemo] backend = {self.ref!r} has no build_wheel hook: name a PEP 517 "
                "backend object, e.g. 'setuptools.build_meta' or 'hatchling.build'"
            )
        self._obj = obj
        return obj

    def has(self, hook: str) -> bool:
        return callable(getattr(self.load(), hook, None))

    def call(self, hook: str, *args: Any) -> Any:
        """Call a hook; its exceptions propagate untouched."""
        function: Callable[..., Any] = getattr(self.load(), hook)
        argv, cwd = sys.argv[:], os.getcwd()
        try:
            return function(*args)
        finally:
            sys.argv[:] = argv
            if os.getcwd() != cwd:
                os.chdir(cwd)


def _in_tree(root: Path, entry: str) -> str:
    """The real path of a backend-path entry, which must be inside the project.

    PEP 517: "Project build backends that use backend-path MUST NOT point outside the
    source tree".  Code outside it is not among the inputs, so a change to it would be
    a stale hit.  Symlinks are resolved first: one inside the tree that points out is
    outside.  This is the one place backend-path is resolved, so it is checked here.
    """
    real_root = root.resolve()
    try:
        path = (real_root / entry).resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop: RuntimeError before Python 3.13
        raise ConfigError(
            f"[tool.wheelmemo] backend-path entry {entry!r} cannot be resolved ({e}): "
            "fix the path or the symlink"
        ) from None
    if path != real_root and real_root not in path.parents:
        raise ConfigError(
            f"[tool.wheelmemo] backend-path entry {entry!r} points outside the project ({path}): "
            "PEP 517 requires in-tree backends to live in the source tree; "
            "move the backend into the project"
        )
    return str(path)
