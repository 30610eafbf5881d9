"""Benchmarks of the cache-hit path (``nox -s bench``); figures, no assertions.

1. Under ``uv build --wheel``, for each example: a cold build, a hit, and the floor --
   a trivial pure-Python project with plain hatchling under the same frontend -- as
   medians of several runs, with the hit/floor ratio (goal: at most 1.2).
2. The hook alone: a fresh ``python`` process that imports wheelmemo and answers
   ``build_wheel`` from the cache, for generated projects of 1,000 and 20,000 files
   (goal: under 50 ms for 1,000), with a warm and a cold stat cache.
2b. With a remote cache (``--remote URL``, else a ``file://`` directory): a cold build
   that uploads, a remote hit (a machine with an empty local cache) and a local hit.
3. What checking a hit's learned inputs costs (files and variables its build read
   beyond the declared key; goal: at most 10 ms for 200 files with a warm stat cache).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import EXAMPLES, HERE, ROOT, Workspace

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


def median_of(runs: int, measure: object) -> float:
    return statistics.median(measure() for _ in range(runs))  # type: ignore[operator]


def frontend_table(runs: int) -> list[str]:
    work = Workspace()
    rows = []
    try:
        floor = work.dir / "floor"
        (floor / "floor").mkdir(parents=True)
        (floor / "floor" / "__init__.py").write_text("")
        (floor / "pyproject.toml").write_text(FLOOR_PYPROJECT)
        work.uv_build_wheel(floor)  # warm uv's cache of hatchling
        floor_s = median_of(runs, lambda: work.uv_build_wheel(floor).seconds)
        for name, needle in EXAMPLES.items():
            project = HERE / name
            work.clean(project)
            cold = work.uv_build_wheel(project, needle)
            hits = [work.uv_build_wheel(project, needle) for _ in range(runs)]
            assert all(h.compiles == 0 for h in hits), "a hit compiled something"
            hit_s = statistics.median(h.seconds for h in hits)
            rows.append(f"| {name} | {cold.seconds:.2f} s ({cold.compiles} compiles) | {hit_s:.3f} s "
                        f"| {floor_s:.3f} s | {hit_s / floor_s:.2f}x | {cold.seconds / hit_s:.0f}x |")
            work.clean(project)
    finally:
        work.close()
    head = ["| example | cold | hit (median) | floor (median) | hit/floor | cold/hit |",
            "|---|---|---|---|---|---|"]
    return head + rows


def hook_table(runs: int, sizes: list[int]) -> list[str]:
    """The hook in a venv holding wheelmemo and hatchling, as an isolated build env does."""
    rows = []
    load: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="wheelmemo-bench-"))
    try:
        from _harness import tool

        subprocess.run([tool("uv"), "venv", "--quiet", str(base / "venv")], check=True)
        python = str(base / "venv" / "bin" / "python")
        subprocess.run([tool("uv"), "pip", "install", "--quiet", "--python", python, str(ROOT), "hatchling"],
                       check=True)
        env = {"WHEELMEMO_CACHE_DIR": str(base / "cache"), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
        bare = median_of(runs, lambda: _timed([python, "-c", "pass"], base, env)[0])
        for size in sizes:
            project = base / f"p{size}"
            package = project / "src" / "gen"
            package.mkdir(parents=True)
            for i in range(size):
                (package / f"mod_{i:05d}.py").write_text(f"VALUE = {i}\n")
            (project / "pyproject.toml").write_text(
                '[build-system]\nrequires = ["wheelmemo", "hatchling"]\nbuild-backend = "wheelmemo"\n'
                '[project]\nname = "gen"\nversion = "1.0"\n'
                '[tool.hatch.build.targets.wheel]\npackages = ["src/gen"]\n'
                '[tool.wheelmemo]\nbackend = "hatchling.build"\n')
            # the stat cache never trusts a stat taken within 2 s of a change (racy-git rule)
            time.sleep(2.5)
            out = base / "out"
            out.mkdir(exist_ok=True)
            cmd = [python, "-c", HOOK_TIMER, str(out)]
            _timed(cmd, project, env)  # the miss that fills the cache (and writes .pyc files)
            warm = [_timed(cmd, project, env) for _ in range(runs)]
            cold = []
            for _ in range(max(3, runs // 3)):
                shutil.rmtree(base / "cache" / "v1" / "stat", ignore_errors=True)
                cold.append(_timed(cmd, project, env))
            if size == sizes[0]:
                load = load_table(python, project, out, env)
            rows.append(
                f"| {size:,} files | {statistics.median(w[2] for w in warm):.1f} ms "
                f"| {statistics.median(w[1] for w in warm):.1f} ms (min {min(w[1] for w in warm):.1f}) "
                f"| {statistics.median(w[0] for w in warm) * 1000:.1f} ms "
                f"| {statistics.median(c[1] for c in cold):.1f} ms | {bare * 1000:.1f} ms |")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    head = [("| project | hook, warm stat cache | import + hook, warm | whole process, warm "
             "| import + hook, cold stat cache | `python -c pass` |"),
            "|---|---|---|---|---|---|"]
    return [*head, *rows, "", f"Under load, the {sizes[0]:,}-file project:", "",
            "| load | p50 | p99 | |", "|---|---|---|---|", *load]


def learned_table(runs: int, counts: list[int]) -> list[str]:
    """``check_learned`` over N learned files outside the tree and 20 variables, in process."""
    import os

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
    seconds = time.perf_counter() - start
    if not result.stdout.strip():
        return seconds, 0.0, 0.0
    figures = json.loads(result.stdout.splitlines()[-1])
    return seconds, figures["total_ms"], figures["hook_ms"]


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
            remote_s = statistics.median(h.seconds for h in remote_hits)
            local_s = statistics.median(h.seconds for h in local_hits)
            rows.append(f"| {name} | {cold.seconds:.2f} s ({cold.compiles} compiles) | {remote_s:.3f} s "
                        f"| {local_s:.3f} s | {remote_s - local_s:+.3f} s |")
            work.clean(project)
    finally:
        work.close()
    head = [f"remote: {remote.split('://')[0]}://...", "",
            "| example | cold (uploads) | remote hit (median) | local hit (median) | remote - local |",
            "|---|---|---|---|---|"]
    return head + rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="runs per median (default 5)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 20000])
    parser.add_argument("--skip-frontend", action="store_true", help="only the hook benchmark")
    parser.add_argument("--remote", help="a remote cache URL to measure (default: a file:// directory)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.runs} runs per median\n")
    if not args.skip_frontend:
        print("uv build --wheel of each example:\n")
        print("\n".join(frontend_table(args.runs)), "\n", flush=True)
        print("uv build --wheel of each example with a remote cache:\n")
        print("\n".join(remote_table(args.runs, args.remote)), "\n", flush=True)
    print("checking the learned inputs of a hit (stat cache loaded from disk, warm):\n")
    print("\n".join(learned_table(args.runs * 4, [20, 200, 1000])), "\n", flush=True)
    print("build_wheel answered from the cache in a fresh process (hatchling inner backend):\n")
    print("\n".join(hook_table(args.runs * 4, args.sizes)))


if __name__ == "__main__":
    main()
