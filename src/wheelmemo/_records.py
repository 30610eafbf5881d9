"""What a file of the cache may hold: one check per record kind, and the stored names.

Every record is read through :func:`check_record` (entries, by kind: wheels, metadata,
``get_requires`` answers, manifests of learned inputs, sdist aliases), parts files
through :func:`check_parts`, the project index through :func:`check_projects` and
statistics lines through :func:`is_event`.  A record that parses but holds the wrong
types, a name that could leave its destination, a file a hit must not look at (a root,
``..``, ``/proc``, ``/dev``, ``/sys``: :func:`is_label`), a kind wheelmemo never writes
(:data:`KINDS`), or more than a build ever records (the ``MAX_`` bounds) raises one of
:data:`INVALID`: the store discards it and the build goes on.  The local cache and a
remote share these checks: whoever can write to either is not trusted by them.
Hand-written, no schema library: these checks run on every hit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
from typing import Any, NamedTuple

__all__ = [
    "FORMAT",
    "INVALID",
    "KINDS",
    "MAX_CANDIDATES",
    "TREE_PREFIX",
    "Entry",
    "StoredFile",
    "check_record",
    "checksum",
    "is_label",
]

FORMAT = 1
#: Every kind of entry: a hook's result (``_memo``), the list of a declared key's results
#: (``manifest``, ``_engine``) and what an sdist was made from (``sdist-alias``, ``_keys``).
KINDS = frozenset(
    {
        "wheel",
        "editable",
        "sdist",
        "metadata-wheel",
        "metadata-editable",
        "requires-wheel",
        "requires-editable",
        "requires-sdist",
        "manifest",
        "sdist-alias",
    }
)
#: How many results one declared key keeps, newest first (each with its learned inputs).
MAX_CANDIDATES = 8
# Bounds on what one record may hold, far above what a build records (a remote record is
# at most 16 MiB anyway): a record past them is not one wheelmemo wrote, and checking it
# would cost a hit more than the build it stands for.
#: stored files of one entry (a native editable's compiled modules in the tree)
MAX_FILES = 10_000
#: learned files, variables, distributions or modules of one result
MAX_LEARNED = 100_000
#: project files one build read or shipped, requirements, labels an sdist differs in
MAX_LABELS = 1_000_000
#: one label, name or state: a path no longer than PATH_MAX (a dangling link's state
#: is its target's path, after a short prefix)
MAX_NAME = 4096
#: Where no file a record names may be: kernel and device trees (a FIFO, ``/dev/zero``,
#: ``/proc/self/fd/0`` can block or never end).
SYSTEM_DIRS = ("/dev", "/proc", "/sys")
#: Stored names of the files a native editable build wrote into the project's tree
#: (``_memo.TREE_PREFIX``): relative to the tree, not to a destination directory.
TREE_PREFIX = "tree:"


#: characters no stored name may hold: a backslash separates directories on Windows,
#: a NUL ends a path in C, and on Windows a colon names a drive or a stream
_UNSAFE = ("\\", "\0", ":") if sys.platform == "win32" else ("\\", "\0")


class StoredFile(NamedTuple):
    name: str
    """Path relative to the destination: a wheel's basename or a ``.dist-info/`` member;
    ``tree:<path>`` for a file of the project's tree (native editables)."""
    blob: str
    size: int


class Entry(NamedTuple):
    key: str
    kind: str
    files: tuple[StoredFile, ...]
    created: float
    build_seconds: float
    value: Any = None
    """A small JSON value kept in the record itself (``get_requires_*`` answers)."""


def checksum(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def load_json(raw: bytes) -> Any:
    """Parsed JSON; ValueError for anything else, nesting too deep included."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None


#: what the checks below raise: TypeError for a member of the wrong type, ValueError else
INVALID = (TypeError, ValueError)


# -- what a record may hold: one check per kind of file --------------------------------
def is_digest(value: object) -> bool:
    """64 lowercase hex digits: a key or a blob's SHA-256, the only file names made of them."""
    return isinstance(value, str) and len(value) == 64 and not value.strip("0123456789abcdef")


def is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def is_seconds(value: object) -> bool:
    """A finite number (json reads NaN and Infinity); a bool is no number here."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_relative_name(name: str) -> bool:
    """A relative POSIX path of plain segments, which stays below the directory it is
    joined to: no empty, ``.`` or ``..`` segment, no leading ``/``, no backslash or NUL."""
    return name != "" and not any(c in name for c in _UNSAFE) and _plain_segments(f"/{name}/")


def _plain_segments(path: str) -> bool:
    """``path``, between its first and last ``/``, holds no empty, ``.`` or ``..`` segment
    (string searches: this runs for every name of every record read)."""
    return "//" not in path and "/./" not in path and "/../" not in path


def is_strings(value: object, limit: int = MAX_LABELS) -> bool:
    """A list of at most ``limit`` strings of at most ``MAX_NAME`` characters."""
    return (
        isinstance(value, list)
        and len(value) <= limit
        and all(isinstance(item, str) and len(item) <= MAX_NAME for item in value)
    )


def is_text(value: object, limit: int = MAX_NAME) -> bool:
    """A string a path or a digest can be made of: at most ``limit`` characters, and
    encodable as a file name (json reads lone surrogates, which no file name holds)."""
    if not (isinstance(value, str) and len(value) <= limit):
        return False
    if value.isascii():
        return True
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True


_SYSTEM_PREFIXES = tuple(top + "/" for top in SYSTEM_DIRS)


def is_under_system(path: str) -> bool:
    return path.startswith(_SYSTEM_PREFIXES) or path in SYSTEM_DIRS


def is_label(value: object) -> bool:
    """A file a record may name (a learned input, a build directory's input): a relative
    name inside the project (:func:`is_relative_name`), or a normalized absolute path
    outside it that is not a root (``/``, ``//``) and not under a kernel or device tree.
    (Checked on every hit, for every learned file: string tests, no ``normpath``.)"""
    if not (isinstance(value, str) and value and is_text(value)) or "\0" in value:
        return False
    if os.sep == "/" and value.startswith("/"):
        return _plain_segments(value + "/") and not is_under_system(value)
    if os.path.isabs(value):  # C:\dir\file
        return os.path.normpath(value) == value and os.path.dirname(value) != value
    return is_relative_name(value)


def _is_name(value: object) -> bool:
    """A variable's, distribution's or module's name: no NUL, no path."""
    return isinstance(value, str) and value != "" and is_text(value) and not any(c in value for c in "\0/\\")


def _is_module(value: object) -> bool:
    """A top-level module's name: one with a dot would import its package to be looked up."""
    return _is_name(value) and "." not in str(value)


def _is_env_name(value: object) -> bool:
    return isinstance(value, str) and value != "" and is_text(value) and "\0" not in value and "=" not in value


def _is_state(value: object) -> bool:
    """``[state, source]`` of a learned input."""
    return isinstance(value, list) and len(value) == 2 and is_text(value[0], 2 * MAX_NAME) and is_text(value[1])


def check_files(kind: str, files: object) -> tuple[StoredFile, ...]:
    """The ``files`` of a record: ``[name, blob digest, size]`` each, with names fit for
    the kind (a wheel is one file named like a wheel; only a native editable has files of
    the tree; metadata is one ``.dist-info`` directory)."""
    if not isinstance(files, list):
        raise TypeError("files is not a list")
    if len(files) > MAX_FILES:
        raise ValueError(f"{len(files)} files")
    stored = []
    for item in files:
        if not (
            isinstance(item, list) and len(item) == 3 and is_text(item[0]) and is_digest(item[1]) and is_size(item[2])
        ):
            raise ValueError(f"{str(item)[:80]} is not [name, blob digest, size]")
        name = item[0]
        relative = name.removeprefix(TREE_PREFIX)
        if not is_relative_name(relative):
            raise ValueError(f"file name {name[:80]!r} is not a relative path")
        stored.append(StoredFile(name, item[1], item[2]))
    in_tree = [f.name.startswith(TREE_PREFIX) for f in stored]
    if kind in ("wheel", "editable"):
        first = stored[0].name if stored else ""
        if "/" in first or not first.endswith(".whl") or len(first) < 5 or in_tree[0]:
            raise ValueError(f"a {kind} entry's first file {first[:80]!r} is no wheel")
        if not all(in_tree[1:]) or (kind == "wheel" and len(stored) > 1):
            raise ValueError(f"a {kind} entry holds other files than its wheel")
    elif any(in_tree):
        raise ValueError(f"a {kind} entry holds files of the tree")
    if kind.startswith("metadata-"):
        tops = {f.name.split("/")[0] for f in stored if "/" in f.name}
        if len(tops) != 1 or not all("/" in f.name for f in stored):
            raise ValueError("a metadata entry is not one directory")
    return tuple(stored)


#: the parts of a learned-inputs record (``_learned``) that map names to ``[state, source]``,
#: with what their names must be
_LEARNED_MAPS = {"files": is_label, "env": _is_env_name, "dists": _is_name, "modules": _is_module}
_LEARNED_PARTS = frozenset({*_LEARNED_MAPS, "read", "sealed"})


def check_learned(learned: object) -> None:
    """The learned inputs of a result (``_learned``'s record): ``files``, ``env``,
    ``dists`` and ``modules`` map names to ``[state, source]`` (files by :func:`is_label`:
    what a hit stats and hashes), ``read`` lists the project files read (names compared,
    never opened), ``sealed`` is a bool; each within the bounds above."""
    if not isinstance(learned, dict):
        raise TypeError("learned inputs are not an object")
    unknown = set(learned) - _LEARNED_PARTS
    if unknown:
        raise ValueError(f"learned inputs hold {str(min(unknown))[:40]!r}")
    for part, is_name in _LEARNED_MAPS.items():
        states = learned.get(part)
        if states is not None and not (
            isinstance(states, dict)
            and len(states) <= MAX_LEARNED
            and all(is_name(name) and _is_state(state) for name, state in states.items())
        ):
            raise ValueError(f"learned {part} is not a map of names to [state, source]")
    if learned.get("read") is not None and not is_strings(learned["read"]):
        raise ValueError("learned read is not a list of labels")
    if learned.get("sealed") is not None and not isinstance(learned["sealed"], bool):
        raise ValueError("learned sealed is not a bool")


def check_manifest(value: object) -> None:
    """A manifest's value: the results of a declared key (at most ``MAX_CANDIDATES``),
    each ``{key, learned[, narrow]}``."""
    if not isinstance(value, list):
        raise TypeError("a manifest is not a list")
    if len(value) > MAX_CANDIDATES:
        raise ValueError(f"a manifest of {len(value)} results")
    for candidate in value:
        if not (isinstance(candidate, dict) and is_digest(candidate.get("key"))):
            raise ValueError("a manifest candidate has no key")
        if not set(candidate) <= {"key", "learned", "narrow"} or not isinstance(candidate.get("narrow", False), bool):
            raise ValueError("a manifest candidate holds more than key, learned and narrow")
        check_learned(candidate.get("learned"))


def check_sdist_alias(value: object) -> None:
    """What an sdist was made from: the tree's inputs digest, the labels it differs in and
    those as good as the tree's (names compared, never opened), the project, the git state."""
    if not (
        isinstance(value, dict)
        and set(value) <= {"tree", "differs", "equivalent", "project", "vcs"}
        and is_digest(value.get("tree"))
        and is_strings(value.get("differs"))
        and (value.get("equivalent") is None or is_strings(value.get("equivalent")))
        and all(value.get(name) is None or is_text(value[name]) for name in ("project", "vcs"))
    ):
        raise ValueError("an sdist alias is not {tree, differs, equivalent, project, vcs}")


def check_value(kind: str, value: object) -> None:
    """The small JSON value of a record, as the memoizer reads it for ``kind``."""
    if kind == "manifest":
        check_manifest(value)
    elif kind == "sdist-alias":
        check_sdist_alias(value)
    elif kind.startswith("requires-") and not is_strings(value, MAX_FILES):
        raise ValueError("requirements are not a list of strings")


def check_record(key: str, record: object) -> Entry:
    """The entry an entry record describes; one of INVALID when it is not one wheelmemo wrote."""
    if not isinstance(record, dict):
        raise TypeError("not an object")
    body = {name: value for name, value in record.items() if name != "checksum"}
    if record.get("checksum") != checksum(body):
        raise ValueError("checksum mismatch")
    fmt, kind = body.get("format"), body.get("kind")
    if not (isinstance(fmt, int) and not isinstance(fmt, bool) and fmt == FORMAT):
        raise ValueError(f"format {str(fmt)[:20]} is not {FORMAT}")
    if body.get("key") != key or not is_digest(key):
        raise ValueError("the record is another key's")
    if not isinstance(kind, str):
        raise TypeError("kind is not a string")
    if kind not in KINDS:
        raise ValueError(f"kind {kind[:40]!r} is none wheelmemo writes")
    if not (is_seconds(body.get("created")) and is_seconds(body.get("build_seconds")) and body["build_seconds"] >= 0):
        raise ValueError("created or build_seconds is not a number")
    if body.get("project") is not None and not is_text(body["project"]):
        raise ValueError("project is not a string")
    files = check_files(kind, body.get("files"))
    if not is_size(body.get("size")) or body["size"] != sum(f.size for f in files):
        raise ValueError("size is not the sum of the files' sizes")
    check_value(kind, body.get("value"))
    return Entry(key, kind, files, float(body["created"]), float(body["build_seconds"]), body.get("value"))


def make_record(
    key: str, kind: str, files: tuple[StoredFile, ...], *, build_seconds: float, value: Any, project: object
) -> tuple[bytes, Entry]:
    """The bytes of an entry record, in the format every store shares, and the entry
    they describe; one of INVALID when ``check_record`` would refuse them: what is
    written passes the check every read makes, or it is not written."""
    body = {
        "format": FORMAT,
        "key": key,
        "kind": kind,
        "created": time.time(),
        "build_seconds": build_seconds,
        "value": value,
        "project": project if isinstance(project, str) else None,
        "size": sum(f.size for f in files),
        "files": [[f.name, f.blob, f.size] for f in files],
    }
    record = json.dumps(dict(body, checksum=checksum(body))).encode()
    return record, check_record(key, load_json(record))


def check_parts(parts: object) -> bool:
    """What a key was made of, as ``explain`` reads it: name -> digest maps are maps of
    strings, and a result's parts (they name a project) have the versions it adopts."""
    if not isinstance(parts, dict):
        return False
    for name in ("inputs", "versions", "build_requires"):
        value = parts.get(name)
        if value is not None and not (
            isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
        ):
            return False
    if "project" in parts and not isinstance(parts.get("versions"), dict):
        return False
    try:
        if "learned" in parts:
            check_learned(parts["learned"])
    except INVALID:
        return False
    return True


def check_projects(data: object) -> dict[str, str]:
    """A projects file's members that are what it holds: hook kind -> key."""
    if not isinstance(data, dict):
        return {}
    return {kind: key for kind, key in data.items() if isinstance(kind, str) and is_digest(key)}


#: what a line of ``stats.jsonl`` about the remote counts, besides its times
REMOTE_COUNTS = ("hit", "miss", "upload", "error", "timeout", "bytes_down", "bytes_up")
#: what a line of ``stats.jsonl`` about the compiler cache counts (``_compcache.stats_counts``)
COMPILER_COUNTS = (
    "requests",
    "hits",
    "misses",
    "not_cacheable",
    "errors",
    "timeouts",
    "size",
    "remote_hits",
    "uploads",
    "remote_errors",
)


def is_event(event: object) -> bool:
    """One line of ``stats.jsonl`` as ``wheelmemo stats`` counts it: a hook call of the
    local cache, what one did with the remote (``"tier": "remote"``), or what sccache
    did in a build (``"tier": "sccache"``)."""
    if isinstance(event, dict) and event.get("tier") == "sccache":
        return (
            isinstance(event.get("project"), str)
            and isinstance(event.get("kind"), str)
            and all(is_size(event.get(name, 0)) for name in COMPILER_COUNTS)
        )
    if isinstance(event, dict) and event.get("tier") == "remote":
        return (
            isinstance(event.get("project"), str)
            and isinstance(event.get("kind"), str)
            and all(is_size(event.get(name, 0)) for name in REMOTE_COUNTS)
            and all(is_seconds(event.get(name)) and event[name] >= 0 for name in ("seconds", "saved"))
        )
    return (
        isinstance(event, dict)
        and isinstance(event.get("project"), str)
        and isinstance(event.get("kind"), str)
        and event.get("event") in ("hit", "miss", "verify")
        and isinstance(event.get("mismatch", False), bool)
        and is_seconds(event.get("seconds"))
        and event["seconds"] >= 0
    )
