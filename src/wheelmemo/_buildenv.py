"""What a miss hands the inner backend: a clean or persistent build directory, and
observers of its reads.

A cached result must be what a clean build would give (PEP 517: "the presence or
absence of any caches should not make a material difference").  Backends that decide
what to rebuild by timestamps alone must not reuse leftovers.  The backend's adapter
(``backends``) says how: a fresh directory of this miss's scratch directory
(``Adapter.scratch_env``: setuptools' ``build_base``), or wheelmemo's persistent build
directory, whose changed inputs never keep an old time (``_builddir``; the variables
that name it, ``Adapter.build_dir_env``: cargo's target directory), or a build
directory in the scratch directory through ``config_settings`` (CMake, meson:
``_buildsys.build_dir_plan``).  Backends of no such family are called as they are;
their Python reads and compilers are observed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._recorder import Recorder

if TYPE_CHECKING:
    from .backends import Adapter

__all__ = ["SCRATCH_DIRS", "observed_build"]

#: The scratch directories of the misses running in this process, outermost first: a
#: hook computed inside another's build (a build hook's ``get_requires`` answer) reads
#: the outer one's files (its ``DIST_EXTRA_CONFIG``), which are outputs of wheelmemo's,
#: never inputs.
SCRATCH_DIRS: list[str] = []


@contextlib.contextmanager
def observed_build(
    adapter: Adapter,
    env: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> Iterator[tuple[Recorder, Path]]:
    """Run the body as a miss: a scratch directory, a clean or persistent build dir
    (``env``: the variables that name it), a recorder (``known``: the declared inputs,
    by absolute path)."""
    scratch = Path(tempfile.mkdtemp(prefix="wheelmemo-build-"))
    saved: dict[str, str | None] = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    SCRATCH_DIRS.append(str(scratch))
    try:
        with Recorder(scratch, known) as recorder:
            # inside the recorder: a user's DIST_EXTRA_CONFIG read here is a learned input
            scratch_env = adapter.scratch_env(scratch)
            for name in scratch_env:
                saved.setdefault(name, os.environ.get(name))
            os.environ.update(scratch_env)
            yield recorder, scratch
    finally:
        SCRATCH_DIRS.remove(str(scratch))
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
        shutil.rmtree(scratch, ignore_errors=True)
