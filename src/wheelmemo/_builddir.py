"""The persistent build directory of a project: what makes a miss incremental.

A miss hands the inner backend a build directory that wheelmemo owns, in the cache
(``v1/build/<id>``), one per project and build-environment identity (interpreter,
versions of the build requirements, toolchain, the variables that change builds), so
that two Pythons or two compilers do not throw each other's work away.  It is the same
directory whether the build runs in the tree or in a frontend's temporary copy of an
unpacked sdist (``uv build``, ``python -m build``), so the second build after an edit
recompiles what the edit touched, not the dependencies.

Per backend:

- **cargo** (maturin, setuptools-rust): ``CARGO_TARGET_DIR`` points into it, and
  ``MATURIN_PEP517_USE_BASE_PYTHON=1`` keeps pyo3's build script (which keys on the
  interpreter's path) from rebuilding pyo3 in every new isolated environment.  Either
  one set by the user wins, and then the directory is the user's.
- **setuptools** keeps a fresh ``build_base`` per miss (``_buildenv``): distutils
  compiles every source of an extension whenever it rebuilds it, so a persistent
  ``build_temp`` would save nothing and could only reuse by timestamp.
- others build as they are.

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
file), the build gets a fresh directory instead.  Times are compared at the file
system's resolution: nanoseconds on the file systems this is tested on; a file system
with coarse times (FAT's 2 s) can give a stamp the time of an artifact built in the same
tick, and is not supported for build directories.
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

from ._log import logger, warn_once
from ._records import MAX_LABELS, MAX_LEARNED, MAX_NAME, is_label, is_text

__all__ = ["BuildDir", "build_dir_env", "build_dir_name"]

_RECORD = "inputs.json"


def build_dir_name(project_id: str, identity: Mapping[str, Any]) -> str:
    """The name of the build directory of a project and build-environment identity."""
    return hashlib.sha256(json.dumps([project_id, identity], sort_keys=True).encode()).hexdigest()[:32]


class BuildDir:
    """The build directory at ``path`` (``LocalStore.build_path``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _record(self) -> dict[str, Any]:
        """The directory's record, or nothing when it is missing or damaged.  Read by
        the one process that holds the directory's lock, but written by whoever can
        write to the cache: its members are checked (``_stamps``, ``_learned_labels``),
        and a record past what a build writes is nothing, with one warning."""
        try:
            raw = _read_bounded(self.path / _RECORD)
            data = json.loads(raw)
        except (OSError, ValueError, RecursionError) as e:
            if not isinstance(e, FileNotFoundError):
                warn_once(f"the record of build directory {self.path.name[:8]} is damaged ({str(e)[:80]}); "
                          "its inputs get new stamps")
            return {}
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _stamps(record: Mapping[str, Any]) -> dict[str, tuple[str, int]]:
        """The record's stamps (label -> content state, stamp in ns); anything else in a
        damaged or hostile record is left out, and an input it leaves out gets a new stamp."""
        stamps = record.get("stamps")
        if not isinstance(stamps, dict) or len(stamps) > MAX_LABELS:
            return {}
        return {label: (value[0], value[1]) for label, value in stamps.items()
                if is_label(label) and isinstance(value, list) and len(value) == 2 and is_text(value[0], 2 * MAX_NAME)
                and isinstance(value[1], int) and not isinstance(value[1], bool)}

    @staticmethod
    def _learned_labels(record: Mapping[str, Any]) -> list[str]:
        """The files outside the key that earlier builds read (``remember_learned``): only
        labels a learned-inputs record may hold (``_records.is_label``: never a root, a
        path with ``..``, or a kernel or device tree), at most ``MAX_LEARNED`` of them."""
        labels = record.get("learned")
        if not isinstance(labels, list) or len(labels) > MAX_LEARNED:
            return []
        return [label for label in labels if is_label(label)]

    def prepare(self, root: Path, inputs: Mapping[str, str], state_of: Callable[[str, str], str]) -> bool:
        """Give every input its stamp as its time when it is older (a new stamp, now, for
        content that differs from the record), then record what this build starts from;
        False when the directory cannot be used safely (a time that cannot be set, a
        directory that cannot be made).  ``inputs``: the declared inputs' digests; the
        files outside them that earlier builds were seen reading (``remember_learned``)
        are stamped too, by ``state_of(label, path)``, their state as ``_learned`` records it."""
        now = time.time_ns()
        record_before = self._record()
        stamps = self._stamps(record_before)
        prefix = str(root) + os.sep
        current = dict(inputs)
        for label in self._learned_labels(record_before):
            if label not in current:
                current[label] = state_of(label, label if os.path.isabs(label) else prefix + label)
        record: dict[str, list[Any]] = {}
        for label, state in current.items():
            old = stamps.get(label)
            stamp = old[1] if old is not None and old[0] == state and old[1] <= now else now
            record[label] = [state, stamp]
            if not _at_least(label if os.path.isabs(label) else prefix + label, stamp):
                return False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._write({"stamps": record, "learned": sorted(set(current) - set(inputs)), "started_ns": now})
            os.utime(self.path)  # last use, for pruning
        except OSError as e:
            logger.debug("build directory %s unusable (%s): a fresh one", self.path, e)
            return False
        return True

    def _write(self, record: Mapping[str, Any]) -> None:
        tmp = self.path / f".{_RECORD}.{os.getpid()}"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.path / _RECORD)

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


def _read_bounded(path: Path, limit: int = 64 << 20) -> bytes:
    """A record's bytes, at most ``limit`` (ValueError past it); never a FIFO's open that
    waits, nor a device's read that does not end."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise ValueError("not a regular file")
        data = f.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"larger than {limit >> 20} MiB")
    return data


def build_dir_env(build_dir: BuildDir, environ: Mapping[str, str], cargo: bool) -> dict[str, str]:
    """The variables that hand ``build_dir`` to the inner backend (none the user set)."""
    env: dict[str, str] = {}
    if cargo and "CARGO_TARGET_DIR" not in environ:
        env["CARGO_TARGET_DIR"] = str(build_dir.path / "target")
        if "MATURIN_PEP517_USE_BASE_PYTHON" not in environ:
            env["MATURIN_PEP517_USE_BASE_PYTHON"] = "1"
    return env
