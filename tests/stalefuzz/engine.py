"""The fuzzer's machinery: worlds, operations, builds, the oracle, the shrinker, the report.

A **world** is one template's tree (``proj/`` a git repository, ``shared/`` beside it),
its own wheelmemo cache, the variables and config settings of the moment, and two
virtual environments (``dev`` for editable installs, ``noiso`` for builds without
isolation, where an optional module may be installed).  A **step** is a JSON-able dict
``{"op": name, ...arguments}`` with every random choice already made, so that a list
of steps replays exactly; a step whose target is gone (a file already removed) does
nothing.

**The oracle** (``Oracle``): after every build, a fresh copy of the same state is built
with the plain backend (``WHEELMEMO_DISABLE=1``) by the same route (from the tree, from
the sdist, or without isolation in the same ``noiso`` environment), and the two must
agree: both fail, or both build and the wheels are the same by ``wheelmemo._verify``
(every member by content, a compiled member whose bytes differ by behaviour, an SBOM
without its build stamps); ``probe()`` of each wheel then says which baked-in values
differ, which is what a failure is known by (``Failure.fields``).  An editable install
is compared by ``probe()`` in its environment with the oracle's tree wheel.  The oracle's result is reused only for the same *state*: a
digest of every file of the tree (ignored ones included, the builds' outputs not), the
git commit and tags, the variables, the config settings, the installed optional
module and the route; never across states.

Cargo in the oracle: a plain build from a clean copy must not reuse anything of the
project's own crates, or the oracle could be stale in the very timestamp ways we hunt,
but compiling pyo3 afresh for every state costs a minute on a shared machine.  So the
oracle builds with a new ``CARGO_TARGET_DIR`` per build, seeded by copying (a real
copy, not hard links: cargo rewrites fingerprint files in place) a target directory
that holds **registry dependencies only**: made once per run and family by a plain
build of the template's first state, after which every artifact, fingerprint and
build-script directory of the project's own crates (``Template.crates``) is deleted.  The copy's sources get the current time, so
even a leftover could not look newer than them.

**Shrinking** is a small delta debugging of our own (drop halves, then quarters, ...,
then single steps; keep a shorter list when a replay from a fresh world and a fresh
cache still fails the same way), bounded by time.  hypothesis's stateful testing does
not fit: its examples must be cheap and its database keys on test functions, while a
step here is a real build of seconds to minutes whose world cannot be rolled back, and
the replay of a found list has to be printed as a command.

**Generation** (``generate``): each round makes zero to three changes and a build;
``undo`` takes the last change back (a file with its old mtime, as a backup restores
it), and tokens come from a set of three, so that states recur and hits happen as often
as misses; each world builds through three of its family's frontends.  A failure that
matches ``known.KNOWN`` (a found bug whose fix is pending) is counted and the world
goes on; any other is shrunk and ends its world.

Frontends: ``uv sync`` runs with ``--reinstall-package``: uv decides from its own
cache keys whether to call the backend at all, and what we judge is what wheelmemo
returns when it is called.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from wheelmemo._verify import compare_with_probe

from .known import KNOWN
from .templates import (
    EMBED,
    ENV_VALUES,
    OUTPUT_DIRS,
    OUTPUT_FILES,
    OUTPUT_SUFFIXES,
    TEMPLATES,
    TOKENS,
    Template,
)
from realtools import ROOT, build_wheelhouse, tool

Step = dict[str, Any]

#: a frontend's route: what the oracle builds for it
ROUTES = {
    "uv-wheel": "tree",
    "pip-wheel": "tree",
    "build-wheel": "tree",
    "uv-build": "sdist",
    "build": "sdist",
    "pip-e": "editable",
    "uv-sync": "editable",
    "pip-noiso": "noiso",
}
TREE_FRONTENDS = ("uv-wheel", "pip-wheel", "build-wheel")
#: the changes ``undo`` can take back
UNDOABLE = ("edit", "revert", "touch", "remove", "env", "config", "accel", "module", "shadow", "embed")
#: sccache's objects in wheelmemo's cache (issue 21: ``_compcache``)
SCCACHE_DIR = "v1/compiler/objects"
#: sccache's counts in ``stats --json``'s ``compiler_cache``, added up per family
SCCACHE_COUNTS = ("hits", "misses", "remote_hits", "not_cacheable", "errors", "uploads")
#: a header the C templates' core.c includes from ``shared/``; the same name in ``csrc/``
#: (core.c's own directory) shadows it: the case sccache's preprocessor cache mode documents
#: as stale (a header that would have been included had it existed)
SHADOW = "proj/csrc/fz_shared.h"
STEP_TIMEOUT = 900.0


class OutOfTime(Exception):
    """The budget ran out in the middle of a step."""


class Clock:
    def __init__(self, budget: float | None) -> None:
        self.deadline = None if budget is None else time.monotonic() + budget

    def left(self) -> float:
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def timeout(self) -> float:
        left = self.left()
        if left <= 0:
            raise OutOfTime
        return min(STEP_TIMEOUT, left)


@dataclass
class Result:
    """What one command gave: ok, and its output's end (for a report)."""

    ok: bool
    output: str


def run(cmd: list[str], cwd: Path, env: dict[str, str], clock: Clock) -> Result:
    """Run ``cmd``; on the clock's timeout kill its whole process group."""
    with subprocess.Popen(
        cmd,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    ) as proc:
        try:
            out, _ = proc.communicate(timeout=clock.timeout())
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise OutOfTime from None
        except BaseException:  # interrupted (SIGTERM, ^C): the build's whole group goes too
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            raise
    return Result(proc.returncode == 0, out[-8000:])


def is_output(rel: Path) -> bool:
    return (
        any(part in OUTPUT_DIRS or part.endswith(OUTPUT_SUFFIXES) for part in rel.parts[:-1])
        or rel.name in OUTPUT_FILES
        or rel.name.endswith(OUTPUT_SUFFIXES)
        or rel.name in OUTPUT_DIRS
    )


def state_files(tree: Path) -> dict[str, bytes]:
    """Every file of the tree that a fresh copy of this state has, by relative path."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(tree):
        rel_dir = Path(dirpath).relative_to(tree)
        dirnames[:] = sorted(d for d in dirnames if not is_output(rel_dir / d / "x"))
        for name in sorted(filenames):
            rel = rel_dir / name
            if not is_output(rel):
                path = Path(dirpath) / name
                mode = b"x" if os.access(path, os.X_OK) else b"-"
                found[rel.as_posix()] = mode + path.read_bytes()
    return found


def copy_state(tree: Path, dest: Path) -> None:
    """A fresh copy: the state's files with the current time, and the git repository."""
    for rel, data in state_files(tree).items():
        path = dest / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[1:])
        if data[:1] == b"x":
            path.chmod(0o755)
    shutil.copytree(tree / "proj" / ".git", dest / "proj" / ".git")


# -- comparing two wheels ------------------------------------------------------------
def probe_dir(path: Path, module: str) -> str:
    code = f"import sys; sys.path.insert(0, {str(path)!r}); import {module}; print({module}.probe())"
    return probe_with(sys.executable, code, path)


def probe_with(python: str, code: str, cwd: Path) -> str:
    """What ``code`` prints; a failure as the exception's type only (its message names paths)."""
    out = subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, check=False, timeout=120)
    if out.returncode == 0:
        return out.stdout.strip()
    last = (out.stderr.strip().splitlines() or ["?"])[-1]
    return f"<failed: {last.split(':')[0]}>"


def probe_wheel(wheel: Path, module: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(tmp)
        return probe_dir(Path(tmp), module)


def probe_fields(text: str) -> dict[str, str]:
    """``"a=1;b=2"`` (what ``probe()`` returns) as a dict; a failed probe as one field."""
    return dict(part.partition("=")[::2] for part in text.split(";")) if not text.startswith("<") else {"<probe>": text}


def differing_fields(mine: str, plain: str) -> list[str]:
    a, b = probe_fields(mine), probe_fields(plain)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def compare(got: Path, want: Path, module: str) -> tuple[list[str], list[str]]:
    """How ``got`` differs from ``want`` by ``wheelmemo._verify`` (every member by
    content, a compiled one whose bytes differ by behaviour, an SBOM without its build
    stamps), and which ``probe()`` fields differ (or else the differing members)."""
    diff = compare_with_probe(want, got)
    if diff.same:
        return [], []
    lines = diff.describe()
    mine, plain = probe_wheel(got, module), probe_wheel(want, module)
    fields = differing_fields(mine, plain)
    if fields:
        lines.append(f"probe() {mine!r} != plain {plain!r}")
    return lines, fields or [f"member {m.name}" for m in diff.differences]


# -- the run's shared things -----------------------------------------------------------
@dataclass
class Shared:
    """What all worlds of a run share: the wheelhouse, caches of uv and of the oracle."""

    work: Path
    wheelhouse: Path
    uv_cache: Path
    oracle_dir: Path
    oracle: dict[str, tuple[Path | None, str]] = field(default_factory=dict)
    cargo_seeds: dict[str, Path] = field(default_factory=dict)
    cargo_locks: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(
        cls, work: Path, wheelhouse: Path | None = None, uv_cache: Path | None = None, source: Path | None = None
    ) -> Shared:
        """A run's shared things; the wheelhouse is made from this checkout (or from the
        wheelmemo source tree ``source``: an old commit, to see the fuzzer find its bugs)
        unless given."""
        work.mkdir(parents=True, exist_ok=True)
        uv_cache = uv_cache or work / "uv-cache"
        if wheelhouse is None:
            wheelhouse = Path(tempfile.mkdtemp(prefix="wheelhouse-", dir=work))
            if source is None:
                build_wheelhouse(wheelhouse, uv_cache)
            else:
                subprocess.run(
                    [tool("uv"), "build", "--wheel", "--out-dir", str(wheelhouse), str(source)],
                    check=True,
                    capture_output=True,
                    env={**os.environ, "UV_CACHE_DIR": str(uv_cache)},
                )
        oracle_dir = work / "oracle"
        oracle_dir.mkdir(exist_ok=True)
        return cls(work, wheelhouse, uv_cache, oracle_dir)

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("WHEELMEMO_", "PIP_", "UV_", "FZ_", "MATURIN_", "CARGO_TARGET", "SCCACHE_"))
            # a compiler cache of the caller's: plain builds never use one (--compiler-cache)
            and k not in ("RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER")
            and not (k.startswith("CMAKE_") and k.endswith("_COMPILER_LAUNCHER"))
        }
        env.pop("VIRTUAL_ENV", None)
        # meson puts an sccache it finds on PATH in front of the compiler by itself: the
        # caller's (the test extras install one into the session's environment) would serve
        # the world's builds and the oracle's from the user's own sccache cache, which keys
        # neither on an .incbin'd file nor on anything wheelmemo controls
        env["PATH"] = os.pathsep.join(
            d for d in env.get("PATH", "").split(os.pathsep) if d and not shutil.which("sccache", path=d)
        )
        env.update(
            PIP_FIND_LINKS=str(self.wheelhouse),
            UV_FIND_LINKS=str(self.wheelhouse),
            UV_CACHE_DIR=str(self.uv_cache),
            PIP_DISABLE_PIP_VERSION_CHECK="1",
            MATURIN_PEP517_USE_BASE_PYTHON="1",
            UV_PYTHON=sys.executable,
            PIP_NO_INPUT="1",
        )
        return env


# -- a world ----------------------------------------------------------------------------
class World:
    def __init__(self, shared: Shared, template: Template, root: Path, clock: Clock) -> None:
        self.shared = shared
        self.t = template
        self.root = root
        self.clock = clock
        self.tree = root / "tree"
        self.proj = self.tree / "proj"
        self.cache = root / "cache"
        #: wheelmemo's compiler cache (``ccache``), a remote shared by the world's local
        #: caches (``remote``: None, "rw" or "ro"; ``runner`` switches the local cache)
        self.compiler_cache: str | None = None
        self.remote: str | None = None
        self.env: dict[str, str] = {}
        self.config: dict[str, str] = {}
        self.narrow: str | None = None
        self.max_size: str | None = None
        self.accel: str | None = None
        self.history: dict[str, list[tuple[bytes, int]]] = {}
        self.outs = 0
        self.venvs: dict[str, Path] = {}
        self._create()

    # setup
    def _create(self) -> None:
        for rel, text in self.t.files.items():
            self._write(rel, text)
        for slot in self.t.slots:
            self._write(slot.path, slot.text.replace("@V@", self._tokens(slot.path)[0]))
        if self.t.crates:
            self._cargo_lock()
        self.git("init", "-q")
        self.git("add", "-A")
        self.git("commit", "-q", "-m", "init")

    def _tokens(self, path: str) -> tuple[str, ...]:
        return self.t.tokens(path)

    def _cargo_lock(self) -> None:
        """The same Cargo.lock in every world of a family (cargo would write a missing one
        into the tree during the build)."""
        lock = self.proj / "Cargo.lock"
        if self.t.family not in self.shared.cargo_locks:
            subprocess.run(["cargo", "generate-lockfile"], cwd=self.proj, check=True, capture_output=True)
            self.shared.cargo_locks[self.t.family] = lock.read_text()
        lock.write_text(self.shared.cargo_locks[self.t.family])

    def _write(self, rel: str, text: str) -> None:
        path = self.tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        self.history.setdefault(rel, []).append((text.encode(), path.stat().st_mtime_ns))

    def git(self, *args: str) -> bool:
        return (
            subprocess.run(
                ["git", "-c", "user.name=f", "-c", "user.email=f@f", *args],
                cwd=self.proj,
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def venv(self, name: str) -> Path:
        """A virtual environment with pip; ``noiso`` also has the build requirements."""
        if name not in self.venvs:
            path = self.root / name
            env = self.shared.base_env()
            for cmd in ([tool("uv"), "venv", "--seed", "--quiet", "--python", sys.executable, str(path)],):
                result = run(cmd, self.root, env, self.clock)
                if not result.ok:
                    raise RuntimeError(result.output)
            if name == "noiso":
                result = run(
                    [
                        tool("uv"),
                        "pip",
                        "install",
                        "--quiet",
                        "--python",
                        str(path / "bin" / "python"),
                        "wheelmemo",
                        "setuptools>=64",
                        "wheel",
                    ],
                    self.root,
                    env,
                    self.clock,
                )
                if not result.ok:
                    raise RuntimeError(result.output)
            self.venvs[name] = path
        return self.venvs[name]

    # the state
    def state_key(self, route: str) -> str:
        digest = hashlib.sha256()
        for rel, data in state_files(self.tree).items():
            digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        head = subprocess.run(
            ["git", "rev-parse", "HEAD^{tree}"], cwd=self.proj, capture_output=True, text=True, check=False
        ).stdout.strip()
        tags = subprocess.run(
            ["git", "tag", "--points-at", "HEAD"], cwd=self.proj, capture_output=True, text=True, check=False
        ).stdout.split()
        extra = {
            "family": self.t.family,
            "env": self.env,
            "config": self.config,
            "route": route,
            "accel": self.accel if route == "noiso" else None,
            "head": head,
            "tags": sorted(tags),
        }
        digest.update(json.dumps(extra, sort_keys=True).encode())
        return digest.hexdigest()[:24]

    def build_env(self, shared_dir: Path, plain: bool) -> dict[str, str]:
        env = self.shared.base_env()
        env.update(self.env)
        env["FZ_SHARED_DIR"] = str(shared_dir)
        env["WHEELMEMO_CACHE_DIR"] = str(self.cache)
        if plain:
            env["WHEELMEMO_DISABLE"] = "1"
        else:
            if self.narrow is not None:
                env["WHEELMEMO_NARROW"] = self.narrow
            if self.max_size is not None:
                env["WHEELMEMO_MAX_SIZE"] = self.max_size
            if self.compiler_cache is not None:
                env["WHEELMEMO_COMPILER_CACHE"] = self.compiler_cache
            if self.remote is not None:
                env["WHEELMEMO_REMOTE"] = (self.root / "remote").as_uri()
                env["WHEELMEMO_REMOTE_READ_ONLY"] = "1" if self.remote == "ro" else "0"
        return env

    def out_dir(self, label: str) -> Path:
        self.outs += 1
        out = self.root / "out" / f"{self.outs:04d}-{label}"
        out.mkdir(parents=True)
        return out

    def frontend_cmd(self, frontend: str, out: Path) -> tuple[list[str], Path | None]:
        """The command, and the python whose environment an editable install goes to."""
        py = sys.executable
        cs = self.config
        if frontend == "uv-wheel":
            return [tool("uv"), "build", "--wheel", "--out-dir", str(out), *[f"-C{k}={v}" for k, v in cs.items()]], None
        if frontend == "uv-build":
            return [tool("uv"), "build", "--out-dir", str(out), *[f"-C{k}={v}" for k, v in cs.items()]], None
        if frontend == "pip-wheel":
            return [
                py,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "-w",
                str(out),
                ".",
                *[f"--config-settings={k}={v}" for k, v in cs.items()],
            ], None
        if frontend == "build":
            return [py, "-m", "build", "--outdir", str(out), ".", *[f"-C{k}={v}" for k, v in cs.items()]], None
        if frontend == "build-wheel":
            return [
                py,
                "-m",
                "build",
                "--wheel",
                "--outdir",
                str(out),
                ".",
                *[f"-C{k}={v}" for k, v in cs.items()],
            ], None
        if frontend == "pip-noiso":
            vpy = str(self.venv("noiso") / "bin" / "python")
            return [
                vpy,
                "-m",
                "pip",
                "wheel",
                "--no-build-isolation",
                "--no-deps",
                "-w",
                str(out),
                ".",
                *[f"--config-settings={k}={v}" for k, v in cs.items()],
            ], None
        if frontend == "pip-e":
            vpy = self.venv("dev") / "bin" / "python"
            return [
                str(vpy),
                "-m",
                "pip",
                "install",
                "--no-deps",
                "-e",
                ".",
                *[f"--config-settings={k}={v}" for k, v in cs.items()],
            ], vpy
        if frontend == "uv-sync":
            return [
                tool("uv"),
                "sync",
                "--reinstall-package",
                self.t.dist,
                *[f"-C{k}={v}" for k, v in cs.items()],
            ], self.proj / ".venv" / "bin" / "python"
        raise ValueError(frontend)

    def stats(self) -> tuple[int, int]:
        hits, misses, _ = self.all_stats()
        return hits, misses

    def all_stats(self) -> tuple[int, int, dict[str, int]]:
        """The build hooks' hits and misses, and sccache's counts (``SCCACHE_COUNTS``)."""
        out = subprocess.run(
            [sys.executable, "-m", "wheelmemo", "--cache-dir", str(self.cache), "stats", "--json"],
            capture_output=True,
            text=True,
            check=False,
            cwd=self.root,
        )
        try:  # the build hooks' (wheel, editable) hits and misses: what a build returned
            report = json.loads(out.stdout)
            kinds = [
                k for p in report["projects"].values() for n, k in p["kinds"].items() if n in ("wheel", "editable")
            ]
            compiler = report.get("compiler_cache") or {}
            return (
                sum(int(k["hits"]) for k in kinds),
                sum(int(k["misses"]) for k in kinds),
                {name: int(compiler.get(name, 0)) for name in SCCACHE_COUNTS},
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return (0, 0, dict.fromkeys(SCCACHE_COUNTS, 0))


# -- the oracle -----------------------------------------------------------------------------
class Oracle:
    """Plain builds of fresh copies of a world's states, one per state and route."""

    def __init__(self, shared: Shared) -> None:
        self.shared = shared
        self.plain_builds = 0

    def __call__(self, world: World, route: str) -> tuple[Path | None, str]:
        route = "tree" if route == "editable" else route
        key = world.state_key(route)
        if key in self.shared.oracle:
            return self.shared.oracle[key]
        base = self.shared.oracle_dir / key
        shutil.rmtree(base, ignore_errors=True)
        copy_state(world.tree, base / "tree")
        out = base / "out"
        out.mkdir()
        env = world.build_env(base / "tree" / "shared", plain=True)
        env["WHEELMEMO_CACHE_DIR"] = str(base / "unused-cache")
        if world.t.crates:
            env["CARGO_TARGET_DIR"] = str(self._cargo_target(world, base))
        frontend = {"tree": "uv-wheel", "sdist": "uv-build", "noiso": "pip-noiso"}[route]
        cmd, _ = world.frontend_cmd(frontend, out)
        result = run(cmd, base / "tree" / "proj", env, world.clock)
        self.plain_builds += 1
        wheels = sorted(out.glob("*.whl"))
        answer = (wheels[0] if result.ok and wheels else None, result.output)
        shutil.rmtree(base / "tree", ignore_errors=True)
        shutil.rmtree(base / "cargo-target", ignore_errors=True)
        self.shared.oracle[key] = answer
        return answer

    def _cargo_target(self, world: World, base: Path) -> Path:
        """A fresh target dir holding the registry dependencies only (module docstring)."""
        family = world.t.family
        if family not in self.shared.cargo_seeds:
            seed = self.shared.work / f"cargo-seed-{family}"
            shutil.rmtree(seed, ignore_errors=True)
            # the template's first state, whatever the world's is now (it may not build)
            scratch = Path(tempfile.mkdtemp(prefix="cargo-seed-", dir=self.shared.work))
            seeded = World(self.shared, world.t, scratch, world.clock)
            env = seeded.build_env(seeded.tree / "shared", plain=True)
            env["CARGO_TARGET_DIR"] = str(seed)
            out = seeded.out_dir("seed")
            cmd, _ = seeded.frontend_cmd("uv-wheel", out)
            result = run(cmd, seeded.proj, env, world.clock)
            if not result.ok:
                raise RuntimeError("the cargo seed build failed:\n" + result.output)
            own = tuple(p for crate in world.t.crates for p in (crate, f"lib{crate}"))
            for path in sorted(seed.rglob("*"), reverse=True):  # deepest first
                if path.name.startswith(own) and path.exists():
                    if path.is_dir() and not path.is_symlink():
                        shutil.rmtree(path)
                    else:
                        path.unlink()
            shutil.rmtree(seed / "wheels", ignore_errors=True)
            shutil.rmtree(scratch, ignore_errors=True)
            self.shared.cargo_seeds[family] = seed
        dest = base / "cargo-target"
        subprocess.run(["cp", "-a", str(self.shared.cargo_seeds[family]), str(dest)], check=True)
        return dest


# -- the operations ----------------------------------------------------------------------
@dataclass
class Failure:
    step: int
    kind: str
    detail: str
    frontend: str = ""
    #: what differs: ``probe()`` fields, else members, else the build's last output line
    fields: list[str] = field(default_factory=list)

    def same(self, other: Failure | None) -> bool:
        """The same failure, for the shrinker: its kind and what differs."""
        return other is not None and other.kind == self.kind and other.fields == self.fields

    def known(self, family: str) -> str | None:
        """The name of the known failure this is (``known.KNOWN``), if it is one."""
        for name, sig in KNOWN.items():
            if (
                sig["family"] == family
                and sig["kind"] == self.kind
                and set(self.fields) <= set(sig.get("fields", self.fields))
                and (not sig.get("frontends") or self.frontend in sig["frontends"])
                and sig.get("text", "") in self.detail
            ):
                return name
        return None


@dataclass
class Tally:
    """What a run did: steps per family and frontend, hits, misses, failures, times."""

    steps: dict[str, int] = field(default_factory=dict)
    builds: dict[str, dict[str, int]] = field(default_factory=dict)
    hits: dict[str, int] = field(default_factory=dict)
    misses: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    plain_builds: int = 0
    known: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    #: sccache's counts per family (``SCCACHE_COUNTS``), from wheelmemo's stats
    sccache: dict[str, dict[str, int]] = field(default_factory=dict)
    #: steps per operation
    ops: dict[str, int] = field(default_factory=dict)

    def add(self, table: dict[str, Any], key: str, n: float = 1) -> None:
        table[key] = table.get(key, 0) + n


def _disk_usage(path: Path) -> int:
    """Bytes of the files below ``path`` (a cache: pruned to half of it)."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


#: the compiler cache's operations (``generate(compiler_cache=True)``): their random choices
COMPILER_CACHE_OPS: dict[str, Callable[[random.Random], Step]] = {
    "ccache": lambda rng: {"value": rng.choice((None, "sccache", "sccache"))},
    "objects": lambda rng: {"action": rng.choice(("drop", "fresh-runner", "fresh-runner", "truncate"))},
    # three places, so that a project comes back to where its objects were made
    "move": lambda rng: {"to": rng.randint(0, 2)},
    "shadow": lambda rng: {"path": SHADOW, "token": rng.choice((None, *TOKENS))},
    "remote": lambda rng: {"value": rng.choice((None, "rw", "rw", "ro"))},
    "runner": lambda rng: {"to": rng.randint(0, 1)},
}


def _change(rng: random.Random, t: Template, op: str) -> Step:
    """One change of kind ``op``, its random choices made."""
    if op in ("edit", "revert", "touch", "remove"):
        slot = rng.choice(t.slots)
        if op == "edit":
            return {"op": op, "path": slot.path, "token": rng.choice(t.tokens(slot.path))}
        if op == "revert":
            return {"op": op, "path": slot.path, "back": rng.randint(1, 3)}
        return {"op": op, "path": slot.path}
    if op == "env":
        var = rng.choice(t.env_vars)
        return {"op": "env", "var": var, "value": rng.choice((None, *ENV_VALUES.get(var, TOKENS)))}
    if op == "config":
        key, values = rng.choice(t.config)
        return {"op": "config", "key": key, "value": rng.choice(values)}
    if op == "module":
        return {
            "op": "module",
            "action": rng.choice(("add", "add", "remove", "rename")),
            "n": rng.randint(1, 3),
            "to": rng.randint(1, 3),
            "git": rng.random() < 0.5,
        }
    if op == "cache":
        return {"op": "cache", "action": rng.choice(("prune", "prune-half", "clean", "truncate-blob", "corrupt-entry"))}
    if op == "commit":
        return {"op": "commit", "tag": rng.random() < 0.3}
    if op == "undo":
        return {"op": "undo"}
    if op == "embed":
        return {"op": op, "path": EMBED, "on": rng.random() < 0.5}
    if op == "limit":  # max-size: eviction after every store, builds beside it included
        return {"op": op, "value": rng.choice((None, None, "3M", "30M"))}
    if op in COMPILER_CACHE_OPS:
        return {"op": op, **COMPILER_CACHE_OPS[op](rng)}
    return {"op": op, "value": rng.choice((None, "0", "1") if op == "narrow" else (None, *TOKENS))}


def generate(rng: random.Random, t: Template, frontends: list[str], compiler_cache: bool = False) -> list[Step]:
    """Zero to three changes, then a build (or two at once) by one of ``frontends``;
    with ``compiler_cache``, also the operations of a compiler cache (the compiler
    cache on and off, its objects removed or kept by a fresh runner, the project moved,
    a shadowing header, a remote between two local caches)."""
    weights = {
        "edit": 6,
        "revert": 3,
        "undo": 5,
        "touch": 2,
        "env": 4 if t.env_vars else 0,
        "config": 2 if t.config else 0,
        "narrow": 1,
        "commit": 1,
        "accel": 3 if "accel" in t.extra_ops else 0,
        "embed": 2 if "embed" in t.extra_ops else 0,
        "module": 2 if t.module_dir else 0,
        "remove": 1,
        "cache": 1,
        "limit": 1,
    }
    if compiler_cache:  # only then: the random choices of a run without it stay as they were
        weights.update(ccache=2, objects=3, move=2, shadow=2 if "shadow" in t.extra_ops else 0, remote=2, runner=2)
    names = [n for n, w in weights.items() if w]
    steps = [
        _change(rng, t, op) for op in rng.choices(names, [weights[n] for n in names], k=rng.choice((0, 1, 1, 2, 3)))
    ]
    if rng.random() < 0.1:
        steps.append({"op": "build2", "frontends": rng.sample([f for f in t.frontends if f in TREE_FRONTENDS], 2)})
    else:
        steps.append({"op": "build", "frontend": rng.choice(frontends)})
    return steps


class Runner:
    """Applies steps to a world and judges every build against the oracle."""

    def __init__(
        self, world: World, oracle: Oracle, tally: Tally | None = None, log: Callable[[str], None] = print
    ) -> None:
        self.w = world
        self.oracle = oracle
        self.tally = tally or Tally()
        self.log = log
        self.last = ""
        self.last_counts = (0, 0)
        self.last_sccache: dict[str, int] = {}
        self.undo_stack: list[list[tuple[str, Any, Any]]] = []

    def apply(self, i: int, step: Step) -> Failure | None:
        op = step["op"]
        if op == "build":
            return self.build(i, [step["frontend"]])
        if op == "build2":
            return self.build(i, list(step["frontends"]))
        if op in UNDOABLE:
            self.undo_stack.append(self._snapshot(step))
        getattr(self, "op_" + op)(step)
        return None

    def _snapshot(self, step: Step) -> list[tuple[str, Any, Any]]:
        """What ``step`` may change, as it is now: files (bytes and mtime, or absent),
        a variable, a config setting, the optional module."""
        w = self.w
        if step["op"] == "env":
            return [("env", step["var"], w.env.get(step["var"]))]
        if step["op"] == "config":
            return [("config", step["key"], w.config.get(step["key"]))]
        if step["op"] == "accel":
            return [("accel", None, w.accel)]
        paths = [step["path"]] if "path" in step else [f"{w.t.module_dir}/mod_{step[k]}.py" for k in ("n", "to")]
        found: list[tuple[str, Any, Any]] = []
        for rel in paths:
            path = w.tree / rel
            found.append(("file", rel, (path.read_bytes(), path.stat().st_mtime_ns) if path.exists() else None))
        return found

    def op_undo(self, step: Step) -> None:
        """Put back what the last undoable change changed (a file with its old mtime)."""
        if not self.undo_stack:
            return
        for what, name, old in self.undo_stack.pop():
            if what == "env":
                self.op_env({"var": name, "value": old})
            elif what == "config":
                self.op_config({"key": name, "value": old or ""})
            elif what == "accel":
                self.op_accel({"value": old})
            elif old is None:
                (self.w.tree / name).unlink(missing_ok=True)
            else:
                path = self.w.tree / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(old[0])
                os.utime(path, ns=(old[1], old[1]))

    # changes
    def op_edit(self, step: Step) -> None:
        slot = self.w.t.slot(step["path"])
        self.w._write(slot.path, slot.text.replace("@V@", step["token"]))

    def op_revert(self, step: Step) -> None:
        history = self.w.history.get(step["path"], [])
        if len(history) <= step["back"]:
            return
        data, mtime = history[-1 - step["back"]]
        path = self.w.tree / step["path"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(mtime, mtime))  # as a backup or an archive restores it
        history.append((data, mtime))

    def op_touch(self, step: Step) -> None:
        path = self.w.tree / step["path"]
        if path.exists():
            os.utime(path)

    def op_remove(self, step: Step) -> None:
        path = self.w.tree / step["path"]
        if path.exists():
            path.unlink()

    def op_env(self, step: Step) -> None:
        if step["value"] is None:
            self.w.env.pop(step["var"], None)
        else:
            self.w.env[step["var"]] = step["value"]

    def op_config(self, step: Step) -> None:
        if step["value"]:
            self.w.config[step["key"]] = step["value"]
        else:
            self.w.config.pop(step["key"], None)

    def op_narrow(self, step: Step) -> None:
        self.w.narrow = step["value"]

    def op_limit(self, step: Step) -> None:
        self.w.max_size = step["value"]

    def op_commit(self, step: Step) -> None:
        self.w.git("add", "-A")
        self.w.git("commit", "-q", "-m", "step")
        if step["tag"]:
            n = len(
                subprocess.run(
                    ["git", "tag"], cwd=self.w.proj, capture_output=True, text=True, check=False
                ).stdout.split()
            )
            self.w.git("tag", f"v1.{n + 1}")

    def op_accel(self, step: Step) -> None:
        """Install or uninstall ``fzaccel`` (a distribution) in the no-isolation venv."""
        site = next((self.w.venv("noiso") / "lib").glob("python*/site-packages"))
        for old in [site / "fzaccel.py", *site.glob("fzaccel-*.dist-info")]:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
        self.w.accel = step["value"]
        if step["value"] is not None:
            (site / "fzaccel.py").write_text(f"VALUE = {step['value']!r}\n")
            info = site / f"fzaccel-1.{TOKENS.index(step['value'])}.dist-info"
            info.mkdir()
            (info / "METADATA").write_text(
                f"Metadata-Version: 2.1\nName: fzaccel\nVersion: 1.{TOKENS.index(step['value'])}\n"
            )
            (info / "RECORD").write_text("fzaccel.py,,\n")
            (info / "top_level.txt").write_text("fzaccel\n")

    def op_module(self, step: Step) -> None:
        base = self.w.tree / self.w.t.module_dir
        src, dst = base / f"mod_{step['n']}.py", base / f"mod_{step['to']}.py"
        if step["action"] == "add":
            src.write_text(f"N = {step['n']}\n")
            if step["git"]:
                self.w.git("add", str(src))
        elif step["action"] == "remove" and src.exists():
            src.unlink()
            if step["git"]:
                self.w.git("rm", "-q", "--cached", "--ignore-unmatch", str(src))
        elif step["action"] == "rename" and src.exists() and src != dst:
            src.rename(dst)
            if step["git"]:
                self.w.git("add", "-A", str(base))

    def op_ccache(self, step: Step) -> None:
        """wheelmemo's compiler cache on (``"sccache"``) or off, for wheelmemo's builds only."""
        self.w.compiler_cache = step["value"]

    def op_objects(self, step: Step) -> None:
        """sccache's objects removed (``drop``), one damaged (``truncate``), or kept
        while everything else goes (``fresh-runner``: wheelmemo's entries and build
        directories, and the tree's own outputs, as on a new CI runner whose object cache
        was restored)."""
        w = self.w
        objects = w.cache / SCCACHE_DIR
        if step["action"] == "drop":
            shutil.rmtree(objects, ignore_errors=True)
        elif step["action"] == "truncate":
            files = sorted(p for p in objects.rglob("*") if p.is_file()) if objects.is_dir() else []
            if files:
                victim = files[len(files) // 2]
                victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
        else:  # everything but the objects and the directories above them
            keep = {objects, *objects.parents}
            for dirpath, dirnames, filenames in os.walk(w.cache):
                for name in sorted(dirnames):
                    if Path(dirpath, name) not in keep:
                        shutil.rmtree(Path(dirpath, name), ignore_errors=True)
                dirnames[:] = sorted(d for d in dirnames if Path(dirpath, d) in keep and Path(dirpath, d) != objects)
                for name in filenames:
                    Path(dirpath, name).unlink(missing_ok=True)
            for name in sorted(OUTPUT_DIRS - {".git"}):
                shutil.rmtree(w.proj / name, ignore_errors=True)

    def op_move(self, step: Step) -> None:
        """The tree (project and ``shared/``) moved to another path: the objects a
        compiler cache made elsewhere must come back by content, not be wrong for the new
        path.  The project's ``.venv`` goes (uv's scripts name the old path)."""
        w = self.w
        dest = w.root / ("tree" if step["to"] == 0 else f"tree-{step['to']}")
        if dest == w.tree:
            return
        w.tree.rename(dest)
        w.tree, w.proj = dest, dest / "proj"
        shutil.rmtree(w.proj / ".venv", ignore_errors=True)

    def op_shadow(self, step: Step) -> None:
        """A header beside core.c of the name it includes from ``shared/`` (or its removal)."""
        path = self.w.tree / step["path"]
        if step["token"] is None:
            path.unlink(missing_ok=True)
        else:
            path.write_text(f'#define SHARED_VALUE "shadow-{step["token"]}"\n')

    def op_embed(self, step: Step) -> None:
        """csrc/embed.h, which core.c includes if it is there: an ``.incbin`` of csrc/blob.txt."""
        path = self.w.tree / step["path"]
        if step["on"]:
            path.write_text(self.w.t.embed)
        else:
            path.unlink(missing_ok=True)

    def op_remote(self, step: Step) -> None:
        """A ``file://`` remote beside the world (read-write or read-only), or none."""
        self.w.remote = step["value"]

    def op_runner(self, step: Step) -> None:
        """Another local cache (another machine sharing the remote): ``cache`` or ``cache-1``."""
        self.w.cache = self.w.root / ("cache" if step["to"] == 0 else f"cache-{step['to']}")

    def op_cache(self, step: Step) -> None:
        action = step["action"]
        store = self.w.cache / "v1"
        if action in ("prune", "prune-half", "clean"):
            args = {
                "prune": ["prune", "--max-size", "1"],
                "clean": ["clean"],
                "prune-half": ["prune", "--max-size", str(_disk_usage(self.w.cache) // 2)],
            }[action]
            subprocess.run(
                [sys.executable, "-m", "wheelmemo", "--cache-dir", str(self.w.cache), *args],
                cwd=self.w.proj,
                capture_output=True,
                check=False,
            )
            return
        pattern = "blobs/*/*" if action == "truncate-blob" else "entries/*/*.json"
        files = sorted(store.glob(pattern))
        if files:
            victim = files[len(files) // 2]
            data = victim.read_bytes()
            victim.write_bytes(data[: len(data) // 2] if action == "truncate-blob" else data[:-10] + b"garbage!!}")

    # builds
    def build(self, i: int, frontends: list[str]) -> Failure | None:
        w, t = self.w, self.tally
        started = time.monotonic()
        before = w.all_stats()
        jobs = []
        for frontend in frontends:
            out = w.out_dir(frontend)
            cmd, editable_python = w.frontend_cmd(frontend, out)
            env = w.build_env(w.tree / "shared", plain=False)
            jobs.append((frontend, out, editable_python, cmd, env))
        if len(jobs) == 1:
            results = [run(jobs[0][3], w.proj, jobs[0][4], w.clock)]
        else:
            procs = [
                subprocess.Popen(
                    j[3],
                    cwd=w.proj,
                    env=j[4],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
                for j in jobs
            ]
            results = []
            for proc in procs:
                try:
                    out, _ = proc.communicate(timeout=w.clock.timeout())
                except BaseException as e:  # out of time or interrupted: every build's group goes
                    for p in procs:
                        with contextlib.suppress(ProcessLookupError):
                            os.killpg(p.pid, signal.SIGKILL)
                    for p in procs:
                        p.communicate()  # reaped, pipes closed: no process is left running
                    if isinstance(e, (subprocess.TimeoutExpired, OutOfTime)):
                        raise OutOfTime from None
                    raise
                results.append(Result(proc.returncode == 0, out[-8000:]))
        after = w.all_stats()
        self.last_counts = (after[0] - before[0], after[1] - before[1])
        self.last_sccache = {name: after[2][name] - before[2][name] for name in SCCACHE_COUNTS}
        for name, n in self.last_sccache.items():
            t.add(t.sccache.setdefault(w.t.family, {}), name, n)
        t.add(t.hits, w.t.family, after[0] - before[0])
        t.add(t.misses, w.t.family, after[1] - before[1])
        t.add(t.seconds, w.t.family, time.monotonic() - started)
        for (frontend, out, editable_python, _, _), result in zip(jobs, results):
            t.builds.setdefault(w.t.family, {})
            t.add(t.builds[w.t.family], frontend)
            failure = self.judge(i, frontend, out, editable_python, result)
            if failure:
                return failure
        return None

    def judge(self, i: int, frontend: str, out: Path, editable_python: Path | None, result: Result) -> Failure | None:
        route = ROUTES[frontend]
        want, plain_output = self.oracle(self.w, route)
        self.tally.plain_builds = self.oracle.plain_builds
        self.last = "both failed" if not result.ok and want is None else "built"
        if not result.ok and want is None:
            return None
        if not result.ok:
            return Failure(
                i,
                "wheelmemo failed where the plain build succeeds",
                f"{frontend}:\n{result.output[-3000:]}",
                frontend,
                [_last_error(result.output)],
            )
        if want is None:
            return Failure(
                i,
                "cache hides a broken build",
                f"{frontend} succeeded; plain build failed:\n{plain_output[-3000:]}",
                frontend,
                [_last_error(plain_output)],
            )
        module = self.w.t.module
        if editable_python is not None:
            code = f"import {module}; print({module}.probe())"
            mine = probe_with(str(editable_python), code, self.w.root)
            plain = probe_wheel(want, module)
            if mine != plain:
                return Failure(
                    i,
                    "stale editable",
                    f"{frontend}: probe() {mine!r} != plain wheel {plain!r}",
                    frontend,
                    differing_fields(mine, plain),
                )
            return None
        wheels = sorted(out.glob("*.whl"))
        if len(wheels) != 1:
            return Failure(i, "no wheel", f"{frontend} made {wheels}", frontend)
        diffs, fields = compare(wheels[0], want, module)
        if diffs:
            return Failure(i, "stale wheel", f"{frontend}: " + "; ".join(diffs), frontend, fields)
        return None


def _last_error(output: str) -> str:
    """A failed build's cause, roughly: its last line that says error (paths vary)."""
    lines = [line.strip() for line in output.splitlines() if "rror" in line]
    return re.sub(r"/\S+", "PATH", lines[-1])[:200] if lines else "?"


# -- runs, replays, shrinking ---------------------------------------------------------------
def replay(
    shared: Shared,
    oracle: Oracle,
    family: str,
    steps: list[Step],
    clock: Clock,
    tally: Tally | None = None,
    log: Callable[[str], None] = lambda s: None,
) -> Failure | None:
    """The steps from a fresh world and a fresh cache: the first failure, if any."""
    root = Path(tempfile.mkdtemp(prefix=f"replay-{family}-", dir=shared.work))
    try:
        runner = Runner(World(shared, TEMPLATES[family], root, clock), oracle, tally, log)
        for i, step in enumerate(steps):
            failure = runner.apply(i, step)
            if failure:
                return failure
        return None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def shrink(
    shared: Shared,
    oracle: Oracle,
    family: str,
    steps: list[Step],
    failure: Failure,
    clock: Clock,
    log: Callable[[str], None] = print,
) -> list[Step]:
    """The shortest step list found (by dropping chunks, then single steps) that still
    fails the same way; the clock bounds it."""
    best = steps[: failure.step + 1]
    n = 2
    while len(best) > 1:
        chunk = max(1, len(best) // n)
        shrunk = False
        for start in range(0, len(best), chunk):
            candidate = best[:start] + best[start + chunk :]
            if not candidate or candidate[-1]["op"] not in ("build", "build2"):
                continue
            try:
                again = replay(shared, oracle, family, candidate, clock)
            except OutOfTime:
                return best
            if failure.same(again):
                assert again is not None
                best = candidate[: again.step + 1]
                log(f"  shrunk to {len(best)} steps")
                n = max(n - 1, 2)
                shrunk = True
                break
        if not shrunk:
            if chunk == 1:
                break
            n = min(n * 2, len(best))
    return best


def summary_table(tally: Tally) -> str:
    families = sorted(set(tally.steps) | set(tally.builds))
    frontends = sorted({f for b in tally.builds.values() for f in b})
    sccache = bool(tally.sccache and any(any(c.values()) for c in tally.sccache.values()))
    rows = [
        [
            "family",
            "steps",
            "builds",
            "hits",
            "misses",
            *(["sccache hits (remote)", "misses", "not cacheable"] if sccache else []),
            "s/build",
            *frontends,
        ]
    ]
    for fam in families:
        builds = sum(tally.builds.get(fam, {}).values())
        rows.append(
            [
                fam,
                str(tally.steps.get(fam, 0)),
                str(builds),
                str(tally.hits.get(fam, 0)),
                str(tally.misses.get(fam, 0)),
                *(_sccache_cells(tally.sccache.get(fam, {})) if sccache else []),
                f"{tally.seconds.get(fam, 0.0) / builds:.1f}" if builds else "-",
                *[str(tally.builds.get(fam, {}).get(f, 0)) for f in frontends],
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows)


def _sccache_cells(counts: dict[str, int]) -> list[str]:
    return [
        f"{counts.get('hits', 0)} ({counts.get('remote_hits', 0)})",
        str(counts.get("misses", 0)),
        str(counts.get("not_cacheable", 0)),
    ]


def _world_run(
    shared: Shared,
    oracle: Oracle,
    tally: Tally,
    rng: random.Random,
    family: str,
    clock: Clock,
    builds_left: float,
    log: Callable[[str], None],
    ignore: frozenset[str] = frozenset(),
    only_frontends: list[str] | None = None,
    compiler_cache: str | None = None,
) -> tuple[int, list[Step], Failure | None]:
    """A fresh world (and cache) taken through a run of random steps: builds done, the
    steps, the first failure.  With ``compiler_cache``, the first step turns it on (so
    that the step list replays by itself) and the compiler cache's operations join."""
    root = Path(tempfile.mkdtemp(prefix=f"world-{family}-", dir=shared.work))
    world = World(shared, TEMPLATES[family], root, clock)
    runner = Runner(world, oracle, tally, log)
    done: list[Step] = []
    builds = 0
    # a few frontends per world: builds by one route meet each other's entries more often
    choices = [f for f in world.t.frontends if not only_frontends or f in only_frontends] or list(world.t.frontends)
    frontends = rng.sample(choices, min(3, len(choices)))
    if (
        "pip-noiso" in choices
        and "accel" in world.t.extra_ops
        and "pip-noiso" not in frontends
        and (rng.random() < 0.5)
    ):
        frontends[-1] = "pip-noiso"  # the optional module is seen only without isolation
    first = [{"op": "ccache", "value": compiler_cache}] if compiler_cache else []
    try:
        for n in range(rng.randint(6, 14)):
            if builds >= builds_left or clock.left() <= 0:
                break
            for step in (first if n == 0 else []) + generate(rng, world.t, frontends, bool(compiler_cache)):
                done.append(step)
                tally.add(tally.steps, family)
                tally.add(tally.ops, step["op"])
                failure = runner.apply(len(done) - 1, step)
                if step["op"] in ("build", "build2"):
                    builds += 1
                    hits, misses = runner.last_counts
                    sc = runner.last_sccache
                    objects = (
                        f"; sccache {sc['hits']} hit ({sc['remote_hits']} remote), {sc['misses']} miss, "
                        f"{sc['not_cacheable']} not cacheable"
                        if any(sc.values())
                        else ""
                    )
                    log(
                        f"[{family}] build {step.get('frontend') or step.get('frontends')}: "
                        f"{'FAIL ' + failure.kind if failure else 'ok'} ({runner.last}; "
                        f"{hits} hit, {misses} miss{objects}) after {json.dumps(done[-4:-1])}"
                    )
                name = failure.known(family) if failure else None
                if failure and not name and ignore and failure.fields and set(failure.fields) <= ignore:
                    name = "ignored:" + ",".join(failure.fields)
                if name:
                    tally.add(tally.known, name)
                    log(f"[{family}] known failure {name} (a regression test replays it): {failure.detail[:300]}")
                elif failure:
                    return builds, done, failure
        return builds, done, None
    finally:
        shutil.rmtree(root, ignore_errors=True)


def fuzz(
    *,
    seed: int,
    budget: float | None,
    steps: int | None,
    families: list[str],
    work: Path,
    shrink_budget: float = 600.0,
    log: Callable[[str], None] = print,
    record: Path | None = None,
    shared: Shared | None = None,
    source: Path | None = None,
    ignore: frozenset[str] = frozenset(),
    only_frontends: list[str] | None = None,
    compiler_cache: str | None = None,
) -> tuple[Tally, list[dict[str, Any]]]:
    """Random steps over fresh worlds of ``families`` (round robin), until ``steps`` builds
    or the budget; each failure shrunk (within ``shrink_budget`` more seconds) and
    reported with its replay command.  A failure that only differs in ``ignore``
    (``probe()`` fields, members) is counted like a known one (on old code: rows found
    already).  ``compiler_cache`` (``"sccache"``): wheelmemo's builds compile through it,
    the plain builds never do, and its operations join (``generate``)."""
    clock = Clock(budget)
    rng = random.Random(seed)
    shared = shared or Shared.make(work, source=source)
    oracle = Oracle(shared)
    tally = Tally()
    found: list[dict[str, Any]] = []
    log(
        f"stale fuzz: seed {seed}, families {','.join(families)}, budget {budget}, steps {steps}"
        + (f", compiler cache {compiler_cache}" if compiler_cache else "")
    )
    started = time.time()
    builds = 0
    try:
        for n in itertools.count():
            if (steps is not None and builds >= steps) or clock.left() <= 0:
                break
            family = families[n % len(families)]
            done, history, failure = _world_run(
                shared,
                oracle,
                tally,
                rng,
                family,
                clock,
                float("inf") if steps is None else steps - builds,
                log,
                ignore,
                only_frontends,
                compiler_cache,
            )
            builds += done
            if failure is None:
                continue
            log(f"FAILURE ({failure.kind}) at step {failure.step}: {failure.detail[:2000]}")
            short = shrink(
                shared,
                oracle,
                family,
                history,
                failure,
                Clock(min(shrink_budget, max(clock.left(), 0.0) + shrink_budget)),
                log,
            )
            entry = {
                "family": family,
                "seed": seed,
                "kind": failure.kind,
                "detail": failure.detail[:4000],
                "steps": short,
            }
            found.append(entry)
            tally.failures.append(entry)
            log(f"shortest steps ({len(short)}): {json.dumps(short)}")
            log(f"replay: nox -s stale-fuzz -- --family {family} --replay '{json.dumps(short)}'")
    except OutOfTime:
        log("budget reached (mid-step)")
    log(summary_table(tally))
    log("operations: " + ", ".join(f"{op} {n}" for op, n in sorted(tally.ops.items())))
    if tally.known:
        log("known failures met again: " + ", ".join(f"{k} x{n}" for k, n in sorted(tally.known.items())))
    if record is not None:
        line = {
            "seed": seed,
            "started": started,
            "seconds": round(time.time() - started, 1),
            "families": families,
            "compiler_cache": compiler_cache,
            "steps": tally.steps,
            "builds": tally.builds,
            "hits": tally.hits,
            "misses": tally.misses,
            "sccache": tally.sccache,
            "ops": tally.ops,
            "seconds_per_family": {k: round(v, 1) for k, v in tally.seconds.items()},
            "plain_builds": tally.plain_builds,
            "known": tally.known,
            "commit": _head(source or ROOT),
            "failures": [{**{k: v for k, v in f.items() if k != "detail"}, "detail": f["detail"][:500]} for f in found],
        }
        with record.open("a") as f:
            f.write(json.dumps(line) + "\n")
    return tally, found


def _head(source: Path) -> str:
    """The commit of the wheelmemo under test (an exported old commit says so in a file)."""
    if (source / "COMMIT").exists():
        return (source / "COMMIT").read_text().strip()
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=source, capture_output=True, text=True, check=False
    ).stdout.strip()
