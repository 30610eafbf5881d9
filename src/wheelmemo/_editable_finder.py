"""The import hook of an editable install made by wheelmemo (stdlib only).

This file is not imported from wheelmemo: its source is copied into every editable
wheel wheelmemo derives, as ``_wheelmemo_editable_<project>.py``, and a ``.pth`` file
calls :func:`install` with the project's table when the interpreter starts.  It must
therefore run on any Python the project supports, with nothing but the stdlib.

Modes (``[tool.wheelmemo] editable``):

- ``redirect``: the project's own Python sources are imported from the source tree, so
  edits are live; everything else of the regular wheel (compiled extensions, generated
  modules) ships inside the editable wheel and is found by :class:`RedirectFinder`, the
  way scikit-build-core's redirect mode works.  Deleting build outputs from the tree
  cannot break the install.
- ``inplace``: source roots go on ``sys.path`` like a plain ``.pth``; compiled
  extensions are copied next to their packages in the tree (for static analysers) and
  put back from the copy shipped in the wheel when they go missing.  What has no place
  in the tree (a generated package) is still redirected, and so is a package whose
  tree directory has another name (no ``sys.path`` entry can import it by its name).

A package's tree directory may have another name than the package: setuptools'
``package-dir = {"pkg" = "lib"}``, hatch's ``sources``, maturin's ``python-source``
with a ``module-name``.  ``import pkg`` then loads ``<tree>/lib/__init__.py`` under the
name ``pkg``, and its ``__path__`` makes ``pkg.core`` ``<tree>/lib/core.py``.

Either way, on the first import of one of the project's packages, the inputs the
compiled parts were built from are compared with the tree (stat first, hash only what
changed) and one warning names the files that changed since.  With
``WHEELMEMO_EDITABLE_REBUILD=1`` (or ``editable-rebuild = true`` when it was built) the
project is reinstalled instead -- through wheelmemo's cache, under a lock so that two
processes do not rebuild at once -- and the fresh build is what the import loads, as
meson-python's and maturin-import-hook's rebuilding loaders do.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
from typing import Any

__all__ = ["RedirectFinder", "install"]


class RedirectFinder(importlib.abc.MetaPathFinder):
    """Finds the project's packages in the tree and its built modules in site-packages."""

    def __init__(self, config: dict[str, Any], shipped_root: str) -> None:
        self.name = str(config["project"])
        self.tree = str(config["tree"])
        #: the project's top-level names: their first import checks for stale builds
        self.tops = frozenset(config["tops"])
        #: top-level package or module -> its path in the tree (a dir or a .py file),
        #: which for a package may have another name (``pkg`` -> ``<tree>/lib``)
        self.sources: dict[str, str] = dict(config["sources"])
        #: module name -> path of the built file, relative to shipped_root
        self.modules: dict[str, str] = dict(config["modules"])
        #: top-level package -> its directory of built files, relative to shipped_root
        self.packages: dict[str, str] = dict(config["packages"])
        self.shipped_root = shipped_root
        self.inputs: dict[str, list[Any]] = dict(config["inputs"])
        #: environment variables the build read: name -> digest of the value, or "unset"
        self.env: dict[str, str] = dict(config.get("env") or {})
        self.rebuild_hint = str(config["hint"])
        self.rebuild = bool(config.get("rebuild")) or os.environ.get("WHEELMEMO_EDITABLE_REBUILD", "") in (
            "1",
            "true",
            "yes",
            "on",
        )
        self._checked = False

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        top = fullname.partition(".")[0]
        if top not in self.tops:
            return None
        self.check_stale()
        if fullname in self.modules:
            location = os.path.join(self.shipped_root, self.modules[fullname])
            if os.path.basename(location) == "__init__.py":  # a generated package
                search = [os.path.dirname(location)]
                if os.path.isdir(self.sources.get(fullname, "")):
                    search.insert(0, self.sources[fullname])
                return importlib.util.spec_from_file_location(fullname, location, submodule_search_locations=search)
            return importlib.util.spec_from_file_location(fullname, location)
        if fullname != top or top not in self.sources:
            return None  # the path finder looks in the package's __path__
        source = self.sources[top]
        if not os.path.isdir(source):
            return importlib.util.spec_from_file_location(fullname, source)
        # the tree's package first (live sources), then its built files
        search = [source]
        if top in self.packages:
            search.append(os.path.join(self.shipped_root, self.packages[top]))
        init = os.path.join(source, "__init__.py")
        if not os.path.exists(init):  # a namespace package in the tree
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = search
            return spec
        return importlib.util.spec_from_file_location(fullname, init, submodule_search_locations=search)

    def check_stale(self) -> None:
        """Warn once when the inputs of the built parts changed since the build."""
        if self._checked:
            return
        self._checked = True
        changed = stale_inputs(self.tree, self.inputs) + stale_env(self.env)
        if changed and self.rebuild and self.rebuild_now(changed):
            return
        if changed:
            shown = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            sys.stderr.write(
                f"wheelmemo: warning: {self.name}: {shown} changed since the installed build "
                f"of its compiled parts; {self.rebuild_hint}\n"
            )

    def rebuild_now(self, changed: list[str]) -> bool:
        """Reinstall the project from the tree and take the fresh build's table."""
        lock_path = os.path.join(self.shipped_root, ".rebuild.lock")
        try:
            lock = open(lock_path, "a")  # noqa: SIM115 - held until the rebuild is done
        except OSError:
            return False
        with lock:
            if sys.platform != "win32":
                import fcntl

                fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be rebuilding
            self.reload()
            if not stale_inputs(self.tree, self.inputs) + stale_env(self.env):
                return True  # it did
            sys.stderr.write(f"wheelmemo: {self.name}: {', '.join(changed[:3])} changed; rebuilding\n")
            uv = shutil.which("uv") or os.environ.get("UV")
            if uv:
                command = [
                    uv,
                    "pip",
                    "install",
                    "--no-deps",
                    "--python",
                    sys.executable,
                    "--reinstall-package",
                    self.name,
                    "--refresh-package",
                    self.name,
                    "-e",
                    self.tree,
                ]
            else:
                command = [sys.executable, "-m", "pip", "install", "--no-deps", "--force-reinstall", "-e", self.tree]
            result = subprocess.run(
                command, cwd=self.tree, stdout=sys.stderr, stderr=sys.stderr, stdin=subprocess.DEVNULL, check=False
            )
            if result.returncode:
                sys.stderr.write(f"wheelmemo: warning: {self.name}: the rebuild failed; using the old build\n")
                return False
            self.reload()
            return True

    def reload(self) -> None:
        """Read the table of the editable install as it is on disk now."""
        module = os.path.join(os.path.dirname(self.shipped_root), os.path.basename(self.shipped_root) + ".py")
        namespace: dict[str, Any] = {"__name__": "_wheelmemo_reload", "__file__": module}
        try:
            with open(module, encoding="utf-8") as f:
                exec(compile(f.read(), module, "exec"), namespace)  # noqa: S102 - our own file
        except OSError:
            return
        config = namespace.get("CONFIG") or {}
        self.sources = dict(config.get("sources", self.sources))
        self.modules = dict(config.get("modules", self.modules))
        self.packages = dict(config.get("packages", self.packages))
        self.inputs = dict(config.get("inputs", self.inputs))
        self.env = dict(config.get("env", self.env))


def stale_inputs(tree: str, inputs: dict[str, list[Any]]) -> list[str]:
    """Labels of ``inputs`` ({label: [size, mtime_ns, digest]}) that differ in the tree."""
    changed = []
    for label, (size, mtime_ns, digest) in inputs.items():
        path = label if os.path.isabs(label) else os.path.join(tree, label)
        try:
            st = os.stat(path)
        except OSError:
            changed.append(f"{label} (removed)")
            continue
        if st.st_size == size and st.st_mtime_ns == mtime_ns:
            continue
        h = hashlib.sha256()
        try:
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
        except OSError:
            changed.append(label)
            continue
        if h.hexdigest() != digest.rpartition(":")[2]:
            changed.append(label)
    return changed


def stale_env(env: dict[str, str]) -> list[str]:
    """Variables the build read whose value differs now (``_learned.env_digest``, repeated
    here because this file runs where wheelmemo is not installed)."""
    changed = []
    for name, digest in env.items():
        value = os.environ.get(name)
        now = (
            "unset"
            if value is None
            else hashlib.sha256(f"env\0{value}".encode("utf-8", "surrogateescape")).hexdigest()[:32]
        )
        if now != digest:
            changed.append(f"${name}")
    return changed


def restore_inplace(tree: str, shipped_root: str, copies: dict[str, str]) -> None:
    """Put back compiled files deleted from the tree (``git clean``) from the wheel's copy."""
    for relpath, shipped in copies.items():
        target = os.path.join(tree, relpath)
        source = os.path.join(shipped_root, shipped)
        try:
            if os.path.exists(target) and os.path.getsize(target) == os.path.getsize(source):
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
        except OSError as e:
            sys.stderr.write(f"wheelmemo: warning: cannot restore {target} ({e})\n")


def install(config: dict[str, Any], shipped_root: str) -> None:
    """Put the project on the import system, once per interpreter.

    In a virtual environment ``site`` processes site-packages twice (``venv()`` and
    then ``main()`` both add it), so a ``.pth`` file runs twice: the second call must
    not add a second finder, which would check and warn a second time.
    """
    if any(getattr(finder, "shipped_root", None) == shipped_root for finder in sys.meta_path):
        return
    if config["mode"] == "inplace":
        restore_inplace(str(config["tree"]), shipped_root, dict(config["copies"]))
        for root in config["roots"]:
            if root not in sys.path:
                sys.path.append(root)
    sys.meta_path.insert(0, RedirectFinder(config, shipped_root))


def bootstrap() -> None:
    """The ``.pth`` line's entry point: this module's ``CONFIG`` and its shipped files."""
    here = os.path.dirname(os.path.abspath(__file__))
    install(CONFIG, os.path.join(here, __name__))


#: The project's table, appended below by wheelmemo when it writes the editable wheel.
CONFIG: dict[str, Any] = {}
