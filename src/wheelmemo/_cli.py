"""The ``wheelmemo`` command: adopt wheelmemo in a project and use the cache as a tool.

It follows the conventions of uv, sccache and git: global options (``--cache-dir``,
``--color``) before or after the command; the project found upward from the current
directory; errors and warnings as ``error: ...`` / ``warning: ...`` (``_log.message``),
coloured only on a terminal (``NO_COLOR`` and ``FORCE_COLOR`` respected); ``--json`` where
a script wants the answer.

Exit status: 0 success; 1 the answer is "no" (``explain``: the next build would miss;
``export`` found no wheel for the current state, ``init --check`` found the configuration
out of date, ``verify`` found the cached wheel differs from a plain build); 2 a usage or
configuration error (or a plain build of ``verify`` that failed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from ._errors import ConfigError, StoreError
from ._log import logger, message
from ._records import COMPILER_COUNTS
from ._settings import default_cache_dir, load_project, load_settings, parse_size
from ._store import LocalStore
from ._version import __version__

if TYPE_CHECKING:
    from ._memo import Memo
    from ._store import Entry, Pruned

__all__ = ["main"]

EPILOG = """\
exit status: 0 success; 1 "no" (explain: the next build would miss; export: nothing
cached for the current state; init --check: the configuration needs `wheelmemo init`;
verify: the cached wheel differs from a plain build); 2 usage or configuration error,
or verify's plain build failed.
The project is PATH, else the nearest directory at or above the current one with a
pyproject.toml. The cache is --cache-dir, else WHEELMEMO_CACHE_DIR, else the project's
[tool.wheelmemo] cache-dir, else the user cache dir.
"""


def _find_project(path: str | None) -> Path:
    """The project a command is about: ``path`` as given, else the nearest directory at
    or above the current one with a ``pyproject.toml`` (as uv and git find theirs), else
    the current directory (whose missing ``pyproject.toml`` the command then names)."""
    if path is not None:
        return Path(path)
    here = Path.cwd()
    return next((d for d in (here, *here.parents) if (d / "pyproject.toml").is_file()), here)


def _store(args: argparse.Namespace) -> LocalStore:
    """The cache the build hooks of the project (``--project``, else the one found from
    the current directory) use, unless ``--cache-dir`` names another."""
    if args.cache_dir:
        return LocalStore(Path(args.cache_dir).expanduser())
    root = _find_project(getattr(args, "project", None))
    configured = _configured_cache_dir(root)
    if configured is None:
        return LocalStore(default_cache_dir())
    # the hooks run in the project: a relative cache directory is the project's
    return LocalStore(configured if configured.is_absolute() else root / configured)


def _configured_cache_dir(root: Path) -> Path | None:
    """WHEELMEMO_CACHE_DIR, else ``[tool.wheelmemo] cache-dir`` of the project in
    ``root``; None (the user cache) where there is no such project, silently."""
    from_env = os.environ.get("WHEELMEMO_CACHE_DIR")
    if from_env:
        return Path(from_env).expanduser()
    if not (root / "pyproject.toml").is_file():
        return None
    project = load_project(root)  # a pyproject.toml that is not TOML: a one-line error
    if "wheelmemo" not in project.tool:
        return None
    # the environment was read above; other WHEELMEMO_* variables are no concern here
    settings, _ = load_settings(project, None, {})
    return settings.cache_dir


def _human_size(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"  # pragma: no cover


def _human_age(seconds: float) -> str:
    for unit, length in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= length:
            return f"{seconds / length:.0f} {unit}"
    return f"{seconds:.0f} s"


def _duration(text: str) -> float:
    units = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
    number = text.rstrip("smhdwin")
    unit = text[len(number) :] or "s"
    if unit not in units:
        raise argparse.ArgumentTypeError(f"{text!r}: use a number with s, m, h, d or w, e.g. 30d")
    return float(number) * units[unit]


def _size(text: str) -> int:
    size = parse_size(text)
    if size is None:
        raise argparse.ArgumentTypeError(f"{text!r}: use a size such as 5G, 500M or a number of bytes")
    return size


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


# -- stats ---------------------------------------------------------------------------
class _Tally:
    """The events of ``stats.jsonl``, added up: per project, the remote's, the compiler cache's."""

    def __init__(self) -> None:
        self.projects: dict[str, dict[str, Any]] = {}
        self.remote = dict.fromkeys(("hit", "miss", "upload", "error", "timeout", "bytes_down", "bytes_up"), 0)
        self.remote_times = {"seconds": 0.0, "saved": 0.0}
        # every count of a build's event but the size of sccache's objects then
        self.compiler = dict.fromkeys(("builds", *(n for n in COMPILER_COUNTS if n != "size")), 0)
        self.remote_kinds: Counter[tuple[str, str]] = Counter()  # (project, kind) -> hits from the remote

    def _project(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.projects.setdefault(
            str(event.get("project")),
            {"hits": 0, "remote_hits": 0, "misses": 0, "saved": 0.0, "verified": 0, "mismatches": 0, "kinds": {}},
        )

    def _kind(self, event: dict[str, Any]) -> dict[str, int]:
        kinds: dict[str, dict[str, int]] = self._project(event)["kinds"]
        return kinds.setdefault(str(event.get("kind")), {"hits": 0, "misses": 0})

    def add(self, event: dict[str, Any]) -> None:
        if event.get("tier") == "sccache":  # a build's compiles through the compiler cache
            self.compiler["builds"] += 1
            for name in self.compiler.keys() - {"builds"}:
                self.compiler[name] += int(event.get(name, 0))
            return
        if event.get("tier") == "remote":
            for name in self.remote:
                self.remote[name] += int(event.get(name, 0))
            for name in self.remote_times:
                self.remote_times[name] += float(event[name])
            # a hit from the remote is written as a miss of the local cache and a hit of the
            # remote's (``_engine._count``): the project's row counts it a hit (``settled``)
            if int(event.get("hit", 0)):
                project = self._project(event)
                project["remote_hits"] += int(event["hit"])
                project["saved"] += float(event["saved"])
                self._kind(event)  # listed, its hits moved by ``settled``
                self.remote_kinds[str(event.get("project")), str(event.get("kind"))] += int(event["hit"])
            return
        project = self._project(event)
        if event.get("event") == "verify":  # a hit also checked against a fresh build
            project["verified"] += 1
            project["mismatches"] += bool(event.get("mismatch"))
            return
        hit = event.get("event") == "hit"
        project["hits" if hit else "misses"] += 1
        project["saved"] += float(event.get("seconds") or 0) if hit else 0.0
        self._kind(event)["hits" if hit else "misses"] += 1

    def settled(self) -> dict[str, dict[str, Any]]:
        """The projects' counts, each hit from the remote moved from the misses to the hits."""
        for name, project in self.projects.items():
            moves = [(project, project["remote_hits"])]
            moves += [(counts, self.remote_kinds[name, kind]) for kind, counts in project["kinds"].items()]
            for counts, hits in moves:
                moved = min(hits, counts["misses"])
                counts["hits"] += moved
                counts["misses"] -= moved
        return self.projects


def cmd_stats(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.zero:
        store.zero_stats()
        print("wheelmemo: statistics reset")
        return 0
    tally = _Tally()
    for event in store.events():
        tally.add(event)
    projects, remote, remote_times, compiler = tally.settled(), tally.remote, tally.remote_times, tally.compiler
    records = store.records()
    usage = store.usage()
    total = {
        "hits": sum(p["hits"] for p in projects.values()),
        "remote_hits": sum(p["remote_hits"] for p in projects.values()),
        "misses": sum(p["misses"] for p in projects.values()),
        "saved": sum(p["saved"] for p in projects.values()),
        "verified": sum(p["verified"] for p in projects.values()),
        "mismatches": sum(p["mismatches"] for p in projects.values()),
        "entries": len(records),
        "build_dirs": len(usage.build_dirs),
        "bytes": usage.total,
    }
    if args.json:
        print(
            json.dumps(
                {
                    "projects": projects,
                    "total": total,
                    "remote": {**remote, **remote_times},
                    "compiler_cache": compiler,
                    "disk": {**usage.kinds, "total": usage.total},
                    "build_dirs": [found._asdict() for found in usage.build_dirs],
                },
                indent=2,
                sort_keys=True,
            )
        )
        return 0
    rows = [["project", "hits", "misses", "hit rate", "time saved", "hits from the remote"]]
    for name, p in sorted(projects.items()):
        rows.append(_stats_row(name, p))
    rows.append(_stats_row("total", total))
    print(_table(rows))
    print("\non disk (max-size bounds all of it):")
    print(_table([[f"  {_KIND_NAMES[kind]}", _human_size(size)] for kind, size in usage.kinds.items()]))
    print(
        f"{_count(total['entries'], 'entry', 'entries')}, "
        f"{_count(total['build_dirs'], 'build directory', 'build directories')}, "
        f"{_human_size(total['bytes'])} in {store.root.parent}"
    )
    if total["verified"]:
        print(f"verified {total['verified']} hits against a fresh build (verify-rate): {total['mismatches']} differed")
    if compiler["builds"]:
        print(
            f"\ncompiler cache (sccache), in {_count(compiler['builds'], 'build', 'builds')}: "
            f"{compiler['hits']} hits ({compiler['remote_hits']} from the remote), {compiler['misses']} misses, "
            f"{compiler['not_cacheable']} not cacheable, {compiler['uploads']} uploads, {compiler['errors']} errors"
        )
    if any(remote.values()):
        print(
            "\nremote: "
            + ", ".join(
                [
                    f"{remote['hit']} hits",
                    f"{remote['miss']} misses",
                    f"{remote['upload']} uploads",
                    f"{remote['error']} errors",
                    f"{remote['timeout']} timeouts",
                    f"{_human_size(remote['bytes_down'])} down",
                    f"{_human_size(remote['bytes_up'])} up",
                    f"{remote_times['seconds']:.1f} s on the remote",
                    f"{remote_times['saved']:.1f} s saved",
                ]
            )
        )
    return 0


#: the kinds of ``LocalStore.usage``, as ``stats`` names them
_KIND_NAMES = {
    "entries": "entries and blobs",
    "build": "build directories",
    "compiler": "compiler cache (sccache)",
    "stat": "stat caches",
    "code": "compiled modules",
    "other": "other (locks, notes, statistics)",
}


def _stats_row(name: str, p: dict[str, Any]) -> list[str]:
    calls = p["hits"] + p["misses"]
    rate = f"{100 * p['hits'] / calls:.0f}%" if calls else "-"
    return [name, str(p["hits"]), str(p["misses"]), rate, f"{p['saved']:.1f} s", str(p["remote_hits"])]


# -- list, prune, clean ----------------------------------------------------------------
#: the kinds of entries a user built (``list`` shows the others with ``--all``)
_BUILT = ("wheel", "editable", "sdist")


def _described(record: dict[str, Any], project: str | None) -> dict[str, Any]:
    """What ``list`` says of an entry; ``id``: its key's first 8 characters, as the build
    hooks' lines name it (``build_wheel hit 1b006ca3``)."""
    files = record["files"]
    name = str(files[0][0]) if files else ""
    version = tags = None
    if name.endswith(".whl") and len(name[:-4].split("-")) >= 5:  # name-version(-build)-py-abi-platform
        fields = name[:-4].split("-")
        version, tags = fields[1], "-".join(fields[-3:])
    elif name.endswith(".tar.gz") and "-" in name:  # name-version.tar.gz (PEP 625)
        version = name[: -len(".tar.gz")].rsplit("-", 1)[-1]
    elif name.endswith(".dist-info") or ".dist-info/" in name:
        version = name.split(".dist-info")[0].rsplit("-", 1)[-1]
    return {
        "id": record["key"][:8],
        "key": record["key"],
        "project": project,
        "version": version,
        "kind": record["kind"],
        "tags": tags,
        "size": int(record.get("size") or 0),
        "created": float(record["created"]),
        "last_use": float(record["last_use"]),
        "files": [str(f[0]) for f in files],
    }


def cmd_list(args: argparse.Namespace) -> int:
    from ._store import owners

    store = _store(args)
    now = time.time()
    records = store.records()
    owner = owners(records)
    entries = [
        _described(record, owner[record["key"]])
        for record in sorted(records, key=lambda r: (str(owner[r["key"]]), -float(r["last_use"])))
        if args.all or record["kind"] in _BUILT
    ]
    build_dirs = sorted(store.usage().build_dirs, key=lambda b: (b.project, -b.last_use))
    if args.json:
        print(
            json.dumps(
                {"entries": entries, "build_dirs": [found._asdict() for found in build_dirs]}, indent=2, sort_keys=True
            )
        )
        return 0
    rows = [["project", "version", "kind", "tags", "size", "age", "last use", "id"]]
    for entry in entries:
        rows.append(
            [
                entry["project"] or "-",
                entry["version"] or "-",
                entry["kind"],
                entry["tags"] or "-",
                _human_size(entry["size"]),
                _human_age(now - entry["created"]),
                _human_age(now - entry["last_use"]),
                entry["id"],
            ]
        )
    build_rows = [["build directory", "project", "identity", "size", "last use"]]
    for found in build_dirs:
        build_rows.append(
            [found.name[:8], found.project, found.identity, _human_size(found.size), _human_age(now - found.last_use)]
        )
    tables = [_table(table) for table in (rows, build_rows) if len(table) > 1]
    print("\n\n".join(tables) if tables else f"wheelmemo: {'nothing built' if records else 'the cache is empty'}")
    hidden = len(records) - len(entries)
    if hidden:
        print(f"\n({_count(hidden, 'internal record', 'internal records')} not shown: --all lists them)")
    return 0


def _pruned(pruned: Pruned, of: str | None = None) -> str:
    return (
        f"wheelmemo: removed {_count(pruned.entries, 'entry', 'entries')}, "
        f"{_count(pruned.build_dirs, 'build directory', 'build directories')}"
        f"{'' if of is None else f' of {of}'}, freed {_human_size(pruned.freed)}"
    )


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def cmd_prune(args: argparse.Namespace) -> int:
    if args.max_size is None and args.older_than is None:
        args.max_size = parse_size(os.environ.get("WHEELMEMO_MAX_SIZE") or "10G")
    print(_pruned(_store(args).prune(max_size=args.max_size, older_than=args.older_than)))
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    if args.project is None:
        print(_pruned(_store(args).prune(max_size=0)))
        return 0
    # --project alone: the project found from the current directory; a directory: the
    # project there; else the name of a project as ``list`` shows it
    as_path = args.project == "" or Path(args.project).is_dir()
    root = _find_project(args.project or None) if as_path else None
    store = _store(argparse.Namespace(cache_dir=args.cache_dir, project=None if root is None else str(root)))
    if root is not None:
        project = load_project(root.resolve())
        project_id = project.name or str(project.root.resolve())
    else:
        found = _project_named(store, args.project)
        if found is None:
            message(
                "warning",
                f"no project {args.project!r} in the cache at {store.root.parent} (`wheelmemo list` names them)",
            )
            return 0
        project_id = found
    print(_pruned(store.remove_project(project_id), of=project_id))
    return 0


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()  # PEP 503


def _project_named(store: LocalStore, name: str) -> str | None:
    """The id of the project ``name`` names in the cache (its entries' or build
    directories'), compared as PEP 503 normalizes names; None if none."""
    from ._store import owners

    known = {p for p in owners(store.records()).values() if p} | {b.project for b in store.usage().build_dirs}
    return next((p for p in sorted(known) if _normalized(p) == _normalized(name)), None)


# -- explain, export ---------------------------------------------------------------------
def _memo(args: argparse.Namespace) -> Memo:
    """The project at ``args.path`` (else found from the current directory) as its build
    hooks see it, reading the cache they use (or ``--cache-dir``'s)."""
    from ._log import configure
    from ._memo import Memo

    configure("warning")
    root = _find_project(args.path).resolve()
    project = load_project(root)
    if "wheelmemo" not in project.tool:
        build_system = project.pyproject.get("build-system")
        declared = build_system.get("build-backend") if isinstance(build_system, dict) else None
        init = "wheelmemo init" if args.path is None else f"wheelmemo init {args.path}"
        raise ConfigError(
            f"{root} does not build through wheelmemo (its build-backend is "
            f"{declared or 'setuptools, by default'!r}): run `{init}` to adopt it"
        )
    environ = dict(os.environ)
    if args.cache_dir:
        environ["WHEELMEMO_CACHE_DIR"] = str(Path(args.cache_dir).expanduser())
    return Memo(None, root=root, environ=environ, offline=True)


def _find(memo: Memo, kind: str) -> tuple[Entry | None, str | None]:
    """The entry a build of the tree as it is now would hit, in the build environment of
    any recent entry of the project (newest first: each frontend has its own, pip adds
    what uv does not); else why not, in the newest one's."""
    environments = memo.keys.build_environments(kind)
    for parts in environments:
        memo.keys.adopt_build_environment(kind, parts)
        entry, mismatch = memo.find(kind)
        if entry is not None:
            return entry, mismatch
    if len(environments) > 1:
        memo.keys.adopt_build_environment(kind, environments[0])
    return memo.find(kind)


def _predict(memo: Memo, kind: str) -> dict[str, Any]:
    """Would the next ``build_<kind>`` hit, and if not why: the facts ``explain`` prints."""
    entry, mismatch = _find(memo, kind)
    if entry is not None:
        return {"hit": True, "id": entry.key[:8], "key": entry.key, "reasons": [], "closest": None}
    miss: dict[str, Any] = {"hit": False, "id": None, "key": None, "reasons": [], "closest": None}
    _, parts = memo.keys.key(kind)
    if mismatch is not None:
        return dict(miss, reasons=[mismatch])
    closest = memo.keys.closest(kind, parts)
    if closest is None:
        return dict(miss, reasons=["nothing cached for this project yet"])
    key, changes = closest
    return dict(miss, reasons=changes or ["nothing differs: the entry was evicted"], closest=key[:8])


def _explained(memo: Memo, kinds: Sequence[str]) -> dict[str, Any]:
    """``explain``'s answer: per hook, the prediction and its reasons; the compiler cache."""
    from ._compcache import describe, enabled

    report: dict[str, Any] = {"project": memo.project_id, "root": str(memo.project.root), "hooks": {}, "hit": False}
    if memo.store is None:  # every build runs the backend
        return dict(report, cache=None)
    report.update(cache=str(memo.store.root.parent), own_build_environment=not memo.keys.build_environments("wheel"))
    for kind in kinds:
        if kind == "editable" and memo.derives_editables:
            wheel = report["hooks"].get("build_wheel") or _predict(memo, "wheel")
            report["hooks"]["build_editable"] = dict(wheel, derived_from=f"build_wheel ({memo.settings.editable})")
        else:
            report["hooks"][f"build_{kind}"] = _predict(memo, kind)
    report["hit"] = all(hook["hit"] for hook in report["hooks"].values())
    report["compiler_cache"] = {
        "enabled": enabled(memo.settings),
        "notes": describe(memo.settings, memo.keys.adapter, memo.keys.environ),
    }
    return report


def cmd_explain(args: argparse.Namespace) -> int:
    memo = _memo(args)
    report = _explained(memo, [args.kind] if args.kind else ["wheel", "editable"])
    code = 0 if report["hit"] else 1
    if args.json:
        print(json.dumps(report, indent=2, sort_keys=True))
        return code
    if memo.store is None:
        print("wheelmemo: the cache is disabled for this project: every build runs the backend")
        return code
    print(f"{memo.project_id} ({memo.project.root})")
    for label, hook in report["hooks"].items():
        shown, indent = label, "  "
        if "derived_from" in hook:
            print(f"  {label}: derived from the regular wheel ({memo.settings.editable}), as build_wheel")
            if "build_wheel" in report["hooks"]:
                continue
            shown, indent = "build_wheel", "    "  # --kind editable: what the wheel it derives from would do
        if hook["hit"]:
            print(f"{indent}{shown}: would hit {hook['id']}")
        elif hook["closest"] is None:
            print(f"{indent}{shown}: would miss: {hook['reasons'][0]}")
        else:
            print(f"{indent}{shown}: would miss; against the closest entry {hook['closest']}:")
            for reason in hook["reasons"]:
                print(f"{indent}  {reason}")
    if report["own_build_environment"]:
        print("  (no entry yet: the interpreter and build requirements are this command's own)")
    for line in report["compiler_cache"]["notes"]:
        print(f"  {line}")
    return code


def cmd_export(args: argparse.Namespace) -> int:
    memo = _memo(args)
    store = memo.store
    out = Path(args.out_dir)
    if store is None or not memo.keys.build_environments("wheel"):
        message("error", f"nothing cached for {memo.project_id}: build it once (uv build --wheel)")
        return 1
    entry, _ = _find(memo, "wheel")
    if entry is None or entry.kind != "wheel":  # a forged manifest may name another kind
        message(
            "error",
            f"no cached wheel for the current state of {memo.project_id} "
            "(`wheelmemo explain` says why): build it with uv build --wheel",
        )
        return 1
    out.mkdir(parents=True, exist_ok=True)
    wheel = entry.files[0]
    if args.editable:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            store.materialize_file(wheel, Path(tmp) / wheel.name)
            memo.derive_editable(Path(tmp) / wheel.name, out)
    else:
        store.materialize_file(wheel, out / wheel.name)
    print(out / wheel.name)
    return 0


# -- verify -----------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace) -> int:
    """Build the current state plainly in a clean copy; compare with what the cache holds."""
    import tempfile

    from ._verify import BuildFailed, choose_frontend

    memo = _memo(args)
    store = memo.store
    report: dict[str, Any] = {"project": memo.project_id, "entry": None, "status": "nothing cached"}
    entry = None
    if store is not None:
        entry, _ = _find(memo, "wheel")
    if store is None or entry is None or entry.kind != "wheel":
        _say(
            args,
            report,
            f"wheelmemo: nothing cached for the current state of {memo.project_id}: "
            "nothing to verify (`wheelmemo explain` says why)",
        )
        return 0
    frontend = choose_frontend(args.frontend)
    report.update(entry=entry.key, frontend=frontend)
    with tempfile.TemporaryDirectory(prefix="wheelmemo-verify-") as tmp:
        work = Path(tmp)
        wheel = entry.files[0]
        cached = work / "cached" / wheel.name
        cached.parent.mkdir()
        store.materialize_file(wheel, cached)
        try:
            diff, builds = _verify_against_plain(memo, store.root.parent, cached, work, frontend)
        except BuildFailed as e:
            message(
                "error",
                f"the plain build of {memo.project_id} failed, so the cached "
                f"wheel {entry.key[:8]} cannot be checked (if a clean copy cannot build, the cache "
                f"hides a broken build): {e}",
            )
            return 2
    report.update(status="same" if diff.same else "different", plain_builds=builds, **diff.as_json())
    if diff.same:
        timestamps = sum(m.verdict == "only timestamps" for m in diff.members)
        _say(
            args,
            report,
            f"wheelmemo: the cached wheel {entry.key[:8]} of {memo.project_id} is what a "
            f"plain build makes: {len(diff.members)} members"
            + (f" ({timestamps} differ only in their timestamps)" if timestamps else ""),
        )
        return 0
    lines = "".join(f"\n  {line}" for line in diff.describe())
    _say(
        args,
        report,
        f"wheelmemo: the cached wheel {entry.key[:8]} of {memo.project_id} differs from a "
        f"plain build of the same state:{lines}\nremove it with `wheelmemo clean`, and "
        "list what the build reads unseen in [tool.wheelmemo] inputs or env",
    )
    return 1


def _verify_against_plain(memo: Memo, cache: Path, cached: Path, work: Path, frontend: str) -> tuple[Any, int]:
    """Compare ``cached`` with a plain build (two when a compiled member differs)."""
    from ._verify import compare_with_plain_builds, plain_build

    root, pyproject = memo.project.root, memo.project.pyproject
    fresh = plain_build(root, work, frontend, pyproject, skip=(cache,), name="a")
    return compare_with_plain_builds(
        fresh, cached, lambda: plain_build(root, work, frontend, pyproject, skip=(cache,), name="b")
    )


def _say(args: argparse.Namespace, report: dict[str, Any], text: str) -> None:
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else text)


# -- init -------------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from ._init import init_project

    root = _find_project(args.path)
    if args.path is None:  # found upward: named as seen from here, so the lines say which file
        root = Path(os.path.relpath(root))
    return init_project(root, check=args.check, dry_run=args.dry_run)


class _Parser(argparse.ArgumentParser):
    """argparse, its usage errors written as uv writes errors (``error: ...``)."""

    def error(self, message_: str) -> NoReturn:
        self.print_usage(sys.stderr)
        message("error", message_)
        sys.exit(2)


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """The options every command takes, before or after its name (as uv's do): on the
    commands with ``SUPPRESS`` as default, so that one given before the name stays."""
    group = parser.add_argument_group("global options", "before or after the command, as uv's")
    group.add_argument(
        "--cache-dir",
        metavar="DIR",
        default=None if top else argparse.SUPPRESS,
        help="the cache to use (default: WHEELMEMO_CACHE_DIR, else the "
        "project's [tool.wheelmemo] cache-dir, else the user cache)",
    )
    group.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto" if top else argparse.SUPPRESS,
        help="colour the error: and warning: labels: auto (on a terminal, unless NO_COLOR is set; "
        "FORCE_COLOR colours a pipe too), always or never (default: auto)",
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="wheelmemo",
        description="A build backend that never builds the same wheel twice.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"wheelmemo {__version__}")
    _global_options(parser, top=True)
    common = _Parser(add_help=False)
    _global_options(common, top=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help,
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=[common],
        )

    def cache_command(name: str, help: str) -> argparse.ArgumentParser:
        """A command on the cache: the one the project's build hooks use."""
        found = command(name, help)
        if name != "clean":  # clean's --project says which project's entries go
            found.add_argument(
                "--project",
                metavar="PATH",
                help="use the cache of the project in PATH, as its builds do (default: the project "
                "found from the current directory)",
            )
        return found

    project = "the project (default: the nearest directory at or above the current one with a pyproject.toml)"
    init = command("init", "adopt wheelmemo in a project: build-backend, requires and [tool.uv] cache-keys")
    init.add_argument("path", nargs="?", help=f"{project}; init edits its pyproject.toml")
    init.add_argument("--check", action="store_true", help="change nothing; exit 1 if `init` would change something")
    init.add_argument("--dry-run", action="store_true", help="print the change as a diff; write nothing")
    init.set_defaults(func=cmd_init)

    explain = command(
        "explain",
        "would the next build hit? if not, what differs from the closest entry (exit 1: it would miss)",
    )
    explain.add_argument("path", nargs="?", help=project)
    explain.add_argument(
        "--kind",
        choices=("wheel", "editable"),
        help="explain only build_wheel (uv build) or build_editable (uv sync); the exit status "
        "follows it alone (default: both)",
    )
    explain.add_argument(
        "--json",
        action="store_true",
        help="machine-readable output: per hook, hit (true/false), id (as the build's line prints it), "
        "key, reasons, closest; the compiler cache",
    )
    explain.set_defaults(func=cmd_explain)

    stats = cache_command(
        "stats",
        "hits (those served from the remote too), misses, hit rate and build time saved, per project and "
        "in total; the remote's and the compiler cache's counts; what the cache takes on disk",
    )
    stats.add_argument("--json", action="store_true", help="machine-readable output")
    stats.add_argument("--zero", action="store_true", help="reset the counters")
    stats.set_defaults(func=cmd_stats)

    listing = cache_command(
        "list",
        "what was built: project, version, kind, tags, size, age, last use and the id the build's "
        "line prints (build_wheel hit 1b006ca3); the build directories: project, identity, size, last use",
    )
    listing.add_argument(
        "--all",
        action="store_true",
        help="the internal records too (manifests, sdist aliases, get_requires and metadata answers)",
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(func=cmd_list)

    prune = cache_command(
        "prune", "evict least recently used entries and build directories (default: down to WHEELMEMO_MAX_SIZE or 10G)"
    )
    prune.add_argument("--max-size", type=_size, help="bring the whole cache under this size, e.g. 5G")
    prune.add_argument(
        "--older-than", type=_duration, help="remove entries and build directories unused for this long, e.g. 30d"
    )
    prune.set_defaults(func=cmd_prune)

    clean = cache_command(
        "clean", "remove every entry and build directory not in use right now (--project: one project's)"
    )
    clean.add_argument(
        "--project",
        nargs="?",
        const="",
        metavar="PATH|NAME",
        help="remove only this project's entries and build directories: the project in PATH, or "
        "named NAME (as `wheelmemo list` shows it), or with no value the one found from the "
        "current directory; the compiler cache, which projects share, stays",
    )
    clean.set_defaults(func=cmd_clean)

    export = command("export", "copy the cached wheel for the project's current state, without building")
    export.add_argument("path", nargs="?", help=project)
    export.add_argument("-o", "--out-dir", default="dist", help="where to write it (default: dist)")
    export.add_argument("--editable", action="store_true", help="the editable wheel derived from it")
    export.set_defaults(func=cmd_export)

    verify = command(
        "verify",
        "build the current state plainly in a clean copy and compare it with the cached "
        "wheel, member by member (exit 1: they differ)",
    )
    verify.add_argument("path", nargs="?", help=project)
    verify.add_argument("--json", action="store_true", help="machine-readable output")
    verify.add_argument(
        "--frontend",
        choices=("auto", "uv", "build", "pip", "none"),
        default="auto",
        help="what builds the plain wheel: auto (uv build --wheel if uv is on PATH, else "
        "python -m build --wheel, else pip wheel --no-deps), or none: the backend's "
        "build_wheel in this environment, as --no-build-isolation",
    )
    verify.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logger.colour = args.color
    # warnings of the cache's code read as the command's (``warning: ...``) while it runs;
    # a build hook in this process after it (tests, ``verify --frontend none``) keeps its lines
    logger.command_line = True
    try:
        code = int(args.func(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except (ConfigError, StoreError) as e:
        message("error", str(e))
        return 2
    except BrokenPipeError:  # `wheelmemo list | head`: the reader has what it wanted, as git and uv take it
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit's flush
        return 141 if os.name != "nt" else 1
    finally:
        logger.command_line, logger.colour = False, "auto"
