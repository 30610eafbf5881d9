"""The persistent build directory of a project: what makes a miss incremental.

A miss hands the inner backend a build directory that wheelmemo owns, in the cache
(``v1/build/<id>``), one per project and build-environment identity (interpreter,
versions of the build requirements, toolchain, the variables that change builds), so
that two Pythons or two compilers do not throw each other's work away.  It is the same
directory whether the build runs in the tree or in a frontend's temporary copy of an
unpacked sdist (``uv build``, ``python -m build``), so the second build after an edit
recompiles what the edit touched, not the dependencies.

How it is handed over is the backend's adapter's (``backends``:
``Adapter.takes_build_dir``, ``Adapter.build_dir_env``; cargo's ``CARGO_TARGET_DIR``),
except for CMake (scikit-build-core) and meson (meson-python): their ``build-dir``
config setting points into it (``cmake/``, ``meson/``) for a regular wheel; before
each build their configure state is removed, so that they configure from scratch in
every new isolated environment, and only Ninja's state is kept (``_ninja_builddir``).
A user's ``build-dir`` wins; editable builds keep a fresh one.

**A stable source path.**  What a build directory keeps is tied to the source's path as
well: cargo knows the project's own crates (and path dependencies) by their path, rustc
keeps its incremental state per path, CMake and meson record the source directory.  A
frontend's copy of an unpacked sdist is at a new path every time, so a wheel built from
one (a miss that has a build directory) is built in a copy of it that stays in the
build directory, ``<id>/source``, synced with the frontend's before the build and
stamped here like any tree (``_srccopy``); its learned inputs are labels relative to
the project, the same from either copy.

**Never stale.**  cargo decides what to rebuild by comparing the modification times of
sources with those of its records: a source not newer than an artifact is taken as what
that artifact was built from.  One directory holds many artifacts (one per feature set,
profile, target, flags), each built at its own time from the contents of its day, and
copies of a tree come with any times (``python -m build`` keeps an sdist's fixed 2006
times, ``uv build`` gives the current one, a restored backup its old one).  So the
directory gives every input a *stamp*: the time its current content was first handed to
a build in it (``stamps`` in its record: label -> content, stamp).  Before each build,
an input whose content differs from its record gets the current time as its new stamp,
and every input older than its stamp is given its stamp as its time.  Then no input is
older than the moment its content appeared here, while every artifact built from other
content was built before that moment: cargo reuses exactly the artifacts built from the
same contents, whichever build made them, and rebuilds the others.  Builds of one
directory take its lock in turn (cargo serializes them anyway), so a record always
describes the contents of its last build.  When a time cannot be set (a read-only
file), the build gets a fresh directory instead.  Only the project's files and its
declared inputs outside it (``../dep/src/lib.rs``) are stamped: a file a build read by
its absolute path (a system header, a toolchain's file) is not ours to touch, so when
its content differs from what the artifacts were built from, the directory is emptied.
A Ninja directory (CMake's, meson's: ``new_files_clear``) is emptied too when the
project gained a file since its last build: a new header earlier on the include path
(or one a ``__has_include`` looks for) changes what an unchanged source compiles to,
and is in no object's dependency list, so Ninja would keep the old object (found by
the stale fuzzer; a plain build starts from nothing).  Times are compared at the file
system's resolution: nanoseconds on the file systems this is tested on; a file system
with coarse times (FAT's 2 s) can give a stamp the time of an artifact built in the same
tick, and is not supported for build directories.

**Size.**  Build directories (their stable source copy included) count toward ``max-size`` like the entries (``_store``),
and may be evicted with them, least recently used first (their last use: the
directory's time, set by :meth:`BuildDir.prepare`).  Walking a directory of 100,000
files after every store would cost more than the store, so each one's size is measured
once, after each build that used it, while that build still holds its lock (nothing
else writes in it then), and kept in a note beside it (``build/<name>.json``: project,
a short label of the build environment, size in bytes on disk, and whether the
measure is of the last build: :meth:`BuildDir.note_use` marks it stale, and a note
left stale by a build that died is measured again by whoever next finds the directory
unlocked).  The note is outside the directory so that writing it does not change the
directory's time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from ._fsdir import Dir, DiskUsage, open_dir
from ._log import logger, warn_once
from ._records import MAX_LABELS, MAX_LEARNED, MAX_NAME, is_label, is_text

__all__ = ["NOTE_TEMP", "BuildDir", "build_dir_name", "check_note", "identity_label", "read_note"]

_RECORD = "inputs.json"
#: the longest project id or label a note holds, and the most bytes read of one
_NOTE_TEXT, _NOTE_BYTES = 200, 4096
#: how a note being written starts (``LocalStore`` removes those a dead process left)
NOTE_TEMP = ".note-"


def build_dir_name(project_id: str, identity: Mapping[str, Any]) -> str:
    """The name of the build directory of a project and build-environment identity."""
    return hashlib.sha256(json.dumps([project_id, identity], sort_keys=True).encode()).hexdigest()[:32]


def identity_label(identity: Mapping[str, Any]) -> str:
    """A short human description of a build-environment identity (``wheelmemo list``):
    the interpreter and the compiler, e.g. ``cpython 3.12.3, rustc 1.83.0 (90b35a623 2024-11-26)``."""
    words = []
    interpreter = identity.get("interpreter")
    if isinstance(interpreter, dict):
        version = str(interpreter.get("version") or "").split(" ")[0]
        words.append(f"{interpreter.get('implementation') or 'python'} {version}".strip())
    toolchain = identity.get("toolchain")
    if isinstance(toolchain, str) and toolchain:
        words.append(toolchain.splitlines()[0])
    return ", ".join(words)[:_NOTE_TEXT] or "-"


def check_note(raw: bytes) -> dict[str, Any] | None:
    """A build directory's note (what ``note_use`` and ``note_size`` write), checked;
    None for anything else (damaged, or written by a hostile writer of a shared cache)."""
    try:
        data = json.loads(raw) if len(raw) <= _NOTE_BYTES else None
    except ValueError:
        return None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("project"), str)
        and isinstance(data.get("identity"), str)
        and type(data.get("size")) is int
        and 0 <= data["size"] < 1 << 62
        and isinstance(data.get("measured"), bool)
    ):
        return None
    return {
        "project": data["project"][:_NOTE_TEXT],
        "identity": data["identity"][:_NOTE_TEXT],
        "size": data["size"],
        "measured": data["measured"],
    }


def read_note(builds: Dir, name: str) -> dict[str, Any] | None:
    """The checked note of the build directory ``name`` in ``builds`` (no symlink
    followed, at most ``_NOTE_BYTES`` read); None when there is none."""
    try:
        fd = builds.open(f"{name}.json", os.O_RDONLY)
    except OSError:
        return None
    try:
        return check_note(os.read(fd, _NOTE_BYTES + 1))
    except OSError:
        return None
    finally:
        os.close(fd)


class BuildDir:
    """The build directory at ``path`` (``LocalStore.build_path``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: a build used it since its size was measured (``note_use``, ``note_size``)
        self._unmeasured = False

    # -- size and last use (``_store`` evicts build directories with the entries) ---------
    def _note(self) -> dict[str, Any] | None:
        parent = str(self.path.parent)
        try:
            with open_dir(parent, parent, None) as builds:
                return read_note(builds, self.path.name)
        except OSError:
            return None

    def _write_note(self, note: Mapping[str, Any]) -> None:
        """Replace the note beside the directory (a new file, no symlink followed)."""
        parent = str(self.path.parent)
        try:
            with open_dir(parent, parent, None) as builds:
                fd, tmp = builds.temp(NOTE_TEMP)
                try:
                    with os.fdopen(fd, "w") as f:
                        f.write(json.dumps(note))
                    builds.replace(tmp, builds, f"{self.path.name}.json")
                except BaseException:
                    with contextlib.suppress(OSError):
                        builds.unlink(tmp)
                    raise
        except OSError as e:
            logger.debug("cannot write the note of the build directory %s (%s)", self.path, e)

    def note_use(self, project_id: str, label: str) -> None:
        """Before a build (holding the lock): its size is about to change, and this is
        whose it is (``label``: ``identity_label``)."""
        old = self._note()
        self._unmeasured = True
        self._write_note(
            {
                "project": project_id[:_NOTE_TEXT],
                "identity": label[:_NOTE_TEXT],
                "size": old["size"] if old else 0,
                "measured": False,
            }
        )

    def note_size(self, *, force: bool = False) -> int:
        """After a build that used it (still holding the lock), or when the note is stale
        (``force``): measure the directory and note its size; the size."""
        if not (self._unmeasured or force):
            return 0
        self._unmeasured = False
        old = self._note() or {"project": "-", "identity": "-"}
        size = DiskUsage().of_tree(str(self.path))
        self._write_note({"project": old["project"], "identity": old["identity"], "size": size, "measured": True})
        return size

    def _record(self) -> dict[str, Any]:
        """The directory's record, or nothing when it is missing or damaged.  Read by
        the one process that holds the directory's lock, but written by whoever can
        write to the cache: its members are checked (``_stamps``, ``_learned_labels``),
        and a record past what a build writes is nothing, with one warning."""
        path = str(self.path)
        try:
            with open_dir(path, path, None) as here:  # (at most 64 MiB, no FIFO, no symlink)
                data = json.loads(here.read(_RECORD)[0])
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as e:
            warn_once(
                f"the record of build directory {self.path.name[:8]} is damaged ({str(e)[:80]}); "
                "its inputs get new stamps"
            )
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _stamps(record: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
        """The record's stamps (label -> content state, stamp in ns); anything else in a
        damaged or hostile record is left out, and an input it leaves out gets a new stamp.
        A label here is only looked up (by the labels of this build's inputs, which name
        path dependencies outside the tree ``../dep/src/lib.rs``), never opened: it is
        checked as text, not as a path."""
        stamps = record.get("stamps")
        if not isinstance(stamps, dict) or len(stamps) > MAX_LABELS:
            return {}
        return {
            label: (value[0], value[1])
            for label, value in stamps.items()
            if is_text(label)
            and isinstance(value, list)
            and len(value) == 2
            and is_text(value[0], 2 * MAX_NAME)
            and isinstance(value[1], int)
            and not isinstance(value[1], bool)
        }

    @staticmethod
    def _learned_labels(record: Mapping[str, Any]) -> list[str]:
        """The files outside the key that earlier builds read (``remember_learned``): only
        labels a learned-inputs record may hold (``_records.is_label``: never a root, a
        path with ``..``, or a kernel or device tree), at most ``MAX_LEARNED`` of them."""
        labels = record.get("learned")
        if not isinstance(labels, list) or len(labels) > MAX_LEARNED:
            return []
        return [label for label in labels if is_label(label)]

    def prepare(
        self,
        root: Path,
        inputs: Mapping[str, str],
        state_of: Callable[[str, str], str],
        *,
        new_files_clear: bool = False,
    ) -> bool:
        """Give every input its stamp as its time when it is older (a new stamp, now, for
        content that differs from the record), then record what this build starts from;
        False when the directory cannot be used safely (a time that cannot be set, a
        directory that cannot be made).  ``inputs``: the declared inputs' digests; the
        files outside them that earlier builds were seen reading (``remember_learned``)
        are stamped too, by ``state_of(label, path)``, their state as ``_learned`` records it.
        ``new_files_clear``: empty the directory when an input is new since its last build."""
        now = time.time_ns()
        record_before = self._record()
        stamps = self._stamps(record_before)
        prefix = str(root) + os.sep
        current = dict(inputs)
        for label in self._learned_labels(record_before):
            if label not in current:
                current[label] = state_of(label, label if os.path.isabs(label) else prefix + label)
        record: dict[str, list[Any]] = {}
        outside_changed = False
        for label, state in current.items():
            old = stamps.get(label)
            same = old is not None and old[0] == state and old[1] <= now
            stamp = old[1] if same and old is not None else now
            record[label] = [state, stamp]
            if os.path.isabs(label):
                # a file outside the project that a build read (a system header, a
                # toolchain's file) is not ours to touch: when it differs from what the
                # artifacts here were built from, they go
                outside_changed = outside_changed or not same
            elif not _at_least(prefix + label, stamp):
                return False
        # a file new to the project since the last build here (not its first)
        added = new_files_clear and bool(stamps) and any(label not in stamps for label in inputs)
        try:
            if (outside_changed or added) and not self._clear(
                "a file outside the project changed" if outside_changed else "a file was added"
            ):
                return False
            self.path.mkdir(parents=True, exist_ok=True)
            self._write({"stamps": record, "learned": sorted(set(current) - set(inputs)), "started_ns": now})
            os.utime(self.path)  # last use, for pruning
        except OSError as e:
            logger.debug("build directory %s unusable (%s): a fresh one", self.path, e)
            return False
        return True

    def _clear(self, why: str) -> bool:
        """Remove what earlier builds left here but the record and the stable source copy
        (``_srccopy``, kept in sync by content); False when something stays."""
        import shutil

        from ._srccopy import SOURCE

        logger.debug("%s: build directory %s emptied", why, self.path)
        try:
            names = os.listdir(self.path)
        except FileNotFoundError:
            return True
        for name in names:
            if name in (_RECORD, SOURCE):
                continue
            path = self.path / name
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return set(os.listdir(self.path)) <= {_RECORD, SOURCE}

    def _write(self, record: Mapping[str, Any]) -> None:
        """Replace the record (a new file, no symlink planted in the directory followed)."""
        path = str(self.path)
        with open_dir(path, path, None) as here:
            fd, tmp = here.temp(f".{_RECORD}-")
            try:
                with os.fdopen(fd, "w") as f:
                    f.write(json.dumps(record))
                here.replace(tmp, here, _RECORD)
            except BaseException:
                with contextlib.suppress(OSError):
                    here.unlink(tmp)
                raise

    def remember_learned(self, learned_files: Mapping[str, Any]) -> None:
        """Record the files outside the key that the build read (path dependencies
        outside the tree), with their states: stamped from the start of this build,
        which read them as they are, and checked by content before the next one."""
        data = self._record()
        if not isinstance(data.get("stamps"), dict):
            return
        started = data.get("started_ns")
        if not isinstance(started, int):
            return
        data["stamps"] = dict(self._stamps(data))
        for label, (state, _source) in learned_files.items():
            old = data["stamps"].get(label)
            if not (isinstance(old, (list, tuple)) and old[:1] == (state,)):
                data["stamps"][label] = (state, started)
        data["learned"] = sorted(set(self._learned_labels(data)) | set(learned_files))
        with contextlib.suppress(OSError):
            self._write(data)


def _at_least(path: str, stamp: int) -> bool:
    """Give ``path`` the time ``stamp`` unless it is as new already; False when that
    cannot be done (a missing file is left to cargo, which sees it missing, and what is
    no regular file, a directory or a device, is left alone)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return True
    if st.st_mtime_ns >= stamp or not stat.S_ISREG(st.st_mode):
        return True
    try:
        os.utime(path, ns=(st.st_atime_ns, stamp))
    except OSError as e:
        logger.debug("cannot set the time of %s (%s): a fresh build directory", path, e)
        return False
    return True
