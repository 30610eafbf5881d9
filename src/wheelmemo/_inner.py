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

__all__ = ["ALIASES", "InnerBackend", "answer_problem", "plain_name"]

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
    """A lazily imported PEP 517 backend object.

    Its hooks are looked up when they are called, not when it is imported: a backend
    without ``build_sdist`` still builds wheels, as it does under pyproject-hooks, and a
    missing hook is one configuration error when (and only when) it is called.
    """

    def __init__(self, ref: str, backend_path: tuple[str, ...], root: Path) -> None:
        self.ref = ALIASES.get(ref, ref)
        self.backend_path = tuple(_in_tree(root, entry) for entry in backend_path)
        self._obj: Any = None

    @property
    def name(self) -> str:
        """The top-level module, which is how a log line names the backend."""
        return self.ref.split(":")[0].split(".")[0]

    @property
    def loaded(self) -> Any:
        """The backend object if it has been imported, else None (never imports it)."""
        return self._obj

    def load(self) -> Any:
        if self._obj is not None:
            return self._obj
        module_name, _, qualname = self.ref.partition(":")
        for path in reversed(self.backend_path):
            # "put first on sys.path", even when it is there already, further down
            while path in sys.path:
                sys.path.remove(path)
            sys.path.insert(0, path)
        finder = self._install_finder()
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as e:
            where = f"in backend-path {list(self.backend_path)}" if self.backend_path else "to build-system.requires"
            raise ConfigError(
                f"[tool.wheelmemo] backend = {self.ref!r} cannot be imported ({e}): "
                f"add the package that provides it {where}"
            ) from None
        finally:
            _remove_finder(finder)
        for attr in filter(None, qualname.split(".")):
            try:
                obj = getattr(obj, attr)
            except AttributeError:
                raise ConfigError(
                    f"[tool.wheelmemo] backend = {self.ref!r}: {module_name} has no attribute "
                    f"{attr!r}; use the form 'package.module' or 'package.module:object'"
                ) from None
        if self.backend_path:
            # PEP 517: an in-tree backend must be loaded from backend-path.  The finder
            # sees to that for an import, but a module of that name imported earlier from
            # elsewhere (a .pth, sitecustomize) is what import_module hands back: that
            # fails this check rather than build with code the key does not hash.
            file = getattr(sys.modules[module_name], "__file__", None)
            origin = os.path.realpath(file) if file else "(no __file__)"
            if not any(origin.startswith(p + os.sep) for p in self.backend_path):
                raise ConfigError(
                    f"[tool.wheelmemo] backend = {self.ref!r} was imported from {origin}, "
                    f"not from backend-path {list(self.backend_path)}: rename the module or fix the path"
                )
        self._obj = obj
        return obj

    def _install_finder(self) -> _BackendPathFinder | None:
        """While the backend is imported or called, its top-level modules come from
        backend-path only, as pyproject-hooks' ``_BackendPathFinder`` does it: first on
        ``sys.meta_path``, so that neither an import hook nor a same-named module
        anywhere on ``sys.path`` can stand in for it."""
        if not self.backend_path:
            return None
        finder = _BackendPathFinder(self.backend_path, self.ref.partition(":")[0])
        sys.meta_path.insert(0, finder)
        return finder

    def has(self, hook: str) -> bool:
        return callable(getattr(self.load(), hook, None))

    def call(self, hook: str, *args: Any) -> Any:
        """Call a hook; its exceptions propagate untouched."""
        function: Callable[..., Any] | None = getattr(self.load(), hook, None)
        if not callable(function):
            raise ConfigError(
                f"backend {self.ref!r} has no {hook} hook, which PEP 517 requires of every backend: "
                "name a complete backend object, e.g. 'setuptools.build_meta' or 'hatchling.build'"
            )
        argv, cwd = sys.argv[:], os.getcwd()
        finder = self._install_finder()  # the backend may import its own modules lazily
        try:
            return function(*args)
        finally:
            _remove_finder(finder)
            sys.argv[:] = argv
            if os.getcwd() != cwd:
                os.chdir(cwd)


class _BackendPathFinder:
    """Finds top-level modules in backend-path, and the backend's own nowhere else.

    pyproject-hooks' finder, for the time wheelmemo lets the inner backend run: a
    submodule is found by its package's ``__path__``, a top-level module that is not in
    backend-path by the finders after this one.
    """

    def __init__(self, backend_path: tuple[str, ...], module: str) -> None:
        self.backend_path = list(backend_path)
        self.top = module.partition(".")[0]

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> Any:
        if "." in fullname:
            return None
        from importlib.machinery import PathFinder

        spec = PathFinder.find_spec(fullname, self.backend_path)
        if spec is None and fullname == self.top:
            # PEP 517: the backend MUST be loaded from backend-path; stop the search here
            raise ModuleNotFoundError(f"No module named {fullname!r} in backend-path", name=fullname)
        return spec


def _remove_finder(finder: _BackendPathFinder | None) -> None:
    if finder is not None:
        # by identity: the backend may have put finders of its own around ours
        sys.meta_path[:] = [f for f in sys.meta_path if f is not finder]


def answer_problem(answer: object, directory: str, *, suffix: str = "", is_dir: bool = False) -> str | None:
    """Why ``answer`` is not what PEP 517 says a hook returns, or None when it is.

    ``build_*`` return "the basename (not the full path) of the .whl file it creates"
    in ``directory``, ``prepare_metadata_*`` that of the ``.dist-info`` directory.  Only
    such an answer can be stored and handed back by a later hit in another directory.
    """
    if not isinstance(answer, str):
        return "not a name"
    if not plain_name(answer):
        return "not a basename"
    if not answer.endswith(suffix):
        return f"not a {suffix} name"
    path = os.path.join(directory, answer)
    if not (os.path.isdir(path) if is_dir else os.path.isfile(path)):
        return f"not a {'directory' if is_dir else 'file'} it created in {directory}"
    return None


#: Characters no basename may hold here: separators (a backslash is one on Windows, and
#: a stored name must be the same name everywhere), NUL, and a drive's colon on Windows.
_NOT_IN_NAMES = ("/", "\\", "\0", ":") if sys.platform == "win32" else ("/", "\\", "\0")


def plain_name(name: str) -> bool:
    """Whether ``name`` is one plain path segment: no separator, not ``.`` or ``..``."""
    return name not in ("", ".", "..") and not any(c in name for c in _NOT_IN_NAMES)


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
            f"[tool.wheelmemo] backend-path entry {entry!r} cannot be resolved ({e}): fix the path or the symlink"
        ) from None
    if path != real_root and real_root not in path.parents:
        raise ConfigError(
            f"[tool.wheelmemo] backend-path entry {entry!r} points outside the project ({path}): "
            "PEP 517 requires in-tree backends to live in the source tree; "
            "move the backend into the project"
        )
    return str(path)
