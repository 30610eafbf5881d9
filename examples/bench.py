"""Benchmarks of wheelmemo against the plain backend (``nox -s bench``); figures, no assertions.

Every figure is the median, minimum and maximum of ``--runs`` runs (default 5), with the
plain backend measured beside wheelmemo in the same run.  ``docs/benchmarks.md`` has the
latest tables and says how to read them.

1. Under ``uv build --wheel``, for each example: the plain backend cold, wheelmemo cold,
   a hit, and the floor -- a trivial pure-Python project with plain hatchling under the
   same frontend -- with hit/floor (goal: at most 1.1) and cold/plain.
2. A big pure project (10,000 generated files of ~4 KB, ~40 MB) under ``uv build
   --wheel``: plain hatchling cold, wheelmemo cold (goal: at most 1.05x plain), a hit
   and the floor (goal: hit at most 1.2x the floor).
2b. The cold miss of that project (``--parts cold``): wheelmemo with an empty cache over
   plain hatchling, under ``uv build --wheel`` and as the two hook processes a frontend
   runs, against one pass of reading and SHA-256-hashing every file in one process
   (goal: the overhead at most 3x that pass), and where the hook processes' time goes.
3. With a remote cache (``--remote URL``, else a ``file://`` directory): a cold build
   that uploads, a remote hit (a machine with an empty local cache) and a local hit.
4. What checking a hit's learned inputs costs (files and variables its build read
   beyond the declared key; goal: at most 10 ms for 200 files with a warm stat cache).
5. The hook alone: a fresh ``python`` process that imports wheelmemo and answers
   ``build_wheel`` from the cache, for generated projects of ``--sizes`` files and the
   big pure project, with a warm and a cold stat cache (and the bytes hashed per second
   then), beside hatchling's own ``build_wheel`` in a fresh process for the same project
   (goals: at most 30 ms at 1,000 files and 150 ms at 20,000 with a warm stat cache);
   then the hook under load.
6. An edit in a big crate: a generated maturin + pyo3 crate of 2,500 functions, cold
   ``uv build`` (sdist, then the wheel in uv's temporary copy), a one-line edit and
   ``uv build`` again, another edit and ``uv build --wheel`` from the tree with its
   ``target/`` deleted (goal: an edit at most 0.25x the cold build), one more edit built
   from the tree (the same profile: the ``uv build`` edit over it at most 1.1x, issue 20;
   ``--crate-functions N`` for a smaller crate), beside plain
   maturin, whose every such build is cold; compiles of the crate and of pyo3 counted.
   The ``-incremental`` shapes are the same crates with ``[profile.release] incremental
   = true`` in their Cargo.toml: the user's choice, which wheelmemo's persistent build
   directory makes pay off under ``uv build``.

7. An edit in a C++ project built by Ninja: a generated meson-python and scikit-build-core
   project of ``--cpp-files`` files (default 30), plain beside wheelmemo: cold ``uv build
   --wheel``, a one-file edit and ``uv build --wheel``, another and ``uv build`` (the wheel
   in uv's temporary copy of the sdist) (goal: an edit at most 0.2x the cold build).

8. A compiler cache (issue 21: ``compiler-cache = "sccache"``, set by
   ``WHEELMEMO_COMPILER_CACHE``), beside the plain backend and wheelmemo without it:
   examples/maturin-pyo3 on a fresh runner (runner A builds commit 1 cold with a remote,
   runner B, an empty local cache and another path, builds commit 2, a one-line `.rs`
   edit, sharing it; a ``file://`` remote and a WebDAV one served by nginx) (goal: at most
   0.35x A's cold build); the same commit for the other Python on a fresh runner C (which
   crates came from the remote, by sccache's objects there); a setuptools extension of ``--c-files`` generated C
   files, cold then a one-file edit (goal: at most 0.25x); a hit with the compiler cache
   on and off (no slower: sccache does not start on a hit). sccache's counts are the
   ones wheelmemo writes to ``<cache>/v1/stats.jsonl``.

``--plots DIR`` writes ``bench-hit-vs-files.png`` and ``bench-frontends.png`` there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from _harness import EXAMPLES, HERE, ROOT, SHIMS, Run, Workspace, tool

FLOOR_PYPROJECT = """\
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "floor"
version = "1.0.0"
"""

HOOK_TIMER = """\
import sys, time, json
start = time.perf_counter()
import wheelmemo, wheelmemo._memo
imported = time.perf_counter()
name = wheelmemo.build_wheel(sys.argv[1])
end = time.perf_counter()
print(json.dumps({"total_ms": (end - start) * 1000, "hook_ms": (end - imported) * 1000}))
"""

#: hatchling's own build_wheel in a fresh process: what the inner backend costs
PLAIN_TIMER = HOOK_TIMER.replace("import wheelmemo, wheelmemo._memo", "import hatchling.build").replace(
    "wheelmemo.build_wheel", "hatchling.build.build_wheel")

#: what the plots are drawn from, filled in by the tables
FIGURES: dict[str, Any] = {}


# -- figures ---------------------------------------------------------------------------

def spread(values: Iterable[float]) -> tuple[float, float, float]:
    """Minimum, median and maximum."""
    items = list(values)
    return min(items), statistics.median(items), max(items)


def cell(values: Iterable[float], unit: str = " s", digits: int = 3) -> str:
    """``median unit (min-max)``."""
    low, mid, high = spread(values)
    return f"{mid:.{digits}f}{unit} ({low:.{digits}f}-{high:.{digits}f})"


def ratio(top: Iterable[float], bottom: Iterable[float]) -> str:
    return f"{statistics.median(top) / statistics.median(bottom):.2f}x"


def counts(values: Iterable[int]) -> str:
    items = sorted(set(values))
    return str(items[0]) if len(items) == 1 else f"{items[0]}-{items[-1]}"


def human(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.0f} KB" if size >= 1e4 else f"{size / 1e3:.1f} KB"


def seconds(runs: Iterable[Run]) -> list[float]:
    return [run.seconds for run in runs]


# -- under uv build --wheel ------------------------------------------------------------

def make_floor(work: Workspace) -> Path:
    floor = work.dir / "floor"
    (floor / "floor").mkdir(parents=True)
    (floor / "floor" / "__init__.py").write_text("")
    (floor / "pyproject.toml").write_text(FLOOR_PYPROJECT)
    return floor


def frontend_table(runs: int) -> list[str]:
    """Each example: plain backend cold, wheelmemo cold, hit and the floor, interleaved."""
    work = Workspace()
    rows = []
    try:
        floor = make_floor(work)
        work.uv_build_wheel(floor)  # warm uv's cache of hatchling
        floor_s = seconds(work.uv_build_wheel(floor) for _ in range(runs))
        FIGURES.setdefault("frontends", {})["floor"] = floor_s
        for name, needle in EXAMPLES.items():
            project = HERE / name
            plain, cold = [], []
            for _ in range(runs):
                work.clean(project)
                plain.append(work.uv_build_wheel(project, needle, cache=False))
                work.clean(project)
                cold.append(work.uv_build_wheel(project, needle))
            hits = [work.uv_build_wheel(project, needle) for _ in range(runs)]
            assert all(h.compiles == 0 for h in hits), "a hit compiled something"
            assert all("hit" in h.stderr for h in hits), "a hit was not one"
            FIGURES["frontends"][name] = {"plain": seconds(plain), "cold": seconds(cold), "hit": seconds(hits)}
            rows.append(f"| {name} | {cell(seconds(plain), '')} | {cell(seconds(cold), '')} "
                        f"| {counts(c.compiles for c in cold)} | {cell(seconds(hits), '')} "
                        f"| {cell(floor_s, '')} | {ratio(seconds(hits), floor_s)} "
                        f"| {ratio(seconds(cold), seconds(plain))} | {ratio(seconds(cold), seconds(hits))} |")
            work.clean(project)
    finally:
        work.close()
    head = [("| example | plain backend, cold (s) | wheelmemo, cold (s) | compiles | hit (s) | floor (s) "
             "| hit/floor | cold/plain | cold/hit |"),
            "|---|---|---|---|---|---|---|---|---|"]
    return head + rows


def write_big_pure(project: Path, files: int, lines: int, wheelmemo: bool) -> int:
    """A pure package of ``files`` modules of ``lines`` + 1 lines (~50 bytes each); its bytes."""
    package = project / "bigpure"
    package.mkdir(parents=True)
    padding = "".join(f"X{j} = {j}  # {'x' * (40 - len(str(j)))}\n" for j in range(lines))
    total = 0
    for i in range(files):
        text = f"VALUE = {i}\n{padding}"
        (package / f"mod_{i:05d}.py").write_text(text)
        total += len(text)
    if wheelmemo:
        system = ('[build-system]\nrequires = ["wheelmemo", "hatchling"]\nbuild-backend = "wheelmemo"\n'
                  '[tool.wheelmemo]\nbackend = "hatchling.build"\n'
                  f'[tool.uv.sources]\nwheelmemo = {{ path = {json.dumps(str(ROOT))}, editable = true }}\n')
    else:
        system = '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    (project / "pyproject.toml").write_text(
        f'{system}[project]\nname = "bigpure"\nversion = "1.0"\n'
        '[tool.hatch.build.targets.wheel]\npackages = ["bigpure"]\n')
    return total


def big_pure_table(runs: int, files: int = 10_000, lines: int = 80) -> list[str]:
    """The big pure project under ``uv build --wheel``: plain hatchling and wheelmemo."""
    work = Workspace()
    try:
        floor = make_floor(work)
        plain_project, project = work.dir / "big-plain", work.dir / "big-wheelmemo"
        size = write_big_pure(plain_project, files, lines, wheelmemo=False)
        write_big_pure(project, files, lines, wheelmemo=True)
        work.uv_build_wheel(floor)  # warm uv's cache of hatchling
        work.uv_build_wheel(plain_project, cache=False)  # and of the build environments
        time.sleep(2.5)  # past the stat cache's racy window
        floor_s: list[float] = []
        plain: list[Run] = []
        cold: list[Run] = []
        for _ in range(runs):
            floor_s.append(work.uv_build_wheel(floor).seconds)
            plain.append(work.uv_build_wheel(plain_project, cache=False))
            shutil.rmtree(work.dir / "cache", ignore_errors=True)
            cold.append(work.uv_build_wheel(project))
        hits = [work.uv_build_wheel(project) for _ in range(runs)]
        assert all("miss" in c.stderr for c in cold), "a cold build was not a miss"
        assert all("hit" in h.stderr for h in hits), "a hit was not one"
    finally:
        work.close()
    FIGURES["big"] = {"plain": seconds(plain), "cold": seconds(cold), "hit": seconds(hits), "floor": floor_s}
    return [f"{files:,} files, {size / 1e6:.1f} MB, hatchling:", "",
            ("| plain hatchling, cold (s) | wheelmemo, cold (s) | wheelmemo, hit (s) | floor (s) "
             "| wheelmemo cold/plain cold | hit/floor |"),
            "|---|---|---|---|---|---|",
            (f"| {cell(seconds(plain), '')} | {cell(seconds(cold), '')} | {cell(seconds(hits), '')} "
             f"| {cell(floor_s, '')} | {ratio(seconds(cold), seconds(plain))} | {ratio(seconds(hits), floor_s)} |")]



#: one pass over a project's files in one process: read each and SHA-256 it (the floor
#: of a key that never trusts a file it has not read)
HASH_FLOOR = """\
import hashlib, json, os, sys, time
start = time.perf_counter()
for directory, _, names in os.walk(sys.argv[1]):
    for name in names:
        with open(os.path.join(directory, name), "rb") as f:
            hashlib.sha256(f.read()).digest()
print(json.dumps({"ms": (time.perf_counter() - start) * 1000}))
"""

#: a wheelmemo hook in a fresh process, its stages timed (cumulative ms, JSON): what the
#: cold-miss table's profile is made of.  Wraps wheelmemo's internals by name.
STAGE_TIMER = """\
import functools, json, sys, time
start = time.perf_counter()
import wheelmemo
from wheelmemo import _engine, _inner, _inputs, _keys, _learned
times = {}
def timed(owner, name, label, first=False):
    real = getattr(owner, name)
    @functools.wraps(real)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return real(*args, **kwargs)
        finally:
            if not (first and label in times):
                times[label] = times.get(label, 0.0) + (time.perf_counter() - began) * 1000
    setattr(owner, name, wrapper)
timed(_keys.Keys, "base", "key")
timed(_inputs.StatCache, "digest_all", "stat and hash", first=True)  # the key's, not the check's after
timed(_inner.InnerBackend, "call", "inner")
timed(_engine.Engine, "_learn", "learn")
timed(_learned, "learn", "learned")
timed(_engine.Engine, "_store_outcome", "store")
timed(_inputs.StatCache, "save", "save")
hook = sys.argv[1]
began = time.perf_counter()
getattr(wheelmemo, hook)(*sys.argv[2:])
end = time.perf_counter()
times["hook"] = (end - began) * 1000
times["total"] = (end - start) * 1000
print(json.dumps(times))
"""

#: the same hook of plain hatchling in a fresh process
PLAIN_HOOK = """\
import json, sys, time
start = time.perf_counter()
import hatchling.build
getattr(hatchling.build, sys.argv[1])(*sys.argv[2:])
print(json.dumps({"total": (time.perf_counter() - start) * 1000}))
"""

#: the stages of the cold-miss profile: (label, what the row says); "learned" is
#: inside "learn", "stat and hash" inside "key"
COLD_STAGES = (
    ("key", "the key: list the tree, `stat` each input, hash those not known"),
    ("stat and hash", "· of which `stat` and hash (`digest_all`)"),
    ("inner", "the inner hook (hatchling), recorded"),
    ("learn", "after the call: the tree again (a `stat` per input), what it read"),
    ("learned", "· of which learning what it read"),
    ("store", "store the answer (wheel, parts, manifest)"),
    ("save", "save the stat cache"),
)


def cold_table(runs: int, files: int = 10_000, lines: int = 80) -> list[str]:
    """The cold miss of the big pure project against the floor of reading and hashing
    it once: per run, in turns, the one-pass hash in one process, plain hatchling and
    wheelmemo with an empty cache, under ``uv build --wheel`` and as the two hook
    processes a frontend runs (``get_requires_for_build_wheel``, ``build_wheel``), the
    latter with wheelmemo's stages timed."""
    work = Workspace()
    base = work.dir / "hooks"
    try:
        floor_project = make_floor(work)
        plain_project, project = work.dir / "big-plain", work.dir / "big-wheelmemo"
        size = write_big_pure(plain_project, files, lines, wheelmemo=False)
        write_big_pure(project, files, lines, wheelmemo=True)
        work.uv_build_wheel(floor_project)  # warm uv's cache of hatchling
        work.uv_build_wheel(plain_project, cache=False)  # and of the build environments
        subprocess.run([tool("uv"), "venv", "--quiet", str(base / "venv")], check=True)
        python = str(base / "venv" / "bin" / "python")
        # compiled as it installs: the hooks' figures are of the build, not of compiling
        # hatchling or wheelmemo (the `uv build` rows pay that, as a first build does)
        subprocess.run(
            [tool("uv"), "pip", "install", "--quiet", "--compile-bytecode", "--python", python, str(ROOT), "hatchling"],
            check=True,
        )
        env = {"WHEELMEMO_CACHE_DIR": str(base / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
        time.sleep(2.5)  # past the stat cache's racy window
        floor: list[float] = []
        uv_plain: list[float] = []
        uv_cold: list[Run] = []
        hook_plain: list[list[float]] = []
        hook_cold: list[list[dict[str, float]]] = []
        out = base / "out"
        for _ in range(runs):
            floor.append(_json_run([python, "-c", HASH_FLOOR, str(project)], project, env)["ms"])
            uv_plain.append(work.uv_build_wheel(plain_project, cache=False).seconds * 1000)
            shutil.rmtree(work.dir / "cache", ignore_errors=True)
            uv_cold.append(work.uv_build_wheel(project))
            processes = []
            for script in (PLAIN_HOOK, STAGE_TIMER):
                shutil.rmtree(base / "cache", ignore_errors=True)
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                processes.append([
                    _json_run([python, "-c", script, "get_requires_for_build_wheel"], project, env),
                    _json_run([python, "-c", script, "build_wheel", str(out)], project, env),
                ])
            hook_plain.append([p["total"] for p in processes[0]])
            hook_cold.append(processes[1])
        assert all("miss" in c.stderr for c in uv_cold), "a cold build was not a miss"
    finally:
        work.close()
    med = statistics.median
    floor_ms = med(floor)
    plain_hooks = [sum(p) for p in hook_plain]
    cold_hooks = [sum(p["total"] for p in c) for c in hook_cold]
    cold_uv = [c.seconds * 1000 for c in uv_cold]
    FIGURES["cold"] = {"floor": floor, "uv_plain": uv_plain, "uv_cold": cold_uv, "hook_plain": plain_hooks,
                       "hook_cold": cold_hooks}

    def row(label: str, plain: list[float], cold: list[float]) -> str:
        over = med(cold) - med(plain)
        return (f"| {label} | {cell(floor, '', 0)} | {cell(plain, '', 0)} | {cell(cold, '', 0)} "
                f"| {over:.0f} | {over / floor_ms:.2f}x | {ratio(cold, plain)} |")

    lines_out = [
        f"{files:,} files, {size / 1e6:.1f} MB, hatchling; ms, median (min-max) of {runs}:", "",
        ("| build | hash floor: read + SHA-256 every file, one process | plain hatchling | wheelmemo, cold "
         "| overhead (cold - plain, medians) | overhead / hash floor | cold / plain |"),
        "|---|---|---|---|---|---|---|",
        row("`uv build --wheel` (empty cache)", uv_plain, cold_uv),
        row("the two hook processes (empty cache, compiled modules)", plain_hooks, cold_hooks),
        "", "Where the hook processes' time goes (ms, median; plain hatchling's process beside):", "",
        "| stage | `get_requires_for_build_wheel` | `build_wheel` |", "|---|---|---|",
    ]
    for index, name in ((0, "get_requires"), (1, "build_wheel")):
        FIGURES["cold"][name] = [c[index] for c in hook_cold]
    return lines_out + _cold_stages(hook_cold, hook_plain)


def _cold_stages(hook_cold: list[list[dict[str, float]]], hook_plain: list[list[float]]) -> list[str]:
    """The rows of the cold hook processes' stages (medians), plain hatchling's beside."""
    med = statistics.median
    outer = ("key", "inner", "learn", "store", "save")
    for c in hook_cold:
        for process in c:  # Python's start, wheelmemo's imports and settings, the lookup
            process["rest"] = process["total"] - sum(process.get(key, 0.0) for key in outer)
    rest = ("rest", "the rest: Python's start, imports, settings, the lookup")
    rows = []
    for key, label in (*COLD_STAGES, rest, ("total", "**the whole process**")):
        cells = [med(c[i].get(key, 0.0) for c in hook_cold) for i in (0, 1)]
        rows.append(f"| {label} | {cells[0]:.1f} | {cells[1]:.1f} |")
    rows.append(f"| plain hatchling's whole process | {med(p[0] for p in hook_plain):.1f} "
                f"| {med(p[1] for p in hook_plain):.1f} |")
    return rows


def _json_run(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """The last line a timed script printed, as JSON."""
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(result.stdout.splitlines()[-1])
    return figures

def remote_table(runs: int, remote: str | None) -> list[str]:
    """Cold (uploads), remote hit (an empty local cache each run) and local hit, per example."""
    work = Workspace()
    rows = []
    try:
        if remote is None:
            (work.dir / "remote").mkdir()
            remote = (work.dir / "remote").as_uri()
        # the caller's credentials (WHEELMEMO_REMOTE_TOKEN...), which Workspace leaves out
        work.extra_env = {name: value for name, value in os.environ.items() if name.startswith("WHEELMEMO_REMOTE_")}
        work.extra_env["WHEELMEMO_REMOTE"] = f"{remote.rstrip('/')}/bench-{time.time_ns()}"
        for name, needle in EXAMPLES.items():
            project = HERE / name
            work.clean(project)
            cold = work.uv_build_wheel(project, needle)
            remote_hits = []
            for _ in range(runs):
                shutil.rmtree(work.dir / "cache", ignore_errors=True)
                remote_hits.append(work.uv_build_wheel(project, needle))
            local_hits = [work.uv_build_wheel(project, needle) for _ in range(runs)]
            assert all(h.compiles == 0 for h in remote_hits + local_hits), "a hit compiled something"
            assert all("from the remote" in h.stderr for h in remote_hits), "a remote hit was not one"
            remote_s, local_s = seconds(remote_hits), seconds(local_hits)
            rows.append(f"| {name} | {cold.seconds:.2f} ({cold.compiles} compiles) | {cell(remote_s, '')} "
                        f"| {cell(local_s, '')} | {statistics.median(remote_s) - statistics.median(local_s):+.3f} |")
            work.clean(project)
    finally:
        work.close()
    head = [f"remote: {remote.split('://')[0]}://...", "",
            "| example | cold, uploads (s) | remote hit (s) | local hit (s) | remote - local, medians (s) |",
            "|---|---|---|---|---|"]
    return head + rows


# -- the hook alone --------------------------------------------------------------------

def hook_table(runs: int, plain_runs: int, sizes: list[int], big: bool = True) -> list[str]:
    """The hook in a venv holding wheelmemo and hatchling, as an isolated build env does."""
    rows = []
    load: list[str] = []
    points = []
    base = Path(tempfile.mkdtemp(prefix="wheelmemo-bench-"))
    try:
        subprocess.run([tool("uv"), "venv", "--quiet", str(base / "venv")], check=True)
        python = str(base / "venv" / "bin" / "python")
        subprocess.run([tool("uv"), "pip", "install", "--quiet", "--python", python, str(ROOT), "hatchling"],
                       check=True)
        env = {"WHEELMEMO_CACHE_DIR": str(base / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
        bare = [_timed([python, "-c", "pass"], base, env)[0] * 1000 for _ in range(runs)]
        projects = [(f"{size:,} files", size, 0) for size in sizes]
        if big:
            projects.append(("10,000 files of ~4 KB", 10_000, 80))
        load_size = 1000 if 1000 in sizes else sizes[0]
        for label, files, lines in projects:
            project = base / f"p{files}-{lines}"
            package = project / "src" / "gen"
            package.mkdir(parents=True)
            padding = "".join(f"X{j} = {j}  # {'x' * (40 - len(str(j)))}\n" for j in range(lines))
            for i in range(files):
                (package / f"mod_{i:05d}.py").write_text(f"VALUE = {i}\n{padding}")
            (project / "pyproject.toml").write_text(
                '[build-system]\nrequires = ["wheelmemo", "hatchling"]\nbuild-backend = "wheelmemo"\n'
                '[project]\nname = "gen"\nversion = "1.0"\n'
                '[tool.hatch.build.targets.wheel]\npackages = ["src/gen"]\n'
                '[tool.wheelmemo]\nbackend = "hatchling.build"\n')
            size = sum(path.stat().st_size for path in project.rglob("*") if path.is_file())
            # the stat cache never trusts a stat taken within 2 s of a change (racy-git rule)
            time.sleep(2.5)
            out, plain_out = base / "out", base / "plain-out"
            out.mkdir(exist_ok=True)
            cmd = [python, "-c", HOOK_TIMER, str(out)]
            _timed(cmd, project, env)  # the miss that fills the cache (and writes .pyc files)
            warm = [_timed(cmd, project, env) for _ in range(runs)]
            cold = []
            for _ in range(max(5, runs // 3)):
                shutil.rmtree(base / "cache" / "v1" / "stat", ignore_errors=True)
                cold.append(_timed(cmd, project, env))
            plain = []
            for _ in range(plain_runs):
                shutil.rmtree(plain_out, ignore_errors=True)
                plain_out.mkdir()
                plain.append(_timed([python, "-c", PLAIN_TIMER, str(plain_out)], project, env))
            if files == load_size and not lines:
                load = load_table(python, project, out, env)
            rate = [size / 1e6 / (c[2] / 1000) for c in cold]
            warm_ms = [w[1] for w in warm]
            plain_ms = [p[1] for p in plain]
            points.append({"label": label, "files": files, "big": bool(lines), "warm": warm_ms,
                           "hook": [w[2] for w in warm],
                           "cold": [c[1] for c in cold], "plain": plain_ms})
            rows.append(
                f"| {label} | {human(size)} | {cell((w[2] for w in warm), '', 1)} "
                f"| {cell(warm_ms, '', 1)} | {cell((w[0] * 1000 for w in warm), '', 1)} "
                f"| {cell((c[1] for c in cold), '', 1)} | {cell(rate, '', 0 if min(rate) >= 10 else 2)} "
                f"| {cell(plain_ms, '', 0)} | {ratio(warm_ms, plain_ms)} |")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    FIGURES["hook"] = points
    head = [("| project | bytes | hook, warm stat cache (ms) | import + hook, warm (ms) | whole process, warm (ms) "
             "| import + hook, cold stat cache (ms) | cold: MB hashed / s of hook | plain hatchling: import + "
             "`build_wheel` (ms) | warm hit/plain |"),
            "|---|---|---|---|---|---|---|---|---|"]
    return [*head, *rows, "", f"`python -c pass` in the same venv: {cell(bare, ' ms', 1)}.", "",
            f"Under load, the {load_size:,}-file project:", "",
            "| load | p50 | p99 | |", "|---|---|---|---|", *load]


def learned_table(runs: int, counts: list[int]) -> list[str]:
    """``check_learned`` over N learned files outside the tree and 20 variables, in process."""
    from wheelmemo._inputs import StatCache
    from wheelmemo._learned import check_learned, env_digest

    rows = []
    base = Path(tempfile.mkdtemp(prefix="wheelmemo-bench-learned-"))
    try:
        for count in counts:
            shared = base / f"shared{count}"
            shared.mkdir()
            for i in range(count):
                (shared / f"h{i:04d}.h").write_text(f"#define V{i} {i}\n" * 20)
            time.sleep(2.1)  # past the stat cache's racy window
            stat_path = base / f"stat{count}.m"
            cache = StatCache(stat_path)
            files = {str(p): [cache.digest(str(p), str(p)), "the C compiler"] for p in sorted(shared.iterdir())}
            cache.save()
            env = {f"VAR_{i}": [env_digest(os.environ.get(f"VAR_{i}")), "python"] for i in range(20)}
            learned = {"files": files, "env": env, "dists": {}, "read": []}
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                warm = StatCache(stat_path)  # as a hit loads it: from disk
                assert check_learned(learned, base, warm, os.environ, dict) is None
                times.append((time.perf_counter() - start) * 1000)
            rows.append(f"| {count} files, 20 variables | {statistics.median(times):.2f} ms "
                        f"| {min(times):.2f} ms | {max(times):.2f} ms |")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return ["| learned inputs | median | min | max |", "|---|---|---|---|", *rows]


LOAD_TIMER = """\
import sys, time, json, os
import wheelmemo
times = []
for _ in range(200):
    start = time.perf_counter()
    wheelmemo.build_wheel(sys.argv[1])
    times.append((time.perf_counter() - start) * 1000)
times.sort()
print(json.dumps({"p50": times[99], "p99": times[197], "fds": len(os.listdir("/proc/self/fd"))}))
"""


def load_table(python: str, project: Path, out: Path, env: dict[str, str]) -> list[str]:
    """200 hits in a row in one process, and 20 hit processes at once (p50/p99)."""
    result = subprocess.run([python, "-c", LOAD_TIMER, str(out)], cwd=project, env=env,
                            capture_output=True, text=True, check=True)
    serial = json.loads(result.stdout.splitlines()[-1])
    from concurrent.futures import ThreadPoolExecutor

    def one_process(_: int) -> float:
        began = time.perf_counter()
        subprocess.run([python, "-c", HOOK_TIMER, str(out)], cwd=project, env=env,
                       capture_output=True, check=True)
        return (time.perf_counter() - began) * 1000

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:  # 20 hook processes at once
        walls = list(pool.map(one_process, range(20)))
    walls.sort()
    total = (time.perf_counter() - started) * 1000
    return [(f"| 200 hits in a row, one process | p50 {serial['p50']:.1f} ms | p99 {serial['p99']:.1f} ms "
            f"| open descriptors after: {serial['fds']} |"),
            (f"| 20 hit processes at once | p50 {walls[9]:.0f} ms | p99 {walls[19]:.0f} ms "
            f"| all done in {total:.0f} ms |")]


def _timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds of the process; import + hook ms and hook ms as it measured them."""
    start = time.perf_counter()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    if not result.stdout.strip():
        return wall, 0.0, 0.0
    figures = json.loads(result.stdout.splitlines()[-1])
    return wall, figures["total_ms"], figures["hook_ms"]


# -- an edit in a big crate ------------------------------------------------------------

CRATE = "bigcrate"
CRATE_SHAPES = {
    "pyfunctions": "2,500 `#[pyfunction]`s",
    "fns": "2,500 plain `fn`s behind one `#[pyfunction]`",
    "pyfunctions-incremental": "2,500 `#[pyfunction]`s, `incremental = true`",
    "fns-incremental": "2,500 plain `fn`s, `incremental = true`",
}
#: what a shape's name ends with when its Cargo.toml asks for incremental release builds
INCREMENTAL = "-incremental"
#: the line of lib.rs the benchmark edits
EDIT_LINE = "const EDIT: i64 = {};"


def crate_source(shape: str, functions: int = 2500, edit: int = 0) -> str:
    """``src/lib.rs`` of the big crate: ``functions`` small functions, each exported
    (``pyfunctions``) or called through one exported dispatcher (``fns``)."""
    lines = ["//! Generated by examples/bench.py: a big crate for the edit benchmark.", "",
             "use pyo3::prelude::*;", "", EDIT_LINE.format(edit), ""]
    export = shape == "pyfunctions"
    for i in range(functions):
        lines += [*(["#[pyfunction]"] if export else []), f"fn f{i:04d}(x: i64) -> i64 {{",
                  f"    let mut acc = x.wrapping_mul({2 * i + 1});",
                  f"    for k in 0..{i % 7 + 1} {{ acc = acc.rotate_left(k) ^ {i}; }}",
                  "    acc", "}", ""]
    if export:
        lines += ["#[pyfunction]", "fn edited() -> i64 {", "    EDIT", "}", ""]
    else:
        lines += ["/// Generated function `i` of `x`, plus the edited constant.", "#[pyfunction]",
                  "fn call(i: usize, x: i64) -> PyResult<i64> {", "    let value = match i {"]
        lines += [f"        {i} => f{i:04d}(x)," for i in range(functions)]
        lines += ["        _ => return Err(pyo3::exceptions::PyIndexError::new_err(i)),", "    };",
                  "    Ok(value + EDIT)", "}", ""]
    lines += ["#[pymodule]", f"fn {CRATE}(m: &Bound<'_, PyModule>) -> PyResult<()> {{"]
    names = [*(f"f{i:04d}" for i in range(functions)), "edited"] if export else ["call"]
    lines += [f"    m.add_function(wrap_pyfunction!({name}, m)?)?;" for name in names]
    lines += ["    Ok(())", "}", ""]
    return "\n".join(lines)


def write_crate(project: Path, shape: str, wheelmemo: bool, functions: int = 2500) -> None:
    """The shape of examples/maturin-pyo3, its Cargo.lock (the same dependencies) included."""
    example = HERE / "maturin-pyo3"
    (project / "src").mkdir(parents=True)
    manifest = (example / "Cargo.toml").read_text().replace("maturin_pyo3_example", CRATE)
    manifest = manifest.replace('build = "build.rs"\n', "")
    if shape.endswith(INCREMENTAL):  # the user's choice, in the crate: wheelmemo keeps cargo's profile
        manifest += "\n[profile.release]\nincremental = true\n"
    (project / "Cargo.toml").write_text(manifest)
    lock = (example / "Cargo.lock").read_text().replace('name = "maturin_pyo3_example"', f'name = "{CRATE}"')
    (project / "Cargo.lock").write_text(lock)
    (project / "src" / "lib.rs").write_text(crate_source(shape.removesuffix(INCREMENTAL), functions))
    if wheelmemo:
        system = ('[build-system]\nrequires = ["wheelmemo", "maturin>=1.7,<2"]\nbuild-backend = "wheelmemo"\n'
                  '[tool.wheelmemo]\nbackend = "maturin"\n'
                  f'[tool.uv.sources]\nwheelmemo = {{ path = {json.dumps(str(ROOT))}, editable = true }}\n')
    else:
        system = '[build-system]\nrequires = ["maturin>=1.7,<2"]\nbuild-backend = "maturin"\n'
    (project / "pyproject.toml").write_text(
        f'{system}[project]\nname = "{CRATE}"\nrequires-python = ">=3.9"\ndynamic = ["version"]\n'
        '[tool.maturin]\nfeatures = ["pyo3/extension-module"]\n')


class Editor:
    """One-line edits of lib.rs, each to a value never built before in this run."""

    def __init__(self) -> None:
        self.value = 0

    def edit(self, project: Path) -> None:
        lib = project / "src" / "lib.rs"
        text = lib.read_text()
        old = next(line for line in text.splitlines() if line.startswith("const EDIT"))
        self.value += 1
        lib.write_text(text.replace(old, EDIT_LINE.format(self.value)))


def crate_table(runs: int, shapes: list[str], functions: int = 2500) -> list[str]:
    """Per crate shape and run: wheelmemo cold ``uv build``, an edit + ``uv build``, an
    edit + ``uv build --wheel`` from the tree without ``target/``, another one from the
    tree (the same profile, the tree's own state warm: what the ``uv build`` edit is
    measured against, the toolchain's floor); plain maturin's ``uv build`` after an edit.
    wheelmemo's own build directory, no CARGO_TARGET_DIR."""
    work = Workspace()
    work.cargo_target_dir = False
    needle, pyo3 = f"--crate-name {CRATE} ", "--crate-name pyo3 "
    every = ("--crate-name ",)
    editor = Editor()
    rows = []
    try:
        for shape in shapes:
            project, plain_project = work.dir / f"{shape}-wheelmemo", work.dir / f"{shape}-plain"
            write_crate(project, shape, wheelmemo=True, functions=functions)
            write_crate(plain_project, shape, wheelmemo=False, functions=functions)
            steps: dict[str, list[Run]] = {"cold": [], "sdist": [], "warm": [], "tree": [], "plain": []}
            for _ in range(runs):
                shutil.rmtree(work.dir / "cache", ignore_errors=True)  # its build directories too
                shutil.rmtree(project / "target", ignore_errors=True)
                editor.edit(project)
                steps["cold"].append(work.uv_build(project, needle, wheel_only=False, count=(pyo3, *every)))
                editor.edit(project)
                steps["sdist"].append(work.uv_build(project, needle, wheel_only=False, count=(pyo3, *every)))
                editor.edit(project)
                shutil.rmtree(project / "target", ignore_errors=True)
                steps["tree"].append(work.uv_build(project, needle, count=(pyo3, *every)))
                editor.edit(project)
                steps["warm"].append(work.uv_build(project, needle, count=(pyo3, *every)))
                editor.edit(plain_project)
                steps["plain"].append(work.uv_build(plain_project, needle, wheel_only=False, count=(pyo3, *every)))
            for run in steps["cold"] + steps["sdist"] + steps["tree"] + steps["warm"]:
                assert "miss" in run.stderr, f"a build after an edit was not a miss:\n{run.stderr}"
            cold = seconds(steps["cold"])
            labels = {"cold": "wheelmemo: cold `uv build`",
                      "sdist": "wheelmemo: edit, `uv build`",
                      "warm": "wheelmemo: edit, `uv build --wheel` from the tree (same profile)",
                      "tree": "wheelmemo: edit, `uv build --wheel`, tree's `target/` deleted",
                      "plain": "plain maturin: edit, `uv build`"}
            name = CRATE_SHAPES[shape].replace("2,500", f"{functions:,}")
            for step, label in labels.items():
                done = steps[step]
                rows.append(f"| {name} | {label} | {cell(seconds(done), '', 2)} "
                            f"| {ratio(seconds(done), cold)} | {counts(r.compiles for r in done)} "
                            f"| {counts(r.counts[pyo3] for r in done)} "
                            f"| {counts(r.counts[every[0]] - r.compiles - r.counts[pyo3] for r in done)} |")
                if step == "warm":  # issue 20: an edit through the sdist copy ≤ 1.1x the same from the tree
                    rows.append(f"| {name} | edit, `uv build` over edit, `uv build --wheel` "
                                f"from the tree | | {ratio(seconds(steps['sdist']), seconds(done))} | | | |")
            FIGURES.setdefault("crate", {})[shape] = {step: seconds(done) for step, done in steps.items()}
    finally:
        work.close()
    head = ["| crate | build | time (s) | /wheelmemo cold | crate compiles | pyo3 compiles | other compiles |",
            "|---|---|---|---|---|---|---|"]
    return head + rows


# -- an edit in a C++ project built by Ninja ------------------------------------------------

NINJA_BACKENDS = {
    "meson": ("meson-python", '"meson-python>=0.15", "meson>=1.1", "ninja"', "mesonpy"),
    "skbuild": ("scikit-build-core", '"scikit-build-core>=0.10"', "scikit_build_core.build"),
}
#: the line of each generated C++ file the benchmark edits
CPP_EDIT = "static const int EDIT = {};"
CPP_FILE = """// Generated by examples/bench.py: one of the files of the Ninja edit benchmark.
#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <vector>

{edit}

std::string part{i}(int x) {{
    std::map<std::string, std::vector<int>> table;
    for (int k = 0; k < {n}; ++k) table["k" + std::to_string(k)].push_back(x * k + EDIT);
    std::vector<int> all;
    for (auto &entry : table) all.insert(all.end(), entry.second.begin(), entry.second.end());
    std::sort(all.begin(), all.end());
    return std::to_string(std::accumulate(all.begin(), all.end(), {i}));
}}
"""
CPP_MODULE = """// Generated by examples/bench.py: the module of the Ninja edit benchmark.
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string>
{decls}
static PyObject *parts(PyObject *, PyObject *) {{
    std::string all;
{calls}
    return PyUnicode_FromString(all.c_str());
}}
static PyMethodDef methods[] = {{{{"parts", parts, METH_NOARGS, ""}}, {{nullptr, nullptr, 0, nullptr}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "ninjabench", nullptr, -1, methods}};
PyMODINIT_FUNC PyInit_ninjabench(void) {{ return PyModule_Create(&module); }}
"""


def write_cpp_project(project: Path, backend: str, files: int, wheelmemo: bool) -> None:
    """A C++ extension of ``files`` generated files (and its module), built by ``backend``."""
    _, requires, inner = NINJA_BACKENDS[backend]
    (project / "src").mkdir(parents=True)
    sources = [f"src/part{i}.cpp" for i in range(files)]
    for i, source in enumerate(sources):
        (project / source).write_text(CPP_FILE.format(edit=CPP_EDIT.format(0), i=i, n=40 + i % 7))
    (project / "src" / "module.cpp").write_text(CPP_MODULE.format(
        decls="\n".join(f"std::string part{i}(int x);" for i in range(files)),
        calls="\n".join(f"    all += part{i}({i});" for i in range(files))))
    listed = ["src/module.cpp", *sources]
    if backend == "meson":
        (project / "meson.build").write_text(
            "project('ninjabench', 'cpp', version: '1.0')\n"
            "py = import('python').find_installation(pure: false)\n"
            f"py.extension_module('ninjabench', {', '.join(repr(s) for s in listed)}, install: true)\n")
    else:
        (project / "CMakeLists.txt").write_text(
            "cmake_minimum_required(VERSION 3.15)\nproject(ninjabench LANGUAGES CXX)\n"
            "find_package(Python COMPONENTS Interpreter Development.Module REQUIRED)\n"
            f"python_add_library(ninjabench MODULE {' '.join(listed)} WITH_SOABI)\n"
            "install(TARGETS ninjabench DESTINATION .)\n")
    if wheelmemo:
        system = (f'[build-system]\nrequires = ["wheelmemo", {requires}]\nbuild-backend = "wheelmemo"\n'
                  f'[tool.wheelmemo]\nbackend = "{inner}"\n'
                  f'[tool.uv.sources]\nwheelmemo = {{ path = {json.dumps(str(ROOT))}, editable = true }}\n')
    else:
        system = f'[build-system]\nrequires = [{requires}]\nbuild-backend = "{inner}"\n'
    (project / "pyproject.toml").write_text(f'{system}[project]\nname = "ninjabench"\nversion = "1.0"\n')
    # meson-python's sdist is `meson dist` of the last commit: every edit is committed
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    commit(project)


def commit(project: Path) -> None:
    """Commit everything in ``project`` (the state meson-python's sdist packs)."""
    git = ["git", "-C", str(project), "-c", "user.name=bench", "-c", "user.email=bench@wheelmemo.invalid"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "state"], check=True)


class CppEditor:
    """One-line edits of one generated file, each to a value never built before in this run."""

    def __init__(self) -> None:
        self.value = 0

    def edit(self, project: Path) -> None:
        path = project / "src" / "part0.cpp"
        text = path.read_text()
        old = next(line for line in text.splitlines() if line.startswith("static const int EDIT"))
        self.value += 1
        path.write_text(text.replace(old, CPP_EDIT.format(self.value)))
        commit(project)


def ninja_table(runs: int, files: int, backends: list[str]) -> list[str]:
    """Per backend and run: a generated C++ project of ``files`` files, plain and through
    wheelmemo: cold ``uv build --wheel``, a one-file edit + ``uv build --wheel``, a
    one-file edit + ``uv build`` (the wheel from uv's temporary copy of the sdist).  The
    plain backend builds in a fresh temporary directory every time, so its edits cost a
    cold build.  C++ compiles are counted by the CXX shim."""
    work = Workspace()
    work.extra_env = {"CXX": str(SHIMS / "cxx_wrapper")}
    needle = "src/"  # the project's files, not the compiler probes of a configure
    editor = CppEditor()
    rows = []
    labels = {"plain-cold": ("plain", "cold `uv build --wheel`"),
              "cold": ("wheelmemo", "cold `uv build --wheel`"),
              "plain-tree": ("plain", "edit, `uv build --wheel`"),
              "tree": ("wheelmemo", "edit, `uv build --wheel`"),
              "plain-sdist": ("plain", "edit, `uv build`"),
              "sdist-first": ("wheelmemo", "edit, first `uv build`"),
              "sdist": ("wheelmemo", "edit, `uv build` after a `uv build`")}
    try:
        for backend in backends:
            project, plain_project = work.dir / f"{backend}-wheelmemo", work.dir / f"{backend}-plain"
            write_cpp_project(project, backend, files, wheelmemo=True)
            write_cpp_project(plain_project, backend, files, wheelmemo=False)
            steps: dict[str, list[Run]] = {step: [] for step in labels}
            for _ in range(runs):
                shutil.rmtree(work.dir / "cache", ignore_errors=True)  # its build directories too
                editor.edit(plain_project)
                steps["plain-cold"].append(work.uv_build(plain_project, needle, cache=False))
                editor.edit(project)
                steps["cold"].append(work.uv_build(project, needle))
                editor.edit(plain_project)
                steps["plain-tree"].append(work.uv_build(plain_project, needle, cache=False))
                editor.edit(project)
                steps["tree"].append(work.uv_build(project, needle))
                editor.edit(plain_project)
                steps["plain-sdist"].append(work.uv_build(plain_project, needle, cache=False, wheel_only=False))
                # the first build from an sdist copy makes the stable copy's build
                # directory (a build directory belongs to one source directory): cold
                editor.edit(project)
                steps["sdist-first"].append(work.uv_build(project, needle, wheel_only=False))
                editor.edit(project)
                steps["sdist"].append(work.uv_build(project, needle, wheel_only=False))
            for run in steps["cold"] + steps["tree"] + steps["sdist-first"] + steps["sdist"]:
                assert "build_wheel miss" in run.stderr, f"a build after an edit was not a miss:\n{run.stderr}"
            for step, (who, label) in labels.items():
                done = steps[step]
                cold = seconds(steps["plain-cold" if who == "plain" else "cold"])
                rows.append(f"| {NINJA_BACKENDS[backend][0]} | {who}: {label} | {cell(seconds(done), '', 2)} "
                            f"| {ratio(seconds(done), cold)} | {counts(r.compiles for r in done)} |")
            FIGURES.setdefault("ninja", {})[backend] = {step: seconds(done) for step, done in steps.items()}
    finally:
        work.close()
    head = [f"| backend ({files + 1} C++ files) | build | time (s) | /its cold build | C++ compiles |",
            "|---|---|---|---|---|"]
    return head + rows


# -- a compiler cache: sccache on wheelmemo's storage (issue 21) ----------------------

#: how each figure of the sccache part is built, and its label
CC_WAYS = {"plain": "plain backend", "wheelmemo": "wheelmemo", "sccache": "wheelmemo + sccache"}
#: sccache's counts in wheelmemo's stats events (``<cache>/v1/stats.jsonl``, tier "sccache")
SCCACHE_COUNTS = ("hits", "remote_hits", "misses", "not_cacheable")
#: a file of a crate in one of sccache's objects (a zip of a compile's outputs)
CRATE_OUTPUT = re.compile(r"lib(\w+)-[0-9a-f]+\.(?:rlib|rmeta)$")
#: the line of examples/maturin-pyo3's lib.rs the part edits
PYO3_EDIT = re.compile(r'"hello from Rust v\d+"')
#: a project's ``[tool.uv.sources]`` line for wheelmemo, relative to examples/
UV_SOURCE = 'wheelmemo = { path = "../..", editable = true }'
NGINX_DAV = """\
daemon off;
master_process off;
worker_processes 1;
pid {state}/nginx.pid;
error_log {state}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {state}/client_body_temp;
    proxy_temp_path {state}/proxy_temp;
    fastcgi_temp_path {state}/fastcgi_temp;
    uwsgi_temp_path {state}/uwsgi_temp;
    scgi_temp_path {state}/scgi_temp;
    client_max_body_size 0;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location / {{
            auth_basic "wheelmemo bench";
            auth_basic_user_file {state}/htpasswd;
            dav_methods PUT DELETE MKCOL;
            create_full_put_path on;
        }}
    }}
}}
"""
C_FILE = """/* Generated by examples/bench.py: one of the files of the compiler-cache benchmark. */
#include <stdint.h>
#include <string.h>

{edit}

{functions}
uint64_t part{i}(uint64_t x) {{
    uint64_t acc = x + (uint64_t)EDIT;
{calls}
    return acc;
}}
"""
#: one of a C file's functions: enough for the optimizer to spend ~10 ms on
C_FUNCTION = """static uint64_t f{i}_{k}(uint64_t x) {{
    uint64_t table[64];
    for (int j = 0; j < 64; ++j) table[j] = x * {m}u + (uint64_t)j * {k}u;
    for (int round = 0; round < {rounds}; ++round) {{
        for (int j = 1; j < 64; ++j) table[j] ^= (table[j - 1] << (j % 13)) | (table[j - 1] >> (64 - j % 13 - 1));
        switch ((int)(table[round % 64] % 8)) {{
        case 0: x += table[3] * {m}u; break;
        case 1: x ^= table[7] >> 3; break;
        case 2: x = (x << 7) | (x >> 57); break;
        case 3: x -= table[11]; break;
        case 4: x *= 0x9E3779B97F4A7C15u; break;
        case 5: x += (uint64_t)memchr(table, {k}, sizeof table) & 0xff; break;
        case 6: x ^= x >> 31; break;
        default: x += {i}u;
        }}
    }}
    return x;
}}
"""
C_MODULE = """/* Generated by examples/bench.py: the module of the compiler-cache benchmark. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
{decls}
static PyObject *parts(PyObject *self, PyObject *args) {{
    uint64_t all = 0;
{calls}
    return PyLong_FromUnsignedLongLong(all);
}}
static PyMethodDef methods[] = {{{{"parts", parts, METH_NOARGS, ""}}, {{NULL, NULL, 0, NULL}}}};
static struct PyModuleDef module = {{PyModuleDef_HEAD_INIT, "cbench", NULL, -1, methods}};
PyMODINIT_FUNC PyInit_cbench(void) {{ return PyModule_Create(&module); }}
"""
#: the line of each generated C file the part edits
C_EDIT = "static const int EDIT = {};"


def write_c_project(project: Path, files: int, wheelmemo: bool, edit: int = 0) -> None:
    """A setuptools extension of ``files`` generated C files (32 functions each) and its module."""
    (project / "csrc").mkdir(parents=True)
    for i in range(files):
        functions = "\n".join(C_FUNCTION.format(i=i, k=k, m=2 * k + 1 + i, rounds=4 + k % 5) for k in range(32))
        calls = "\n".join(f"    acc = f{i}_{k}(acc);" for k in range(32))
        (project / "csrc" / f"part{i}.c").write_text(
            C_FILE.format(edit=C_EDIT.format(edit), functions=functions, i=i, calls=calls))
    (project / "csrc" / "module.c").write_text(C_MODULE.format(
        decls="\n".join(f"uint64_t part{i}(uint64_t x);" for i in range(files)),
        calls="\n".join(f"    all += part{i}({i});" for i in range(files))))
    sources = ", ".join(json.dumps(f"csrc/part{i}.c") for i in range(files))
    (project / "setup.py").write_text(
        "from setuptools import Extension, setup\n\n"
        f'setup(ext_modules=[Extension("cbench", sources=["csrc/module.c", {sources}])])\n')
    if wheelmemo:
        system = ('[build-system]\nrequires = ["wheelmemo", "setuptools>=64"]\nbuild-backend = "wheelmemo"\n'
                  '[tool.wheelmemo]\nbackend = "setuptools.build_meta"\n'
                  f'[tool.uv.sources]\nwheelmemo = {{ path = {json.dumps(str(ROOT))}, editable = true }}\n')
    else:
        system = '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n'
    (project / "pyproject.toml").write_text(f'{system}[project]\nname = "cbench"\nversion = "1.0"\n')


def edit_c(project: Path, value: int) -> None:
    """A one-line edit of ``part0.c``."""
    path = project / "csrc" / "part0.c"
    text = path.read_text()
    old = next(line for line in text.splitlines() if line.startswith("static const int EDIT"))
    path.write_text(text.replace(old, C_EDIT.format(value)))


def copy_pyo3(project: Path, value: int, wheelmemo: bool) -> None:
    """examples/maturin-pyo3 at ``project`` (its build outputs left out), wheelmemo taken
    from this checkout by its absolute path, the greeting at ``value`` (a commit)."""
    shutil.copytree(HERE / "maturin-pyo3", project, ignore=shutil.ignore_patterns("target", "build", "*.egg-info"))
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text()
    assert UV_SOURCE in text, "examples/maturin-pyo3/pyproject.toml takes wheelmemo from elsewhere"
    text = text.replace(UV_SOURCE, f"wheelmemo = {{ path = {json.dumps(str(ROOT))}, editable = true }}")
    if not wheelmemo:  # the plain backend, as the user's project without wheelmemo
        text = text.replace('requires = ["wheelmemo", ', "requires = [").replace(
            'build-backend = "wheelmemo"', 'build-backend = "maturin"')
    pyproject.write_text(text)
    edit_pyo3(project, value)


def edit_pyo3(project: Path, value: int) -> None:
    """The one-line `.rs` edit between two commits: the greeting's version."""
    lib = project / "src" / "lib.rs"
    text, done = PYO3_EDIT.subn(f'"hello from Rust v{value}"', lib.read_text())
    assert done == 1, "examples/maturin-pyo3/src/lib.rs has no greeting to edit"
    lib.write_text(text)


def remote_objects(root: Path | None) -> dict[str, str]:
    """sccache's objects on a remote's directory (under ``sccache/``): each path and the
    crate whose outputs it holds ("" for a C object)."""
    import zipfile

    found: dict[str, str] = {}
    if root is None or not root.is_dir():
        return found
    for path in root.rglob("*"):
        if "sccache" not in path.relative_to(root).parts or not path.is_file():
            continue
        crate = ""
        try:
            with zipfile.ZipFile(path) as archive:
                crate = next((m[1] for m in map(CRATE_OUTPUT.search, archive.namelist()) if m), "")
        except (OSError, zipfile.BadZipFile):
            pass
        found[str(path)] = crate
    return found


@dataclass
class CcRun:
    """A build on a runner: the frontend's run, sccache's counts in wheelmemo's stats
    events, and sccache's objects on the remote (which crates they hold)."""

    run: Run
    sccache: dict[str, int]
    #: whether the shims counted its compiles (``run.compiles``)
    counted: bool
    #: the remote's sccache objects (path: the crate in it, or "") before the build,
    #: and those the build uploaded (what sccache compiled and could cache); sccache's
    #: server gets none of the ``SCCACHE_*`` variables of the build (wheelmemo starts
    #: it with its own), so its log cannot say which crate hit
    before: dict[str, str]
    uploaded: dict[str, str]


class Runner:
    """A CI runner: its own wheelmemo cache (with the build directories in it) in its
    ``home`` (a new temporary directory if None; runners that are given the same one in
    turn are fresh runners of one CI system, whose home path is the same), and its own
    copy of a project at ``where`` in it. uv's cache and ``CARGO_HOME`` are the machine's,
    shared, as a CI cache of the registry would be. ``way``: plain backend
    (``WHEELMEMO_DISABLE=1``), ``wheelmemo``, or ``sccache`` (wheelmemo with
    ``WHEELMEMO_COMPILER_CACHE=sccache``, and no compile-counting shims, whose
    ``RUSTC_WRAPPER``/``CC`` would win over sccache)."""

    def __init__(self, way: str, where: str, *, home: Path | None = None, remote: str | None = None,
                 remote_dir: Path | None = None, credentials: dict[str, str] | None = None,
                 python: str | None = None) -> None:
        self.way = way
        self.work = Workspace(home)
        self.work.cargo_target_dir = False
        self.work.shims = way != "sccache"
        self.project = self.work.dir / where
        #: the remote's directory on this machine (a file:// one, or nginx's)
        self.remote_dir = remote_dir
        env = self.work.extra_env
        if remote:
            env.update(WHEELMEMO_REMOTE=remote, **(credentials or {}))
        if python:
            env["UV_PYTHON"] = python
        self.compiler_cache(way == "sccache")

    def compiler_cache(self, on: bool) -> None:
        env = self.work.extra_env
        if on:
            env["WHEELMEMO_COMPILER_CACHE"] = "sccache"
        else:
            env.pop("WHEELMEMO_COMPILER_CACHE", None)

    def events(self) -> list[dict[str, Any]]:
        """wheelmemo's sccache events so far."""
        path = self.work.dir / "cache" / "v1" / "stats.jsonl"
        found = []
        for line in path.read_text().splitlines() if path.exists() else ():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("tier") == "sccache":
                found.append(event)
        return found

    def build(self, needle: str = "\0") -> CcRun:
        before = len(self.events())
        objects = remote_objects(self.remote_dir)
        run = self.work.uv_build_wheel(self.project, needle, cache=self.way != "plain")
        new = self.events()[before:]
        figures = {name: sum(int(e.get(name, 0)) for e in new) for name in (*SCCACHE_COUNTS, "uploads")}
        figures["events"] = len(new)
        uploaded = {path: crate for path, crate in remote_objects(self.remote_dir).items() if path not in objects}
        return CcRun(run, figures, self.work.shims, objects, uploaded)

    def close(self) -> None:
        self.work.close()


class NginxDAV:
    """nginx serving WebDAV on 127.0.0.1 in the foreground (as tests/servers.py starts it),
    with basic authentication (a remote without credentials is read-only to wheelmemo)."""

    username = "bench"
    password = "bench-password"

    def __init__(self, base: Path) -> None:
        self.binary = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
        self.state, self.root = base / "nginx", base / "www"
        self.process: subprocess.Popen[bytes] | None = None
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])

    def start(self) -> bool:
        """False when nginx is not installed."""
        if self.binary is None:
            return False
        (self.root / "cache").mkdir(parents=True)
        self.state.mkdir(parents=True)
        conf = self.state / "nginx.conf"
        conf.write_text(NGINX_DAV.format(state=self.state, root=self.root, port=self.port))
        (self.state / "htpasswd").write_text(f"{self.username}:{{PLAIN}}{self.password}\n")
        self.process = subprocess.Popen([self.binary, "-p", str(self.state), "-c", str(conf), "-e",
                                         str(self.state / "error.log")], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        limit = time.monotonic() + 10
        while time.monotonic() < limit and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                time.sleep(0.05)
        self.stop()
        sys.exit(f"nginx did not start:\n{(self.state / 'error.log').read_text(errors='replace')}")

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/cache"

    def credentials(self) -> dict[str, str]:
        return {"WHEELMEMO_REMOTE_USERNAME": self.username, "WHEELMEMO_REMOTE_PASSWORD": self.password}

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def sccache_servers(dirs: list[Path]) -> int:
    """sccache processes still running whose environment names one of ``dirs`` (ours)."""
    found = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() != "sccache":
                continue
            environ = (proc / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        found += any(str(d) in environ for d in dirs)
    return found


def other_python() -> str:
    """The matrix's second Python: 3.12 (pyenv's when there is one), 3.11 under 3.12."""
    version = "3.11" if sys.version_info[:2] == (3, 12) else "3.12"
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    return str(found[-1]) if found else version


def _sccache_cell(runs: list[CcRun]) -> str:
    """``hits / from the remote / misses / not cacheable`` of sccache's stats events ("-" without any)."""
    if not any(r.sccache["events"] for r in runs):
        return "-"
    return " / ".join(counts(r.sccache[name] for r in runs) for name in SCCACHE_COUNTS)


def _rustc_cell(runs: list[CcRun]) -> str:
    """rustc or cc runs counted by the shims (a sccache runner has none: "-")."""
    return counts(r.run.compiles for r in runs) if runs and all(r.counted for r in runs) else "-"


@dataclass
class SccacheFigures:
    """What the sccache part measured, per way (``CC_WAYS``)."""

    #: the matrix's other Python, the C files of the extension, the runners' home
    python: str
    c_files: int
    home: Path
    #: (remote, row): runner A's cold build and the fresh runner's build of the edit, per run
    fresh: dict[tuple[str, str], list[tuple[CcRun, CcRun]]] = field(default_factory=dict)
    #: way: runner A's cold build and runner C's of the edit for the other Python, per run
    matrix: dict[str, list[tuple[CcRun, CcRun]]] = field(default_factory=dict)
    #: way: the C extension's cold build and its one-file edit, per run
    c: dict[str, list[tuple[CcRun, CcRun]]] = field(default_factory=dict)
    #: project: hit times with the compiler cache off (False) and on (True)
    hits: dict[str, dict[bool, list[float]]] = field(default_factory=dict)
    #: sccache events written by the measured hits, servers of ours left running
    hit_events: int = 0
    left: int = 0
    runners: list[Runner] = field(default_factory=list)
    commit: int = 0

    def runner(self, way: str, where: str, *, moved: bool = False, **kwargs: Any) -> Runner:
        """A fresh runner in the runners' home (the last one is closed first), or at
        another path (``moved``)."""
        if not moved:
            for r in self.runners:
                r.close()
        made = Runner(way, where, home=None if moved else self.home, **kwargs)
        self.runners.append(made)
        return made

    def commits(self) -> tuple[int, int]:
        """Two commits never built before in this run: the parent and the edit."""
        self.commit += 2
        return self.commit - 1, self.commit


def sccache_table(runs: int, c_files: int) -> list[str]:
    """Issue 21's figures, per run: examples/maturin-pyo3 on a fresh runner (runner A
    builds commit 1 cold with a remote; runner B, an empty local cache at the same home
    path and the project at another path, builds commit 2, a one-line `.rs` edit, sharing
    it), for a ``file://`` remote and a WebDAV one (nginx); the same cell for the other
    Python on a fresh runner C; a runner whose home is at another path; a setuptools
    extension of ``c_files`` C files, cold then a one-file edit, on one runner; hits with
    the compiler cache on and off. Each with the plain backend and wheelmemo without
    sccache beside."""
    shared = Path(tempfile.mkdtemp(prefix="wheelmemo-bench-sccache-"))
    dav = NginxDAV(shared / "webdav")
    remotes: dict[str, tuple[str, Path, dict[str, str]]] = {
        "file://": ((shared / "remote").as_uri(), shared / "remote", {}),
    }
    if dav.start():
        remotes["WebDAV (nginx)"] = (dav.url(), dav.root / "cache", dav.credentials())
    figures = SccacheFigures(other_python(), c_files, shared / "home")
    try:
        for _ in range(runs):
            for way in CC_WAYS:
                for remote_name, base in remotes.items():
                    if way == "plain" and remote_name != "file://":
                        continue  # no remote: one plain pair per run
                    _fresh_runner(figures, way, remote_name, None if way == "plain" else base, runs)
            for way in CC_WAYS:
                _c_edit(figures, way, runs)
        figures.left = sccache_servers([r.work.dir for r in figures.runners])
    finally:
        for r in figures.runners:
            r.close()
        dav.stop()
        shutil.rmtree(shared, ignore_errors=True)
    return _sccache_report(figures)


def _fresh_runner(figures: SccacheFigures, way: str, remote_name: str,
                  base: tuple[str, Path, dict[str, str]] | None, runs: int) -> None:
    """Runner A builds commit 1 cold, runner B (the project at another path, an empty
    local cache) its edit, sharing a new prefix of the remote; hits on runner B; with
    the ``file://`` remote, runner C the edit for the other Python and, with sccache, a
    runner whose home is at another path the next edit."""
    needle = "--crate-name "  # every rustc run the shim sees
    prefix = f"bench-{time.time_ns()}"
    remote = None if base is None else f"{base[0]}/{prefix}"
    directory = None if base is None else base[1] / prefix
    credentials = None if base is None else base[2]
    wheelmemo = way != "plain"
    parent, edited = figures.commits()
    a = figures.runner(way, "a/maturin-pyo3", remote=remote, remote_dir=directory, credentials=credentials)
    copy_pyo3(a.project, parent, wheelmemo)
    cold = a.build(needle)
    b = figures.runner(way, "b/checkout/maturin-pyo3", remote=remote, remote_dir=directory, credentials=credentials)
    copy_pyo3(b.project, edited, wheelmemo)
    edit = b.build(needle)
    if wheelmemo:
        assert "miss" in cold.run.stderr and "miss" in edit.run.stderr, "a new commit was not a miss"
    if way == "sccache":
        assert cold.sccache["uploads"], f"runner A uploaded no sccache object to {remote}:\n{cold.run.stderr}"
    figures.fresh.setdefault((remote_name, CC_WAYS[way]), []).append((cold, edit))
    if remote_name != "file://":
        return
    if way == "sccache":
        _hits(figures, b, "maturin-pyo3", runs)
    c = figures.runner(way, "c/maturin-pyo3", remote=remote, remote_dir=directory, credentials=credentials, python=figures.python)
    copy_pyo3(c.project, edited, wheelmemo)
    figures.matrix.setdefault(way, []).append((cold, c.build(needle)))
    if way == "sccache":
        moved = figures.runner(way, "d/maturin-pyo3", moved=True, remote=remote, remote_dir=directory, credentials=credentials)
        copy_pyo3(moved.project, figures.commits()[1], wheelmemo)
        row = (remote_name, f"{CC_WAYS[way]}, the fresh runner's home at another path")
        figures.fresh.setdefault(row, []).append((cold, moved.build(needle)))
        moved.close()


def _c_edit(figures: SccacheFigures, way: str, runs: int) -> None:
    """The C extension on one runner, a local cache: cold, then a one-file edit."""
    parent, edited = figures.commits()
    r = figures.runner(way, "cbench")
    write_c_project(r.project, figures.c_files - 1, wheelmemo=way != "plain", edit=parent)
    cold = r.build("csrc/")
    edit_c(r.project, edited)
    figures.c.setdefault(way, []).append((cold, r.build("csrc/")))
    if way == "sccache":
        _hits(figures, r, "the C extension", runs)


def _hits(figures: SccacheFigures, r: Runner, label: str, runs: int) -> None:
    """Hits of ``r``'s last build with the compiler cache off and on, in turns (one of each
    first, unmeasured: a key that changed with the setting fills the cache), and the
    sccache events the measured hits wrote (none: sccache is not started on a hit)."""
    times = figures.hits.setdefault(label, {False: [], True: []})
    for on in (False, True):
        r.compiler_cache(on)
        r.build()
    for turn in range(max(5, runs)):
        for on in (False, True) if turn % 2 else (True, False):
            r.compiler_cache(on)
            done = r.build()
            assert "hit" in done.run.stderr and done.run.compiles == 0, f"not a hit:\n{done.run.stderr}"
            figures.hit_events += done.sccache["events"]
            times[on].append(done.run.seconds)
    r.compiler_cache(r.way == "sccache")


def _sccache_report(figures: SccacheFigures) -> list[str]:
    """The part's tables (markdown) and what sccache's log said of each crate."""
    python = figures.python
    version = python if "/" not in python else Path(python).parent.parent.name
    rows = []
    matrix = {(remote, f"{label}, Python {version} (runner C)"): pairs
              for remote, label, pairs in (("file://", CC_WAYS[w], p) for w, p in figures.matrix.items())}
    plain_cold = [p[0].run.seconds for p in figures.fresh.get(("file://", CC_WAYS["plain"]), [])]
    for (remote, label), pairs in {**figures.fresh, **matrix}.items():
        cold, edit = [p[0] for p in pairs], [p[1] for p in pairs]
        cold_s, edit_s = [r.run.seconds for r in cold], [r.run.seconds for r in edit]
        rows.append(f"| {'none' if label.startswith(CC_WAYS['plain']) else remote} | {label} "
                    f"| {cell(cold_s, '', 2)} | {cell(edit_s, '', 2)} | **{ratio(edit_s, cold_s)}** "
                    f"| {ratio(edit_s, plain_cold) if plain_cold else '-'} "
                    f"| {_rustc_cell(cold)} / {_rustc_cell(edit)} | {_sccache_cell(cold)} | {_sccache_cell(edit)} |")
    out = [
        (f"examples/maturin-pyo3, Python {sys.version_info[0]}.{sys.version_info[1]}; runner A builds commit 1 "
         "cold; runner B, an empty local cache in the same home path, the project at another path, commit 2 "
         f"(a one-line `.rs` edit); runner C the same commit for Python {version}; all sharing the remote:"),
        "",
        ("| remote | build | runner A: cold, commit 1 (s) | fresh runner: commit 2 (s) | fresh / A's cold "
         "| fresh / plain A's cold | rustc runs (shim) A / fresh | sccache A: hits / from the remote / misses / not cacheable "
         "| sccache fresh: hits / from the remote / misses / not cacheable |"),
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    for (remote, label), pairs in {**figures.fresh, **matrix}.items():
        if label.startswith(CC_WAYS["sccache"]):
            fresh = [p[1] for p in pairs]
            uploaded = {crate for r in fresh for crate in r.uploaded.values()}
            there = {crate for r in fresh for crate in r.before.values()} - uploaded
            out.append(f"- {remote} {label}: crates compiled and uploaded "
                       f"{', '.join(sorted(c for c in uploaded if c)) or 'none'}; from the remote "
                       f"{', '.join(sorted(c for c in there if c)) or 'none'}.")
    out += [
        "",
        (f"A setuptools extension of {figures.c_files} generated C files (32 functions each), one runner, a "
         "local cache: cold `uv build --wheel`, a one-line edit of one file and `uv build --wheel`:"),
        "",
        ("| build | cold (s) | one-file edit (s) | edit / cold | C compiles (shim): cold / edit "
         "| sccache in the edit: hits / from the remote / misses / not cacheable |"),
        "|---|---|---|---|---|---|",
    ]
    for way, pairs in figures.c.items():
        cold, edit = [p[0] for p in pairs], [p[1] for p in pairs]
        cold_s, edit_s = [r.run.seconds for r in cold], [r.run.seconds for r in edit]
        out.append(f"| {CC_WAYS[way]} | {cell(cold_s, '', 2)} | {cell(edit_s, '', 2)} | **{ratio(edit_s, cold_s)}** "
                   f"| {_rustc_cell(cold)} / {_rustc_cell(edit)} | {_sccache_cell(edit)} |")
    out += [
        "",
        ("A hit (`uv build --wheel`, the same runner and cache, `WHEELMEMO_COMPILER_CACHE` unset and "
         "`sccache`, in turns):"),
        "",
        "| project | hit, compiler cache off (s) | hit, `sccache` (s) | on / off |",
        "|---|---|---|---|",
    ]
    for label, times in figures.hits.items():
        out.append(f"| {label} | {cell(times[False], '')} | {cell(times[True], '')} "
                   f"| {ratio(times[True], times[False])} |")
    out += ["", (f"sccache stats events written by these hits: {figures.hit_events}; sccache servers of these "
                 f"runners still running at the end: {figures.left}.")]
    FIGURES["sccache"] = {
        "fresh": {f"{k[0]} {k[1]}": [[p[0].run.seconds, p[1].run.seconds] for p in v] for k, v in figures.fresh.items()},
        "matrix": {k: [p[1].run.seconds for p in v] for k, v in figures.matrix.items()},
        "c": {k: [[p[0].run.seconds, p[1].run.seconds] for p in v] for k, v in figures.c.items()},
    }
    return out


# -- plots -----------------------------------------------------------------------------

def _spread_bars(values: list[float]) -> tuple[float, list[float]]:
    """Median, and its distances to the minimum and the maximum (matplotlib's yerr)."""
    low, mid, high = spread(values)
    return mid, [mid - low, high - mid]


def plot(directory: Path) -> list[Path]:
    """The PNGs of what was measured (matplotlib, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    if FIGURES.get("hook"):
        written.append(_plot_hook(directory / "bench-hit-vs-files.png"))
    if FIGURES.get("frontends") or FIGURES.get("big"):
        written.append(_plot_frontends(directory / "bench-frontends.png"))
    return written


def _plain_ticks(ax: Any) -> None:
    """Log-scale y ticks as plain numbers (0.5, 1, 20), not powers of ten."""
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda value, _: f"{value:g}")
    ax.yaxis.set_major_formatter(plain)
    ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if f"{value:.0e}"[0] in "25" else ""))


def _plot_hook(path: Path) -> Path:
    import matplotlib.pyplot as plt

    hook = FIGURES["hook"]
    fig, ax = plt.subplots(figsize=(11, 5), dpi=110)
    series = [("hook", "wheelmemo hit, warm stat cache: the hook alone, no import", "tab:blue", "."),
              ("warm", "wheelmemo hit, warm stat cache", "tab:green", "o"),
              ("cold", "wheelmemo hit, cold stat cache", "tab:orange", "s"),
              ("plain", "plain hatchling build_wheel", "tab:red", "^")]
    for key, label, color, marker in series:
        for big in (False, True):
            points = [p for p in hook if p["big"] == big]
            if not points:
                continue
            mids, errs = zip(*(_spread_bars(p[key]) for p in points))
            ax.errorbar([p["files"] for p in points], mids, yerr=list(zip(*errs)), color=color, marker=marker,
                        capsize=4, linestyle="none" if big else "-", markerfacecolor="white" if big else color,
                        markersize=9 if big else 6, label="_nolegend_" if big else label)
    ax.plot([1000, 20000], [30, 150], linestyle="none", marker="_", markersize=22, markeredgewidth=2,
            color="black", label="goals for the hook alone, warm (issue 10)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_ticks(ax)
    ax.set_xlabel("files in the project (generated pure-Python package)")
    ax.set_ylabel("build_wheel in a fresh process (ms)")
    ax.set_title("build_wheel answered from the cache vs. the plain backend\n"
                 "(median, bars min-max; hollow markers: 10,000 files of ~4 KB, the others ~14 bytes)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)
    return path


def _plot_frontends(path: Path) -> Path:
    import matplotlib.pyplot as plt

    frontends = FIGURES.get("frontends") or {}
    groups: list[tuple[str, dict[str, list[float]]]] = [
        (name, {**figures, "floor": frontends["floor"]}) for name, figures in frontends.items() if name != "floor"]
    if FIGURES.get("big"):
        groups.append(("big pure project\n(10,000 files, 40 MB)", FIGURES["big"]))
    kinds = [("plain", "plain backend, cold", "tab:red"), ("cold", "wheelmemo, cold", "tab:orange"),
             ("hit", "wheelmemo, hit", "tab:green"), ("floor", "floor: trivial hatchling project", "tab:gray")]
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    width = 0.2
    for k, (key, label, color) in enumerate(kinds):
        xs = [g + (k - 1.5) * width for g in range(len(groups))]
        mids, errs = zip(*(_spread_bars(figures[key]) for _, figures in groups))
        ax.bar(xs, mids, width, yerr=list(zip(*errs)), capsize=3, color=color, label=label)
        for x, mid, err in zip(xs, mids, errs):
            ax.annotate(f"{mid:.2f}", (x, mid + err[1]), textcoords="offset points", xytext=(0, 2),
                        ha="center", fontsize=7)
    ax.set_xticks(range(len(groups)), [name for name, _ in groups])
    ax.set_yscale("log")
    ax.set_ylim(bottom=0.1)
    _plain_ticks(ax)
    ax.set_ylabel("uv build --wheel, wall time (s)")
    ax.set_title("uv build --wheel: cold, hit and the frontend's floor (median, bars min-max)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# -- main ------------------------------------------------------------------------------

def versions() -> str:
    """The machine and the tools, for the record."""
    def last_line(*cmd: str) -> str:
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
        except OSError:
            return "?"
        return (result.stdout.strip() or result.stderr.strip() or "?").splitlines()[-1]

    uv = tool("uv")
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else "?"
    return "\n".join([
        f"machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}",
        f"python {sys.version.split()[0]}, {last_line(uv, '--version')}, {last_line('cargo', '--version')}",
        f"wheelmemo at {last_line('git', '-C', str(ROOT), 'describe', '--always', '--dirty')}",
        ("build backends (as uv resolves them): "
         f"{last_line(uv, 'tool', 'run', '--from', 'maturin>=1.7,<2', 'maturin', '--version')}, "
         f"hatchling {last_line(*_RUN, 'hatchling', 'python', '-c', _VERSION % 'hatchling')}, "
         f"setuptools {last_line(*_RUN, 'setuptools', 'python', '-c', _VERSION % 'setuptools')}"),
    ])


_RUN = (tool("uv"), "run", "--no-project", "--isolated", "--with")
_VERSION = "import importlib.metadata as m; print(m.version('%s'))"
PARTS = ("frontend", "big", "cold", "remote", "learned", "hook", "crate", "ninja", "sccache")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000, 20000],
                        help="files in the generated projects of the hook benchmark")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure")
    parser.add_argument("--skip-frontend", action="store_true", help="only the hook and learned benchmarks")
    parser.add_argument("--crates", nargs="+", choices=sorted(CRATE_SHAPES), default=list(CRATE_SHAPES),
                        help="crate shapes of the edit benchmark")
    parser.add_argument("--crate-functions", type=int, default=2500,
                        help="functions in the big crate of the edit benchmark (default 2500)")
    parser.add_argument("--cpp-files", type=int, default=30, help="C++ files of the Ninja edit benchmark (default 30)")
    parser.add_argument("--ninja-backends", nargs="+", choices=sorted(NINJA_BACKENDS), default=list(NINJA_BACKENDS),
                        help="backends of the Ninja edit benchmark")
    parser.add_argument("--c-files", type=int, default=50,
                        help="C files of the compiler-cache part's setuptools extension (default 50)")
    parser.add_argument("--cold-files", type=int, default=10_000, help="files of the cold-miss project")
    parser.add_argument("--remote", help="a remote cache URL to measure (default: a file:// directory)")
    parser.add_argument("--plots", type=Path, help="write the PNG plots into this directory")
    args = parser.parse_args()
    parts = [p for p in args.parts if not (args.skip_frontend and p in ("frontend", "big", "cold", "remote", "crate", "ninja", "sccache"))]
    began = time.perf_counter()
    print(versions())
    print(f"{args.runs} runs per figure: median (min-max)\n", flush=True)
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        ("frontend", lambda: frontend_table(args.runs)),
        ("big", lambda: big_pure_table(args.runs)),
        ("cold", lambda: cold_table(args.runs, args.cold_files)),
        ("remote", lambda: remote_table(args.runs, args.remote)),
        ("learned", lambda: learned_table(args.runs * 4, [20, 200, 1000])),
        ("hook", lambda: hook_table(args.runs * 4, args.runs, args.sizes)),
        ("crate", lambda: crate_table(args.runs, args.crates, args.crate_functions)),
        ("ninja", lambda: ninja_table(args.runs, args.cpp_files - 1, args.ninja_backends)),
        ("sccache", lambda: sccache_table(args.runs, args.c_files)),
    ]
    titles = {
        "frontend": "uv build --wheel of each example:",
        "big": "A big pure project under uv build --wheel:",
        "cold": "The cold miss of the big pure project against one pass of reading and hashing it:",
        "remote": "uv build --wheel of each example with a remote cache:",
        "learned": "Checking the learned inputs of a hit (stat cache loaded from disk, warm):",
        "hook": "build_wheel answered from the cache in a fresh process (hatchling inner backend), "
                "beside hatchling's own build_wheel:",
        "crate": "An edit in a big crate (maturin + pyo3; wheelmemo's own build directory, "
                 "no CARGO_TARGET_DIR):",
        "ninja": "A one-file edit in a generated C++ project built by Ninja (meson-python, scikit-build-core):",
        "sccache": "A compiler cache (`compiler-cache = \"sccache\"`) on wheelmemo's storage:",
    }
    for name, table in sections:
        if name in parts:
            print(titles[name], "\n")
            print("\n".join(table()), "\n", flush=True)
    if args.plots:
        for path in plot(args.plots):
            print(f"wrote {path}")
    print(f"\nthe whole bench took {time.perf_counter() - began:.0f} s")


if __name__ == "__main__":
    main()
