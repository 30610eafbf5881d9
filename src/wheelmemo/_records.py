"""What a file of the cache may hold: one check per record kind, and the stored names.

Every record is read through :func:`check_record` (entries, by kind: wheels, metadata,
``get_requires`` answers, manifests of learned inputs, sdist aliases), parts files
through :func:`check_parts`, the project index through :func:`check_projects` and
statistics lines through :func:`is_event`.  A record that parses but holds the wrong
types, or a name that could leave its destination, raises one of :data:`INVALID`:
the store discards it and the build goes on.  Hand-written, no schema library: these
checks run on every hit.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import time
from typing import Any, NamedTuple

__all__ = ["FORMAT", "INVALID", "TREE_PREFIX", "Entry", "StoredFile", "check_record", "checksum"]

FORMAT = 1
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
    return (name != "" and not name.startswith("/") and not any(c in name for c in _UNSAFE)
            and all(part not in ("", ".", "..") for part in name.split("/")))


def is_strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_files(kind: str, files: object) -> tuple[StoredFile, ...]:
    """The ``files`` of a record: ``[name, blob digest, size]`` each, with names fit for
    the kind (a wheel is one file named like a wheel; only a native editable has files of
    the tree; metadata is one ``.dist-info`` directory)."""
    if not isinstance(files, list):
        raise TypeError("files is not a list")
    stored = []
    for item in files:
        if not (isinstance(item, list) and len(item) == 3 and isinstance(item[0], str)
                and is_digest(item[1]) and is_size(item[2])):
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


def check_learned(learned: object) -> None:
    """The learned inputs of a result (``_learned``'s record): ``files``, ``env``,
    ``dists`` and ``modules`` map names to ``[state, source]``; ``read`` lists labels."""
    if not isinstance(learned, dict):
        raise TypeError("learned inputs are not an object")
    for part in ("files", "env", "dists", "modules"):
        states = learned.get(part)
        if states is not None and not (isinstance(states, dict) and all(
                isinstance(name, str) and is_strings(state) and len(state) == 2
                for name, state in states.items())):
            raise ValueError(f"learned {part} is not a map of [state, source]")
    read = learned.get("read")
    if read is not None and not is_strings(read):
        raise ValueError("learned read is not a list of labels")


def check_manifest(value: object) -> None:
    """A manifest's value: the results of a declared key, each ``{key, learned}``."""
    if not isinstance(value, list):
        raise TypeError("a manifest is not a list")
    for candidate in value:
        if not (isinstance(candidate, dict) and is_digest(candidate.get("key"))):
            raise ValueError("a manifest candidate has no key")
        check_learned(candidate.get("learned"))


def check_sdist_alias(value: object) -> None:
    """What an sdist was made from: the tree's inputs digest and the files it differs in."""
    if not (isinstance(value, dict) and isinstance(value.get("tree"), str)
            and is_strings(value.get("differs"))
            and (value.get("equivalent") is None or is_strings(value.get("equivalent")))
            and (value.get("project") is None or isinstance(value.get("project"), str))):
        raise ValueError("an sdist alias is not {tree, differs, equivalent}")


def check_value(kind: str, value: object) -> None:
    """The small JSON value of a record, as the memoizer reads it for ``kind``."""
    if kind == "manifest":
        check_manifest(value)
    elif kind == "sdist-alias":
        check_sdist_alias(value)
    elif kind.startswith("requires-") and not is_strings(value):
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
    if not (is_seconds(body.get("created")) and is_seconds(body.get("build_seconds"))
            and body["build_seconds"] >= 0):
        raise ValueError("created or build_seconds is not a number")
    if body.get("project") is not None and not isinstance(body["project"], str):
        raise ValueError("project is not a string")
    files = check_files(kind, body.get("files"))
    if not is_size(body.get("size")) or body["size"] != sum(f.size for f in files):
        raise ValueError("size is not the sum of the files' sizes")
    check_value(kind, body.get("value"))
    return Entry(key, kind, files, float(body["created"]), float(body["build_seconds"]), body.get("value"))


def make_record(key: str, kind: str, files: tuple[StoredFile, ...], *, build_seconds: float,
                value: Any, project: object) -> tuple[bytes, Entry]:
    """The bytes of an entry record, in the format every store shares, and the entry
    they describe; one of INVALID when ``check_record`` would refuse them: what is
    written passes the check every read makes, or it is not written."""
    body = {
        "format": FORMAT, "key": key, "kind": kind, "created": time.time(),
        "build_seconds": build_seconds, "value": value,
        "project": project if isinstance(project, str) else None, "size": sum(f.size for f in files),
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
        if value is not None and not (isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items())):
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


def is_event(event: object) -> bool:
    """One line of ``stats.jsonl`` as ``wheelmemo stats`` counts it: a hook call of the
    local cache, or what one did with the remote (``"tier": "remote"``)."""
    if isinstance(event, dict) and event.get("tier") == "remote":
        return (isinstance(event.get("project"), str) and isinstance(event.get("kind"), str)
                and all(is_size(event.get(name, 0)) for name in REMOTE_COUNTS)
                and all(is_seconds(event.get(name)) and event[name] >= 0 for name in ("seconds", "saved")))
    return (isinstance(event, dict) and isinstance(event.get("project"), str)
            and isinstance(event.get("kind"), str) and event.get("event") in ("hit", "miss", "verify")
            and isinstance(event.get("mismatch", False), bool)
            and is_seconds(event.get("seconds")) and event["seconds"] >= 0)
