"""Reaching the files of the cache without following a symlink, locking them, and
adding up the room they take (``walk``, ``DiskUsage``: what ``max-size`` bounds).

POSIX: a directory of the cache is opened once (``O_DIRECTORY | O_NOFOLLOW``) and its
files are reached relative to it (``openat``), so no directory can be swapped for a
symlink between a check and a use; files are opened with ``O_NOFOLLOW | O_NONBLOCK``
(a FIFO planted in the cache must not block) and checked to be regular.  Elsewhere
(Windows) paths are checked with lstat before they are used.  Locks are ``flock``s,
released when their process dies (``msvcrt`` locks on Windows), tried without blocking
and polled with a back-off for at most :data:`LOCK_WAIT` seconds; a lock file removed
between its open and its lock (``flock``'s ``still_current``) is opened again
:data:`LOCK_ATTEMPTS` times at most.  Nothing here loops without a bound: a temporary
name is drawn :data:`TEMP_ATTEMPTS` times at most.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import stat
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Callable

from ._errors import StoreError

__all__ = [
    "BINARY",
    "Dir",
    "DiskUsage",
    "flock",
    "is_symlink_error",
    "list_names",
    "new_temp",
    "open_dir",
    "remove_held",
    "same_file",
    "walk",
]

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: a FIFO planted in the cache must not block the open of a file to read
NONBLOCK = getattr(os, "O_NONBLOCK", 0)
BINARY = getattr(os, "O_BINARY", 0)
#: The largest file of the store read whole (a record, its parts, a project's index):
#: 64 MiB, four times a remote's largest record; a bigger one was not written by wheelmemo.
MAX_READ = 64 << 20
#: POSIX: the store's directories are opened once and their files reached relative to
#: them (``openat``), so that no directory can be swapped for a symlink between a check
#: and a use.  Elsewhere (Windows) paths are checked with lstat before they are used.
AT = (
    bool(NOFOLLOW and DIRECTORY)
    and os.listdir in os.supports_fd
    and all(f in os.supports_dir_fd for f in (os.open, os.mkdir, os.unlink, os.rename, os.stat))
)
#: locks are ``msvcrt``'s (a constant, so that the tests can take this path on Linux)
WINDOWS = sys.platform == "win32"
#: how many random names a new temporary file tries: 48 random bits collide only when
#: something (a hostile writer, a broken file system) makes every name exist
TEMP_ATTEMPTS = 16
#: the longest wait for a lock another process holds (a build of the same key: as long as
#: a long build), then "cannot lock": a cache problem, one warning and a build without
#: the cache, as when the holder hangs
LOCK_WAIT = 1800.0
#: the first pause between two tries of a lock, doubled up to the largest (which is how
#: late a waiter may notice that the holder is done)
LOCK_PAUSES = (0.005, 0.25)
#: how many lock files in a row a lock is taken on, each removed by a pruner between its
#: open and its lock (``flock``), before "cannot lock"
LOCK_ATTEMPTS = 8


def is_symlink_error(error: BaseException) -> bool:
    """What opening a symlink with O_NOFOLLOW gives (EMLINK on FreeBSD)."""
    return isinstance(error, OSError) and error.errno in (errno.ELOOP, errno.EMLINK)


# -- the files of the store: never through a symlink ------------------------------------
class Dir:
    """One directory of the store, reached without following a symlink below the root.

    With ``openat`` (POSIX) it is an open descriptor and every name is used relative to
    it: a directory swapped for a symlink after it was opened changes nothing.  Without
    (Windows) it is a path whose components were checked with lstat, and each file is
    checked the same way before it is opened.
    """

    def __init__(self, path: str, fd: int | None) -> None:
        self.path = path
        self.fd = fd

    def __enter__(self) -> Dir:  # noqa: PYI034 - typing_extensions is no dependency
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def _at(self, name: str) -> str:
        return name if self.fd is not None else os.path.join(self.path, name)

    def open(self, name: str, flags: int, mode: int = 0o644) -> int:
        """A descriptor of a regular file here; OSError for a symlink, FIFO or directory."""
        if self.fd is None and os.path.islink(self._at(name)):
            raise OSError(errno.ELOOP, "a symbolic link, not followed", self._at(name))
        fd = os.open(self._at(name), flags | NOFOLLOW | NONBLOCK | BINARY, mode, dir_fd=self.fd)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise OSError(errno.EINVAL, "not a regular file", os.path.join(self.path, name))
        except BaseException:
            os.close(fd)
            raise
        return fd

    def read(self, name: str, limit: int = MAX_READ) -> tuple[bytes, float]:
        """The bytes of a regular file here and its mtime; OSError (EFBIG) for one of
        more than ``limit`` bytes, which is no file of the store's."""
        with os.fdopen(self.open(name, os.O_RDONLY), "rb") as f:
            data = f.read(limit + 1)
            if len(data) > limit:
                raise OSError(errno.EFBIG, f"larger than {limit >> 20} MiB", os.path.join(self.path, name))
            return data, os.fstat(f.fileno()).st_mtime

    def temp(self, prefix: str) -> tuple[int, str]:
        """A new file here (``temp_file`` relative to this directory)."""
        return new_temp(lambda name: self.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL), prefix)

    def sub(self, name: str, *, create: bool = False) -> Dir:
        """The subdirectory ``name``; NotADirectoryError/ELOOP for a file or a symlink."""
        if create:
            with contextlib.suppress(FileExistsError):
                os.mkdir(self._at(name), dir_fd=self.fd)
        return open_dir(os.path.join(self.path, name), self._at(name), self.fd)

    def stat(self) -> os.stat_result:
        """The directory's own stat."""
        return os.fstat(self.fd) if self.fd is not None else os.lstat(self.path)

    def names(self) -> list[str]:
        return os.listdir(self.fd if self.fd is not None else self.path)

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(self._at(name), dir_fd=self.fd, follow_symlinks=False)

    def unlink(self, name: str) -> None:
        """Remove ``name`` here (a symlink itself, never what it points to)."""
        os.unlink(self._at(name), dir_fd=self.fd)

    def rmdir(self, name: str) -> None:
        """Remove the empty directory ``name`` here (never a symlink: ENOTDIR)."""
        os.rmdir(self._at(name), dir_fd=self.fd)

    def replace(self, name: str, dest: Dir, dest_name: str) -> None:
        os.replace(self._at(name), dest._at(dest_name), src_dir_fd=self.fd, dst_dir_fd=dest.fd)

    def touch(self, name: str) -> None:
        """Set the mtime of ``name`` to now, not that of a file a symlink points to."""
        if self.fd is not None and os.utime in os.supports_dir_fd and os.utime in os.supports_follow_symlinks:
            os.utime(name, dir_fd=self.fd, follow_symlinks=False)
        elif not os.path.islink(os.path.join(self.path, name)):
            os.utime(os.path.join(self.path, name))


def list_names(directory: Dir) -> list[str]:
    """The names in a directory of the store, none when it cannot be listed."""
    try:
        return directory.names()
    except OSError:
        return []


#: how deep ``walk`` goes: a cargo target directory is about 8 levels deep; the bound
#: keeps the descriptors open at once (one per level) few
MAX_DEPTH = 64


def walk(
    directory: Dir, skip: Callable[[tuple[str, ...]], bool] = lambda path: False, below: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], os.stat_result]]:
    """(path relative to ``directory``, lstat) of everything below it, depth first:
    symlinks are reported, never followed; a directory for which ``skip(path)`` is true
    is reported but not entered; what vanishes or cannot be read meanwhile is left out."""
    for name in list_names(directory):
        path = (*below, name)
        try:
            found = directory.lstat(name)
        except OSError:
            continue
        yield path, found
        if stat.S_ISDIR(found.st_mode) and len(path) < MAX_DEPTH and not skip(path):
            try:
                sub = directory.sub(name)
            except OSError:
                continue
            with sub:
                yield from walk(sub, skip, path)


class DiskUsage:
    """Adds up the bytes files take on disk, as ``du`` does: the blocks allocated to
    them where the system says (POSIX ``st_blocks``), else their sizes; a file with
    several hard links (cargo links its artifacts) once."""

    def __init__(self) -> None:
        self._seen: set[tuple[int, int]] = set()

    def __call__(self, found: os.stat_result) -> int:
        if found.st_nlink > 1 and not stat.S_ISDIR(found.st_mode):
            inode = (found.st_dev, found.st_ino)
            if inode in self._seen:
                return 0
            self._seen.add(inode)
        blocks: int | None = getattr(found, "st_blocks", None)
        return blocks * 512 if blocks is not None else found.st_size

    def of_tree(self, path: str) -> int:
        """The bytes of the directory ``path`` and all below it (no symlink followed,
        ``path`` itself included); 0 when it cannot be opened."""
        try:
            top = open_dir(path, path, None)
        except OSError:
            return 0
        with top:
            try:
                total = self(top.stat())
            except OSError:
                return 0
            return total + sum(self(found) for _, found in walk(top))


def open_dir(path: str, at: str, dir_fd: int | None) -> Dir:
    """The directory ``at`` (relative to ``dir_fd``), refusing a symlink or a file."""
    if AT:
        return Dir(path, os.open(at, os.O_RDONLY | DIRECTORY | NOFOLLOW, dir_fd=dir_fd))
    if not os.path.lexists(path):
        raise FileNotFoundError(errno.ENOENT, "no such directory", path)
    if os.path.islink(path) or not os.path.isdir(path):
        raise NotADirectoryError(errno.ENOTDIR, "not a directory (or a symlink)", path)
    return Dir(path, None)


def new_temp(create: Callable[[str], int], prefix: str) -> tuple[int, str]:
    """``create(name)`` (an ``O_EXCL`` open) of a new random name starting with ``prefix``,
    and the name; FileExistsError when :data:`TEMP_ATTEMPTS` names in a row exist."""
    for _ in range(TEMP_ATTEMPTS):
        name = f"{prefix}{os.getpid()}-{os.urandom(6).hex()}"
        try:
            return create(name), name
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"{TEMP_ATTEMPTS} new temporary names in a row exist", prefix)


def lock_pauses(bound: float = LOCK_WAIT) -> Iterator[float]:
    """The pauses between two tries of a lock: doubling from the first of
    :data:`LOCK_PAUSES` to the largest, ``bound`` seconds in all (drawn one by one: a
    lock is mostly taken at its first try)."""
    pause, largest = LOCK_PAUSES
    left = bound
    while left > 0:  # ends: every pause is at least the first, and is taken from ``left``
        yield min(pause, left)
        left -= min(pause, left)
        pause = min(2 * pause, largest)


def poll_lock(
    try_lock: Callable[[], bool], *, wait: bool, bound: float = LOCK_WAIT, sleep: Callable[[float], object] = time.sleep
) -> bool:
    """Take a lock by ``try_lock()`` (True: taken; False: another process holds it),
    tried again at pauses that double (:data:`LOCK_PAUSES`), ``bound`` seconds in all,
    then TimeoutError: a cache problem, one warning and a build without the cache.
    False at once when ``wait`` is off and another process holds it."""
    for pause in itertools.chain(lock_pauses(bound) if wait else (), [None]):
        if try_lock():
            return True
        if pause is None:
            break
        sleep(pause)
    if not wait:
        return False
    raise TimeoutError(errno.ETIMEDOUT, f"another process held it for {LOCK_WAIT:.0f} s")


def windows_lock(
    fd: int,
    *,
    wait: bool,
    locking: Callable[[int, int, int], object] | None = None,
    nonblocking: int = 2,
    sleep: Callable[[float], object] = time.sleep,
) -> bool:
    """Lock the first byte of ``fd`` with ``msvcrt.locking`` (``locking``, ``nonblocking``:
    the function and its ``LK_NBLCK``, given by the tests), polled (``poll_lock``).

    ``msvcrt`` has no shared lock (readers take it in turn) and its blocking mode gives up
    after 10 s; so it is tried without blocking.
    """
    if locking is None:  # pragma: no cover - Windows only
        import msvcrt

        locking, nonblocking = msvcrt.locking, msvcrt.LK_NBLCK  # type: ignore[attr-defined,unused-ignore]

    def try_lock() -> bool:
        try:
            locking(fd, nonblocking, 1)
        except OSError as e:
            # EACCES: another process holds it (EDEADLOCK from the blocking mode); any
            # other error is the file system's (no locks), for the caller
            if e.errno not in (errno.EACCES, errno.EDEADLK):
                raise
            return False
        return True

    return poll_lock(try_lock, wait=wait, sleep=sleep)


def posix_lock(
    fd: int, *, shared: bool, wait: bool, bound: float = LOCK_WAIT, sleep: Callable[[float], object] = time.sleep
) -> bool:
    """``flock`` ``fd`` without blocking, polled (``poll_lock``): a blocking ``flock``
    would wait as long as the holder lives, and a hung build lives for ever."""
    import fcntl

    def try_lock() -> bool:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    return poll_lock(try_lock, wait=wait, bound=bound, sleep=sleep)


def take_lock(fd: int, *, shared: bool, wait: bool, bound: float = LOCK_WAIT) -> bool:
    """Lock the open file ``fd``; False when ``wait`` is off and another process has it;
    TimeoutError after ``bound`` seconds of waiting."""
    if WINDOWS:
        return windows_lock(fd, wait=wait)
    return posix_lock(fd, shared=shared, wait=wait, bound=bound)


def descend(directory: Dir, names: Iterable[str], *, create: bool) -> Dir:
    """``directory/names...``, opened one level at a time with no symlink followed (made
    when ``create``); ``directory`` itself is closed, whatever happens."""
    try:
        for name in names:
            below = directory.sub(name, create=create)
            directory.__exit__()
            directory = below
    except BaseException:
        directory.__exit__()
        raise
    return directory


@contextlib.contextmanager
def flock(
    opener: Callable[[], int],
    label: str,
    *,
    shared: bool = False,
    wait: bool = True,
    required: bool = True,
    still_current: Callable[[int], bool] | None = None,
) -> Iterator[bool]:
    """Hold a lock on the file ``opener`` opens; yields False when ``wait`` is off and it
    is taken, or when the lock cannot be had and it is not ``required`` (else StoreError).

    ``still_current(fd)``, once the lock is taken: whether the file locked is still the
    one ``opener`` names.  A lock file may be removed by a process holding it (a pruner:
    ``LocalStore``); whoever opened it before and locks it after holds a file nobody else
    will lock again, so it opens the new one and locks that, :data:`LOCK_ATTEMPTS` times
    at most (each removal is a pruner's, between an open and a lock: few in a row),
    waiting :data:`LOCK_WAIT` seconds in all.
    """
    deadline = time.monotonic() + LOCK_WAIT
    for _ in range(LOCK_ATTEMPTS):
        try:
            fd = opener()
        except (OSError, StoreError) as e:
            if required:
                raise StoreError(f"cannot create the lock {label} ({e})") from e
            yield False
            return
        try:
            try:
                locked = take_lock(fd, shared=shared, wait=wait, bound=max(deadline - time.monotonic(), 0.0))
                if locked and still_current is not None and not still_current(fd):
                    continue  # removed meanwhile (the ``finally`` lets it go)
            except OSError as e:  # no locks on this file system (some NFS mounts)
                if required:
                    raise StoreError(f"cannot lock {label} ({e})") from e
                locked = False
            yield locked
            return
        finally:
            os.close(fd)  # closing releases the lock; so does the death of the process
    if required:
        raise StoreError(f"cannot lock {label} (its file was removed {LOCK_ATTEMPTS} times as it was locked)")
    yield False


def same_file(fd: int, directory: Dir, name: str) -> bool:
    """Whether the open file ``fd`` is still ``name`` in ``directory`` (not removed,
    nor replaced by another file)."""
    if WINDOWS:
        return True  # an open file can be neither removed nor replaced there
    try:
        found = directory.lstat(name)
    except FileNotFoundError:
        return False
    opened = os.fstat(fd)
    return (opened.st_dev, opened.st_ino) == (found.st_dev, found.st_ino)


def remove_held(directory: Dir, name: str) -> bool:
    """Remove the lock file ``name`` of ``directory``, which the caller holds, checked to
    be the one there (``flock``'s ``still_current``); whoever opened it before locks a
    file that is not there any more, and takes the new one.  Not on Windows, where an
    open file cannot be removed."""
    if WINDOWS:
        return False
    try:
        directory.unlink(name)
    except OSError:
        return False
    return True
