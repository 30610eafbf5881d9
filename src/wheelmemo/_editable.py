"""Editable wheels derived from the regular wheel (PEP 660), so both share one compile.

The regular wheel is the unit of work.  Each of its files is either the project's own
source -- the same bytes as an input file in the tree, at a path ending with the
member's path -- and is then served from the tree, or it is a build product (a
compiled extension, a generated module, data) and ships inside the editable wheel,
under ``_wheelmemo_editable_<project>/``.  A ``.pth`` file starts the import hook of
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

__all__ = ["EXTENSION_SUFFIXES", "derive_editable"]

_DATE = (1980, 1, 1, 0, 0, 0)
REBUILD_HINT = "run `uv sync` or `pip install -e .` again to rebuild them"


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


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def _tree_prefixes(members: list[_Member], by_digest: Mapping[str, list[str]]) -> dict[str, str]:
    """For each top-level name, the tree directory its sources live under ('' = root)."""
    votes: dict[str, Counter[str]] = {}
    for member in members:
        for label in by_digest.get(member.digest, ()):
            if label == member.path or label.endswith("/" + member.path):
                top = member.path.split("/")[0]
                votes.setdefault(top, Counter())[label[: len(label) - len(member.path)]] += 1
    return {top: counter.most_common(1)[0][0] for top, counter in votes.items()}


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
                name = name[len(lib):]
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
    wheel: Path, dest: Path, tree: Path, inputs: Mapping[str, str], *, project: str, mode: str,
    rebuild: bool = False,
) -> str:
    """Write the editable wheel for ``wheel`` into ``dest``; return its file name."""
    norm = re.sub(r"[-_.]+", "_", project).lower()
    private = f"_wheelmemo_editable_{norm}"
    by_digest: dict[str, list[str]] = {}
    for label, digest in inputs.items():
        by_digest.setdefault(digest.rpartition(":")[2], []).append(label)
    regular = _read_wheel(wheel)
    prefixes = _tree_prefixes(regular.members, by_digest)

    live: set[str] = set()
    sources: dict[str, str] = {}
    modules: dict[str, str] = {}
    packages: dict[str, str] = {}
    copies: dict[str, str] = {}
    roots: set[str] = set()
    shipped: list[_Member] = []
    for member in regular.members:
        top = member.path.split("/", 1)[0]
        prefix = prefixes.get(top)
        if prefix is not None and inputs.get(prefix + member.path, "").rpartition(":")[2] == member.digest:
            live.add(prefix + member.path)
            sources[_top_name(member.path)] = str(tree / (prefix + top))
            roots.add(str(tree / prefix))
            continue
        shipped.append(member)
        name = module_name(member.path)
        if mode == "inplace" and prefix is not None and member.path.endswith(EXTENSION_SUFFIXES):
            copies[prefix + member.path] = member.path
        elif name is not None:
            modules[name] = member.path
        if "/" in member.path:
            packages.setdefault(top, top)

    config: dict[str, Any] = {
        "project": project, "mode": mode, "tree": str(tree),
        "tops": sorted({_top_name(m.path) for m in regular.members}),
        "sources": sources if mode == "redirect" else {},
        "modules": modules, "packages": packages if mode == "redirect" else {},
        "copies": copies, "roots": sorted(roots), "hint": REBUILD_HINT, "rebuild": rebuild,
        "inputs": _fingerprints(tree, inputs, live) if shipped else {},
    }
    built = {m.path: regular.contents[m.info.filename] for m in shipped}
    if mode == "inplace":
        _copy_into_tree(tree, copies, built)

    finder = (Path(__file__).parent / "_editable_finder.py").read_text(encoding="utf-8")
    files: dict[str, tuple[zipfile.ZipInfo | None, bytes]] = {
        f"{private}.py": (None, f"{finder}\nCONFIG = {config!r}\n".encode()),
        f"{private}.pth": (None, f"import {private}; {private}.bootstrap()\n".encode()),
    }
    for member in shipped:
        files[f"{private}/{member.path}"] = (member.info, built[member.path])
    files.update(regular.kept)
    _write_wheel(dest / wheel.name, files, f"{regular.dist_info}/RECORD")
    return wheel.name


def _fingerprints(tree: Path, inputs: Mapping[str, str], live: set[str]) -> dict[str, list[Any]]:
    """[size, mtime_ns, digest] of the inputs the built parts came from (not the live ones)."""
    table: dict[str, list[Any]] = {}
    for label, digest in inputs.items():
        if label in live or not builds_compiled_parts(label):
            continue
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
