"""A stable source path for a build from a frontend's temporary copy of an unpacked sdist.

``uv build`` and ``python -m build`` build the wheel in a copy of the unpacked sdist at a
new random path each time.  What makes a build incremental is tied to the source's
path: rustc's incremental state and cargo's fingerprints of the project's own crates
(path packages are known by their path), the build directories of CMake and meson.  So
a miss that has a persistent build directory (``_builddir``) builds such a copy from
another copy that stays where it is: ``<build dir>/source``, kept in sync with the
frontend's before each build (:func:`sync`), the inner hook running with it as its
working directory (PEP 517: the source tree); the wheel and metadata directories stay
the frontend's.

**Never stale.**  The copy must hold exactly what the frontend's holds when the build
starts, with times a build can trust: a file whose content differs from the copy's is
written anew with the current time (never older than the file it replaces, whatever
time the frontend's copy gives it: ``python -m build`` keeps an sdist's 2006 times), a
file with the same content keeps the copy's time, and what the frontend's copy lacks
(what the last build wrote into its source directory too: an ``*.egg-info``, a
``Cargo.lock``) is removed.  The build directory's stamps (``_builddir``) then apply to
the copy as to any tree.  A copy is not used when it could build differently from the
frontend's: a symlink that leads out of the project (it would lead elsewhere from
here), something that is no file, directory or link, or cargo inputs outside the
project that differ between the two places (a path dependency ``../dep``, a
``.cargo/config.toml`` in an ancestor directory); then the build runs in the frontend's
copy as before.

**Labels.**  The learned inputs of a build are labels relative to the project root; the
engine learns them relative to the copy, which holds the same files under the same
labels, so what is recorded is what a build in the frontend's copy would record, and a
later hit in a new frontend copy checks its own files by those labels.

The copy lives in the build directory, under its lock (two builds of one project take
it in turn), and counts in its size note; ``clean`` and eviction remove it with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, Callable

from ._log import logger

__all__ = ["SOURCE", "Unusable", "stable_copy", "sync", "working_in"]

#: the copy's name in the build directory
SOURCE = "source"
_TEMP = ".wheelmemo-sync-"


class Unusable(Exception):
    """Why a copy elsewhere could build differently from the frontend's."""


def _listing(top: str, skip: Collection[str] = (), *, strict: bool = True) -> dict[str, tuple[str, Any]]:
    """label -> (kind, detail) of everything below ``top``, no symlink followed: a file
    and its permission bits, a link and its target, a directory.  ``skip``: directories
    left out (absolute paths).  ``strict``: Unusable for a link out of ``top`` or what is
    no file, directory or link; else such things are listed as ``other``."""
    found: dict[str, tuple[str, Any]] = {}
    real_top = os.path.realpath(top)
    pending = [""]
    while pending:
        rel = pending.pop()
        with os.scandir(os.path.join(top, rel) if rel else top) as entries:
            for entry in entries:
                label = f"{rel}/{entry.name}" if rel else entry.name
                if entry.is_symlink():
                    target = os.readlink(entry.path)
                    if strict and _leaves(real_top, entry.path, label, target):
                        raise Unusable(f"the link {label} leads out of the project")
                    found[label] = ("link", target)
                elif entry.is_dir(follow_symlinks=False):
                    if os.path.abspath(entry.path) not in skip:
                        found[label] = ("dir", None)
                        pending.append(label)
                elif entry.is_file(follow_symlinks=False):
                    found[label] = ("file", stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode))
                elif strict:
                    raise Unusable(f"{label} is no file, directory or link")
                else:
                    found[label] = ("other", None)
    return found


def _leaves(real_top: str, path: str, label: str, target: str) -> bool:
    """Whether a link leads out of the tree: by its text (absolute, or up past the
    root), or once resolved (through other links)."""
    if os.path.isabs(target):
        return True
    lexical = os.path.normpath(os.path.join(os.path.dirname(label), target))
    if lexical == ".." or lexical.startswith(".." + os.sep):
        return True
    real = os.path.realpath(path)
    return real != real_top and not real.startswith(real_top + os.sep)


def _same_bytes(a: str, b: str) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            chunk = fa.read(1 << 20)
            if chunk != fb.read(len(chunk) or 1):
                return False
            if not chunk:
                return True


def _remove(path: str, kind: str) -> None:
    if kind == "dir":
        shutil.rmtree(path)
    else:
        os.unlink(path)


def sync(src: str, dest: str, skip: Collection[str] = ()) -> int:
    """Make ``dest`` hold what ``src`` holds (``skip``: directories of ``src`` left out,
    by absolute path); the number of entries written or removed.

    A file whose content (or permission bits) differs is written to a new file given
    the current time, never older than the one it replaces, and put in place; a file
    with the same content keeps its time; what ``src`` lacks is removed.  Unusable when
    ``src`` holds what a copy cannot stand for (see the module); OSError as it comes."""
    want = _listing(src, skip)
    if os.path.islink(dest) or os.path.islink(os.path.dirname(dest)):
        raise Unusable(f"{dest} or its directory is a symlink")  # written through: not ours
    os.makedirs(dest, exist_ok=True)
    have = _listing(dest, strict=False)
    changed = 0
    removed: list[str] = []
    for label in sorted(have):
        kind = have[label][0]
        if any(label.startswith(gone + "/") for gone in removed):
            continue
        if want.get(label, ("",))[0] != kind:
            _remove(os.path.join(dest, label), kind)
            removed.append(label)
            changed += 1
    for label in sorted(want):  # a directory before what is in it
        kind, detail = want[label]
        target = os.path.join(dest, label)
        present = label in have and label not in removed
        if kind == "dir":
            if not present:
                os.mkdir(target)
                changed += 1
        elif kind == "link":
            if not (present and have[label][1] == detail):
                _replace(target, lambda tmp, detail=detail: os.symlink(detail, tmp))
                changed += 1
        elif not (present and _same_bytes(os.path.join(src, label), target)):
            _write(os.path.join(src, label), target, detail)
            changed += 1
        elif have[label][1] != detail:
            os.chmod(target, detail)  # the content is the same: its time stays
            changed += 1
    return changed


def _replace(target: str, make: Any) -> None:
    """Make a new entry with ``make(temp path)`` beside ``target`` and put it in place."""
    tmp = os.path.join(os.path.dirname(target), f"{_TEMP}{os.getpid()}-{os.urandom(4).hex()}")
    try:
        make(tmp)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _write(source: str, target: str, mode: int) -> None:
    """A new file with ``source``'s bytes and bits at ``target``, at the current time and
    never older than the file it replaces (a build's artifacts were made after that one)."""
    try:
        floor = os.lstat(target).st_mtime_ns + 1
    except OSError:
        floor = 0

    def make(tmp: str) -> None:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, mode)
        now = max(time.time_ns(), floor)
        os.utime(tmp, ns=(now, now))

    _replace(target, make)


def stable_copy(
    root: Path, dest: Path, *, skip: Collection[str] = (), outside: Callable[[Path], object] | None = None
) -> Path:
    """``dest`` synced with ``root``, or ``root`` itself when a copy could build
    differently (said in the debug log).  ``outside``: what a build of a copy reads
    outside it (the adapter's ``outside_copy``), which must be the same for both."""
    try:
        began = time.monotonic()
        changed = sync(str(root), str(dest), skip)
        if outside is not None and outside(root) != outside(dest):
            raise Unusable("inputs outside the project (a path dependency, a .cargo/config.toml above it)")
    except (OSError, Unusable) as e:
        logger.debug("building in %s, not in a stable copy (%s)", root, e)
        return root
    logger.debug(
        "stable copy %s: %d entries written or removed (%.0f ms)", dest, changed, (time.monotonic() - began) * 1000
    )
    return dest


@contextlib.contextmanager
def working_in(path: Path) -> Iterator[None]:
    """The working directory (and ``PWD``, which some tools prefer) set to ``path``."""
    before, pwd = os.getcwd(), os.environ.get("PWD")
    os.chdir(path)
    if pwd is not None:
        os.environ["PWD"] = str(path)
    try:
        yield
    finally:
        os.chdir(before)
        if pwd is not None:
            os.environ["PWD"] = pwd
