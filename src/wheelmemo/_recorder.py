"""Observing one call of the inner backend in this process: what it opened, read of the
environment, imported or looked for in vain, and whether anything it read went unseen.

``_learned`` turns these observations into a build's learned inputs; this module only
watches.  What is seen, for the duration of the inner call:

- ``open`` audit events (PEP 578: ``open``, ``os.open``, ``io.open_code``), the file
  behind a descriptor the code wraps or maps (``open(fd)``, ``os.fdopen``, ``mmap``:
  named by ``/proc/self/fd``), ``sqlite3.connect``; ``os.stat`` of a declared input
  (its size or time is content too);
- reads of ``os.environ`` and ``os.environb`` by name (``os.getenv``, ``os.getenvb``,
  ``in``, ``.get``);
- the modules it imported, the top-level modules it looked for in vain (``try: import
  fastaccel``; the last finder on ``sys.meta_path`` hears of them; not a standard library
  module's probe as it is imported, which runs once per process) and the distributions
  it asked ``importlib.metadata`` for by name;
- the headers the C compilers it runs read: gcc and clang append them to the file named
  by ``DEPENDENCIES_OUTPUT`` (the objects they write are the same with and without it;
  ``tests/test_learned.py`` checks it).  CMake and meson pass ``-MD -MF``, which
  overrides it: their records are read by ``_buildsys``.

Not seen: what a subprocess reads of an environment handed to it whole
(``dict(os.environ)``, ``env=os.environ.copy()``: names nothing, so it is not learned;
list such variables in ``env``), and what C code reads through ``getenv()``.

``Recorder.sealed``: every file the call opened was named by an event.  A call is not
sealed once it does what could read a file unnamed: start another process (any way,
``multiprocessing`` too), load a library through ctypes, connect a socket (a server may
read for it), load a compiled module from outside the standard library (its C code
opens what it likes; one loaded by an earlier call of the process counts too),
``os.open`` a relative name (relative to a ``dir_fd`` the event omits, or to the working
directory: not known which), or wrap a descriptor of a file it cannot name.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import stat
import sys
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from types import FrameType

__all__ = ["NOISE_ENV", "Recorder", "is_noise_env", "is_under", "parse_make_deps"]

#: Variables whose values are per-process paths, terminal or verbosity settings:
#: reading them cannot change a wheel, and every isolated build environment has new values.
NOISE_ENV = frozenset(
    {
        "PATH",
        "PYTHONPATH",
        "PYTHONNOUSERSITE",
        "PYTHONHOME",
        "VIRTUAL_ENV",
        "PWD",
        "OLDPWD",
        "HOME",
        "TMPDIR",
        "TEMP",
        "TMP",
        "PIP_BUILD_TRACKER",
        "PIP_REQ_TRACKER",
        "TERM",
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "CLICOLOR",
        "CLICOLOR_FORCE",
        "PYTHONIOENCODING",
        "UV",
        "DEPENDENCIES_OUTPUT",
        "SUNPRO_DEPENDENCIES",
        "DIST_EXTRA_CONFIG",
        "SHLVL",
        "_",
        "HATCH_VERBOSE",
        "HATCH_QUIET",
    }
)
#: uv passes its per-build directories as UV_INTERNAL__* to the backend's process.
NOISE_ENV_PREFIXES = ("_PYPROJECT_HOOKS_", "PEP517_", "WHEELMEMO_", "UV_INTERNAL__")


def is_noise_env(name: str) -> bool:
    return name in NOISE_ENV or name.startswith(NOISE_ENV_PREFIXES)


def is_under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes)


# -- observing Python code --------------------------------------------------------------
_ACTIVE: list[Recorder] = []
_HOOKED: list[bool] = []
_ACCESS_MODE = getattr(os, "O_ACCMODE", 3)


#: Audit events after which what a build reads is no longer all seen: another process
#: (what it opens raises no event here), a library loaded through ctypes, a connection
#: to a server (it may read files for us: a daemon, a forkserver started earlier).
_UNSEEN_EVENTS = frozenset(
    {
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.startfile",
        "pty.spawn",
        "ctypes.dlopen",
        "socket.connect",
        "socket.sendto",
        "sqlite3.load_extension",
    }
)
#: The stdlib's functions that open directories by a name relative to a ``dir_fd`` to
#: list and remove them (``shutil.rmtree``, ``os.fwalk``): a directory's names are no
#: content (a narrow hit needs the same names anyway), so these opens hide no read.
_DIRECTORY_WALKERS = frozenset({("shutil", "_rmtree_safe_fd"), ("shutil", "_rmtree_safe_fd_step"), ("os", "_fwalk")})
#: Callers that ``os.open`` a relative name with no ``dir_fd``: relative to the working
#: directory (Python 3.9's ``pathlib.Path.open`` goes through this opener).
_CWD_OPENERS = frozenset({("pathlib", "_opener")})
_DIRECTORY_FLAG = getattr(os, "O_DIRECTORY", 0)
#: Compiled modules not of the standard library loaded while recording, by name -> file:
#: their C code may read files without an event for as long as they stay loaded.
_FOREIGN_EXTENSIONS: dict[str, str] = {}
_STDLIB_DIRS: list[str] = []


def _unseal() -> None:
    for recorder in _ACTIVE:
        recorder.sealed = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """The process-wide audit hook (PEP 578 hooks cannot be removed): cheap when idle."""
    if not _ACTIVE:
        return
    if event == "open":
        path, mode, flags = args
        if isinstance(path, int):
            _note_descriptor(path, mode, flags)
        else:
            _note_open(path, mode, flags)
    elif event == "import":
        _note_import(args[0], args[1])
    elif event in _UNSEEN_EVENTS:
        _unseal()
    elif event == "mmap.__new__":
        if args[0] != -1:  # -1: anonymous memory; else a file's descriptor
            _note_descriptor(args[0], "r", 0)
    elif event == "sqlite3.connect":
        _note_open_outside(args[0])


def _is_reading(mode: Any, flags: Any) -> bool | None:
    """Whether an open reads what the file held: False when it writes first ("w", "x",
    ``O_TRUNC``, a new file), None when it keeps an existing file's content readable
    ("a+", ``O_RDWR | O_CREAT``): it reads what was there, if anything was."""
    if isinstance(mode, str):  # open()
        if "w" in mode or "x" in mode:
            return False
        if "a" in mode:
            return None if "+" in mode else False
        return True
    flags = flags or 0  # os.open(): flags only
    created = flags & os.O_CREAT
    if flags & _ACCESS_MODE == os.O_WRONLY or flags & os.O_TRUNC or (created and flags & _EXCLUSIVE):
        return False
    return None if created else True


_EXCLUSIVE = getattr(os, "O_EXCL", 0)


def _note_open(path: Any, mode: Any, flags: Any) -> None:
    if type(path) is str and path in _ACTIVE[0].known and _is_normal(path):
        # a declared input by its own path (hatchling opens each file of a wheel so): no
        # abspath() to take, per open of thousands
        _note_path(path, _is_reading(mode, flags))
        return
    try:
        text = os.fsdecode(path)
    except (TypeError, ValueError):
        _unseal()  # a name we cannot read is a file we cannot name
        return
    if mode is None and not os.path.isabs(text):
        # os.open() of a relative name: relative to a dir_fd the event omits, or to the
        # working directory; either way not known to be the file abspath() would name,
        # unless the caller is one that passes no dir_fd (Python 3.9's pathlib opener)
        caller = _caller()
        if caller in _CWD_OPENERS:
            _note_path(os.path.abspath(text), _is_reading(mode, flags))
        elif (
            _is_reading(mode, flags) is not False
            and not (flags or 0) & _DIRECTORY_FLAG
            and caller not in _DIRECTORY_WALKERS
        ):
            _unseal()
        return
    _note_path(os.path.abspath(text), _is_reading(mode, flags))


def _caller(depth: int = 3) -> tuple[str, str]:
    """The module and function of the ``os.open`` being audited (or the ``os.stat``
    watched); ``depth``: how far up the stack that Python caller is."""
    try:
        frame = sys._getframe(depth)  # by default _audit's caller is os.open's Python caller
    except ValueError:
        return "", ""
    return str(frame.f_globals.get("__name__")), frame.f_code.co_name


def _note_descriptor(fd: int, mode: Any, flags: Any) -> None:
    """A file object made of a descriptor (``open(fd)``, ``os.fdopen``) or its mapping:
    the file it is open on, found by ``/proc/self/fd`` where there is one."""
    try:
        target = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        try:
            regular = stat.S_ISREG(os.fstat(fd).st_mode)
        except OSError:
            return  # a closed descriptor: the open fails and reads nothing
        if regular:
            _unseal()  # a file we cannot name
        return
    if not target.startswith("/"):
        return  # a pipe, socket or anonymous inode: no file of the tree
    if target.endswith(" (deleted)"):
        return  # a file no longer in the tree (a temporary, tempfile's O_TMPFILE)
    _note_path(target, _is_reading(mode, flags))


def _note_open_outside(database: Any) -> None:
    """A file a C library opens by the name in the event (sqlite3.connect)."""
    try:
        text = os.fsdecode(database)
    except (TypeError, ValueError):
        _unseal()
        return
    if text in ("", ":memory:"):
        return
    if text.startswith("file:"):
        _unseal()  # a URI: its file name is not parsed here
        return
    _note_path(os.path.abspath(text), None)  # read if it was there; a new one is an output


def _note_import(module: Any, filename: Any) -> None:
    """``import`` events: the first, of an ``import`` statement (importlib.import_module
    raises none), names what was tried; the one a compiled module raises as it is loaded
    names its file."""
    if filename is None:
        if isinstance(module, str) and "." not in module and not _probed_by_stdlib_import():
            for recorder in _ACTIVE:
                recorder.missing_imports.add(module)  # kept if it is not imported at the end
        return
    path = os.path.abspath(os.fsdecode(filename))
    if not _in_stdlib(path):
        _FOREIGN_EXTENSIONS[str(module)] = path
        _unseal()  # its C code may read files without an event


def _probed_by_stdlib_import() -> bool:
    """Whether the import being looked for is made by the top-level code of a standard
    library module being imported (``subprocess`` tries ``msvcrt`` to learn the platform).

    Such a probe runs once per process, when the module is first imported: inside the
    recorded call or before it (wheelmemo's own imports: ``subprocess`` for ``rustc
    -vV`` when the toolchain's memo is stale), so recording it would make the learned
    inputs, and the entry's key, depend on the process's past.  What it finds is the
    interpreter's, which is keyed; a probe in a function runs on every call and counts.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        name = frame.f_code.co_filename
        if name != __file__ and not name.startswith("<frozen importlib"):
            break
        frame = frame.f_back  # this module's hooks, then importlib's bootstrap
    if frame is None or frame.f_code.co_name != "<module>":
        return False
    name = frame.f_code.co_filename
    return name.startswith("<frozen ") or _in_stdlib(os.path.abspath(name))


def _in_stdlib(path: str) -> bool:
    return is_under(path, _STDLIB_DIRS) and not any(
        part in ("site-packages", "dist-packages") for part in path.split(os.sep)
    )


def _foreign_extensions_loaded() -> bool:
    """Whether a compiled module loaded by an earlier recorded call is still loaded."""
    for name, path in list(_FOREIGN_EXTENSIONS.items()):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) == path:
            return True
        del _FOREIGN_EXTENSIONS[name]
    return False


def _is_normal(path: str) -> bool:
    """Whether ``os.path.abspath`` leaves this absolute POSIX path as it is (no ``//``,
    ``/./``, ``/../``, no trailing ``/``; a dotfile's ``/.`` merely takes the long way)."""
    return _POSIX and "//" not in path and "/." not in path and not path.endswith("/")


_POSIX = os.sep == "/" and not os.altsep


def _note_path(name: str, reading: bool | None) -> None:
    """Note the first open of a file (``reading``: see ``_is_reading``)."""
    if len(_ACTIVE) == 1:
        if name in _ACTIVE[0].opened:
            return
    elif all(name in recorder.opened for recorder in _ACTIVE):
        return
    if name in _ACTIVE[0].known:
        exists = True  # a declared input: a regular file when the key was made
    else:
        try:
            if stat.S_ISDIR(os.stat(name).st_mode):
                return  # a directory opened to walk or remove it: its files are what counts
            exists = True
        except (OSError, ValueError):
            exists = False
    if reading is None:
        reading = exists
    for recorder in _ACTIVE:
        if name not in recorder.opened:
            # whether it was there when first read: a file read, then deleted by the build,
            # was a temporary of the build; one read as absent is an input (it must stay so)
            recorder.opened[name] = (reading, reading and exists)


#: Names being enumerated, in order: ``dict(os.environ)``, ``os.environ.copy()`` and
#: ``.items()`` list the keys and then read each one; such a bulk read (an environment
#: handed on to a subprocess) names nothing in particular, so it is not learned.
_ENUMERATED: deque[object] = deque()


class _RecordingEnviron(os._Environ):  # type: ignore[type-arg]
    """``os.environ`` while a recorder is active: notes every name read or written."""

    @staticmethod
    def _name(key: object) -> object:
        return key

    def __iter__(self) -> Iterator[Any]:
        keys = list(super().__iter__())
        _ENUMERATED.clear()
        _ENUMERATED.extend(map(self._name, keys))
        return iter(keys)

    def __getitem__(self, key: Any) -> Any:
        name = self._name(key)
        if _ENUMERATED and _ENUMERATED[0] == name:
            _ENUMERATED.popleft()  # the next read of a bulk copy
        else:
            _ENUMERATED.clear()  # a read by name ends any bulk copy
            _note_env(name, True)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        _note_env(self._name(key), True)
        return super().__contains__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        _note_env(self._name(key), False)
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        _note_env(self._name(key), False)
        super().__delitem__(key)


class _RecordingEnvironB(_RecordingEnviron):
    """``os.environb`` (POSIX: the same variables by bytes; ``os.getenvb``) while recording."""

    @staticmethod
    def _name(key: object) -> object:
        return os.fsdecode(key) if isinstance(key, bytes) else None


def _note_env(name: object, reading: bool) -> None:
    if not isinstance(name, str):
        return  # os.get_exec_path() asks os.environ for b"PATH" too
    for recorder in _ACTIVE:
        recorder.env_access.setdefault(name, reading)


def _stdlib_dirs() -> list[str]:
    """Where the standard library's modules, compiled ones too, are (not its site-packages)."""
    import sysconfig

    dirs = {os.path.dirname(os.__file__), os.path.join(sys.base_exec_prefix, "DLLs")}
    for name in ("stdlib", "platstdlib"):
        with contextlib.suppress(KeyError):
            dirs.add(sysconfig.get_path(name))
    return sorted(os.path.abspath(d) for d in dirs if d)


class _MissingModules:
    """The last finder on ``sys.meta_path`` while recording: asked only when every other
    finder found nothing, it notes the top-level modules a build looked for in vain; and
    asked by ``importlib.metadata`` for a distribution by name (``version("numpy")``,
    found or not), it notes the name."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> None:
        if path is None and "." not in name and not _probed_by_stdlib_import():
            for recorder in _ACTIVE:
                recorder.missing_imports.add(name)

    @staticmethod
    def find_distributions(context: Any = None) -> Iterator[Any]:
        name = getattr(context, "name", None)
        if isinstance(name, str):  # None: all of them (entry points), which names nothing
            for recorder in _ACTIVE:
                recorder.queried_dists.add(name)
        return iter(())


_LAST_FINDER = _MissingModules()
#: Modules imported while recording in this process, and top-level ones looked for in vain.
_RECORDED_MODULES: set[str] = set()
_RECORDED_MISSING: set[str] = set()
_RECORDED_QUERIES: set[str] = set()
_SPAWNERS: list[Callable[..., Any]] = []
_REAL_STAT, _REAL_LSTAT = os.stat, os.lstat
_STAT_WATCHERS: list[Callable[..., os.stat_result]] = []


def _watched_stat(real: Callable[..., os.stat_result]) -> Callable[..., os.stat_result]:
    """``os.stat`` or ``os.lstat`` noting the declared inputs whose size or time a build
    looked at (no audit event says so): they count as read, so editing one is no narrow
    hit.  ``os.path.getsize``, ``isfile``, ``pathlib.Path.stat`` all call it."""

    def watched(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        if _ACTIVE and type(path) is str and not kwargs and path in _ACTIVE[0].known and _is_normal(path):
            # a declared input by its own path (hatchling stats each file it ships)
            for recorder in _ACTIVE:
                if path in recorder.known:
                    recorder.looked_at.add(path)
        elif _ACTIVE and not isinstance(path, int):
            try:
                text = os.fsdecode(path)
            except (TypeError, ValueError):
                text = ""
            if kwargs.get("dir_fd") is not None and not os.path.isabs(text):
                if _caller(2) not in _DIRECTORY_WALKERS:
                    _unseal()  # relative to a directory we cannot name
            elif text:
                name = os.path.abspath(text)
                for recorder in _ACTIVE:
                    if name in recorder.known:
                        recorder.looked_at.add(name)
        return real(path, *args, **kwargs)

    return watched


def _watch(on: bool) -> None:
    """What raises no audit event, watched while recording: ``os.stat`` (above), and
    multiprocessing's "spawn" and "forkserver" starting processes through
    ``_posixsubprocess.fork_exec``."""
    if on:
        _STAT_WATCHERS[:] = [_watched_stat(_REAL_STAT), _watched_stat(_REAL_LSTAT)]
    # what the stdlib asks of them (shutil.copystat: "os.stat in os.supports_follow_symlinks")
    for supports in (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks):
        for real, wrapper in zip((_REAL_STAT, _REAL_LSTAT), _STAT_WATCHERS):
            if real in supports:
                if on:
                    supports.add(wrapper)
                else:
                    supports.discard(wrapper)
    os.stat, os.lstat = _STAT_WATCHERS if on else (_REAL_STAT, _REAL_LSTAT)
    try:
        import _posixsubprocess
    except ImportError:  # Windows: processes start through _winapi, which audits them
        return
    if on and not _SPAWNERS:
        original = _posixsubprocess.fork_exec
        _SPAWNERS.append(original)

        def fork_exec(*args: Any, **kwargs: Any) -> Any:
            _unseal()
            return original(*args, **kwargs)

        _posixsubprocess.fork_exec = fork_exec
    elif not on and _SPAWNERS:
        _posixsubprocess.fork_exec = _SPAWNERS.pop()


class Recorder:
    """Observes one call of the inner backend; a context manager (nests).

    While active, ``open`` events and ``os.environ`` accesses are noted (the first
    access of a name decides: read first means input, written first means output),
    and compilers append their dependency lists to a file of ours.
    """

    def __init__(self, scratch: Path, known: Mapping[str, str] | None = None) -> None:
        #: the declared inputs' absolute paths -> labels: regular files when the key was
        #: made, so their opens need no stat; one gone after the build is seen by the
        #: key's second look at the tree (``Engine._learn``), which then caches nothing
        self.known: Mapping[str, str] = known or {}
        #: path -> (read before written, existed when first read)
        self.opened: dict[str, tuple[bool, bool]] = {}
        self.env_access: dict[str, bool] = {}
        self.deps_file = str(scratch / "compiler-deps.txt")
        self.start_ns = 0
        self._modules_before: frozenset[str] = frozenset()
        self._owns_deps = False
        self.new_modules: list[str] = []
        #: the environment as the call found it: learned variables are digested from it
        self.environ_before: dict[str, str] = {}
        #: ``sys.path`` as the call found it: what a hit's check will search (a backend may
        #: add its own vendored directories while it runs, as setuptools adds ``_vendor``)
        self.sys_path_before: list[str] = []
        self.compiler_dep_paths: list[str] = []
        #: every file the call opened was named by an event (the module docstring says when not)
        self.sealed = True
        #: top-level modules the call looked for and no finder found (``import x`` in a
        #: ``try``, ``importlib.util.find_spec``), or began to import by a statement
        self.missing_imports: set[str] = set()
        #: of those and of earlier calls' in this process, the ones still not imported
        #: when it returned
        self.failed_imports: list[str] = []
        #: distributions asked for by name through importlib.metadata (with earlier calls')
        self.queried_dists: set[str] = set()
        #: declared inputs whose size or time the call looked at through os.stat
        self.looked_at: set[str] = set()
        #: whether this recorder froze the collector's objects (none were frozen before)
        self._froze = False

    def __enter__(self) -> Recorder:  # noqa: PYI034 - not subclassed
        if not _HOOKED:
            sys.addaudithook(_audit)  # once per process: audit hooks cannot be removed
            _HOOKED.append(True)
        # the start as the filesystem's clock sees it: file times come from a coarser
        # clock than time.time_ns(), and a write right after the start must not look older
        marker = os.path.join(os.path.dirname(self.deps_file), ".wheelmemo-start")
        try:
            with open(marker, "wb"):
                pass
            self.start_ns = os.stat(marker).st_mtime_ns
        except OSError:
            self.start_ns = time.time_ns() - 50_000_000
        self._modules_before = frozenset(sys.modules)
        self.environ_before = dict(os.environ)
        self.sys_path_before = list(sys.path)
        if not _STDLIB_DIRS:
            _STDLIB_DIRS.extend(_stdlib_dirs())
        if _foreign_extensions_loaded():
            self.sealed = False  # loaded by an earlier call of this process, still callable
        if not _ACTIVE:
            # only the outermost recorder points the compilers at its file; a user's own
            # DEPENDENCIES_OUTPUT is left alone (their build then teaches us no headers)
            if "DEPENDENCIES_OUTPUT" not in os.environ and "SUNPRO_DEPENDENCIES" not in os.environ:
                os.environ["DEPENDENCIES_OUTPUT"] = self.deps_file
                self._owns_deps = True
            os.environ.__class__ = _RecordingEnviron
            environb = getattr(os, "environb", None)
            if environb is not None:
                environb.__class__ = _RecordingEnvironB
            _watch(True)
            sys.meta_path.append(_LAST_FINDER)
            # what the process holds before the call (the key's state of every input, the
            # modules loaded) is not the call's garbage: the collections the build's own
            # allocations set off leave it unvisited (a cold build_wheel of 10,000 files
            # spent 50 ms collecting, hatchling alone 15); given back to the collector after
            self._froze = gc.get_freeze_count() == 0
            if self._froze:
                gc.freeze()
        else:
            self.deps_file = _ACTIVE[0].deps_file
        _ACTIVE.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _ACTIVE.remove(self)
        if not _ACTIVE:
            os.environ.__class__ = os._Environ
            environb = getattr(os, "environb", None)
            if environb is not None:
                environb.__class__ = os._Environ
            _watch(False)
            sys.meta_path[:] = [f for f in sys.meta_path if f is not _LAST_FINDER]
            if self._froze:
                gc.unfreeze()
            if self._owns_deps:
                os.environ.pop("DEPENDENCIES_OUTPUT", None)
        new = set(sys.modules) - self._modules_before
        _RECORDED_MODULES.update(new)
        # with those an earlier call of this process imported (setup.py run for
        # get_requires, then again for the wheel): this call's imports found them loaded
        self.new_modules = sorted(new.union(name for name in _RECORDED_MODULES if name in sys.modules))
        _RECORDED_MISSING.update(self.missing_imports)
        _RECORDED_QUERIES.update(self.queried_dists)
        self.queried_dists = set(_RECORDED_QUERIES)
        self.failed_imports = sorted(name for name in _RECORDED_MISSING if name not in sys.modules)
        self.compiler_dep_paths = self._read_compiler_deps()

    def env_read(self) -> list[str]:
        """Names the call read before writing them, noise left out."""
        return sorted(n for n, reading in self.env_access.items() if reading and not is_noise_env(n))

    def files_read(self) -> list[str]:
        """Absolute paths the call opened for reading before writing them, less the
        temporary files it read and deleted."""
        known = self.known
        return sorted(
            p
            for p, (reading, existed) in self.opened.items()
            if reading and (p in known or os.path.exists(p) or not existed)
        )

    def _read_compiler_deps(self) -> list[str]:
        try:
            with open(self.deps_file, encoding="utf-8", errors="surrogateescape") as f:
                text = f.read()
        except OSError:
            return []
        return parse_make_deps(text)

    def imported_from(self, site_dirs: Iterable[str]) -> dict[str, str]:
        """Top-level modules the call imported from under ``site_dirs``: name -> file."""
        found: dict[str, str] = {}
        dirs = [d for d in site_dirs if d]
        for name in self.new_modules:
            top = name.partition(".")[0]
            if top in found:
                continue
            module = sys.modules.get(name)
            origin = getattr(module, "__file__", None)
            if not isinstance(origin, str):
                continue
            for directory in dirs:
                if is_under(os.path.abspath(origin), [directory]):
                    found[top] = os.path.abspath(origin)
                    break
        return found


# -- dependency files ---------------------------------------------------------------------
def parse_make_deps(text: str) -> list[str]:
    """The prerequisites of every rule in a Makefile-style dependency list (gcc -MD, rustc).

    Continuation lines are joined; ``\\ `` is an escaped space and ``$$`` a dollar;
    comment lines are skipped.  Targets are not returned.
    """
    found: list[str] = []
    for logical in text.replace("\\\n", " ").splitlines():
        if not logical.strip() or logical.lstrip().startswith("#"):
            continue
        split = re.search(r"(?<!\\):(?:\s|$)", logical)
        if split is None:
            continue
        for token in re.split(r"(?<!\\)\s+", logical[split.end() :].strip()):
            if token:
                found.append(token.replace("\\ ", " ").replace("$$", "$").replace("\\#", "#"))
    return found
