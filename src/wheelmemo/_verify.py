"""Is a cached wheel the wheel a plain build makes?  The comparison, and the plain build.

``compare_wheels`` compares two wheels member by member; ``wheelmemo verify`` (``_cli``),
sampled verification of hits (``_engine``) and the stale fuzzer (``tests/``) all judge
by it.  Each member gets one verdict:

``same``
    same bytes, same zip date and mode;
``only timestamps``
    same bytes and mode; only the zip member's date differs (builds stamp the time of the
    build unless ``SOURCE_DATE_EPOCH`` is set): no difference;
``follows``
    the ``.dist-info/RECORD`` differs only in the rows of members that differ themselves:
    not a difference of its own (the member is reported instead);
``only build stamps``
    a CycloneDX SBOM (``.dist-info/sboms/*.json``, PEP 770; maturin writes one) that
    differs only in what every build stamps anew: its ``serialNumber`` (a random UUID),
    its ``metadata.timestamp`` and the build directory in ``path+file://`` references
    (measured: two plain maturin 1.16 builds of one tree differ in these alone): no
    difference;
``behaviour-same``
    a compiled module (``.so``/``.pyd``/``.dylib``) whose bytes differ but that behaves the
    same by the caller's probe (``BehaviourProbe``): no difference;
``behaviour``
    a compiled module whose bytes differ and that behaves differently;
``content``
    the bytes differ (for a compiled module: and the caller gave no probe, or the probe
    could not compare it);
``mode``
    same bytes, other permissions (an executable bit);
``missing`` / ``extra``
    in the expected wheel only / in the actual wheel only.

What the behaviour probe compares (``_PROBE``): it imports the compiled module from each
wheel (unpacked, first on ``sys.path``, in a subprocess of this interpreter, in an empty
directory) and compares the sorted public names of the module (not starting with ``_``);
for each plain value its ``repr`` (None, bool, numbers, str, bytes and containers of
them; other objects by type name only); for each callable that takes no required
argument (and each C function Python cannot tell the signature of: one that needs
arguments raises TypeError, and is then only "callable"), the ``repr`` of what calling it
returns, or the name of the exception it raises; for other callables their signature.  A module that
does not import from either wheel cannot be compared: its verdict is ``content``.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Optional

if TYPE_CHECKING:
    from ._engine import Engine, Outcome

__all__ = [
    "COMPILED_SUFFIXES",
    "DIFFERENCES",
    "BehaviourProbe",
    "MemberDiff",
    "WheelDiff",
    "compare_wheels",
    "compare_with_plain_builds",
    "compare_with_probe",
    "copy_tree",
    "is_compiled",
    "plain_build",
    "verify_hit",
]

COMPILED_SUFFIXES = (".so", ".pyd", ".dylib")
#: the verdicts that make two wheels different
DIFFERENCES = frozenset({"content", "behaviour", "mode", "missing", "extra"})
#: Directories of a project that are build outputs, not its state: a clean copy leaves
#: them out (``_inputs.DEFAULT_EXCLUDE`` keys none of them either).
OUTPUT_DIRS = frozenset(
    {
        "build",
        "dist",
        "target",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
OUTPUT_SUFFIXES = (".egg-info", ".pyc", ".dll", *COMPILED_SUFFIXES)

#: A probe: for a compiled member whose bytes differ, True when it behaves the same in
#: both wheels, False when not, None when that cannot be told.
Probe = Callable[[str], Optional[bool]]


def is_compiled(name: str) -> bool:
    return name.lower().endswith(COMPILED_SUFFIXES)


class MemberDiff(NamedTuple):
    name: str
    verdict: str

    @property
    def differs(self) -> bool:
        return self.verdict in DIFFERENCES


class WheelDiff(NamedTuple):
    """Every member of two wheels and its verdict (sorted by name); the file names."""

    expected_name: str
    actual_name: str
    members: list[MemberDiff]

    @property
    def differences(self) -> list[MemberDiff]:
        return [m for m in self.members if m.differs]

    @property
    def same(self) -> bool:
        return self.expected_name == self.actual_name and not self.differences

    def describe(self) -> list[str]:
        """One line per difference: ``member: verdict``."""
        lines = [f"{m.name}: {m.verdict}" for m in self.differences]
        if self.expected_name != self.actual_name:
            lines.insert(0, f"wheel file name: {self.actual_name} instead of {self.expected_name}")
        return lines

    def as_json(self) -> dict[str, Any]:
        return {
            "same": self.same,
            "expected": self.expected_name,
            "actual": self.actual_name,
            "members": {m.name: m.verdict for m in self.members},
        }


def _record_rows(data: bytes) -> dict[str, tuple[str, ...]]:
    rows: dict[str, tuple[str, ...]] = {}
    for row in csv.reader(io.StringIO(data.decode("utf-8", "replace"))):
        if row:
            rows[row[0]] = tuple(row[1:])
    return rows


def _is_record(name: str) -> bool:
    parts = name.split("/")
    return len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "RECORD"


def compare_wheels(expected: Path, actual: Path, probe: Probe | None = None) -> WheelDiff:
    """Compare ``actual`` (say, the cached wheel) with ``expected`` (a plain build's).

    ``probe`` judges compiled members whose bytes differ (``BehaviourProbe``); without
    one they are ``content``.  RECORD rows are judged after every other member.
    """
    with zipfile.ZipFile(expected) as ze, zipfile.ZipFile(actual) as za:
        left = {i.filename: i for i in ze.infolist() if not i.is_dir()}
        right = {i.filename: i for i in za.infolist() if not i.is_dir()}
        verdicts: dict[str, str] = {}
        records: list[str] = []
        for name in sorted(left.keys() | right.keys()):
            if name not in right:
                verdicts[name] = "missing"
            elif name not in left:
                verdicts[name] = "extra"
            elif _is_record(name):
                records.append(name)
            else:
                verdicts[name] = _member_verdict(name, (left[name], right[name]), ze.read(name), za.read(name), probe)
        for name in records:
            before, after = ze.read(name), za.read(name)
            if before == after:
                verdicts[name] = _member_verdict(name, (left[name], right[name]), before, after, None)
                continue
            rows_before, rows_after = _record_rows(before), _record_rows(after)
            differing = {n for n, v in verdicts.items() if v not in ("same", "only timestamps")} | {name}
            kept_before = {n: r for n, r in rows_before.items() if n not in differing}
            kept_after = {n: r for n, r in rows_after.items() if n not in differing}
            verdicts[name] = "follows" if kept_before == kept_after else "content"
    return WheelDiff(expected.name, actual.name, [MemberDiff(n, v) for n, v in sorted(verdicts.items())])


#: where an SBOM names the build's own directory: ``path+file://`` references and a path
#: dependency's purl ``download_url=file://`` (maturin 1.16)
_BUILD_PATH = re.compile(r"(path\+file://|download_url=file://)[^#&\s\"]*")


def _without_build_stamps(value: Any, top: bool = True) -> Any:
    """A CycloneDX document without its serial number, time stamp and build paths."""
    if isinstance(value, dict):
        return {
            k: (None if k == "timestamp" or (top and k == "serialNumber") else _without_build_stamps(v, False))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_without_build_stamps(v, False) for v in value]
    return _BUILD_PATH.sub(r"\1", value) if isinstance(value, str) else value


def _only_build_stamps(name: str, before: bytes, after: bytes) -> bool:
    parts = name.split("/")
    if not (len(parts) >= 3 and parts[0].endswith(".dist-info") and parts[1] == "sboms" and name.endswith(".json")):
        return False
    try:
        return bool(_without_build_stamps(json.loads(before)) == _without_build_stamps(json.loads(after)))
    except ValueError:
        return False


def _member_verdict(
    name: str, infos: tuple[zipfile.ZipInfo, zipfile.ZipInfo], before: bytes, after: bytes, probe: Probe | None
) -> str:
    left, right = infos
    if before != after:
        if _only_build_stamps(name, before, after):
            return "only build stamps"
        if probe is None or not is_compiled(name):
            return "content"
        same = probe(name)
        return "content" if same is None else "behaviour-same" if same else "behaviour"
    if (left.external_attr >> 16) != (right.external_attr >> 16):
        return "mode"
    return "same" if left.date_time == right.date_time else "only timestamps"


# -- behaviour of compiled modules ---------------------------------------------------
#: run as ``python -c _PROBE DIRECTORY MODULE``: prints what the module docstring says
_PROBE = r"""
import importlib, inspect, json, sys
sys.path.insert(0, sys.argv[1])

def simple(value, depth=0):
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return repr(value)
    if depth < 3 and isinstance(value, (list, tuple)):
        return type(value).__name__ + repr([simple(v, depth + 1) for v in value])
    if depth < 3 and isinstance(value, (set, frozenset)):
        return type(value).__name__ + repr(sorted(simple(v, depth + 1) for v in value))
    if depth < 3 and isinstance(value, dict):
        return "dict" + repr(sorted((simple(k, depth + 1), simple(v, depth + 1)) for k, v in value.items()))
    return "<" + type(value).__qualname__ + ">"

def required(parameter):
    return parameter.default is parameter.empty and parameter.kind not in (
        parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD)

module = importlib.import_module(sys.argv[2])
seen = {}
for name in sorted(n for n in dir(module) if not n.startswith("_")):
    value = getattr(module, name)
    if not callable(value) or isinstance(value, type):
        seen[name] = simple(value)
        continue
    try:
        signature = inspect.signature(value)
    except (TypeError, ValueError):  # a C function without a text signature (METH_NOARGS)
        signature = None
    if signature is not None and any(required(p) for p in signature.parameters.values()):
        seen[name] = "callable" + str(signature)
        continue
    try:
        seen[name] = "returns " + simple(value())
    except TypeError:
        seen[name] = "callable" if signature is None else "raises TypeError"
    except Exception as e:
        seen[name] = "raises " + type(e).__name__
print(json.dumps(seen, sort_keys=True))
"""
PROBE_TIMEOUT = 120.0


def module_name(member: str) -> str:
    """``pkg/sub/_core.cpython-312-x86_64-linux-gnu.so`` -> ``pkg.sub._core``."""
    directory, _, base = member.rpartition("/")
    name = base.split(".", 1)[0]
    return f"{directory.replace('/', '.')}.{name}" if directory else name


def module_behaviour(directory: Path, module: str, python: str | None = None) -> str | None:
    """What ``_PROBE`` saw of ``module`` imported from ``directory``; None if it failed."""
    with tempfile.TemporaryDirectory(prefix="wheelmemo-probe-") as cwd:
        try:
            done = subprocess.run(
                [python or sys.executable, "-c", _PROBE, str(directory), module],
                cwd=cwd,
                capture_output=True,
                text=True,
                timeout=PROBE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


class BehaviourProbe:
    """A probe over two wheels (a context manager: it unpacks each on first use)."""

    def __init__(self, expected: Path, actual: Path, python: str | None = None) -> None:
        self.wheels = (expected, actual)
        self.python = python
        self._stack = contextlib.ExitStack()
        self._dirs: list[Path] = []
        #: what the probe saw of each module it compared, for messages and tests
        self.seen: dict[str, tuple[str | None, str | None]] = {}

    def __enter__(self) -> BehaviourProbe:  # noqa: PYI034 (typing_extensions.Self: a dependency)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _unpacked(self) -> list[Path]:
        if not self._dirs:
            for wheel in self.wheels:
                directory = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="wheelmemo-wheel-")))
                with zipfile.ZipFile(wheel) as zf:
                    zf.extractall(directory)  # zipfile strips absolute paths and ".."
                self._dirs.append(directory)
        return self._dirs

    def __call__(self, member: str) -> bool | None:
        module = module_name(member)
        before, after = (module_behaviour(d, module, self.python) for d in self._unpacked())
        self.seen[member] = (before, after)
        if before is None or after is None:
            return None
        return before == after


def compare_with_probe(expected: Path, actual: Path, python: str | None = None) -> WheelDiff:
    """``compare_wheels``, compiled members whose bytes differ judged by behaviour."""
    with BehaviourProbe(expected, actual, python) as probe:
        return compare_wheels(expected, actual, probe)


def compare_with_plain_builds(
    plain: Path, actual: Path, second_plain: Callable[[], Path], python: str | None = None
) -> tuple[WheelDiff, int]:
    """Judge ``actual`` against a plain build, as ``verify`` and the stale fuzzer do; the
    verdicts and how many plain builds were used (1 or 2).

    A member whose bytes differ calls for ``second_plain()`` (another plain build of the
    same state, made once).  Where the two plain builds agree on its bytes, the member is
    reproducible and ``content`` stands.  Where they differ too, a compiled member is
    compared by behaviour (``BehaviourProbe``), and any other is ``not reproducible``:
    the plain backend itself writes something of the build's own into it (meson-python's
    ``_build_config.py`` holds the build directory's random path), so no build can be
    judged by it.
    """
    diff = compare_wheels(plain, actual)
    differing = [m.name for m in diff.differences if m.verdict == "content"]
    if not differing:
        return diff, 1
    again = second_plain()
    with zipfile.ZipFile(plain) as first, zipfile.ZipFile(again) as second:
        names = set(second.namelist())
        unstable = {n for n in differing if n in names and first.read(n) != second.read(n)}
    if any(is_compiled(n) for n in unstable):
        with BehaviourProbe(plain, actual, python) as probe:
            judged = compare_wheels(plain, actual, lambda n: probe(n) if n in unstable else None)
    else:
        judged = diff
    members = [
        MemberDiff(m.name, "not reproducible")
        if m.verdict == "content" and m.name in unstable and not is_compiled(m.name)
        else m
        for m in judged.members
    ]
    return judged._replace(members=members), 2


# -- the plain build of a clean copy ---------------------------------------------------
def _ignore_outputs(directory: str, names: list[str]) -> set[str]:
    return {name for name in names if name in OUTPUT_DIRS or name.endswith(OUTPUT_SUFFIXES)}


def copy_tree(root: Path, dest: Path, also_skip: tuple[Path, ...] = ()) -> None:
    """Copy the project as it is (ignored files and ``.git`` included: the cached result
    was built from them) without known build outputs (``OUTPUT_DIRS``, compiled files)
    and ``also_skip`` (the cache, when it lives in the project)."""
    skip = {os.path.abspath(p) for p in also_skip}

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = _ignore_outputs(directory, names)
        return ignored | {n for n in names if os.path.abspath(os.path.join(directory, n)) in skip}

    shutil.copytree(root, dest, symlinks=True, ignore=ignore, dirs_exist_ok=True)


FRONTENDS = ("uv", "build", "pip", "none")


def choose_frontend(wanted: str) -> str:
    """``auto``: ``uv`` if on PATH, else ``build`` if importable, else ``pip``."""
    if wanted != "auto":
        return wanted
    if shutil.which("uv"):
        return "uv"
    import importlib.util

    return "build" if importlib.util.find_spec("build") is not None else "pip"


#: calls a PEP 517 backend's build_wheel in this environment (the ``none`` frontend)
_RUNNER = r"""
import importlib, os, sys
backend, out, *paths = sys.argv[1:]
sys.path[:0] = [os.path.abspath(p) for p in paths]
module, _, obj = backend.partition(":")
found = importlib.import_module(module)
for part in filter(None, obj.split(".")):
    found = getattr(found, part)
print(found.build_wheel(out))
"""


def frontend_command(frontend: str, copy: Path, out: Path, pyproject: Mapping[str, Any]) -> list[str]:
    """The command that builds a wheel of ``copy`` into ``out`` through ``frontend``."""
    if frontend == "uv":
        return [shutil.which("uv") or "uv", "build", "--wheel", "--out-dir", str(out), str(copy)]
    if frontend == "build":
        return [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(copy)]
    if frontend == "pip":
        return [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(out), str(copy)]
    system = pyproject.get("build-system")
    system = system if isinstance(system, dict) else {}
    backend = system.get("build-backend") or "setuptools.build_meta:__legacy__"
    paths = system.get("backend-path") or []
    return [sys.executable, "-c", _RUNNER, str(backend), str(out), *[str(p) for p in paths]]


class BuildFailed(Exception):
    """The plain build failed: the frontend's command and the end of its output."""


def _sibling(root: Path, work: Path, name: str) -> Path:
    """An empty directory beside the project (``../x`` means the same file from it: a
    ``tool.uv.sources`` path, a cargo path dependency, a header in ``../shared``; a git
    repository above the project is above it too), else in ``work``."""
    try:
        return Path(tempfile.mkdtemp(prefix=f".{root.name}.wheelmemo-verify-{name}-", dir=root.parent))
    except OSError:  # a parent we may not write into
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work)) / root.name


def plain_build(
    root: Path, work: Path, frontend: str, pyproject: Mapping[str, Any], *, skip: tuple[Path, ...] = (), name: str = "a"
) -> Path:
    """Copy the project beside itself (``_sibling``) and build its wheel there with the
    plain backend (``WHEELMEMO_DISABLE=1``) through ``frontend``, into ``work``; the
    wheel's path.  The copy is removed after."""
    copy = _sibling(root, work, name)
    out = work / f"{name}-dist"
    try:
        copy_tree(root, copy, skip)
        out.mkdir(parents=True)
        command = frontend_command(frontend, copy, out, pyproject)
        env = {**os.environ, "WHEELMEMO_DISABLE": "1"}
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True, check=False)
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    wheels = sorted(out.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        shown = " ".join(command[:3]) if frontend != "none" else "the backend's build_wheel"
        raise BuildFailed(f"{shown} exited with {done.returncode} ({len(wheels)} wheels):\n{tail}")
    return wheels[0]


# -- sampled verification of hits (verify-rate) ------------------------------------------
def verify_hit(engine: Engine, kind: str, found: str, compute: Callable[[], Outcome[Any]]) -> Outcome[Any] | None:
    """Build the hit's state fresh (the inner backend, as on a miss, stored nowhere) and
    compare the wheels.  None when they agree (the hit stands); else the fresh outcome,
    after one warning and the entry's removal (``LocalStore.reject``).

    The fresh build runs from nothing: a scratch build directory for setuptools, a
    target directory of its own for cargo (removed after).  It runs in the same tree as
    the build that made the entry, but not in the same scratch or temporary directory
    (setuptools' build directory, an unpacked sdist), so a member that differs is judged
    as ``verify`` judges it (``compare_with_plain_builds``): one more fresh build tells a
    difference from what every build writes anew (paths in debug information or in a
    generated module).
    """
    from ._buildenv import observed_build
    from ._log import logger, warn_once

    local = engine.local
    assert local is not None
    entry = local.get(found)
    if entry is None or not entry.files:
        return None
    stored = entry.files[0]
    with tempfile.TemporaryDirectory(prefix="wheelmemo-verify-") as tmp:
        cached = Path(tmp) / stored.name
        local.materialize_file(stored, cached)
        builds: list[Outcome[Any]] = []

        def fresh() -> Path | None:
            """A fresh build's wheel, kept aside (the next one writes the same name)."""
            # cargo's artifacts in a target directory of their own, removed after: a build
            # from nothing (not the persistent build directory, nor a target/ left in the tree)
            number = len(builds)
            clean = engine.keys.adapter.fresh_build_env(Path(tmp) / f"target{number}")
            with observed_build(engine.keys.adapter, clean, None):
                builds.append(compute())
            wheels = [path for name, path in builds[-1].files if name.endswith(".whl")]
            if not wheels:
                return None
            kept = Path(tmp) / f"fresh{number}" / wheels[0].name
            kept.parent.mkdir()
            shutil.copyfile(wheels[0], kept)
            return kept

        first = fresh()
        if first is None:
            return builds[-1]  # the backend's answer, passed on as without wheelmemo

        def again() -> Path:
            second = fresh()
            return first if second is None else second

        try:
            diff, _ = compare_with_plain_builds(first, cached, again)
        except (OSError, zipfile.BadZipFile) as e:
            warn_once(f"cannot compare cache entry {found[:8]} with a fresh build ({e}); the fresh wheel is returned")
            return builds[-1]
    outcome = builds[-1]
    project = engine.keys.project_id
    local.record_verification(project, kind, mismatch=not diff.same)
    if diff.same:
        logger.debug("%s: verified against a fresh build", found[:8])
        return None
    local.reject(found)
    engine._count(kind, "miss", 0.0, "local")  # the caller counts no hit: this was a build
    shown = diff.describe()
    warn_once(
        f"cache entry {found[:8]} of {project} differs from a fresh build of the same state "
        f"({'; '.join(shown[:5])}{'; …' if len(shown) > 5 else ''}): removed, and nothing is cached "
        "under its key again; the fresh wheel is returned. The build reads something wheelmemo "
        "does not see: list it in [tool.wheelmemo] env or inputs"
    )
    fresh_name, fresh_path = next((name, path) for name, path in outcome.files if name.endswith(".whl"))
    if stored.name != fresh_name:
        with contextlib.suppress(OSError):
            (fresh_path.parent / stored.name).unlink()  # the hit's copy, under its other name
    return outcome
