"""Editable wheels derived from the regular wheel (PEP 660), so both share one compile.

The regular wheel is the unit of work.  Each of its files is either the project's own
source -- the same bytes as an input file in the tree, in the directory its top-level
package comes from, which may have another name (see :func:`_tree_dirs`) -- and is
then served from the tree, or it is a build product (a compiled extension, a generated
module, data) and ships inside the editable wheel, under
``_wheelmemo_editable_<project>/``.  A ``.pth`` file starts the import hook of
``_editable_finder`` (copied into the wheel: the target environment need not have
wheelmemo).  The metadata, entry points and ``.data`` files are the regular wheel's.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import zipfile
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from ._inputs import EXTENSION_SUFFIXES, builds_compiled_parts
from ._log import warn_once

__all__ = ["EXTENSION_SUFFIXES", "derive_editable"]

_DATE = (1980, 1, 1, 0, 0, 0)


def rebuild_hint(project: str, *, project_table: bool = True) -> str:
    """A command that rebuilds whatever uv's cache-keys say (uv sync alone rebuilds
    only when one of them changed).  ``uv sync`` installs only a project with a
    ``[project]`` table: one whose metadata lives in setup.py is reinstalled by
    ``uv pip install``."""
    if not project_table:
        return f"rebuild with `uv pip install --reinstall-package {project} -e .` or `pip install -e .`"
    return f"rebuild with `uv sync --reinstall-package {project}` or `pip install -e .`"


class _Member(NamedTuple):
    path: str  # the member's path relative to the installation root
    info: zipfile.ZipInfo
    digest: str


def module_name(path: str) -> str | None:
    """``a/b/c.py`` -> ``a.b.c``; ``a/__init__.py`` -> ``a``; an extension by its stem."""
    parts = path.split("/")
    stem = parts[-1].split(".")[0]
    if path.endswith(".py"):
        return ".".join(parts[:-1] if stem == "__init__" else [*parts[:-1], stem])
    if path.endswith(EXTENSION_SUFFIXES):
        return ".".join([*parts[:-1], stem])
    return None


def _top_name(path: str) -> str:
    """The importable top-level name a wheel member belongs to."""
    first = path.split("/", 1)[0]
    return first if "/" in path else (module_name(first) or first)


def _digest(fingerprint: str) -> str:
    """The SHA-256 of an input's fingerprint (which may carry a ``kind:`` prefix)."""
    return fingerprint.rpartition(":")[2]


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


#: An empty file says nothing about where it comes from (``__init__.py``, ``py.typed``):
#: it cannot make a tree directory of another name than its package a candidate.
_EMPTY = hashlib.sha256(b"").hexdigest()
_PURE_SUFFIXES = (".py", ".pyi")


def _tree_dirs(members: list[_Member], by_digest: Mapping[str, list[str]]) -> dict[str, str]:
    """For each first path segment of the wheel, the tree path it is served from.

    A member ``top/rest`` votes for each tree directory ``D`` holding a file ``D/rest``
    with its bytes: the backend copied ``D`` to ``top``.  ``D`` usually ends with
    ``top`` (``src/pkg``: an exact match) but need not -- setuptools' ``package-dir =
    {"pkg" = "lib"}``, hatch's ``sources``, maturin's ``python-source`` with another
    module name.  The directory with the most votes wins, an exact one on a tie.  A
    directory of another name must have the vote of a non-empty pure-Python file: a
    LICENSE, a ``py.typed`` or an empty ``__init__.py`` found somewhere else in the tree
    must not turn a generated package into a view of an unrelated directory (they count,
    for a directory that is a candidate anyway).  Two such directories on a tie are a
    guess: the package is not mapped.  A top-level module is only matched by its own
    file name (a renamed single-file module is no real layout).  Values are tree labels:
    ``""`` is the tree root, an absolute path an outside input.
    """
    votes: dict[str, Counter[str]] = {}
    credible: set[tuple[str, str]] = set()  # (top, directory of another name) a module voted for
    for member in members:
        top, sep, rest = member.path.partition("/")
        pure = member.path.endswith(_PURE_SUFFIXES) and member.digest != _EMPTY
        for label in by_digest.get(member.digest, ()):
            if not sep:  # a top-level module
                if label == top or label.endswith("/" + top):
                    votes.setdefault(top, Counter())[label] += 1
                continue
            if label == rest:
                base = ""
            elif label.endswith("/" + rest):
                base = label[: -len(rest) - 1]
            else:
                continue
            votes.setdefault(top, Counter())[base] += 1
            if pure:
                credible.add((top, base))
    dirs: dict[str, str] = {}
    for top, counter in votes.items():
        # most votes first, then exact ones; sorted() is stable, so among exact
        # directories with as many votes the first seen wins, as it always did
        ranked = sorted(
            ((base, count) for base, count in counter.items() if _is_exact(base, top) or (top, base) in credible),
            key=lambda kv: (-kv[1], not _is_exact(kv[0], top)),
        )
        if not ranked:
            continue
        best, count = ranked[0]
        if _is_exact(best, top) or len(ranked) == 1 or ranked[1][1] < count:
            dirs[top] = best
    return dirs


def _is_exact(base: str, top: str) -> bool:
    """Whether the tree path ``base`` has the name of the wheel's ``top``."""
    return base == top or base.endswith("/" + top)


def _tree_label(base: str, path: str) -> str:
    """The tree label of member ``path`` when its first segment is served from ``base``."""
    rest = path.partition("/")[2]
    if not rest:
        return base
    return f"{base}/{rest}" if base else rest


class _Wheel(NamedTuple):
    dist_info: str
    members: list[_Member]  # what installs into site-packages
    kept: dict[str, tuple[zipfile.ZipInfo, bytes]]  # metadata and .data files, as they are
    contents: dict[str, bytes]  # by archive name


def _read_wheel(wheel: Path) -> _Wheel:
    with zipfile.ZipFile(wheel) as zf:
        infos = [i for i in zf.infolist() if not i.is_dir()]
        contents = {i.filename: zf.read(i) for i in infos}
    dist_info = next(n.split("/", 1)[0] for n in contents if n.split("/", 1)[0].endswith(".dist-info"))
    data_dir = dist_info[: -len(".dist-info")] + ".data"
    members: list[_Member] = []
    kept: dict[str, tuple[zipfile.ZipInfo, bytes]] = {}
    for info in infos:
        name = info.filename
        if name.startswith(f"{dist_info}/"):
            if name != f"{dist_info}/RECORD":
                kept[name] = (info, contents[name])
            continue
        for lib in (f"{data_dir}/purelib/", f"{data_dir}/platlib/"):
            if name.startswith(lib):
                name = name[len(lib) :]
                break
        else:
            if name.startswith(f"{data_dir}/"):  # scripts, headers, data
                kept[name] = (info, contents[name])
                continue
        if name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"{wheel.name} has a member outside the installation root: {name!r}")
        members.append(_Member(name, info, hashlib.sha256(contents[info.filename]).hexdigest()))
    return _Wheel(dist_info, members, kept, contents)


def derive_editable(
    wheel: Path,
    dest: Path,
    tree: Path,
    inputs: Mapping[str, str],
    *,
    project: str,
    mode: str,
    rebuild: bool = False,
    learned: Mapping[str, Any] | None = None,
    project_table: bool = True,
) -> str:
    """Write the editable wheel for ``wheel`` into ``dest``; return its file name.

    ``learned`` is what the wheel's build was seen reading (``_learned``): its files and
    environment variables are watched by the stale check too.  ``project_table``: whether
    pyproject.toml has a ``[project]`` table (the stale warning's command depends on it).
    """
    norm = re.sub(r"[-_.]+", "_", project).lower()
    private = f"_wheelmemo_editable_{norm}"
    by_digest: dict[str, list[str]] = {}
    for label, digest in inputs.items():
        by_digest.setdefault(_digest(digest), []).append(label)
    regular = _read_wheel(wheel)
    dirs = _tree_dirs(regular.members, by_digest)

    sources: dict[str, str] = {}
    modules: dict[str, str] = {}
    packages: dict[str, str] = {}
    copies: dict[str, str] = {}
    roots: set[str] = set()
    #: packages in a directory of another name: no sys.path entry can import them, so
    #: the finder serves them in inplace mode too
    renamed: set[str] = set()
    shipped: list[_Member] = []
    for member in regular.members:
        top = member.path.split("/", 1)[0]
        base = dirs.get(top)
        here = None if base is None else _tree_label(base, member.path)
        if base is not None and here is not None and _digest(inputs.get(here, "")) == member.digest:
            sources[_top_name(member.path)] = str(tree / base)
            if _is_exact(base, top):
                roots.add(os.path.dirname(str(tree / base)))
            else:
                renamed.add(top)
            continue
        shipped.append(member)
        name = module_name(member.path)
        if mode == "inplace" and here is not None and member.path.endswith(EXTENSION_SUFFIXES):
            copies[here] = member.path  # beside the package's sources: lib/, not pkg/
        elif name is not None:
            modules[name] = member.path
        if "/" in member.path:
            packages.setdefault(top, top)
    _warn_unmapped(regular.members, dirs, by_digest)

    config: dict[str, Any] = {
        "project": project,
        "mode": mode,
        "tree": str(tree),
        "tops": sorted({_top_name(m.path) for m in regular.members}),
        "sources": sources if mode == "redirect" else {t: sources[t] for t in sorted(renamed)},
        "modules": modules,
        "packages": packages if mode == "redirect" else {t: packages[t] for t in sorted(renamed & set(packages))},
        "copies": copies,
        "roots": sorted(roots),
        "hint": rebuild_hint(project, project_table=project_table),
        "rebuild": rebuild,
        "inputs": _fingerprints(tree, inputs, learned or {}) if shipped else {},
        "env": {name: state[0] for name, state in ((learned or {}).get("env") or {}).items()} if shipped else {},
    }
    built = {m.path: regular.contents[m.info.filename] for m in shipped}
    if mode == "inplace":
        _copy_into_tree(tree, copies, built)

    finder = (Path(__file__).parent / "_editable_finder.py").read_text(encoding="utf-8")
    files: dict[str, tuple[zipfile.ZipInfo | None, bytes]] = {
        f"{private}.py": (None, f"{finder}\nCONFIG = {config!r}\n".encode()),
        f"{private}.pth": (None, _pth_line(private).encode()),
    }
    for member in shipped:
        files[f"{private}/{member.path}"] = (member.info, built[member.path])
    files.update(regular.kept)
    _write_wheel(dest / wheel.name, files, f"{regular.dist_info}/RECORD")
    return wheel.name


def _pth_line(finder: str) -> str:
    """The ``.pth`` line that starts the finder, one line as ``site`` wants it.

    A finder that cannot be imported is skipped, not an error: pip's build environments
    run ``site.addsitedir`` of the target environment with ``sys.path`` emptied (to learn
    which paths to hide), and an interpreter that has not imported the standard library
    modules the finder needs yet then fails to import it; ``site`` reports the error by
    importing ``traceback``, which fails too, and the process loses its standard library
    (a second ``pip install -e`` of a maturin project failed so).
    """
    body = f"try:\n import {finder} as f\nexcept ImportError:\n f = None\nif f is not None:\n f.bootstrap()"
    return f"import sys; exec({body!r})\n"


def _warn_unmapped(members: list[_Member], dirs: Mapping[str, str], by_digest: Mapping[str, list[str]]) -> None:
    """Say which packages ship as copies although their sources are in the tree.

    A backend that puts files into a package under other names (hatch's
    ``force-include``) leaves no tree directory to serve the package from, and one file
    found in two directories leaves a guess: the package ships frozen, as it always
    did, but an edit of its sources would otherwise silently do nothing until the next
    install.  Only a package shipped as a whole is reported: one served from the tree
    may still ship a file the backend moved (a ``package-dir`` of its own for a
    subpackage), as it always did.
    """
    found: dict[str, tuple[str, str]] = {}
    for member in members:
        top, sep, _ = member.path.partition("/")
        if not sep or top in dirs or top in found:
            continue  # a top-level module of another name is no real layout
        if member.path.endswith(_PURE_SUFFIXES) and member.digest != _EMPTY and member.digest in by_digest:
            found[top] = (member.path, min(by_digest[member.digest]))
    for top, (path, label) in found.items():
        warn_once(
            f"editable: package {top!r} is served as a copy, not from the tree: the wheel's {path} "
            f"is {label} of the tree, but no one tree directory holds its files at the wheel's paths; "
            f"edits to its sources need a reinstall"
        )


def _fingerprints(tree: Path, inputs: Mapping[str, str], learned: Mapping[str, Any]) -> dict[str, list[Any]]:
    """[size, mtime_ns, digest] of the inputs the built parts came from.

    That includes a native source the wheel also carries (a ``.pyx`` or ``.c`` next to
    the package's modules, served from the tree like them): editing it changes the
    compiled parts all the same; and every file the build was seen reading (a header in
    ``../shared``, a generated file pulled in by ``include_str!``).
    """
    table: dict[str, list[Any]] = {}
    watched = {label: digest for label, digest in inputs.items() if builds_compiled_parts(label)}
    for label, (state, _) in (learned.get("files") or {}).items():
        if re.fullmatch(r"(x:)?[0-9a-f]{64}", state):  # a file's content, not "missing" or a dir
            watched[label] = state
    for label, digest in watched.items():
        try:
            st = os.stat(label if os.path.isabs(label) else tree / label)
        except OSError:
            continue
        table[label] = [st.st_size, st.st_mtime_ns, digest]
    return table


def _copy_into_tree(tree: Path, copies: Mapping[str, str], data: Mapping[str, bytes]) -> None:
    for relpath, member in copies.items():
        target = tree / relpath
        try:
            if not target.is_file() or target.read_bytes() != data[member]:
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp = target.with_name(f".{target.name}.wheelmemo-tmp")
                tmp.write_bytes(data[member])
                os.chmod(tmp, 0o755)
                os.replace(tmp, target)
        except OSError as e:  # a read-only tree: the import hook puts it back later
            from ._log import warn_once

            warn_once(f"cannot copy {relpath} into the tree ({e})")


def _write_wheel(path: Path, files: Mapping[str, tuple[zipfile.ZipInfo | None, bytes]], record: str) -> None:
    lines = []
    tmp = path.with_name(f".{path.name}.wheelmemo-tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, (original, data) in files.items():
            info = zipfile.ZipInfo(name, _DATE)
            info.external_attr = original.external_attr if original else 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
            lines.append(f"{name},{_record_hash(data)},{len(data)}")
        lines.append(f"{record},,")
        zf.writestr(zipfile.ZipInfo(record, _DATE), "\n".join(lines) + "\n")
    os.replace(tmp, path)
