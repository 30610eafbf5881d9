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
sources with those of its records: a file whose content changed but whose time is not
newer than the last build (restored from a backup or an archive with its old time) would
be taken as built.  So the directory records, at every build, the content of every input
it was built from; before the next build, an input whose content differs from that
record and whose time is not newer than that build gets the current time.  Then what
cargo reuses by timestamp is exactly what did not change.  When a time cannot be set
(a read-only file), the build gets a fresh directory instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable

from ._log import logger

__all__ = ["BuildDir", "build_dir_env", "build_dir_name"]

#: How much earlier than a build's start a file's time must be to be trusted as built by
#: it: file systems with coarse times (1 s, 2 s on FAT) round it.
_SLACK_NS = 2_000_000_000
_RECORD = "inputs.json"


def build_dir_name(project_id: str, identity: Mapping[str, Any]) -> str:
    """The name of the build directory of a project and build-environment identity."""
    return hashlib.sha256(json.dumps([project_id, identity], sort_keys=True).encode()).hexdigest()[:32]


class BuildDir:
    """The build directory at ``path`` (``LocalStore.build_path``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _record(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / _RECORD).read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and isinstance(data.get("files"), dict) else {}

    def prepare(self, root: Path, inputs: Mapping[str, str], state_of: Callable[[str, str], str]) -> bool:
        """Make the times of the inputs that changed since the last build newer than it,
        then record ``inputs`` as what this build starts from; False when the directory
        cannot be used safely (a time that cannot be set, a directory that cannot be
        made).  ``state_of(label, path)`` is a learned file's state as ``_learned`` records it."""
        started_ns = time.time_ns()
        record = self._record()
        last_ns = record.get("started_ns")
        learned: dict[str, str] = record.get("learned") or {}
        if isinstance(last_ns, int):
            prefix = str(root) + os.sep

            def path(label: str) -> str:
                return label if os.path.isabs(label) else prefix + label

            built = record["files"]
            changed = [label for label, digest in inputs.items() if built.get(label) != digest]
            changed += [label for label, state in learned.items()
                        if label not in inputs and state_of(label, path(label)) != state]
            if not all(self._freshen(path(label), last_ns) for label in changed):
                return False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self._write({"started_ns": started_ns, "files": dict(inputs), "learned": learned})
            os.utime(self.path)  # last use, for pruning
        except OSError as e:
            logger.debug("build directory %s unusable (%s): a fresh one", self.path, e)
            return False
        return True

    def _write(self, record: Mapping[str, Any]) -> None:
        tmp = self.path / f".{_RECORD}.{os.getpid()}"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.path / _RECORD)

    @staticmethod
    def _freshen(path: str, last_ns: int) -> bool:
        """Give ``path`` the current time unless it is newer than the last build already."""
        try:
            st = os.stat(path)
        except OSError:
            return True  # gone: cargo sees a missing file itself
        if st.st_mtime_ns > last_ns + _SLACK_NS:
            return True
        try:
            os.utime(path)
        except OSError as e:
            logger.debug("cannot set the time of %s (%s): a fresh build directory", path, e)
            return False
        logger.debug("%s changed but kept an old time: its time is now", path)
        return True

    def remember_learned(self, learned_files: Mapping[str, Any]) -> None:
        """Record the files outside the key that the build read (path dependencies
        outside the tree), by their state, so the next build freshens them too."""
        record = self._record()
        if not record:
            return
        record["learned"] = {label: state for label, (state, _source) in learned_files.items()}
        with contextlib.suppress(OSError):
            self._write(record)


def build_dir_env(build_dir: BuildDir, environ: Mapping[str, str], cargo: bool) -> dict[str, str]:
    """The variables that hand ``build_dir`` to the inner backend (none the user set)."""
    env: dict[str, str] = {}
    if cargo and "CARGO_TARGET_DIR" not in environ:
        env["CARGO_TARGET_DIR"] = str(build_dir.path / "target")
        if "MATURIN_PEP517_USE_BASE_PYTHON" not in environ:
            env["MATURIN_PEP517_USE_BASE_PYTHON"] = "1"
    return env
