"""Build systems that own the compiler's dependency output: CMake (scikit-build-core) and
meson (meson-python).

CMake and meson run every compile with ``-MD -MF file``, so gcc and clang ignore
``DEPENDENCIES_OUTPUT`` (``_recorder.Recorder``) and report their reads to the build
system instead: Ninja keeps them in its deps log (``.ninja_deps``, binary, read here in
pure Python), other depfiles stay in the build directory (meson's Cython ``*.dep``,
CMake's Makefile generator's ``*.d``, ``compiler_depend.make``, ``depend.make``), and
``build.ninja`` names each step's declared inputs (the ``.pyx`` a Cython step reads, the
files a configure step read).  All of this is read after every miss, as cargo's dep-info
is, and becomes learned inputs: a gitignored generated source the build compiled, a
header outside the tree (``include_directories('../shared')``), a ``.pxd``.

Both backends build in a temporary directory removed before they return, unless the user
names one; a miss of a regular wheel then hands them wheelmemo's persistent one
(``_ninja_builddir``), else one inside its scratch directory (``build_dir_plan``),
through ``config_settings['build-dir']``, which both read.  It is not part of the key
(the frontend's config settings are) and changes no wheel member: their default is a
fresh temporary directory, configured from scratch, and so is ours.  Editable builds are
left alone (the build directory is written into the editable wheel); their own directory
is read when there is one.

Relative paths in these records are relative to the build directory, where Ninja runs
the compiler; files inside the build directory are the build's outputs, never inputs.
"""

from __future__ import annotations

import glob
import os
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._inputs import NATIVE_SOURCE_SUFFIXES
from ._recorder import parse_make_deps

if TYPE_CHECKING:
    from .backends import Adapter

__all__ = [
    "BuildSystemFindings",
    "assembler_include",
    "build_dir_plan",
    "build_dirs",
    "parse_build_ninja",
    "parse_ninja_deps",
    "read_build_dirs",
]

NINJA_DEPS_MAGIC = b"# ninjadeps\n"
#: ninja's ``kMaxRecordSize``: a longer record is damage, not data
_MAX_RECORD = (1 << 19) - 1
#: a depfile or build.ninja longer than this is not read (and the findings are incomplete)
_MAX_TEXT = 64 * 1024 * 1024
_DEPFILE_NAMES = ("compiler_depend.make", "depend.make")
_DEPFILE_SUFFIXES = (".d", ".dep")


# -- where the build directory is ---------------------------------------------------------
#: an assembler directive that reads a file: at the start of a line, of a string or of
#: a line in one (after a ``\n``, ``\t`` or ``;`` in the C string)
_ASSEMBLER_READ = re.compile(rb'(?:^|["\s;]|\\[nrt])\.(?:incbin|include)\b', re.MULTILINE)
#: larger files are not sources (they would be read whole)
_ASM_SCAN_LIMIT = 16 << 20


def assembler_include(root: Path, labels: Iterable[str]) -> str | None:
    """The first of the project's sources (``labels``) that makes the assembler read a
    file (``.incbin``, ``.include``), or None.  No dependency list names such a file
    (gcc's ``-MD`` and rustc's dep-info list what the preprocessor and rustc read), so
    neither Ninja, cargo nor sccache would see it change: a build that keeps objects
    must not be used for such a project (ccache refuses ``.incbin`` for the same reason)."""
    for label in labels:
        # every source a compiler reads can reach an assembler: inline ``asm`` (C, C++,
        # Cython's verbatim C), ``global_asm!`` (Rust), ``.S``
        if not label.endswith(NATIVE_SOURCE_SUFFIXES):
            continue
        try:
            with open(root / label, "rb") as f:
                data = f.read(_ASM_SCAN_LIMIT)
        except OSError:
            continue
        if (b".incbin" in data or b".include" in data) and _ASSEMBLER_READ.search(data):
            return label
    return None


def build_dir_plan(
    adapter: Adapter,
    kind: str,
    root: Path,
    *,
    pyproject: Mapping[str, Any],
    config: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    scratch: Path,
    persistent: Path | None = None,
) -> tuple[dict[str, str], list[str]]:
    """The config settings to add for this build (a build directory when the user named
    none and it changes nothing else: ``persistent``, wheelmemo's own for a regular wheel
    (``_ninja_builddir``), else one in ``scratch``), and glob patterns of the build
    directories to read after it (``build_dirs``: a user's may not exist yet).  Which
    backends take a build directory, and where the user names one, are the adapter's
    (``Adapter.user_build_dirs``, ``Adapter.build_dir_config``)."""
    if kind not in ("wheel", "editable"):
        return {}, []  # the other hooks compile nothing
    named = adapter.user_build_dirs(kind, pyproject, config or {}, environ)
    if named is None:
        return {}, []
    user = [value for value in named if isinstance(value, str) and value]
    if user:
        return {}, [_pattern(root, value) for value in user]
    if kind != "wheel":
        return {}, []
    ours = persistent or scratch / "build-dir"
    return adapter.build_dir_config(ours), [glob.escape(str(ours))]


def _pattern(root: Path, value: str) -> str:
    """A user's ``build-dir`` as a glob: scikit-build-core's placeholders (``{wheel_tag}``,
    ``{build_type}``…) match any name."""
    path = value if os.path.isabs(value) else os.path.join(root, value)
    return "*".join(glob.escape(part) for part in re.split(r"\{[^{}]*\}", os.path.normpath(path)))


def build_dirs(patterns: list[str], root: Path) -> list[Path]:
    """The directories the patterns of ``build_dir_plan`` name now (never the project)."""
    found: list[Path] = []
    top = Path(os.path.abspath(root))
    for pattern in patterns:
        for match in sorted(glob.glob(pattern)):
            path = Path(os.path.abspath(match))
            if path.is_dir() and path != top and path not in found:
                found.append(path)
    return found


# -- what the build directory records --------------------------------------------------------
class BuildSystemFindings:
    """What the records of some build directories name."""

    def __init__(self, build_dirs: list[Path]) -> None:
        #: absolute path -> what reported it
        self.files: dict[str, str] = {}
        #: the build directories: outputs, never inputs
        self.build_dirs = [str(d) for d in build_dirs]
        #: every record was read whole (False: a damaged deps log, an unreadable file)
        self.complete = True
        #: a compiler's reads were reported (a deps log or depfile named a file)
        self.compiler_reported = False


def read_build_dirs(build_dirs: list[Path], *, fresh: bool = False) -> BuildSystemFindings:
    """Read the deps log, depfiles and ``build.ninja`` of each build directory.

    ``fresh``: the directories were made by this build (wheelmemo's own), so every file a
    compiler reported existed: one missing outside them was resolved against the wrong
    directory, and the findings are incomplete (a user's directory may keep records of
    sources deleted since, which ninja keeps until it compacts its log).
    """
    findings = BuildSystemFindings(build_dirs)
    outputs: set[str] = set()
    reported: set[str] = set()
    for build_dir in build_dirs:
        base = str(build_dir)

        def add(dep: str, source: str, base: str = base) -> None:
            findings.files.setdefault(os.path.normpath(os.path.join(base, dep)), source)

        deps_log = build_dir / ".ninja_deps"
        if deps_log.is_file():
            try:
                data = deps_log.read_bytes()
            except OSError:
                findings.complete = False
                data = b""
            records, whole = parse_ninja_deps(data)
            findings.complete &= whole
            for deps in records.values():
                findings.compiler_reported |= bool(deps)
                for dep in deps:
                    add(dep, "a compiler (Ninja deps log)")
                    reported.add(os.path.normpath(os.path.join(base, dep)))
        for depfile in _depfiles(build_dir):
            text = _read_text(depfile)
            if text is None:
                findings.complete = False
                continue
            deps = parse_make_deps(text)
            findings.compiler_reported |= bool(deps)
            for dep in deps:
                add(dep, f"a compiler (depfile {depfile.name})")
                reported.add(os.path.normpath(os.path.join(base, dep)))
        if (build_dir / "build.ninja").is_file():
            inputs, outs, whole = _ninja_files(build_dir)
            findings.complete &= whole
            for dep in inputs:
                add(dep, "a step of build.ninja")
            outputs.update(os.path.normpath(os.path.join(base, out)) for out in outs)
    # a step's output is no input, nor is anything in a build directory (generated files)
    for path in [p for p in findings.files if p in outputs or _in_any(p, findings.build_dirs)]:
        del findings.files[path]
    if fresh and any(p in reported and not os.path.exists(p) for p in findings.files):
        findings.complete = False
    return findings


def _in_any(path: str, directories: list[str]) -> bool:
    return any(path.startswith(d.rstrip(os.sep) + os.sep) for d in directories)


def _depfiles(build_dir: Path) -> Iterator[Path]:
    for directory, dirs, names in os.walk(build_dir):
        dirs.sort()
        for name in sorted(names):
            if name in _DEPFILE_NAMES or name.endswith(_DEPFILE_SUFFIXES):
                yield Path(directory, name)


def _read_text(path: Path) -> str | None:
    try:
        if os.stat(path).st_size > _MAX_TEXT:
            return None
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            return f.read()
    except OSError:
        return None


def parse_ninja_deps(data: bytes) -> tuple[dict[str, list[str]], bool]:
    """Ninja's deps log (``src/deps_log.cc``): each output's dependencies, as its latest
    record has them, and whether the whole log was read.

    The log is ``"# ninjadeps\\n"``, a version (int32: 3 or 4), then records, each a
    uint32 whose high bit marks a deps record and whose rest is the record's size.  A
    path record is the path, NUL-padded to 4 bytes, and the one's complement of its id;
    a deps record is the output's id, its mtime (4 bytes in version 3, 8 in 4) and the
    ids of its dependencies.  All integers are in the writing machine's byte order.
    Reading stops at the first damaged record (as ninja does): what came before is kept.
    """
    if len(data) < 16 or not data.startswith(NINJA_DEPS_MAGIC):
        return {}, False
    (version,) = struct.unpack_from("=i", data, 12)
    if version not in (3, 4):
        return {}, False
    mtime_size = 8 if version == 4 else 4
    paths: list[str] = []
    deps: dict[int, list[int]] = {}
    pos, end = 16, len(data)
    whole = True
    while pos < end:
        if pos + 4 > end:
            whole = False
            break
        (head,) = struct.unpack_from("=I", data, pos)
        size = head & 0x7FFFFFFF
        if size > _MAX_RECORD or size % 4 or pos + 4 + size > end:
            whole = False
            break
        body = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
        if head & 0x80000000:
            if size < 4 + mtime_size:
                whole = False
                break
            count = (size - 4 - mtime_size) // 4
            (out,) = struct.unpack_from("=i", body, 0)
            ids = list(struct.unpack_from(f"={count}i", body, 4 + mtime_size))
            if not all(0 <= i < len(paths) for i in (out, *ids)):
                whole = False
                break
            deps[out] = ids  # a later record of an output replaces the earlier one
        else:
            if size < 4:
                whole = False
                break
            (checksum,) = struct.unpack_from("=I", body, size - 4)
            if checksum != ~len(paths) & 0xFFFFFFFF:
                whole = False
                break
            paths.append(os.fsdecode(body[: size - 4].rstrip(b"\0")))
    return {paths[out]: [paths[i] for i in ids] for out, ids in deps.items()}, whole


# -- build.ninja ------------------------------------------------------------------------------
def _ninja_files(build_dir: Path) -> tuple[list[str], list[str], bool]:
    """The inputs and outputs of every step of ``build.ninja`` and the files it includes."""
    inputs: list[str] = []
    outputs: list[str] = []
    whole = True
    pending, seen = ["build.ninja"], set()
    while pending:
        name = pending.pop()
        path = os.path.normpath(os.path.join(build_dir, name))
        if path in seen:
            continue
        seen.add(path)
        text = _read_text(Path(path))
        if text is None:
            whole = False
            continue
        edges, included = parse_build_ninja(text)
        pending += included
        for outs, ins in edges:
            outputs += outs
            inputs += ins
    return inputs, outputs, whole


_TOKEN = re.compile(r"\$(?:\n[ \t]*|[ :$])|\$\{?[A-Za-z0-9_.-]+\}?|\|\|?@?|:|[ \t]+|[^$|: \t]+|\$")


def parse_build_ninja(text: str) -> tuple[list[tuple[list[str], list[str]]], list[str]]:
    """The ``build`` statements of a Ninja file, each as (outputs, inputs), and the files
    it includes (``include``, ``subninja``).

    Inputs are the explicit and implicit ones (order-only inputs order steps, they are not
    read); the outputs of ``phony`` steps are names, not files, and are left out.  A path
    holding a variable reference (``$out``) is left out: its value is not known here.
    """
    edges: list[tuple[list[str], list[str]]] = []
    included: list[str] = []
    for line in _logical_lines(text):
        if line.startswith(("include ", "subninja ")):
            tokens = _paths(line.split(None, 1)[1])
            included += [value for kind, value in tokens if kind == "path"]
            continue
        if not line.startswith("build "):
            continue
        tokens = _paths(line[len("build ") :])
        outs: list[str] = []
        ins: list[str] = []
        rule: str | None = None
        section = "out"
        for kind, value in tokens:
            if kind == ":":
                section = "rule"
            elif kind in ("|", "||", "|@"):
                if section in ("in", "rule"):
                    section = {"|": "in", "||": "order", "|@": "order"}[kind]
                # "|" among the outputs: implicit outputs follow, still outputs
            elif kind == "path":
                if section == "out":
                    outs.append(value)
                elif section == "rule":
                    rule, section = value, "in"
                elif section == "in":
                    ins.append(value)
        edges.append(([] if rule == "phony" else outs, ins))
    return edges, included


def _logical_lines(text: str) -> Iterator[str]:
    """Lines with ``$``-newline continuations joined (the next line's indent dropped)."""
    buffer = ""
    for raw in text.splitlines():
        line = raw if not buffer else raw.lstrip(" ")
        if _escapes_newline(line):
            buffer += line[:-1]
            continue
        yield buffer + line
        buffer = ""
    if buffer:
        yield buffer


def _escapes_newline(line: str) -> bool:
    """Whether the line ends in an unescaped ``$`` (an odd run of dollars)."""
    run = len(line) - len(line.rstrip("$"))
    return run % 2 == 1


def _paths(text: str) -> list[tuple[str, str]]:
    """Tokens of a build line: ("path", value), ":", "|", "||", "|@"."""
    tokens: list[tuple[str, str]] = []
    current: list[str] = []
    unknown = False

    def flush() -> None:
        nonlocal unknown
        if current and not unknown:
            tokens.append(("path", "".join(current)))
        current.clear()
        unknown = False

    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in ("$ ", "$:", "$$"):
            current.append(piece[1])
        elif piece.startswith("$\n"):
            continue
        elif piece.startswith("$"):
            unknown = True  # a variable (or a lone "$"): not a literal path
            current.append(piece)
        elif piece in ("|", "||", "|@", ":"):
            flush()
            tokens.append((piece, piece))
        elif piece.isspace():
            flush()
        else:
            current.append(piece)
    flush()
    return tokens
