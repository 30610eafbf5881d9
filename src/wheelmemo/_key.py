"""The key of a memoized hook: everything that can change what the inner backend builds.

A key is the SHA-256 of its *parts*, a JSON document kept beside the entry so that a
miss can say what changed.  Parts are content, never paths or times:

- ``hook``: ``wheel``, ``editable``, ``metadata-wheel`` or ``metadata-editable``;
- ``inputs``: label -> content digest of every input file (``_inputs``);
- ``config_settings``: as the inner backend receives them, normalized (None == {});
- ``env``: the environment variables the inner backend reads (its adapter's,
  ``backends``; ``SOURCE_DATE_EPOCH`` always, ``[tool.wheelmemo] env`` on top);
- ``interpreter``: implementation, full version string, ABI and platform;
- ``versions``: the inner backend's distribution and the resolved distributions that
  ``build-system.requires`` (and any extra requirements given) names, with their
  dependencies, and nothing else installed; a distribution installed from a path or
  URL (PEP 610) also by the digest of its RECORD (``versions_part``);
- ``toolchain``: a toolchain no version names, by its adapter (``rustc -vV`` for cargo);
- ``tools`` (``get_requires_for_build_*`` only): the programs on PATH whose presence and
  version decide the backend's answer (``Adapter.requires_tools``: scikit-build-core's
  ``cmake`` and ``ninja``);
- ``compiler_cache``: ``"sccache"`` when the compiler cache is on and the backend's
  builds can record it (meson-python: ``Adapter.build_sees_launcher``); elsewhere the
  compiler cache is no part of the key;
- ``vcs``: ``git describe`` when a VCS-versioning plugin is in the ``versions`` closure;
- ``git`` (``build_sdist`` only): the committed tree and the index (``git_part``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import sys
import sysconfig
import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from ._settings import ConfigSettings

__all__ = [
    "FORMAT",
    "backend_family",
    "env_part",
    "git_part",
    "interpreter_part",
    "key_digest",
    "vcs_part",
    "versions_part",
]

#: Bump when the meaning of a key or the shape of an entry changes.
FORMAT = 1

ALWAYS_ENV = ("SOURCE_DATE_EPOCH",)
VCS_PLUGINS = frozenset(
    {
        "setuptools-scm",
        "hatch-vcs",
        "versioningit",
        "dunamai",
        "poetry-dynamic-versioning",
        "pdm-backend-scm",
        "setuptools-git-versioning",
        "flit-scm",
        "uv-dynamic-versioning",
    }
)


def backend_family(ref: str) -> str:
    """The inner backend's top-level module, which picks its adapter (``backends``)."""
    return ref.split(":", maxsplit=1)[0].split(".", maxsplit=1)[0]


def env_part(backend: Collection[str], extra: Sequence[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The variables that the backend reads (``backend``: its adapter's patterns, names
    and globs), ``SOURCE_DATE_EPOCH`` and ``extra``, by a digest of their value (a value
    may be a secret: it never reaches the cache or a log line)."""
    patterns = set(backend)
    patterns.update(ALWAYS_ENV, extra)
    plain = {p for p in patterns if not any(c in p for c in "*?[")}
    globs = [p for p in patterns if p not in plain]
    return {
        name: env_digest(value)
        for name, value in sorted(environ.items())
        if name in plain or any(fnmatch.fnmatchcase(name, g) for g in globs)
    }


def env_digest(value: str | None) -> str:
    """A digest of an environment value, or ``"unset"``; the value itself is never kept."""
    if value is None:
        return "unset"
    return hashlib.sha256(f"env\0{value}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def interpreter_part() -> dict[str, Any]:
    return {
        "implementation": sys.implementation.name,
        "version": sys.version,
        "cache_tag": sys.implementation.cache_tag,
        "abiflags": getattr(sys, "abiflags", ""),
        "ext_suffix": sysconfig.get_config_var("EXT_SUFFIX"),
        "soabi": sysconfig.get_config_var("SOABI"),
        "gil_disabled": sysconfig.get_config_var("Py_GIL_DISABLED"),
        "platform": sysconfig.get_platform(),
        "maxsize": sys.maxsize,
    }


# A PEP 508 name: it cannot end in ".", "-" or "_", so backtracking leaves those to
# whatever follows ("foo-bar>=1", "foo[x]", "foo @ url", "foo; marker", "foo (>=1)").
_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)")


def canonical_name(name: str) -> str:
    """PEP 503 normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(text: str) -> str | None:
    """The canonical distribution name a PEP 508 requirement names (markers, extras,
    version specifiers and URLs are not read)."""
    match = _NAME.match(text)
    return canonical_name(match.group(1)) if match else None


def _installed(paths: Sequence[str]) -> dict[str, tuple[str, str]]:
    """canonical name -> (version, .dist-info path) of what ``paths`` hold; first wins."""
    found: dict[str, tuple[str, str]] = {}
    for entry in paths:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                stem = name.rsplit(".", 1)[0]
                dist, _, version = stem.partition("-")
                found.setdefault(canonical_name(dist), (version.split("-")[0], os.path.join(entry, name)))
    return found


def _header_lines(path: str) -> list[str]:
    """The header lines of an email-style metadata file (METADATA, PKG-INFO).

    Only the part before the blank line that starts the body (the long description,
    often most of the file) is decoded and split.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    return data.split(b"\n\n", 1)[0].decode("utf-8", "replace").splitlines()


def _requires_dist(dist_info: str) -> list[str]:
    """The names in a distribution's Requires-Dist (requires.txt for an .egg-info),
    whatever their markers or extras."""
    names = []
    if dist_info.endswith(".egg-info"):
        try:
            with open(os.path.join(dist_info, "requires.txt"), encoding="utf-8", errors="replace") as f:
                lines = [line for line in f if not line.startswith("[")]  # [extra] / [:marker]
        except OSError:
            return []
        for line in lines:
            match = _NAME.match(line)
            if match:
                names.append(match.group(1))
        return names
    for line in _header_lines(os.path.join(dist_info, "METADATA")):
        if line.startswith("Requires-Dist:"):
            match = _NAME.match(line, len("Requires-Dist:"))
            if match:
                names.append(match.group(1))
    return names


def _sha256_16(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _installed_state(version: str, info: str) -> str:
    """What the key records of one installed distribution.

    From an index, a version names one set of files, so the version is enough; this
    common case costs one ``os.path.exists``.  A distribution installed from a path or a
    URL (PEP 610: its .dist-info holds ``direct_url.json``) can be rebuilt without a
    version bump, so it is also keyed by its RECORD, which lists every installed file
    with its hash: another build of the same version has another RECORD.  Without a
    RECORD, the digest of direct_url.json stands in (it changes with a VCS commit, not
    with a local edit: the best there is short of hashing the files).

    Two cases stay keyed by version alone, marked so that the key's parts show it:
    a PEP 660 editable install, whose RECORD lists only its ``.pth``/finder while its
    code lives in its own source tree, and an ``.egg-info`` (``setup.py develop``, legacy
    ``setup.py install``), which has no RECORD.  Hashing their source trees on every
    hook call would cost more than a hit; after editing such a build requirement,
    build with ``wheelmemo.disable=true`` or clear the cache.
    """
    if info.endswith(".egg-info"):
        if not version:  # a develop install's foo.egg-info names no version
            version = next(
                (
                    line[len("Version:") :].strip()
                    for line in _header_lines(os.path.join(info, "PKG-INFO"))
                    if line.startswith("Version:")
                ),
                "",
            )
        return f"{version} (egg-info)"
    direct_url_path = os.path.join(info, "direct_url.json")
    if not os.path.exists(direct_url_path):  # a stat is cheaper than a failed open
        return version
    try:
        with open(direct_url_path, "rb") as f:
            direct_url = f.read()
    except OSError:
        direct_url = b"unreadable"
    try:
        editable = json.loads(direct_url).get("dir_info", {}).get("editable") is True
    except (ValueError, AttributeError):
        editable = False
    kind = "direct editable" if editable else "direct"
    try:
        with open(os.path.join(info, "RECORD"), "rb") as f:
            record = f.read()
    except OSError:
        digest = _sha256_16(b"\0".join([direct_url, version.encode(), b"no RECORD"]))
        return f"{version} ({kind}, no RECORD, direct_url {digest})"
    return f"{version} ({kind}, RECORD {_sha256_16(_installed_files(record))})"


def _installed_files(record: bytes) -> bytes:
    """The lines of a RECORD that say what code was installed, in one order.

    What each installation writes for itself is left out, so that one build of a
    distribution installed into two environments (uv's and pip's isolated ones) has one
    state: a script's hash (its ``#!`` line names that environment's interpreter; the
    script's name stays), the bytecode pip compiles and uv does not, and the installer's
    own files (``INSTALLER``, ``REQUESTED``, ``direct_url.json``, ``RECORD``).
    """
    kept = []
    for line in record.splitlines():
        path = line.partition(b",")[0]
        name = path.rsplit(b"/", 1)[-1]
        if b"__pycache__/" in path or (
            b".dist-info/" in path and name in (b"INSTALLER", b"REQUESTED", b"direct_url.json", b"RECORD")
        ):
            continue
        kept.append(path if path.startswith(b"../") else line)  # outside the package: a script
    return b"\n".join(sorted(kept))


def versions_part(
    requires: Sequence[str], backend_module: str, paths: Sequence[str] | None = None, *, extra: Sequence[str] = ()
) -> dict[str, str]:
    """Versions of the build requirements' closure, plus the backend's own distribution.

    ``requires`` and ``extra`` are PEP 508 strings, e.g. ``build-system.requires`` and
    what the inner ``get_requires_for_build_*`` returned; only their names are read,
    and a requirement that is not installed is recorded as ``"missing"``.  The closure
    follows every Requires-Dist whatever its marker or extra: a dependency that a
    marker excludes is normally not installed and so adds nothing, and one that is
    installed anyway is kept (when in doubt, miss).  Distributions outside the closure
    are left out, so that build environments that differ only by unrelated packages
    agree.  A member installed from a path or URL is keyed by its RECORD too
    (``_installed_state``).  Reading directory names and a few METADATA headers keeps
    this off ``importlib.metadata`` and ``packaging``: a hit must stay cheap.
    """
    installed = _installed(sys.path if paths is None else paths)
    versions: dict[str, str] = {}
    stack = []
    for text in (*requires, *extra):
        match = _NAME.match(text)
        if match:
            name = canonical_name(match.group(1))
            stack.append(name)
            versions.setdefault(name, "missing")
    seen: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen or name not in installed:
            continue
        seen.add(name)
        version, dist_info = installed[name]
        versions[name] = _installed_state(version, dist_info)
        stack.extend(canonical_name(n) for n in _requires_dist(dist_info))
    backend = canonical_name(backend_module)
    if backend not in versions and backend in installed:
        versions[f"backend:{backend}"] = _installed_state(*installed[backend])
    return dict(sorted(versions.items()))


def git_part(root: str) -> str | None:
    """What an sdist may take from git beyond the working tree's files: the tree of the
    last commit and the index, as a digest; None outside a git checkout.

    ``meson dist`` (meson-python) packs the last commit, not the working tree, and
    setuptools-scm's file finder ships the files git tracks: an sdist made before a
    commit or a ``git add`` is not the one a build after it makes.
    """
    import subprocess

    digest = hashlib.sha256()
    for command in (["git", "rev-parse", "--verify", "-q", "HEAD^{tree}"], ["git", "ls-files", "--stage", "-z"]):
        try:
            out = subprocess.run(command, cwd=root, capture_output=True, stdin=subprocess.DEVNULL, check=False)
        except OSError:
            return "git: not found"
        if out.returncode != 0 and command[1] == "ls-files":
            return None  # not a git checkout (a repository without a commit has an index)
        digest.update(out.stdout + b"\0")
    return digest.hexdigest()


def vcs_part(versions: Mapping[str, str], root: str) -> str | None:
    """The git state, when a VCS-versioning plugin is among ``versions``: the closure of
    the build requirements, so a plugin that another requirement depends on counts."""
    if not VCS_PLUGINS.intersection(versions):
        return None
    import subprocess

    try:
        out = subprocess.run(
            ["git", "describe", "--tags", "--long", "--dirty", "--always", "--abbrev=40"],
            cwd=root,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except OSError:
        return "git: not found"
    state = out.stdout.strip() if out.returncode == 0 else "not a git checkout"
    if state.endswith("-dirty"):
        # setuptools-scm puts today's date in the version of a dirty tree
        state += time.strftime(" %Y%m%d", time.gmtime())
    return state


def normalize_config_settings(config_settings: ConfigSettings) -> dict[str, Any]:
    return {k: v for k, v in sorted((config_settings or {}).items())}


def inputs_digest(inputs: Mapping[str, str]) -> str:
    """One digest of every (label, content digest) pair; labels hold no NUL or newline."""
    text = "".join(f"{label}\0{inputs[label]}\n" for label in sorted(inputs))
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def sdist_alias_key(unpacked_inputs_digest: str) -> str:
    """Where the tree state an sdist was made from is recorded, by the sdist's content."""
    return hashlib.sha256(f"sdist-alias\0{unpacked_inputs_digest}".encode()).hexdigest()


def key_digest(parts: Mapping[str, Any]) -> str:
    """The key: a digest of every part but ``project`` (a label) and ``inputs``, which
    counts through ``inputs_digest`` (for an unpacked sdist, the digest of the tree it
    was made from)."""
    body = {k: v for k, v in parts.items() if k not in ("project", "inputs", "sdist_of")}
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def diff_parts(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What changed between two keys' parts, in words, inputs first."""
    changes: list[str] = []
    old_inputs, new_inputs = old.get("inputs") or {}, new.get("inputs") or {}
    changes += [f"{p} changed" for p in new_inputs if p in old_inputs and old_inputs[p] != new_inputs[p]]
    changes += [f"{p} added" for p in new_inputs if p not in old_inputs]
    changes += [f"{p} removed" for p in old_inputs if p not in new_inputs]
    for part in (
        "config_settings",
        "env",
        "interpreter",
        "versions",
        "build_requires",
        "toolchain",
        "compiler_cache",
        "tools",
        "vcs",
        "backend",
        "hook",
        "format",
        "wheelmemo",
    ):
        before, after = old.get(part), new.get(part)
        if before == after:
            continue
        if part == "interpreter" and isinstance(before, dict) and isinstance(after, dict):
            changes.append(_interpreter_change(before, after))
        elif isinstance(before, dict) and isinstance(after, dict):
            for name in sorted(set(before) | set(after)):
                if before.get(name) == after.get(name):
                    continue
                if part == "env":  # digests: say which, never a value
                    state = "set" if name not in before else "unset" if name not in after else "changed"
                    changes.append(f"{name} {state}")
                else:
                    changes.append(f"{part} {name}: {before.get(name)} → {after.get(name)}")
        else:
            changes.append(f"{part} changed")
    return changes


def _interpreter_change(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """ "Python 3.12.1 → 3.13.0", not the five fields a new interpreter changes."""

    def name(part: Mapping[str, Any]) -> str:
        implementation = str(part.get("implementation") or "python")
        label = "Python" if implementation == "cpython" else implementation
        return f"{label} {str(part.get('version') or '?').split()[0]}"

    old, new = name(before), name(after)
    if old != new:
        same = old.split()[0] == new.split()[0]
        return f"{old} → {new.split()[1] if same else new}"
    # the same version, built otherwise (free-threaded, another platform or ABI)
    changed = [field for field in sorted(set(before) | set(after)) if before.get(field) != after.get(field)]
    return f"{new}, another build of it ({', '.join(changed)})"


def summarize(changes: Sequence[str], most: int = 2) -> str:
    if not changes:
        return "same inputs, entry gone"
    if len(changes) <= most:
        return ", ".join(changes)
    return f"{', '.join(changes[:most])} and {len(changes) - most} more"
