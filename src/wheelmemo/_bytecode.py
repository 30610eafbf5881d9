"""wheelmemo's own modules, compiled once per interpreter and kept in the cache.

uv installs the packages of a build environment without compiling them to bytecode
(pip compiles them as it installs) and makes a new environment for every build, so
each hook process of a ``uv build`` would compile wheelmemo's modules from source
again: about 55 ms per build, hit or miss, and twice that where
``PYTHONDONTWRITEBYTECODE`` keeps the first process from writing them for the second.

:func:`install` puts a finder for ``wheelmemo.*`` first on ``sys.meta_path``.  A module
whose usual ``__pycache__`` file exists is loaded as always.  Any other module's code is
read from ``<cache>/code/<name>``, ``name`` being the SHA-256 of what the code depends
on (the interpreter's cache tag and magic number, the optimization level of ``-O``) and
of the module's source, and is compiled and written there when it is
missing.  Such a file holds the SHA-256 of the marshalled code, then the code: a file
that does not match is compiled again, never an error, and no problem of this
directory ever fails an import.  Code is run from there only when the directory and the
file belong to the user running the build and nobody else can write them (POSIX): the
other writers of a shared cache can make a build return their wheel, never run code in
it.  It is written in the cache, not beside the sources, so
``PYTHONDONTWRITEBYTECODE`` does not stop it.  Nothing here goes to a remote; pruning
removes the files written longer ago than it keeps stat caches (the next hook that
needs one writes it again), ``clean`` removes them all.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.machinery
import importlib.util
import marshal
import os
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType

from ._fsdir import Dir, open_dir

__all__ = ["CODE_DIR", "install"]

#: the directory of compiled modules in the cache directory, beside the store (``v1``)
CODE_DIR = "code"
_PACKAGE = __name__.rpartition(".")[0]
#: what the compiled code depends on besides the source (-O strips asserts, -OO docstrings)
_COMPILER = f"{sys.implementation.cache_tag}\0{sys.flags.optimize}\0".encode() + importlib.util.MAGIC_NUMBER
#: CPython's own fix of a code object's file names after a move (what its pyc loader uses)
_fix_co_filename = getattr(sys.modules.get("_imp"), "_fix_co_filename", None)


class _Finder:
    """Finds ``wheelmemo.*`` as the path finder does, with :class:`_Loader` for sources."""

    def __init__(self, cache_dir: str, writable: bool) -> None:
        self.cache_dir = cache_dir
        self.writable = writable

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(_PACKAGE + "."):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader and spec.origin:
            spec.loader = _Loader(fullname, spec.origin, self)
        return spec


class _Loader(importlib.machinery.SourceFileLoader):
    def __init__(self, fullname: str, path: str, finder: _Finder) -> None:
        super().__init__(fullname, path)
        self.finder = finder

    def get_code(self, fullname: str) -> CodeType | None:
        path = self.get_filename(fullname)
        try:
            usual = importlib.util.cache_from_source(path)
        except NotImplementedError:
            usual = None
        if usual is None or _fix_co_filename is None or os.path.exists(usual):
            return super().get_code(fullname)
        source = self.get_data(path)
        name = hashlib.sha256(_COMPILER + source).hexdigest()
        code = self._read(name)
        if code is not None:
            _fix_co_filename(code, path)
            return code
        code = self.source_to_code(source, path)
        if self.finder.writable:
            self._write(name, code)
        return code

    def _code_dir(self, create: bool) -> Dir:
        """``<cache>/code``, never through a symlink (the cache directory may be one);
        OSError when it is not the user's own."""
        path = os.path.join(self.finder.cache_dir, CODE_DIR)
        if create:
            os.makedirs(self.finder.cache_dir, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o755)
        directory = open_dir(path, path, None)
        if not _private(directory.stat()):
            directory.__exit__()
            raise PermissionError(f"{path} is not the user's own")
        return directory

    def _read(self, name: str) -> CodeType | None:
        try:
            with self._code_dir(create=False) as directory, os.fdopen(directory.open(name, os.O_RDONLY), "rb") as f:
                if not _private(os.fstat(f.fileno())):
                    return None
                data = f.read()
            if hashlib.sha256(data[32:]).digest() != data[:32]:
                return None
            code = marshal.loads(data[32:])
        except (OSError, ValueError, EOFError, TypeError):
            return None  # missing, damaged, someone else's, a symlink or a directory
        return code if isinstance(code, CodeType) else None

    def _write(self, name: str, code: CodeType) -> None:
        data = marshal.dumps(code)
        try:
            with self._code_dir(create=True) as directory:
                fd, tmp = directory.temp(".tmp-")
                try:
                    with os.fdopen(fd, "wb") as f:
                        f.write(hashlib.sha256(data).digest() + data)
                    directory.replace(tmp, directory, name)
                except BaseException:
                    directory.unlink(tmp)
                    raise
        except OSError:
            pass  # a full, read-only or damaged cache: the next process compiles it again


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else (always, where there are no uids)."""
    getuid = getattr(os, "getuid", None)
    return getuid is None or (st.st_uid == getuid() and not st.st_mode & 0o022)


def install(cache_dir: str, *, writable: bool) -> None:
    """Load the modules of wheelmemo not imported yet through ``cache_dir``: a finder
    first on ``sys.meta_path``, once per process, using the newest call's cache."""
    for finder in sys.meta_path:
        if isinstance(finder, _Finder):
            finder.cache_dir, finder.writable = cache_dir, writable
            return
    sys.meta_path.insert(0, _Finder(cache_dir, writable))
