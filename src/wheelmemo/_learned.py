"""Inputs learned from a build: what it really read beyond the declared inputs.

The declared key (``_key``, ``_inputs``) holds what wheelmemo can know before a build:
the project's files, the listed environment variables, the interpreter, the build
requirements.  Builds also read what nobody declared: ``build.rs`` asks for
``MY_FLAVOR``, ``include_str!`` pulls in a gitignored generated file, ``setup.py`` reads
``version.txt`` or an environment variable, a C file includes ``../shared/x.h``.  As in
ccache's direct mode, every cached result records these *learned inputs* with their
fingerprints, and a lookup returns a result only when all of them still match.

What a miss observes (a hit only re-checks what was recorded):

- **Python code run in this process** (``setup.py``, build hooks, in-tree backends),
  for the duration of the inner call: ``open`` audit events (PEP 578: ``open``,
  ``os.open``, ``io.open_code``), the file behind a descriptor it wraps or maps
  (``open(fd)``, ``os.fdopen``, ``mmap``: named by ``/proc/self/fd``), ``sqlite3.connect``;
  reads of ``os.environ`` and ``os.environb`` by name (``os.getenv``, ``os.getenvb``,
  ``in``, ``.get``); the distributions it imported from outside the requirement closure
  (by name, ``top_level.txt`` or ``RECORD``) or asked ``importlib.metadata`` for by name
  (found or not), and the top-level modules it looked for in
  vain (``try: import fastaccel``; the last finder on ``sys.meta_path`` hears of them),
  which must stay absent.  Not seen: what a subprocess reads of an environment handed
  to it whole (``dict(os.environ)``, ``env=os.environ.copy()``: names nothing, so it is
  not learned; list such variables in ``env``), and what C code reads through
  ``getenv()``.
- **C and C++ compilers** it runs: gcc and clang append the headers each compile read
  to the file named by ``DEPENDENCIES_OUTPUT`` (the objects they write are the same
  with and without it; ``tests/test_learned.py`` checks it).  CMake and meson pass
  ``-MD -MF``, which overrides it: their records are read by ``_buildsys``.
- **cargo**: rustc's dep-info files (``*.d``, with ``# env-dep:`` lines) and build
  scripts' ``output`` files (``rerun-if-changed``, ``rerun-if-env-changed``, in the
  ``cargo:`` and ``cargo::`` forms) in the target directory.

What is left out, and why: files of the interpreter and of the build environment's
``sys.path`` (keyed by the interpreter and requirement versions), cargo's registry and
git checkouts (keyed by ``Cargo.lock``), the toolchain (``rustc -vV``), the backends'
own outputs in the tree (``build/``, ``target/``, ``*.egg-info``), files the build
wrote before reading them, and environment variables whose value is a per-process
path or a terminal setting (``NOISE_ENV``).  Environment values are never stored,
only a digest of the value or ``"unset"``: a value may be a secret.

A learned-inputs record is plain JSON: ``{"files": {label: [state, source]}, "env":
{name: [digest, source]}, "dists": {name: [version, source]}, "modules": {name: [
"absent" | "present", source]}, "read": [labels], "sealed": bool}``, where a label is a
POSIX path relative to the project or an absolute path outside it, and ``read`` lists
the project files the build was seen reading or shipping (what an unpacked sdist must
hold with the same bytes to share the tree's result; declared inputs whose size or
time it looked at through ``os.stat`` count too).  ``sealed``: every file the build
opened was named by an event, so ``read`` is all it read of the project
(``unread_changes``: an edit of any other file cannot change its result).  A build is
not sealed once it does what could read a file unnamed: start another process (any
way, ``multiprocessing`` too), load a library through ctypes, connect a socket (a
server may read for it), load a compiled module from outside the standard library
(its C code opens what it likes; one loaded by an earlier call of the process counts
too), ``os.open`` a relative name (relative to a ``dir_fd`` the event omits, or to the
working directory: not known which), or wrap a descriptor of a file it cannot name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
import sys
import time
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Callable, Protocol

from ._key import canonical_name, env_digest

__all__ = ["Recorder", "cargo_learned", "check_learned", "env_digest", "parse_make_deps"]

#: Variables whose values are per-process paths, terminal or verbosity settings:
#: reading them cannot change a wheel, and every isolated build environment has new values.
NOISE_ENV = frozenset({
    "PATH", "PYTHONPATH", "PYTHONNOUSERSITE", "PYTHONHOME", "VIRTUAL_ENV", "PWD", "OLDPWD", "HOME",
    "TMPDIR", "TEMP", "TMP", "PIP_BUILD_TRACKER", "PIP_REQ_TRACKER", "TERM", "COLUMNS", "LINES",
    "NO_COLOR", "FORCE_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "PYTHONIOENCODING", "UV",
    "DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES", "DIST_EXTRA_CONFIG", "SHLVL", "_",
    "HATCH_VERBOSE", "HATCH_QUIET",
})
#: uv passes its per-build directories as UV_INTERNAL__* to the backend's process.
NOISE_ENV_PREFIXES = ("_PYPROJECT_HOOKS_", "PEP517_", "WHEELMEMO_", "UV_INTERNAL__")
#: Where files are never inputs of their own: kernel and device trees.
_SYSTEM_PREFIXES = ("/dev/", "/proc/", "/sys/")


class DigestSource(Protocol):
    """What gives a file's content state: ``_inputs.StatCache``."""

    def digest(self, label: str, path: str) -> str: ...


def _is_noise(name: str) -> bool:
    return name in NOISE_ENV or name.startswith(NOISE_ENV_PREFIXES)


def _under(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip(os.sep) + os.sep) for p in prefixes)


# -- observing Python code --------------------------------------------------------------
_ACTIVE: list[Recorder] = []
_HOOKED: list[bool] = []
_ACCESS_MODE = getattr(os, "O_ACCMODE", 3)


#: Audit events after which what a build reads is no longer all seen: another process
#: (what it opens raises no event here), a library loaded through ctypes, a connection
#: to a server (it may read files for us: a daemon, a forkserver started earlier).
_UNSEEN_EVENTS = frozenset({"subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                            "os.fork", "os.forkpty", "os.startfile", "pty.spawn", "ctypes.dlopen",
                            "socket.connect", "socket.sendto", "sqlite3.load_extension"})
#: The stdlib's functions that open directories by a name relative to a ``dir_fd`` to
#: list and remove them (``shutil.rmtree``, ``os.fwalk``): a directory's names are no
#: content (a narrow hit needs the same names anyway), so these opens hide no read.
_DIRECTORY_WALKERS = frozenset({("shutil", "_rmtree_safe_fd"), ("shutil", "_rmtree_safe_fd_step"),
                                ("os", "_fwalk")})
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
        elif _is_reading(mode, flags) is not False and not (flags or 0) & _DIRECTORY_FLAG \
                and caller not in _DIRECTORY_WALKERS:
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
        if isinstance(module, str) and "." not in module:
            for recorder in _ACTIVE:
                recorder.missing_imports.add(module)  # kept if it is not imported at the end
        return
    path = os.path.abspath(os.fsdecode(filename))
    if not _in_stdlib(path):
        _FOREIGN_EXTENSIONS[str(module)] = path
        _unseal()  # its C code may read files without an event


def _in_stdlib(path: str) -> bool:
    return _under(path, _STDLIB_DIRS) and not any(
        part in ("site-packages", "dist-packages") for part in path.split(os.sep))


def _foreign_extensions_loaded() -> bool:
    """Whether a compiled module loaded by an earlier recorded call is still loaded."""
    for name, path in list(_FOREIGN_EXTENSIONS.items()):
        module = sys.modules.get(name)
        if module is not None and getattr(module, "__file__", None) == path:
            return True
        del _FOREIGN_EXTENSIONS[name]
    return False


def _note_path(name: str, reading: bool | None) -> None:
    """Note the first open of a file (``reading``: see ``_is_reading``)."""
    if all(name in recorder.opened for recorder in _ACTIVE):
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
        if path is None and "." not in name:
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
        if _ACTIVE and not isinstance(path, int):
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
        return sorted(n for n, reading in self.env_access.items() if reading and not _is_noise(n))

    def files_read(self) -> list[str]:
        """Absolute paths the call opened for reading before writing them, less the
        temporary files it read and deleted."""
        known = self.known
        return sorted(p for p, (reading, existed) in self.opened.items()
                      if reading and (p in known or os.path.exists(p) or not existed))

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
                if _under(os.path.abspath(origin), [directory]):
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
        for token in re.split(r"(?<!\\)\s+", logical[split.end():].strip()):
            if token:
                found.append(token.replace("\\ ", " ").replace("$$", "$").replace("\\#", "#"))
    return found


#: Variables cargo sets for rustc and build scripts itself (``env!("OUT_DIR")``): their
#: values come from cargo, whatever the environment says; ``CARGO_*`` is keyed anyway.
CARGO_SETS = frozenset({"OUT_DIR", "TARGET", "HOST", "PROFILE", "OPT_LEVEL", "DEBUG", "NUM_JOBS",
                        "RUSTC_LINKER", "RUSTDOC"})
_ENV_DEP = re.compile(r"^# env-dep:([^=\n]+)(?:=.*)?$", re.MULTILINE)
_RERUN = re.compile(r"^cargo::?rerun-if-(changed|env-changed)=(.*)$", re.MULTILINE)


class CargoFindings:
    """What the dep-info and build-script outputs of a target directory name."""

    def __init__(self, target_dirs: Iterable[Path] = ()) -> None:
        self.files: dict[str, str] = {}  # absolute path -> source
        self.env: dict[str, str] = {}  # name -> source
        #: cargo's own outputs (OUT_DIR's generated files, target/wheels): never inputs
        self.target_dirs = [str(d) for d in target_dirs]


def cargo_learned(target_dirs: Iterable[Path], packages: Mapping[str, Path], workspace: Path) -> CargoFindings:
    """Read every dep-info and build-script ``output`` file under the target dirs.

    All of them, not only those this build wrote: a unit that cargo found fresh is part
    of the build too, and its files are as old as the build that made it.  A superset
    can only cause a miss.  ``packages`` maps local package names to their directories
    (build scripts' relative paths are relative to their package); rustc's relative
    paths are relative to the workspace root, where cargo runs it.
    """
    target_dirs = list(target_dirs)
    findings = CargoFindings(target_dirs)
    for target in target_dirs:
        if not target.is_dir():
            continue
        for dep_info in _glob_any(target, ("*/deps/*.d", "*/*/deps/*.d", "*/build/*/*.d",
                                           "*/*/build/*/*.d", "*/*.d", "*/*/*.d")):
            try:
                text = dep_info.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError:
                continue
            for dep in parse_make_deps(text):
                findings.files.setdefault(str(workspace / dep), "rustc")
            for name in _ENV_DEP.findall(text):
                if name not in CARGO_SETS:  # cargo's own value, not the environment's
                    findings.env.setdefault(name, "rustc (env!)")
        for output in _glob_any(target, ("*/build/*/output", "*/*/build/*/output")):
            package = output.parent.name.rpartition("-")[0]
            try:
                text = output.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError:
                continue
            base = packages.get(package)
            for what, raw in _RERUN.findall(text):
                value = raw.strip()
                source = f"build script of {package}"
                if what == "env-changed":
                    findings.env.setdefault(value, source)
                elif base is not None:  # a registry crate's files are covered by Cargo.lock
                    findings.files.setdefault(str(base / value), source)
    return findings


def _glob_any(root: Path, patterns: Iterable[str]) -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path not in seen:
                seen.add(path)
                yield path


# -- checking what was learned ---------------------------------------------------------------
def check_learned(
    learned: Mapping[str, Any], root: Path, digests: DigestSource, environ: Mapping[str, str],
    installed: Callable[[], Mapping[str, tuple[str, str]]], *, same: Collection[str] = (),
) -> str | None:
    """``None`` when every learned input is as it was; else what changed, in words.

    ``same``: labels known to be as good as they were (an unpacked sdist's ``PKG-INFO``).
    """
    for name, (digest, source) in (learned.get("env") or {}).items():
        if env_digest(environ.get(name)) != digest:
            return f"{name} changed (read by {source})"
    prefix = str(root) + os.sep
    for label, (state, source) in (learned.get("files") or {}).items():
        path = label if os.path.isabs(label) else prefix + label
        if label not in same and digests.digest(label, path) != state:
            return f"{label} changed (read by {source})"
    for name, (state, _source) in (learned.get("modules") or {}).items():
        now = module_state(name)
        if now != state:
            return f"{name} is {now} (it was {state} to the build's import)"
    dists = learned.get("dists") or {}
    if dists:
        found = installed()
        for name, (version, source) in dists.items():
            if dist_state(found, name) != version:
                return f"{name} {version} → {dist_state(found, name)} (imported by {source})"
    return None


def dist_state(installed: Mapping[str, tuple[str, str]], name: str) -> str:
    """What the key records of a distribution (``_key``: its version, or its RECORD's
    digest when installed from a path or URL), or ``"missing"``."""
    from ._key import _installed_state

    return _installed_state(*installed[name]) if name in installed else "missing"


# -- turning observations into a record ------------------------------------------------------
class BuildContext:
    """What classifying a build's reads needs to know about the project and the process."""

    def __init__(
        self, root: Path, declared: Mapping[str, str], *, skip: Iterable[str],
        is_output: Callable[[str], bool], declared_env: Callable[[str], bool],
        closure: Iterable[str],
    ) -> None:
        self.root = root
        self.prefix = str(root) + os.sep
        self.declared = declared
        self.is_output = is_output
        self.declared_env = declared_env
        self.closure = frozenset(closure)
        # the interpreter and the build environment (keyed by interpreter and versions),
        # cargo's registry and the toolchain (Cargo.lock, rustc -vV), our own scratch
        home = os.path.expanduser("~")
        prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                    os.environ.get("CARGO_HOME") or os.path.join(home, ".cargo"),
                    os.environ.get("RUSTUP_HOME") or os.path.join(home, ".rustup"), *skip}
        root_str = str(root)
        for entry in map(os.path.abspath, (p or "." for p in sys.path)):
            if not _under(root_str, [entry]) and not _under(entry, [root_str]):
                prefixes.add(entry)
        self.skip = tuple(sorted(os.path.abspath(p) for p in prefixes if p))

    def classify(self, path: str) -> str | None:
        """A read file's label (relative in the tree, absolute outside), or None to ignore it."""
        path = os.path.normpath(path)
        if _under(path, self.skip):
            return None  # outputs (a crate's target dir, the frontend's) in the tree too
        if path.startswith(self.prefix):
            label = path[len(self.prefix):].replace(os.sep, "/")
            parts = label.split("/")
            if ".git" in parts or "__pycache__" in parts or self.is_output(label):
                return None
            return label
        if path.startswith(_SYSTEM_PREFIXES) or "__pycache__" in path.split(os.sep):
            return None
        if os.path.isdir(path):
            return None
        return path


def learn(
    recorder: Recorder, context: BuildContext, digests: DigestSource, cargo: CargoFindings | None,
    installed: Callable[[], Mapping[str, tuple[str, str]]], *, build_system: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The learned-inputs record of one build, and the inputs that changed while it ran
    (``build_system``: files a build system's records name, ``_buildsys``, with their source)."""
    sources: dict[str, str] = {}
    for path in recorder.files_read():
        sources.setdefault(path, "python")
    # A compiler's and cargo's dependency lists name files that existed when they were
    # compiled: one gone since was a temporary of the build (meson's compiler checks), a
    # stale record of an older build, or a relative path of a compiler that ran in
    # another directory (cmake): none of them is known to be an input of this build.
    for dep in recorder.compiler_dep_paths:
        path = dep if os.path.isabs(dep) else str(context.root / dep)
        if os.path.exists(path):
            sources.setdefault(path, "the C compiler")
    for path, source in (build_system or {}).items():
        if os.path.exists(path):
            sources.setdefault(path, source)
    env_sources = {name: "python" for name in recorder.env_read()}
    if cargo is not None:
        for path, source in cargo.files.items():
            if os.path.exists(path):
                sources.setdefault(path, source)
        for name, source in cargo.env.items():
            env_sources.setdefault(name, source)
    files, read, changed = _file_states(sources, context, digests, recorder.start_ns, recorder.known)
    read |= _project_modules(context)
    read.update(recorder.known[path] for path in recorder.looked_at)
    env = {
        name: [env_digest(recorder.environ_before.get(name)), source]
        for name, source in sorted(env_sources.items())
        if not _is_noise(name) and not context.declared_env(name)
    }
    # an import that failed (``try: import fastaccel``) decided the build as much as one
    # that worked: whether the name can be imported now is checked on every hit
    modules = {name: [module_state(name), "failed import"] for name in recorder.failed_imports}
    dists = _learned_dists(recorder, context, installed,
                           [name for name, (state, _) in modules.items() if state == "present"])
    sealed = recorder.sealed and cargo is None and not recorder.compiler_dep_paths
    return {"files": files, "env": env, "dists": dists, "modules": modules, "read": sorted(read),
            "sealed": sealed}, changed


def _learned_dists(recorder: Recorder, context: BuildContext,
                   installed: Callable[[], Mapping[str, tuple[str, str]]], broken: list[str]) -> dict[str, list[str]]:
    """The distributions from outside the requirement closure that the call imported or
    asked importlib.metadata for by name, with their states (``"missing"``: not found);
    and those of the modules in ``broken``, which are there but failed to import (a new
    version may not)."""
    dists: dict[str, list[str]] = {}
    imported = recorder.imported_from(context.skip)
    for name in broken:
        origin = _origin(name)
        if origin is not None and _under(origin, context.skip):
            imported.setdefault(name, origin)
    if not imported and not recorder.queried_dists:
        return dists
    found = installed()
    for top, origin in sorted(imported.items()):
        dist = _distribution_of(top, origin, found)
        if dist is not None and dist not in context.closure:
            dists[dist] = [dist_state(found, dist), f"import {top}"]
    for name in sorted(recorder.queried_dists):
        dist = canonical_name(name)
        if dist not in context.closure and dist not in dists:
            dists[dist] = [dist_state(found, dist), "importlib.metadata"]
    return dists


def _origin(name: str) -> str | None:
    """The file a top-level module would be imported from, or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except Exception:  # noqa: BLE001 - any finder's error: no file known
        return None
    origin = getattr(spec, "origin", None)
    return os.path.abspath(origin) if isinstance(origin, str) and os.path.isabs(origin) else None


def module_state(name: str) -> str:
    """Whether a top-level module can be imported here: ``"present"`` or ``"absent"``
    (its finders asked, nothing imported), ``"unknown"`` when a finder failed."""
    if name in sys.modules:
        return "present"
    import importlib.util

    try:
        return "absent" if importlib.util.find_spec(name) is None else "present"
    except Exception:  # noqa: BLE001 - any finder's error: not known, so never a match
        return "unknown"


def _project_modules(context: BuildContext) -> set[str]:
    """The declared inputs that are modules in this process, whenever they were imported.

    An in-tree backend is imported before the inner call, and an import served from a
    valid ``__pycache__`` opens no source file: their sources count as read all the same.
    """
    found = set()
    for module in list(sys.modules.values()):
        origin = getattr(module, "__file__", None)
        if isinstance(origin, str):
            path = os.path.abspath(origin)
            if path.startswith(context.prefix):
                label = path[len(context.prefix):].replace(os.sep, "/")
                if label in context.declared:
                    found.add(label)
    return found


def _file_states(
    sources: Mapping[str, str], context: BuildContext, digests: DigestSource, start_ns: int,
    known: Mapping[str, str],
) -> tuple[dict[str, list[str]], set[str], list[str]]:
    """Learned files with their states, project files read, and files changed mid-build
    (``known``: the declared inputs by absolute path, as the recorder has them)."""
    files: dict[str, list[str]] = {}
    read: set[str] = set()
    changed: list[str] = []
    declared = context.declared
    for path, source in sorted(sources.items()):
        # most reads are of declared inputs (a pure project's whole tree), by the very
        # path the recorder has for them: known at once; the rest are classified
        label = known.get(path)
        if label is None:
            label = context.classify(path)
            if label is None:
                continue
        if label in declared:
            read.add(label)  # keyed already; kept for the sdist equivalence check
            continue
        full = path if os.path.isabs(label) else context.prefix + label
        try:
            if os.stat(full).st_mtime_ns >= start_ns:
                changed.append(label)
        except OSError:
            pass
        files[label] = [digests.digest(label, full), source]
        if not os.path.isabs(label):
            read.add(label)
    return files, read, changed


def _distribution_of(top: str, origin: str, installed: Mapping[str, tuple[str, str]]) -> str | None:
    """The installed distribution that provides the top-level module ``top`` from the file
    ``origin``: of those installed in a directory holding it (the deepest: a venv's prefix
    holds its site-packages), the one of its name, else the one whose ``top_level.txt``
    or ``RECORD`` (wheels built by hatchling, flit, maturin have no top_level.txt) lists it."""
    site = max((os.path.dirname(info) for _, info in installed.values()
                if _under(origin, [os.path.dirname(info)])), key=len, default=None)
    if site is None:
        return None
    name = re.sub(r"[-_.]+", "-", top).lower()
    if name in installed and os.path.dirname(installed[name][1]) == site:
        return name
    for dist, (_, dist_info) in installed.items():
        if os.path.dirname(dist_info) == site and top in _top_level_names(dist_info):
            return dist
    return None


def _top_level_names(dist_info: str) -> set[str]:
    """The top-level modules a distribution installed, from top_level.txt or RECORD."""
    try:
        with open(os.path.join(dist_info, "top_level.txt"), encoding="utf-8") as f:
            return set(f.read().split())
    except OSError:
        pass
    names = set()
    try:
        with open(os.path.join(dist_info, "RECORD"), encoding="utf-8", errors="replace") as f:
            for line in f:
                first = line.split(",", 1)[0].split("/", 1)[0]
                if first and not first.endswith((".dist-info", ".data", ".pth")) and first != "..":
                    names.add(first.partition(".")[0])
    except OSError:
        pass
    return names


#: Parts that differ with the inputs themselves, not beside them.
_INPUT_PARTS = frozenset({"inputs", "inputs_digest", "learned"})


def unread_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str] | None:
    """The inputs that changed since a build, when its result holds for them too: None when
    that cannot be decided.

    It holds when the build was sealed (every file it opened was seen), nothing but the
    contents of existing files changed (no file added or removed: a build may list a
    directory, or test whether a file exists, without opening anything), and it read or
    shipped none of them.  The learned inputs are checked by the caller, as for any hit.
    """
    learned = old.get("learned")
    if not (isinstance(learned, dict) and learned.get("sealed") is True):
        return None
    if any(old.get(part) != new.get(part) for part in set(old) | set(new) if part not in _INPUT_PARTS):
        return None
    before, after = old.get("inputs"), new.get("inputs")
    if not (isinstance(before, dict) and isinstance(after, dict)) or before.keys() != after.keys():
        return None
    changed = sorted(label for label, state in after.items() if before[label] != state)
    read = learned.get("read")
    if not changed or not isinstance(read, list) or not read or not set(read).isdisjoint(changed):
        return None
    return changed


def manifest_key(declared_key: str) -> str:
    """Where the results of a declared key are listed, each with its learned inputs."""
    return hashlib.sha256(f"manifest\0{declared_key}".encode()).hexdigest()


def learned_key(declared_key: str, learned: Mapping[str, Any]) -> str:
    """Where a result lives: the declared key and the learned inputs' states together."""
    import json

    states = {part: {n: v[0] for n, v in (learned.get(part) or {}).items()}
              for part in ("files", "env", "dists", "modules")}
    body = json.dumps([declared_key, states], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()
