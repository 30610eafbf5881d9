"""Inputs learned from a build: what it really read beyond the declared inputs.

The declared key (``_key``, ``_inputs``) holds what wheelmemo can know before a build:
the project's files, the listed environment variables, the interpreter, the build
requirements.  Builds also read what nobody declared: ``build.rs`` asks for
``MY_FLAVOR``, ``include_str!`` pulls in a gitignored generated file, ``setup.py`` reads
``version.txt`` or an environment variable, a C file includes ``../shared/x.h``.  As in
ccache's direct mode, every cached result records these *learned inputs* with their
fingerprints, and a lookup returns a result only when all of them still match.

What a miss observes (a hit only re-checks what was recorded):

- **Python code run in this process** (``setup.py``, build hooks, in-tree backends) and
  the C compilers it runs: ``_recorder`` (files opened, variables read, modules imported
  or looked for in vain, distributions asked for, ``DEPENDENCIES_OUTPUT``).
- **CMake and meson**: their own records of what the compilers read (``_buildsys``).
- **a build tool's own records**, asked of the backend's adapter (``backends``):
  cargo's dep-info files and build scripts' outputs (``backends.cargo``).

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
opened was named by an event (``_recorder.Recorder.sealed``), so ``read`` is all it
read of the project (``unread_changes``: an edit of any other file cannot change its
result).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
import time
from collections.abc import Collection, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

from ._key import canonical_name, env_digest
from ._recorder import Recorder, is_noise_env, is_under
from ._records import is_under_system

if TYPE_CHECKING:
    from .backends import Findings

__all__ = [
    "BuildContext",
    "check_learned",
    "learn",
    "learned_key",
    "manifest_key",
    "unread_changes",
]


class DigestSource(Protocol):
    """What gives a learned file's state: ``_inputs.StatCache``."""

    def learned_state(self, label: str, path: str, *, walk: bool = False, deadline: float | None = None) -> str: ...


# -- checking what was learned ---------------------------------------------------------------
def check_learned(
    learned: Mapping[str, Any],
    root: Path,
    digests: DigestSource,
    environ: Mapping[str, str],
    installed: Callable[[], Mapping[str, tuple[str, str]]],
    *,
    same: Collection[str] = (),
    in_build_environment: bool = True,
    deadline: float | None = None,
) -> str | None:
    """``None`` when every learned input is as it was; else what changed, in words.

    ``learned`` has passed ``_records.check_learned`` (every store's read does that):
    its file labels are relative names in the project or absolute paths outside any
    kernel or device tree.  A file is stat'ed, then hashed only if it is a regular one
    (``StatCache.learned_state``); a directory is walked only when it is the project's
    and the build saw a directory there (``dir:``).

    ``same``: labels known to be as good as they were (an unpacked sdist's ``PKG-INFO``).
    ``in_build_environment`` off (the command line, outside the frontend's isolated
    environment, which it stands for by an entry's versions): the modules and
    distributions the build imported or missed are the build environment's, not this
    process's, and are taken as they were.  ``deadline`` (``time.monotonic()``, a
    remote record's budget): ``BudgetSpent`` when it passes before the check ends.
    """
    for name, (digest, source) in (learned.get("env") or {}).items():
        if env_digest(environ.get(name)) != digest:
            return f"{name} changed (read by {source})"
    prefix = str(root) + os.sep
    for label, (state, source) in (learned.get("files") or {}).items():
        if label in same:
            continue
        relative = not os.path.isabs(label)
        path = prefix + label if relative else label
        now = digests.learned_state(label, path, walk=relative and state.startswith("dir:"), deadline=deadline)
        if now != state:
            return f"{label} changed (read by {source})"
    if not in_build_environment:
        return None
    if deadline is not None and time.monotonic() > deadline:
        from ._errors import BudgetSpent

        raise BudgetSpent("the time budget ended while checking the inputs a record names")
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
        self,
        root: Path,
        declared: Mapping[str, str],
        *,
        skip: Iterable[str],
        is_output: Callable[[str], bool],
        declared_env: Callable[[str], bool],
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
        prefixes = {
            sys.prefix,
            sys.base_prefix,
            sys.exec_prefix,
            sys.base_exec_prefix,
            os.environ.get("CARGO_HOME") or os.path.join(home, ".cargo"),
            os.environ.get("RUSTUP_HOME") or os.path.join(home, ".rustup"),
            *skip,
        }
        root_str = str(root)
        for entry in map(os.path.abspath, (p or "." for p in sys.path)):
            if not is_under(root_str, [entry]) and not is_under(entry, [root_str]):
                prefixes.add(entry)
        self.skip = tuple(sorted(os.path.abspath(p) for p in prefixes if p))

    def classify(self, path: str) -> str | None:
        """A read file's label (relative in the tree, absolute outside), or None to ignore it."""
        path = os.path.normpath(path)
        if is_under(path, self.skip):
            return None  # outputs (a crate's target dir, the frontend's) in the tree too
        if path.startswith(self.prefix):
            label = path[len(self.prefix) :].replace(os.sep, "/")
            parts = label.split("/")
            if ".git" in parts or "__pycache__" in parts or self.is_output(label):
                return None
            return label
        if is_under_system(path) or "__pycache__" in path.split(os.sep):
            return None
        if os.path.isdir(path):
            return None
        return path


def learn(
    recorder: Recorder,
    context: BuildContext,
    digests: DigestSource,
    tool: Findings | None,
    installed: Callable[[], Mapping[str, tuple[str, str]]],
    *,
    build_system: Mapping[str, str] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The learned-inputs record of one build, and the inputs that changed while it ran
    (``tool``: what the build tool's own records name, ``Adapter.learned_inputs``;
    ``build_system``: files a build system's records name, ``_buildsys``, with their source)."""
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
    if tool is not None:
        for path, source in tool.files.items():
            if os.path.exists(path):
                sources.setdefault(path, source)
        for name, source in tool.env.items():
            env_sources.setdefault(name, source)
    files, read, changed = _file_states(sources, context, digests, recorder.start_ns, recorder.known)
    read |= _project_modules(context)
    read.update(recorder.known[path] for path in recorder.looked_at)
    env = {
        name: [env_digest(recorder.environ_before.get(name)), source]
        for name, source in sorted(env_sources.items())
        if not is_noise_env(name) and not context.declared_env(name)
    }
    # an import that failed (``try: import fastaccel``) decided the build as much as one
    # that worked: whether the name can be imported now is checked on every hit.  Both
    # are looked up on the path the call started with, as a hit's check will: what the
    # backend put on it meanwhile (setuptools' vendored ``backports``) is the backend's,
    # keyed by its version, and is not there when a hit is checked
    with _sys_path(recorder.sys_path_before):
        modules = {name: [module_state(name), "failed import"] for name in recorder.failed_imports}
        dists = _learned_dists(
            recorder, context, installed, [name for name, (state, _) in modules.items() if state == "present"]
        )
    sealed = recorder.sealed and tool is None and not recorder.compiler_dep_paths
    return {
        "files": files,
        "env": env,
        "dists": dists,
        "modules": modules,
        "read": sorted(read),
        "sealed": sealed,
    }, changed


@contextlib.contextmanager
def _sys_path(entries: list[str]) -> Iterator[None]:
    """``sys.path`` as ``entries`` for the body (left alone when ``entries`` is empty)."""
    if not entries:
        yield
        return
    saved = sys.path[:]
    sys.path[:] = entries
    try:
        yield
    finally:
        sys.path[:] = saved


def _learned_dists(
    recorder: Recorder, context: BuildContext, installed: Callable[[], Mapping[str, tuple[str, str]]], broken: list[str]
) -> dict[str, list[str]]:
    """The distributions from outside the requirement closure that the call imported or
    asked importlib.metadata for by name, with their states (``"missing"``: not found);
    and those of the modules in ``broken``, which are there but failed to import (a new
    version may not)."""
    dists: dict[str, list[str]] = {}
    imported = recorder.imported_from(context.skip)
    for name in broken:
        origin = _origin(name)
        if origin is not None and is_under(origin, context.skip):
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
                label = path[len(context.prefix) :].replace(os.sep, "/")
                if label in context.declared:
                    found.add(label)
    return found


def _file_states(
    sources: Mapping[str, str],
    context: BuildContext,
    digests: DigestSource,
    start_ns: int,
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
        files[label] = [digests.learned_state(label, full, walk=not os.path.isabs(label)), source]
        if not os.path.isabs(label):
            read.add(label)
    return files, read, changed


def _distribution_of(top: str, origin: str, installed: Mapping[str, tuple[str, str]]) -> str | None:
    """The installed distribution that provides the top-level module ``top`` from the file
    ``origin``: of those installed in a directory holding it (the deepest: a venv's prefix
    holds its site-packages), the one of its name, else the one whose ``top_level.txt``
    or ``RECORD`` (wheels built by hatchling, flit, maturin have no top_level.txt) lists it."""
    site = max(
        (os.path.dirname(info) for _, info in installed.values() if is_under(origin, [os.path.dirname(info)])),
        key=len,
        default=None,
    )
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

    states = {
        part: {n: v[0] for n, v in (learned.get(part) or {}).items()} for part in ("files", "env", "dists", "modules")
    }
    body = json.dumps([declared_key, states], sort_keys=True)
    return hashlib.sha256(body.encode("utf-8", "surrogateescape")).hexdigest()
