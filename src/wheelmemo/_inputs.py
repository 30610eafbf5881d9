"""Which files are inputs of a build, and their content fingerprints.

The inputs are every file of the project that git would not ignore or tracks (``_walk``),
minus build outputs the backends write into the tree, plus what the backend's adapter knows it reads from
outside it (``backends``: cargo's path dependencies, workspace manifests), with
``[tool.wheelmemo] inputs`` / ``exclude`` globs on top.  Files the project's metadata
names (readme, license files) are inputs whatever ``exclude`` says: they reach METADATA.

A symbolic link to a directory is fingerprinted by the files behind it, following the
links to directories found there too; a link back to a directory already being
fingerprinted is marked, not followed.

Fingerprints are SHA-256 of content.  A per-tree stat cache skips re-hashing files whose
(size, mtime, ctime, inode) are unchanged; like git's index it never trusts a stat taken
within two seconds of the file's modification ("racily clean" files are hashed again).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import marshal
import os
import re
import stat
import time
import zlib
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._errors import BudgetSpent
from ._log import warn_once
from ._records import is_under_system
from ._store import temp_file
from ._walk import INDEX_MEMO_KEY, WALK_MEMO_KEY, list_tree, stat_signature

if TYPE_CHECKING:
    from .backends import Adapter

__all__ = ["StatCache", "builds_compiled_parts", "collect_inputs", "compile_glob", "file_digest"]

#: Directories never walked, at any depth: VCS data and tool caches.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "__pycache__", ".nox", ".tox", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
)
#: Build outputs the backends write into the tree: cargo's target dir, setuptools'
#: build/ and egg-info, frontends' dist/, and compiled extension modules (an editable
#: install puts them beside the sources; list a prebuilt binary under ``inputs``).
DEFAULT_EXCLUDE = ("/target/", "/build/", "/dist/", "*.egg-info/", "*.so", "*.pyd", "*.dylib", "*.dll", "*.pyc")
#: Lock files of frontends (uv sync writes uv.lock before it builds): no backend reads
#: them, so they are not declared inputs; a build seen reading one learns it (``_learned``).
FRONTEND_LOCKS = ("/uv.lock", "/pdm.lock", "/poetry.lock", "/pylock.toml", "/pylock.*.toml")
EXTENSION_SUFFIXES = (".so", ".pyd", ".dylib", ".dll")
#: Sources of compiled parts, and the files that say how they are built: what an
#: editable install's staleness check watches and what ``wheelmemo init`` keys uv on.
NATIVE_SOURCE_SUFFIXES = (
    ".rs",
    ".c",
    ".h",
    ".cc",
    ".cpp",
    ".cxx",
    ".hpp",
    ".hh",
    ".hxx",
    ".c++",
    ".inl",
    ".ipp",
    ".tpp",
    ".s",
    ".S",
    ".sx",
    ".asm",
    ".m",
    ".mm",
    ".pyx",
    ".pxd",
    ".pxi",
    ".f",
    ".f90",
    ".cu",
    ".zig",
    ".go",
)
BUILD_FILES = (
    "pyproject.toml",
    "Cargo.toml",
    "Cargo.lock",
    "build.rs",
    "setup.py",
    "setup.cfg",
    "MANIFEST.in",
    "CMakeLists.txt",
    "meson.build",
    "meson.options",
    "meson_options.txt",
    "rust-toolchain",
    "rust-toolchain.toml",
    ".cargo/config.toml",
)
#: Build files known by their suffix, in any directory (CMake modules).
BUILD_FILE_SUFFIXES = (".cmake",)
_BUILD_FILE_NAMES = frozenset(name.rsplit("/", 1)[-1] for name in BUILD_FILES)


def builds_compiled_parts(label: str) -> bool:
    """Whether an input (a label) is a source or build file of the compiled parts."""
    return (
        label.endswith(NATIVE_SOURCE_SUFFIXES)
        or label.endswith(BUILD_FILE_SUFFIXES)
        or label.rsplit("/", 1)[-1] in _BUILD_FILE_NAMES
    )


_OUTPUT_DIRS = frozenset({"target", "build", "dist", ".venv", "venv", "node_modules"})
_RACY_NS = 2_000_000_000
_CHUNK = 1 << 20


@cache
def compile_glob(*patterns: str) -> re.Pattern[str]:
    """One regex matching POSIX relative paths that match any of the globs."""
    return re.compile("|".join(f"(?:{_glob_source(p)})" for p in patterns), re.DOTALL)


def _glob_source(pattern: str) -> str:
    """A gitignore-flavoured glob over POSIX relative paths, as regex source.

    ``*``, ``?`` and ``[...]`` classes stay within one path segment, ``**`` crosses them; a pattern with no
    inner ``/`` matches a basename at any depth; a leading ``/`` anchors at the root; a
    trailing ``/`` matches a directory and everything below it.
    """
    anchored = pattern.startswith("/") or "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    i = 0
    while i < len(body):
        if body.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif body.startswith("**", i):
            out.append(".*")
            i += 2
        elif body[i] == "*":
            out.append("[^/]*")
            i += 1
        elif body[i] == "?":
            out.append("[^/]")
            i += 1
        elif body[i] == "[" and "]" in body[i + 2 :]:  # a class: [abc], [a-z], [!x]
            close = body.index("]", i + 2)
            inner = body[i + 1 : close].replace("\\", "\\\\")
            out.append(f"[^/{inner[1:]}]" if inner.startswith("!") else f"[{inner}]")
            i = close + 1
        else:
            out.append(re.escape(body[i]))
            i += 1
    prefix = "" if anchored else "(?:.*/)?"
    return f"{prefix}{''.join(out)}(?:/.*)?\\Z"


class StatCache:
    """Content digests of files, remembered by their stat between processes.

    Two groups are kept.  The tree's declared inputs (``digest_all``) are four columns in
    label order (labels, stat signatures, digests, CRC-32s): when no input's stat
    changed, one comparison of the signatures, joined in one string, answers for every
    file.  Other files (learned inputs, files behind a directory link) are kept one by
    one (``digest``).  Kept with ``marshal``: the columns load in a millisecond at 20,000
    files, and the file is private to this interpreter (its name carries the marshal
    version).
    """

    def __init__(self, path: Path | None, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        #: the inputs' columns as loaded, and as this process last found them (in it,
        #: only files that were not racy: a partial group still spares hashing)
        self._old_inputs: _Columns | None = None
        self._inputs: _Columns | None = None
        self._old_files: dict[str, Any] = {}
        #: label -> (stat signature, digest, CRC-32) of both groups as loaded, built when a
        #: file is looked up one by one; the CRC finds shipped files in a wheel without
        #: decompressing it (``_engine``)
        self._old: dict[str, Any] | None = None
        self._new: dict[str, tuple[str, str, Any]] = {}
        #: the ``time.monotonic()`` instant after which no file is hashed (``learned_state``)
        self._deadline: float | None = None
        #: labels digested in this process, with their newest time (racy-git: a file
        #: changed within 2 s of its stat may change again unseen; it is not saved)
        self._fresh: dict[str, int] = {}
        #: other memoized probes (the toolchain, the walk), saved with the file digests
        self.memo: dict[str, Any] = {}
        if path is not None:
            with contextlib.suppress(OSError, ValueError, TypeError, EOFError, KeyError, AttributeError):
                data = marshal.loads(_read_no_follow(path))
                self.memo = dict(data["memo"])
                self._old_files = dict(data["files"])
                self._old_inputs = _columns(data["inputs"])
        self._memo_before = self._memo_state()

    def _memo_state(self) -> tuple[str, list[Any]]:
        # The parsed git index and the remembered walk (tens of thousands of paths in one
        # string each) are compared as they are: JSON-encoding them twice per process
        # would cost more than it saves.
        rest = {k: v for k, v in self.memo.items() if k not in _LISTING_MEMO_KEYS}
        return json.dumps(rest, sort_keys=True), [self.memo.get(k) for k in _LISTING_MEMO_KEYS]

    def _known(self) -> dict[str, Any]:
        """What was loaded, label by label."""
        if self._old is None:
            self._old = dict(self._old_files)
            if self._old_inputs is not None:
                labels, sigs, digests, crcs = self._old_inputs
                self._old.update(zip(_split(labels), zip(_split(sigs), _split(digests), _crcs(crcs))))
        return self._old

    def digest_all(self, found: Mapping[str, str]) -> dict[str, str]:
        """``digest`` of every label of found (label -> path): the declared inputs.

        The hit path: one stat per file, and when no signature changed since the inputs
        were last digested, no lookup per file.
        """
        labels = sorted(found)
        stats: list[os.stat_result | None] = []
        for label in labels:
            try:
                stats.append(os.stat(found[label]))
            except OSError:
                stats.append(None)
        sigs = [stat_signature(st) if st is not None and stat.S_ISREG(st.st_mode) else "-" for st in stats]
        names, joined = "\0".join(labels), "\0".join(sigs)
        for known in (self._inputs, self._old_inputs):
            # saved only for regular files that were not racy: the same signatures are
            # the same contents (a "-" never matches: it is never saved)
            if known is not None and known[0] == names and known[1] == joined:
                self._inputs = known
                return dict(zip(labels, _split(known[2])))
        digests = self._digest_regular(labels, found, stats, sigs)
        kept = [
            i
            for i, (label, sig) in enumerate(zip(labels, sigs))
            if sig != "-" and label not in self._fresh and label in self._new
        ]
        self._inputs = (
            "\0".join(labels[i] for i in kept),
            "\0".join(sigs[i] for i in kept),
            "\0".join(digests[labels[i]] for i in kept),
            "".join(_crc_text(self._new[labels[i]][2]) for i in kept),
        )
        return digests

    def _digest_regular(
        self, labels: list[str], found: Mapping[str, str], stats: list[os.stat_result | None], sigs: list[str]
    ) -> dict[str, str]:
        """``_digest_stat`` of each label, with its regular files hashed here: per file of
        a tree seen for the first time, what is paid beyond reading and hashing it (two
        calls, its signature made twice) was a third of a cold key at 10,000 files."""
        known, new, fresh = self._known(), self._new, self._fresh
        # taken before any file is read: a file is racy when changed within 2 s of it,
        # and an earlier instant calls more of them racy, never fewer
        now = time.time_ns()
        digests = {}
        for label, st, sig in zip(labels, stats, sigs):
            if sig == "-" or st is None:  # no regular file: what it is, is keyed (_digest)
                digests[label] = self._digest_stat(label, found[label], st, sig)
                continue
            old = (new.get(label) if label not in fresh else None) or known.get(label)
            # the stat cache is storage: a record of another shape is no record
            if type(old) is tuple and len(old) == 3 and type(old[1]) is str and old[0] == sig:
                new[label] = old
                digests[label] = old[1]
                continue
            try:
                digest, crc = file_digest_crc(found[label], self._deadline)
            except OSError as e:
                digests[label] = _unreadable(label, e)
                continue
            if st.st_mode & stat.S_IXUSR:
                digest = "x:" + digest
            newest = max(st.st_mtime_ns, st.st_ctime_ns)
            if now - newest < _RACY_NS:
                fresh[label] = newest
            new[label] = (sig, digest, crc)
            digests[label] = digest
        return digests

    def digest(self, label: str, path: str) -> str:
        """``x:`` + digest for executables (the mode reaches the wheel), else the digest."""
        try:
            st = os.stat(path)
        except OSError:
            return self._digest(label, path, ())
        return self._digest_stat(label, path, st, stat_signature(st) if stat.S_ISREG(st.st_mode) else "-")

    def learned_state(self, label: str, path: str, *, walk: bool = False, deadline: float | None = None) -> str:
        """The state of a learned input (``_learned``), found without opening anything but
        a regular file: its digest (``digest``); ``"missing"``; ``"link:"`` + the target of
        a dangling link; and for what no content state can stand for (a FIFO, a socket, a
        device, a link into ``/proc``, ``/dev`` or ``/sys``, a directory unless ``walk``) a
        state of its own that no later check meets, so a result that names one never hits.

        ``walk``: a directory that is no link is fingerprinted by the files below it
        (``dir:``), as for a declared input: a build script's ``rerun-if-changed`` may
        name a directory of the project, which cargo watches whole.  ``deadline``: a
        ``time.monotonic()`` instant; BudgetSpent when it passes before the state is known.
        """
        self._deadline = deadline
        try:
            _check_deadline(deadline)
            try:
                st = os.lstat(path)
                link = stat.S_ISLNK(st.st_mode)
                if link:
                    if is_under_system(os.path.realpath(path)):
                        return _never_the_same("system")
                    st = os.stat(path)
            except OSError:
                return self._digest(label, path, ())  # missing, or a dangling link's target
            except ValueError:  # a NUL: no file is named so
                return "missing"
            if stat.S_ISDIR(st.st_mode):
                if walk and not link:
                    return "dir:" + self._tree_digest(label, path, (os.path.realpath(path),))
                return _never_the_same("dir")
            if not stat.S_ISREG(st.st_mode):
                return _never_the_same(_special_kind(st.st_mode))
            return self._digest_stat(label, path, st, stat_signature(st))
        finally:
            self._deadline = None

    def _digest_stat(self, label: str, path: str, st: os.stat_result | None, sig: str) -> str:
        """digest(), given the file's stat (None: it failed) and its signature."""
        if sig != "-":  # the hit path: one string, one lookup
            # digested earlier in this process (a racy file is digested again: the build
            # may have changed it within the file system's time granularity)
            old = self._new.get(label) if label not in self._fresh else None
            old = old or self._known().get(label)
            # the stat cache is storage: a record of another shape is no record
            if type(old) is tuple and len(old) == 3 and type(old[1]) is str and old[0] == sig:
                self._new[label] = old
                return old[1]
        return self._digest(label, path, (), st)

    def size_and_crc(self, label: str) -> tuple[int, int] | None:
        """The size and CRC-32 of a file digested in this process, or None."""
        record = self._new.get(label)
        if record is None and self._inputs is not None and self._inputs is self._old_inputs:
            # digest_all found every input as loaded: what was loaded is what is there
            record = self._known().get(label)
        if record is None or type(record[2]) is not int:
            return None
        return int(record[0].split(":", 1)[0]), record[2]

    def _digest(self, label: str, path: str, chain: tuple[str, ...], st: os.stat_result | None = None) -> str:
        """digest(), below the directories in chain (real paths, outermost first)."""
        try:
            if st is None:
                st = os.stat(path)
        except OSError:
            # a dangling link or a file deleted mid-walk: key on what the link says
            try:
                return "link:" + os.readlink(path)
            except OSError:
                return "missing"
        if stat.S_ISDIR(st.st_mode):
            # a symlink to a directory (git lists the link itself): the build reads through it
            real = os.path.realpath(path)
            if real in chain:
                # a link back to a directory being fingerprinted: following it would
                # not end; which one it is keys the tree's shape
                return f"cycle:{chain.index(real)}"
            return "dir:" + self._tree_digest(label, path, (*chain, real))
        if not stat.S_ISREG(st.st_mode):
            # a link to a FIFO, a socket or a device (the walk lists links, not what they
            # point at): opening it may block for ever, reading it may never end.  Its
            # content is no file content a key can hold; what it is, is.
            kind = _special_kind(st.st_mode)
            warn_once(
                f"{label} is a {kind.replace('-', ' ')}, not a regular file: wheelmemo keys "
                "on what it is, never on what it holds (list it under [tool.wheelmemo] "
                "exclude if the build does not read it)"
            )
            return f"special:{kind}"
        sig = stat_signature(st)
        old = self._known().get(label)
        if type(old) is tuple and len(old) == 3 and old[0] == sig and type(old[1]) is str:
            digest: str = old[1]
            crc = old[2]
        else:
            try:
                digest, crc = file_digest_crc(path, self._deadline)
            except OSError as e:
                return _unreadable(label, e)
            if st.st_mode & stat.S_IXUSR:
                digest = "x:" + digest
            newest = max(st.st_mtime_ns, st.st_ctime_ns)
            if time.time_ns() - newest < _RACY_NS:
                self._fresh[label] = newest
        self._new[label] = (sig, digest, crc)
        return digest

    def _tree_digest(self, label: str, directory: str, chain: tuple[str, ...]) -> str:
        """The files behind a directory link, through the stat cache (labels below label)."""
        h = hashlib.sha256()
        try:
            listing = list_tree(Path(directory), skip_dirs=SKIP_DIRS)
        except OSError:
            return "unreadable"  # never fail a build over it: the key just says so
        for rel in listing:
            _check_deadline(self._deadline)
            path = os.path.join(directory, rel)
            h.update(f"{rel}\0{self._digest(label + '/' + rel, path, chain)}\n".encode())
        return h.hexdigest()

    def save(self) -> None:
        if self.path is None or self.read_only:
            return
        inputs = self._inputs if self._inputs is not None else self._old_inputs
        in_group = set(_split(inputs[0])) if inputs is not None and self._new else set()
        others = [k for k in self._new if k not in in_group]
        if others:  # the other files this process looked at, but racy ones
            files = {k: self._new[k] for k in others if k not in self._fresh}
        else:  # none: what was known of them still is
            files = {k: v for k, v in self._old_files.items() if k not in in_group}
        if inputs == self._old_inputs and files == self._old_files and self._memo_state() == self._memo_before:
            return
        tmp: str | None = None
        try:
            data = marshal.dumps({"inputs": inputs, "files": files, "memo": self.memo})
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = temp_file(self.path.parent)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path)
            tmp = None
        except (OSError, ValueError):
            # it only saves hashing time: a full disk, a read-only cache or a memo value
            # marshal refuses (ValueError) costs the next call some hashing, nothing more
            pass
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


#: The memo entry of the listing's labels that no exclusion matches (``_not_excluded``).
KEPT_MEMO_KEY = "kept"
#: Memo entries holding a listing of the tree (one string each), compared as they are.
_LISTING_MEMO_KEYS = (INDEX_MEMO_KEY, WALK_MEMO_KEY, KEPT_MEMO_KEY)

#: The inputs group, in label order: labels, stat signatures and digests, each joined
#: with NUL (which no path holds), and the CRC-32s as 8 hex digits each.
_Columns = tuple[str, str, str, str]


def _split(joined: str) -> list[str]:
    return joined.split("\0") if joined else []


_CRC_COLUMN = re.compile(r"(?:[0-9a-f]{8}|-{8})*")


def _count(joined: str) -> int:
    return joined.count("\0") + 1 if joined else 0


def _crc_text(crc: Any) -> str:
    return f"{crc:08x}" if type(crc) is int and 0 <= crc < 1 << 32 else "--------"


def _crcs(text: str) -> list[int | None]:
    return [None if text[i] == "-" else int(text[i : i + 8], 16) for i in range(0, len(text), 8)]


def _columns(data: Any) -> _Columns | None:
    """The inputs group as loaded, or None for one of another shape."""
    if not (isinstance(data, tuple) and len(data) == 4 and all(type(x) is str for x in data)):
        return None
    labels, sigs, digests, crcs = data
    count = _count(labels)  # (counted, not split: this runs on every hit)
    if not (_count(sigs) == _count(digests) == count == len(crcs) // 8 and _CRC_COLUMN.fullmatch(crcs)):
        return None
    return labels, sigs, digests, crcs


#: The special file kinds, by the stat test that tells them.
_SPECIAL_KINDS = (
    ("fifo", stat.S_ISFIFO),
    ("socket", stat.S_ISSOCK),
    ("char-device", stat.S_ISCHR),
    ("block-device", stat.S_ISBLK),
)


def _special_kind(mode: int) -> str:
    return next((name for name, test in _SPECIAL_KINDS if test(mode)), "special-file")


#: The prefix of the state of a learned input that is no file a key can hold.
UNKEYABLE = "unkeyable:"


def _never_the_same(kind: str) -> str:
    """The state of a learned input that is no file a key can hold: one no other check
    gives, so a result whose build read it is never reused (nor stored: ``_engine``)."""
    return f"{UNKEYABLE}{kind}:{os.urandom(16).hex()}"


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() > deadline:
        raise BudgetSpent("the time budget ended while checking the files a record names")


def _unreadable(label: str, error: OSError) -> str:
    """The key of a file that cannot be read, with a warning.

    Without permission the inner backend, which runs as the same user, cannot read it
    either: keying on that is keying on what the build sees, so it may be cached.  Any
    other failure (an I/O error, too many open files, a file that became a FIFO since
    it was stat'ed) says nothing of what the build will see: a key of its own that no
    later build can meet makes the build uncached.
    """
    if isinstance(error, FileNotFoundError):
        return "missing"  # deleted since the walk listed it, as in _digest
    reason = error.strerror or str(error)
    if isinstance(error, PermissionError):
        warn_once(f"{label} cannot be read ({reason}): wheelmemo keys on that, not on its content")
        return "unreadable:permission"
    warn_once(f"{label} cannot be read ({reason}): this build is not cached")
    return f"unreadable:{os.urandom(16).hex()}"


#: O_NONBLOCK: a path that became a FIFO since it was stat'ed must not block open();
#: O_BINARY: no newline translation on Windows.
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _read_no_follow(path: Path) -> bytes:
    """A stat cache's bytes; one planted as a symlink in the cache is not followed."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path} is not a regular file")
        return f.read()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a regular file; OSError for anything else (never a blocking open)."""
    return file_digest_crc(path)[0]


def file_digest_crc(path: str | Path, deadline: float | None = None) -> tuple[str, int]:
    """SHA-256 and CRC-32 of a regular file; OSError for anything else (never a blocking open).
    ``deadline`` (``time.monotonic()``): BudgetSpent when it passes before the end.

    Plain descriptor reads: a buffered file object costs more to make than hashing a
    small source file does.
    """
    h = hashlib.sha256()
    crc = 0
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            import errno

            raise OSError(errno.EINVAL, "not a regular file", str(path))
        # a small file in one read: asked for one byte more than its size, a read that
        # brings it to that size exactly has met its end (anything else reads on to an
        # empty read, as a file that grew meanwhile or a file system's short reads need)
        size, seen, want = st.st_size, 0, min(st.st_size + 1, _CHUNK)
        while chunk := os.read(fd, want):
            h.update(chunk)
            crc = zlib.crc32(chunk, crc)
            seen += len(chunk)
            if seen == size and len(chunk) < want:
                break
            want = _CHUNK
            _check_deadline(deadline)
    finally:
        os.close(fd)
    return h.hexdigest(), crc


def find_extension_files(root: Path) -> list[str]:
    """Compiled extension modules in the tree (what a native editable build writes there)."""
    found = []
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        dirs[:] = [
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not (rel_dir == "." and d in _OUTPUT_DIRS)
            and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        ]
        for name in files:
            if name.endswith(EXTENSION_SUFFIXES):
                found.append(Path(rel_dir, name).as_posix() if rel_dir != "." else name)
    return sorted(found)


def _named_by_metadata(pyproject: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The (paths, globs) the project's metadata names, relative to the project.

    ``[project] readme`` (a path, or a table's ``file``), ``license = {file = ...}``
    and ``license-files`` globs (PEP 639), and setuptools' own spellings of the same
    (``[tool.setuptools] license-files``, ``dynamic`` fields read from files).
    """
    project = pyproject.get("project")
    project = project if isinstance(project, dict) else {}
    tool = pyproject.get("tool")
    setuptools = tool.get("setuptools") if isinstance(tool, dict) else None
    setuptools = setuptools if isinstance(setuptools, dict) else {}
    paths: list[str] = []
    readme = project.get("readme")
    if isinstance(readme, str):
        paths.append(readme)
    dynamic = setuptools.get("dynamic")
    tables = [readme, project.get("license")]
    tables += list(dynamic.values()) if isinstance(dynamic, dict) else []
    for table in tables:
        files = table.get("file") if isinstance(table, dict) else None
        files = [files] if isinstance(files, str) else files
        if isinstance(files, list):
            paths += [f for f in files if isinstance(f, str)]
    globs: list[str] = []
    for value in (project.get("license-files"), setuptools.get("license-files")):
        if isinstance(value, list):
            globs += [g for g in value if isinstance(g, str)]
    return paths, globs


def _metadata_files(root: str, pyproject: dict[str, Any], listing: list[str]) -> dict[str, str]:
    """Label -> path of the files the project's metadata names that exist."""
    paths, globs = _named_by_metadata(pyproject)
    found: dict[str, str] = {}
    for rel in paths:
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            found[Path(os.path.relpath(path, root)).as_posix()] = path
    if not globs:
        return found
    # matched against the listing, which is cheap at any depth; a glob without "**"
    # is also looked up on disk, which finds the files git ignores as well
    matches = compile_glob(*(f"/{g}" for g in globs)).match  # PEP 639: relative to the root
    for rel in listing:
        if matches(rel):
            found[rel] = os.path.join(root, *rel.split("/"))
    shallow = [g for g in globs if "**" not in g]
    if shallow:
        import glob

        for pattern in shallow:
            for path in glob.glob(os.path.join(glob.escape(root), pattern)):
                if os.path.isfile(path):
                    found[Path(os.path.relpath(path, root)).as_posix()] = path
    return found


def _not_excluded(listing: list[str], patterns: tuple[str, ...], memo: dict[str, Any]) -> list[str]:
    """The labels of listing no pattern excludes, remembered in memo for the same listing."""
    joined, rules = "\0".join(listing), "\0".join(patterns)
    saved = memo.get(KEPT_MEMO_KEY)
    if (
        isinstance(saved, list)
        and len(saved) == 3
        and saved[0] == rules
        and saved[1] == joined
        and type(saved[2]) is str
    ):
        return _split(saved[2])
    excluded = compile_glob(*patterns).match
    # cargo writes target/ next to a crate's manifest at any depth (setuptools-rust builds
    # src/_ext/Cargo.toml into src/_ext/target/): that is an output like the root's
    targets = tuple(f"{label[: -len('Cargo.toml')]}target/" for label in listing if label.endswith("/Cargo.toml"))
    kept = [rel for rel in listing if not excluded(rel) and not (targets and rel.startswith(targets))]
    memo[KEPT_MEMO_KEY] = [rules, joined, "\0".join(kept)]
    return kept


def collect_inputs(
    root: Path,
    pyproject: dict[str, Any],
    *,
    adapter: Adapter,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    stat_cache: StatCache,
    skip_dirs: frozenset[str] = frozenset(),
) -> dict[str, str]:
    """Map each input's label (a POSIX path relative to the project) to its digest."""
    root_str = str(root)
    prefix = root_str + os.sep
    listing = list_tree(root, skip_dirs=SKIP_DIRS | skip_dirs, memo=stat_cache.memo)
    kept = _not_excluded(listing, (*DEFAULT_EXCLUDE, *FRONTEND_LOCKS, *exclude), stat_cache.memo)
    found = {rel: prefix + (rel if os.sep == "/" else rel.replace("/", os.sep)) for rel in kept}
    # what the metadata names reaches METADATA or the wheel: no exclusion applies
    found.update(_metadata_files(root_str, pyproject, listing))
    # explicit inputs win over every exclusion, and may point outside the tree
    if include:
        import glob
    for pattern in include:
        for path in glob.glob(os.path.join(root_str, pattern), recursive=True):
            if os.path.isfile(path):
                found[Path(os.path.relpath(path, root_str)).as_posix()] = path
    found.update(adapter.outside_inputs(root, pyproject))
    return stat_cache.digest_all(found)
