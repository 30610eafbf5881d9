"""Load: many hook processes at once, on one key and on several, with ``wheelmemo prune``
and ``wheelmemo clean`` running beside them.

Every hook runs in a fresh interpreter, as a frontend runs it; all of them wait for one
file to appear and then call their hook together (``build_wheel`` mostly, some
``prepare_metadata_for_build_wheel``, ``build_editable`` and ``get_requires_for_build_wheel``).
Checked: every hook exits 0 with no traceback and no warning, every wheel is byte for
byte the plain build of its key, nothing is left behind (temporary files, held locks),
the cache is consistent after (every record's blobs present and intact, a hit works),
and the inner backend ran exactly once per key with nothing pruned beside, never with a
``file://`` remote holding every result, whatever is pruned.  Hook latencies are
measured and printed (``-s``), never asserted.

The size comes from ``WHEELMEMO_LOAD_PROCS`` and ``WHEELMEMO_LOAD_KEYS``: 12 and 3 by
default (the CI suite), 50 and 10 for the figures in ``docs/reliability.md``::

    WHEELMEMO_LOAD_PROCS=50 WHEELMEMO_LOAD_KEYS=10 pytest -m load -s -p no:randomly tests/test_load.py

(``nox -s load`` runs that.)  ``WHEELMEMO_LOAD_REPORT=FILE`` appends each run's figures
to FILE as a JSON line; ``WHEELMEMO_LOAD_SLEEP=SECONDS`` makes every inner build that slow.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import PACKAGES, ROOT, FakeSite, Hooks

pytestmark = pytest.mark.load

PROCS = int(os.environ.get("WHEELMEMO_LOAD_PROCS") or 12)
KEYS = int(os.environ.get("WHEELMEMO_LOAD_KEYS") or 3)
META, REQUIRES = "prepare_metadata_for_build_wheel", "get_requires_for_build_wheel"
#: what the processes of one key call, in turn
HOOKS = ("build_wheel", META, "build_editable", REQUIRES, "build_wheel", "build_wheel")
#: far below one key's wheel and metadata: every prune beside the hooks evicts
PRUNE_TO = "1k"
#: what ``prune`` and ``clean`` say: what they removed and freed, never a negative size
SAID = r"wheelmemo: removed \d+ entr(y|ies), \d+ build director(y|ies), freed \d[\d.]* [kMG]?B\n"

# A frontend's hook process that waits at the barrier (the file ``go``), then calls its
# hook; its latency runs from the barrier to the hook's return, wheelmemo's import included
# (and the CPU time it took: with more processes than cores, the rest is waiting for one).
_HOOK = """
import json, os, sys, time
ready, go, hook, out, result = sys.argv[1:]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
start, cpu = time.perf_counter(), time.process_time()
import wheelmemo
name = getattr(wheelmemo, hook)(*([] if hook.startswith("get_requires") else [out]))
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
with open(result, "w") as f:
    json.dump({"name": name, "seconds": seconds, "cpu": cpu}, f)
"""


class Run:
    """One hook process: its key, its hook, where it writes, and what it said."""

    def __init__(self, number: int, key: int, hook: str, work: Path) -> None:
        self.number, self.key, self.hook = number, key, hook
        self.out = work / f"out{number}"
        self.ready = work / f"ready{number}"
        self.result = work / f"result{number}.json"
        self.proc: subprocess.Popen[str] | None = None
        self.stderr = ""

    def answer(self) -> dict[str, Any]:
        return dict(json.loads(self.result.read_text()))


def _projects(tmp_path: Path, count: int) -> list[Path]:
    """``count`` states of the fake project, each its own key (and project)."""
    found = []
    for number in range(count):
        project = tmp_path / f"project{number}"
        shutil.copytree(PACKAGES / "fake_project", project)
        (project / "src" / "fakepkg" / "data.py").write_text(f"VALUE = {number}\n")
        found.append(project)
    return found


def _tree(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _references(
    projects: list[Path], log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> list[dict[str, Any]]:
    """Per key: the plain wheel and metadata (``WHEELMEMO_DISABLE``) and the editable wheel
    wheelmemo makes of it in a cache of its own, one call at a time; not counted.  The
    editable wheel names the variables the build read, ``FAKE_BACKEND_LOG`` among them
    (by digest): it is ``log``, as for the processes under load."""
    monkeypatch.setenv("FAKE_BACKEND_LOG", str(log))
    references = []
    for number, project in enumerate(projects):
        hooks = Hooks(project, log, tmp_path / "reference" / str(number), monkeypatch)
        with monkeypatch.context() as m:
            m.setenv("WHEELMEMO_DISABLE", "1")
            wheel = hooks.build_wheel(subdir="wheel").read_bytes()
            meta = hooks.out / "meta"
            meta.mkdir()
            dist_info = hooks(META, str(meta))
            requires = hooks(REQUIRES)
        with monkeypatch.context() as m:
            m.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "reference-cache"))
            editable_dir = hooks.out / "editable"
            editable_dir.mkdir()
            editable = (editable_dir / hooks("build_editable", str(editable_dir))).read_bytes()
        references.append(
            {
                "wheel": wheel,
                "dist_info": dist_info,
                "editable": editable,
                "requires": requires,
                "metadata": (meta / dist_info / "METADATA").read_bytes(),
            }
        )
    monkeypatch.chdir(tmp_path)
    log.unlink()  # the inner backend's calls are counted from here
    return references


def _fill_remote(projects: list[Path], log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store every key's results in the remote (``WHEELMEMO_REMOTE``), from a local cache
    of their own: the hooks under load find them all there; not counted."""
    with monkeypatch.context() as m:
        m.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "fill-cache"))
        for number, project in enumerate(projects):
            hooks = Hooks(project, log, tmp_path / "fill" / str(number), monkeypatch)
            hooks(REQUIRES)
            (hooks.out / "meta").mkdir(parents=True)
            hooks(META, str(hooks.out / "meta"))
            hooks.build_wheel()
    log.unlink()


def _maintenance(
    command: list[str],
    env: dict[str, str],
    done: threading.Event,
    runs: list[tuple[float, subprocess.CompletedProcess[str]]],
) -> None:
    """Run ``command`` again and again (once at least) until ``done``."""
    while True:
        started = time.monotonic()
        runs.append(
            (
                started,
                subprocess.run(
                    command, env=env, capture_output=True, text=True, timeout=600, check=False, stdin=subprocess.DEVNULL
                ),
            )
        )
        if done.is_set():
            return


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * fraction) - 1)]


def _held_locks(cache: Path) -> list[str]:
    """The lock files of the cache that some process still holds."""
    import fcntl

    held = []
    for path in [*(cache / "v1" / "locks").glob("*"), cache / "v1" / "gc.lock"]:
        if not path.is_file():
            continue
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            held.append(path.name)
        finally:
            os.close(fd)
    return held


def _check_consistent(cache: Path) -> int:
    """Every record's blobs are there with the bytes it names; the number of records."""
    from wheelmemo._store import LocalStore

    store = LocalStore(cache)
    records = store.records()
    for record in records:
        for _, blob, size in record["files"]:
            data = store.blob_path(blob).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (size, blob), record["key"]
    return len(records)


@pytest.fixture
def no_children() -> Iterator[list[Run]]:
    """The runs of a test; any process still running when it ends is killed."""
    runs: list[Run] = []
    yield runs
    for run in runs:
        if run.proc is not None and run.proc.poll() is None:
            run.proc.kill()
            run.proc.communicate()


def _start(projects: list[Path], work: Path, env: dict[str, str], runs: list[Run], *, evict: bool) -> None:
    """Start the hook processes; they wait at the barrier.  Every other one loads
    wheelmemo from ``<cache>/code`` (which ``clean`` empties); with ``evict``, every third
    one's own store brings the cache down to ``PRUNE_TO`` too."""
    keys = len(projects)
    for number in range(PROCS):
        run = Run(number, number % keys, HOOKS[(number // keys) % len(HOOKS)], work)
        run.out.mkdir()
        own = dict(env)
        if number % 2:
            own.update(PYTHONPYCACHEPREFIX=str(work / "pycache"), PYTHONDONTWRITEBYTECODE="1")
        if evict and number % 3 == 0:
            own["WHEELMEMO_MAX_SIZE"] = PRUNE_TO
        run.proc = subprocess.Popen(
            [sys.executable, "-c", _HOOK, str(run.ready), str(work / "go"), run.hook, str(run.out), str(run.result)],
            cwd=projects[run.key],
            env=own,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        runs.append(run)
    deadline = time.monotonic() + 600
    while not all(run.ready.exists() for run in runs):
        assert time.monotonic() < deadline, "the hook processes did not all start"
        assert all(run.proc is not None and run.proc.poll() is None for run in runs), "a process died early"
        time.sleep(0.02)


Maintenance = dict[str, list[tuple[float, "subprocess.CompletedProcess[str]"]]]


def _release(
    runs: list[Run], work: Path, commands: dict[str, list[str]], env: dict[str, str]
) -> tuple[float, float, Maintenance]:
    """Release the barrier with each of ``commands`` running in a loop beside the hooks
    until they are all done; when they started and ended, and the commands' runs (start,
    result)."""
    done = threading.Event()
    maintenance: Maintenance = {name: [] for name in commands}
    threads = [
        threading.Thread(target=_maintenance, args=(command, env, done, maintenance[name]))
        for name, command in commands.items()
    ]
    (work / "go").touch()
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        for run in runs:
            assert run.proc is not None
            run.stderr = run.proc.communicate(timeout=600)[1]
        return started, time.monotonic(), maintenance
    finally:
        done.set()
        for thread in threads:
            thread.join(timeout=600)


def _check_answers(runs: list[Run], references: list[dict[str, Any]]) -> None:
    """Every hook exited 0 with no traceback and no warning (pruning beside it is no
    problem of the cache) and wrote its key's plain result, alone."""
    failed = [
        (run.number, run.hook, run.proc.returncode, run.stderr)
        for run in runs
        if run.proc is not None and run.proc.returncode != 0
    ]
    assert failed == []
    assert [run.number for run in runs if "Traceback" in run.stderr] == []
    assert [(run.number, run.stderr) for run in runs if "warning" in run.stderr] == []
    for run in runs:
        name = run.answer()["name"]
        reference = references[run.key]
        if run.hook == REQUIRES:
            assert name == reference["requires"], run.number
            assert list(run.out.iterdir()) == []
            continue
        assert [p.name for p in run.out.iterdir()] == [name], "nothing else in the directory"
        if run.hook == META:
            assert name == reference["dist_info"]
            assert (run.out / name / "METADATA").read_bytes() == reference["metadata"], run.number
            continue
        wanted = reference["editable" if run.hook == "build_editable" else "wheel"]
        assert (run.out / name).read_bytes() == wanted, (run.number, run.hook)
        with zipfile.ZipFile(run.out / name) as wheel:
            assert wheel.testzip() is None


def _check_calls(calls: Counter[str], runs: list[Run], keys: int, beside: str) -> None:
    """The inner backend's calls: with a remote holding every result, none; with nothing
    removing entries, one build per key; else one per build hook at most."""
    wheels = sum(run.hook in ("build_wheel", "build_editable") for run in runs)
    metadata = [run.key for run in runs if run.hook == META]
    assert set(calls) <= {REQUIRES, "build_wheel", META}
    if beside.startswith("remote"):
        assert calls == {}, [(run.number, run.hook, run.stderr) for run in runs if "miss" in run.stderr]
    elif beside == "alone":
        assert calls["build_wheel"] == keys
        assert calls[REQUIRES] == keys
        # each key's metadata comes from its hook once, or from its cached wheel
        assert calls[META] <= len(set(metadata))
    else:
        assert keys <= calls["build_wheel"] <= wheels
        assert calls[META] <= len(metadata)


def _check_cache_after(
    cache: Path,
    projects: list[Path],
    references: list[dict[str, Any]],
    log: Path,
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing left behind or held, every record intact, and a build then a hit per key."""
    leftovers = [
        p.relative_to(cache).as_posix()
        for p in cache.rglob("*")
        if p.name.startswith((".tmp-", "blob-", ".wheelmemo-"))
    ]
    assert leftovers == []
    assert _held_locks(cache) == []
    _check_consistent(cache)
    monkeypatch.setenv("FAKE_BACKEND_LOG", str(log))
    for key, project in enumerate(projects):
        hooks = Hooks(project, log, out / str(key), monkeypatch)
        assert hooks.build_wheel(subdir="first").read_bytes() == references[key]["wheel"]
        before = hooks.calls()["build_wheel"]
        assert hooks.build_wheel(subdir="again").read_bytes() == references[key]["wheel"]
        assert hooks.calls()["build_wheel"] == before, "a hit"


@pytest.mark.skipif(sys.platform == "win32", reason="flock, and the fake site's paths")
@pytest.mark.parametrize("beside", ["alone", "prune+clean", "remote+prune+clean"])
@pytest.mark.parametrize("keys", [1, KEYS], ids=["one-key", "keys"])
def test_hook_processes_at_once(
    fake_site: FakeSite,
    cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_children: list[Run],
    keys: int,
    beside: str,
) -> None:
    if os.environ.get("WHEELMEMO_LOAD_SLEEP"):  # slower inner builds: the races' windows wider
        monkeypatch.setenv("FAKE_BACKEND_SLEEP", os.environ["WHEELMEMO_LOAD_SLEEP"])
    projects = _projects(tmp_path, keys)
    log = tmp_path / "backend.log"
    references = _references(projects, log, tmp_path, monkeypatch)
    if beside.startswith("remote"):  # every result in a shared directory: nothing is built
        monkeypatch.setenv("WHEELMEMO_REMOTE", (tmp_path / "remote").as_uri())
        _fill_remote(projects, log, tmp_path, monkeypatch)
    trees = [_tree(project) for project in projects]
    work = tmp_path / "load"
    work.mkdir()
    env = {
        **os.environ,
        "FAKE_BACKEND_LOG": str(log),
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)]),
    }
    maintained = beside != "alone"
    cli = [sys.executable, "-m", "wheelmemo", "--cache-dir", str(cache_dir)]
    commands = {"prune": [*cli, "prune", "--max-size", PRUNE_TO], "clean": [*cli, "clean"]} if maintained else {}
    runs = no_children
    _start(projects, work, env, runs, evict=maintained)
    load = round(os.getloadavg()[0], 1)  # the machine's, as the hooks start
    started, finished, maintenance = _release(runs, work, commands, env)

    _check_answers(runs, references)
    assert [_tree(project) for project in projects] == trees, "the hooks wrote nothing into the trees"
    # the inner backend: once per key when nothing removes entries; else once per build hook at most
    calls = Hooks(projects[0], log, work, monkeypatch).calls()
    _check_calls(calls, runs, keys, beside)
    # pruning ran while the hooks ran, never failed, and said what it did
    for name, found in maintenance.items():
        assert found and found[0][0] < finished, f"{name} started after the hooks had ended"
        assert [(r.returncode, r.stderr) for _, r in found if r.returncode or r.stderr] == [], name
        assert [r.stdout for _, r in found if not re.fullmatch(SAID, r.stdout)] == [], name

    _check_cache_after(cache_dir, projects, references, log, tmp_path / "after", monkeypatch)
    stats = subprocess.run([*cli, "stats", "--json"], env=env, capture_output=True, text=True, check=False)
    assert stats.returncode == 0 and not stats.stderr, stats.stderr
    total = json.loads(stats.stdout)["total"]
    assert total["entries"] >= keys
    # one statistics line per hook a frontend called, none lost among appends at once
    assert total["hits"] + total["misses"] == PROCS + 2 * keys

    latencies = [run.answer()["seconds"] for run in runs]
    cpu = [run.answer()["cpu"] for run in runs]
    figures = {
        "procs": PROCS,
        "keys": keys,
        "beside": beside,
        "cores": os.cpu_count(),
        "load": load,
        "wall": round(finished - started, 2),
        "p50": round(_percentile(latencies, 0.5), 3),
        "p99": round(_percentile(latencies, 0.99), 3),
        "max": round(max(latencies), 3),
        "cpu_p50": round(_percentile(cpu, 0.5), 3),
        "cpu_p99": round(_percentile(cpu, 0.99), 3),
        "inner_builds": calls["build_wheel"],
        **{f"{name}_runs": len(found) for name, found in maintenance.items()},
    }
    print(f"\nload: {json.dumps(figures)}")
    if os.environ.get("WHEELMEMO_LOAD_REPORT"):
        with open(os.environ["WHEELMEMO_LOAD_REPORT"], "a") as f:
            f.write(json.dumps(figures) + "\n")


def test_clean_says_what_it_freed_while_another_process_stores(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``clean`` beside a put: it freed the bytes of what it removed, whatever the put
    under way beside it added (the change in size it reported: "freed -4.9 kB", then
    "freed 0 B")."""
    from wheelmemo._store import LocalStore

    store = LocalStore(tmp_path / "cache")
    small, big = tmp_path / "small.whl", tmp_path / "big.whl"
    small.write_bytes(b"s" * 100)
    big.write_bytes(b"b" * 5000)
    store.put("a" * 64, "wheel", [("small.whl", small)], build_seconds=1.0, parts={})
    held = sum(store.usage().files.values())  # its record, parts and blob
    collect = store.collect_garbage

    def collect_then_another_process_stores() -> int:
        freed = collect()
        LocalStore(tmp_path / "cache").put("b" * 64, "wheel", [("big.whl", big)], build_seconds=1.0, parts={})
        return freed

    monkeypatch.setattr(store, "collect_garbage", collect_then_another_process_stores)
    assert store.prune(max_size=0) == (1, 0, held)


@pytest.mark.parametrize("where", ["projects", "stat", "remotes"])
def test_clean_leaves_a_file_being_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str) -> None:
    """``clean`` between a put's temporary file and its rename: the put still stores (it
    removed the temporary of the project index, and the put failed "cannot write to the
    cache": the load test's one warning); a temporary a day old is removed."""
    from wheelmemo._fsdir import Dir
    from wheelmemo._store import LocalStore

    store = LocalStore(tmp_path / "cache")
    wheel = tmp_path / "w.whl"
    wheel.write_bytes(b"w" * 100)
    store.put("a" * 64, "wheel", [("w.whl", wheel)], build_seconds=1.0, parts={"project": "p"})
    with store._dir(where, create=True) as d:
        fd, old = d.temp(".tmp-")
        os.close(fd)
        os.utime(os.path.join(d.path, old), (time.time() - 2 * 86400,) * 2)
    real_temp, cleaned = Dir.temp, []

    def temp_then_clean(d: Dir, prefix: str) -> tuple[int, str]:
        made = real_temp(d, prefix)
        if not cleaned:
            cleaned.append(LocalStore(tmp_path / "cache").prune(max_size=0))
        return made

    monkeypatch.setattr(Dir, "temp", temp_then_clean)
    store._write_atomic((where,), "note.json", b"{}")
    monkeypatch.undo()
    assert cleaned[0].entries == 1
    with store._dir(where) as d:
        assert d.read("note.json")[0] == b"{}"
        assert old not in d.names()


def test_metadata_read_from_the_cached_wheel_while_clean_runs(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``prepare_metadata`` unpacks the cached wheel of its state: a ``clean`` run between
    finding that wheel and unpacking it leaves it alone (it is in use), where it used to
    remove it, and the hook warned of a missing blob and ran the inner backend's hook."""
    from wheelmemo import _memo
    from wheelmemo._store import LocalStore

    hooks.build_wheel()
    unpack = _memo.materialize

    def clean_then_unpack(store: Any, entry: Any, dest: Path) -> None:
        LocalStore(cache_dir).prune(max_size=0)  # `wheelmemo clean`, in another process
        unpack(store, entry, dest)

    monkeypatch.setattr(_memo, "materialize", clean_then_unpack)
    capsys.readouterr()
    meta = hooks.out / "meta"
    meta.mkdir()
    name = hooks("prepare_metadata_for_build_wheel", str(meta))
    assert "warning" not in capsys.readouterr().err
    assert hooks.calls()["prepare_metadata_for_build_wheel"] == 0, "the metadata is the cached wheel's"
    with zipfile.ZipFile(next((hooks.out / "dist").iterdir())) as wheel:
        assert (meta / name / "METADATA").read_bytes() == wheel.read(f"{name}/METADATA")


def test_a_remote_hit_is_served_while_clean_runs(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A remote hit is imported into the local cache and served from there: a ``clean``
    run in between leaves it alone (it is in use), where it used to remove it, and the
    hook warned of a missing blob and built the wheel the remote holds."""
    from wheelmemo import _engine
    from wheelmemo._store import LocalStore

    monkeypatch.setenv("WHEELMEMO_REMOTE", (tmp_path / "remote").as_uri())
    with monkeypatch.context() as m:  # another machine fills the remote
        m.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "elsewhere"))
        wheel = hooks.build_wheel(subdir="elsewhere").read_bytes()
    imported = _engine.Engine._import

    def import_then_clean(self: Any, *args: Any, **kwargs: Any) -> Any:
        entry = imported(self, *args, **kwargs)
        LocalStore(cache_dir).prune(max_size=0)  # `wheelmemo clean`, in another process
        return entry

    monkeypatch.setattr(_engine.Engine, "_import", import_then_clean)
    capsys.readouterr()
    assert hooks.build_wheel(subdir="here").read_bytes() == wheel
    assert "warning" not in capsys.readouterr().err
    assert hooks.calls()["build_wheel"] == 1, "the remote's wheel, not a second build"


def test_a_remote_result_under_its_own_declared_key_is_skipped(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A remote manifest (damaged or hostile) whose result is its declared key: skipped,
    and a normal build.  Served, it would be held as read under the lock this very call
    holds on that key: a process waiting for itself, for ever."""
    from wheelmemo._learned import manifest_key
    from wheelmemo._tiers import RemoteStore

    url = (tmp_path / "remote").as_uri()
    env = {
        **os.environ,
        "WHEELMEMO_REMOTE": url,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)]),
    }

    def hook(code: str, cache: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", f"import sys, wheelmemo; {code}"],
            cwd=hooks.project,
            env={**env, "WHEELMEMO_CACHE_DIR": str(tmp_path / cache)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout.strip()

    (tmp_path / "elsewhere").mkdir()
    wheel = hook(f"print(wheelmemo.build_wheel({str(tmp_path / 'elsewhere')!r}))", "cache-elsewhere")
    declared = hook("from wheelmemo._memo import Memo; print(Memo().keys.lookups('wheel')[0].key)", "cache")
    remote = RemoteStore(url, os.environ)
    candidate = remote.get(manifest_key(declared)).value[0]  # type: ignore[union-attr]
    remote.put(declared, "wheel", [(wheel, tmp_path / "elsewhere" / wheel)], build_seconds=1.0, parts={})
    remote.put(
        manifest_key(declared),
        "manifest",
        [],
        build_seconds=0.0,
        parts={"hook": "manifest"},
        value=[dict(candidate, key=declared)],
    )
    (tmp_path / "here").mkdir()
    assert hook(f"print(wheelmemo.build_wheel({str(tmp_path / 'here')!r}))", "cache") == wheel
    assert (tmp_path / "here" / wheel).read_bytes() == (tmp_path / "elsewhere" / wheel).read_bytes()
    assert hooks.calls()["build_wheel"] == 2, "built here: the remote's listing was skipped"


def test_a_local_result_under_its_own_declared_key_is_skipped(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, cache_dir: Path
) -> None:
    """A local manifest (forged) whose result is its declared key, with no entry there:
    skipped, and a normal build.  Read, it would be held as read under the lock the
    hook takes on that key after the first look: a process waiting for itself."""
    from wheelmemo._learned import manifest_key
    from wheelmemo._store import LocalStore

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)])}

    def hook(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", f"import sys, wheelmemo; {code}"],
            cwd=hooks.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
        return done.stdout.strip()

    (tmp_path / "one").mkdir()
    wheel = hook(f"print(wheelmemo.build_wheel({str(tmp_path / 'one')!r}))")
    declared = hook("from wheelmemo._memo import Memo; print(Memo().keys.lookups('wheel')[0].key)")
    store = LocalStore(cache_dir)
    manifest = store.get(manifest_key(declared))
    assert manifest is not None
    store.put(
        manifest_key(declared),
        "manifest",
        [],
        build_seconds=0.0,
        parts={"hook": "manifest"},
        value=[dict(manifest.value[0], key=declared)],
    )
    (tmp_path / "two").mkdir()
    assert hook(f"print(wheelmemo.build_wheel({str(tmp_path / 'two')!r}))") == wheel
    assert (tmp_path / "two" / wheel).read_bytes() == (tmp_path / "one" / wheel).read_bytes()
    assert hooks.calls()["build_wheel"] == 2
