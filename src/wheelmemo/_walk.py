"""List the files of a project tree that git would not ignore, without git.

This module owns one question: which files under a project root would
``git ls-files --others --cached --exclude-standard`` report (files that
exist, each once)?  It answers it without running git: a walk applies the
ignore rules and git's index file is read for the tracked files, so it
works the same inside a repository, outside one and in an unpacked sdist,
and its answer never depends on the machine: the user's global excludes
file is not read, matching is case-sensitive everywhere.

What is honoured:

* ``.gitignore`` in the root and in every directory below it (patterns are
  relative to the directory holding the file; deeper files take precedence
  over shallower ones), and ``<root>/.git/info/exclude`` (lowest
  precedence, like git).  A ``.gitignore`` that is a symbolic link is not
  read, as git (2.32 and later) does not read it either.
* The full pattern language of gitignore(5), ported from git's ``dir.c``
  and ``wildmatch.c``: comments, blank lines, ``\\#``/``\\!`` escapes,
  trailing spaces unless escaped, ``!`` negation, trailing ``/`` for
  directories only, anchoring by a leading or middle ``/``, ``*``, ``?``,
  ``[...]`` classes (``!``/``^`` negation, ranges, ``[:alpha:]`` names),
  ``**`` in leading, middle and trailing positions, last match wins.
  Patterns are matched as bytes, as git does (``?`` is one byte of the
  UTF-8 name, not one character).
* Ignored directories are not descended into, so nothing below them can
  be re-included by a negated pattern, as in git.

What is skipped besides: anything named ``.git`` (a repository directory or
a worktree's pointer file), directories whose basename is in ``skip_dirs``,
directories below the root that hold a ``pyvenv.cfg`` (virtualenvs), and
entries that are neither regular files, symbolic links nor directories
(FIFOs, sockets, devices; git skips those too).

Symbolic links are never followed: each one is listed like a file, whatever
it points to (a file, a directory, nothing), exactly as git lists it; the
caller decides what to do with it.

Files tracked in git's index are listed even when an ignore rule matches
them (git never ignores a tracked file), also below ignored directories.
The index (``<root>/.git/index``, or the one a ``.git`` file's ``gitdir:``
names: a linked worktree or a submodule) is parsed here, not asked of git:
versions 2 to 4, SHA-1 or SHA-256 object names.  A tracked path counts only
while it exists below the root as a file or symbolic link, outside skipped
and virtualenv directories and below real directories only (not through a
symbolic link).  An index that cannot be read or parsed (a split index, an
unknown version, a truncated file) adds nothing: the listing is then what
the ignore rules alone give.  Parsed indexes are remembered by the index
file's stat, in this process and, when the caller passes a ``memo`` dict,
between processes.

With a ``memo``, the walk itself is remembered too, with the stat of every
directory it listed and of every ignore file it read: a later walk whose
directories and ignore files all have the same stat (an entry added, removed
or renamed changes its directory's; an edit of an ignore file, its own) gives
the same listing without listing a directory.  As for the index, nothing is
remembered of a walk that saw a change within two seconds (racily clean).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import re
import stat
import time
from typing import Any, Callable

__all__ = [
    "INDEX_MEMO_KEY",
    "WALK_MEMO_KEY",
    "list_tree",
    "parse_index",
    "stat_signature",
    "tool_signature",
    "tracked_paths",
]

# Characters that make git treat a pattern as non-literal (dir.c simple_length).
_WILDCARDS = frozenset("*?[\\")

_ASCII_ALPHA = frozenset(range(0x41, 0x5B)) | frozenset(range(0x61, 0x7B))
_ASCII_DIGIT = frozenset(range(0x30, 0x3A))
_ASCII_GRAPH = frozenset(range(0x21, 0x7F))
# git's own ctype table (ctype.c), not the C library's: ASCII only, and
# isspace() is exactly tab, newline, carriage return and space.
_CHAR_CLASSES: dict[str, frozenset[int]] = {
    "alnum": _ASCII_ALPHA | _ASCII_DIGIT,
    "alpha": _ASCII_ALPHA,
    "blank": frozenset((0x09, 0x20)),
    "cntrl": frozenset(range(0x20)) | frozenset((0x7F,)),
    "digit": _ASCII_DIGIT,
    "graph": _ASCII_GRAPH,
    "lower": frozenset(range(0x61, 0x7B)),
    "print": _ASCII_GRAPH | frozenset((0x20,)),
    "punct": _ASCII_GRAPH - _ASCII_ALPHA - _ASCII_DIGIT,
    "space": frozenset((0x09, 0x0A, 0x0D, 0x20)),
    "upper": frozenset(range(0x41, 0x5B)),
    "xdigit": _ASCII_DIGIT | frozenset(b"abcdefABCDEF"),
}
_SLASH = 0x2F


class _NeverMatches(Exception):
    """The pattern is malformed in a way that makes git never match it."""


def _simple_length(pattern: str) -> int:
    """Length of the leading part of pattern that holds no wildcard."""
    for i, ch in enumerate(pattern):
        if ch in _WILDCARDS:
            return i
    return len(pattern)


def _trim_trailing_spaces(line: str) -> str:
    """Drop unescaped trailing spaces (port of dir.c trim_trailing_spaces)."""
    if not line.endswith(" "):
        return line
    last_space = -1
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if ch == " ":
            if last_space < 0:
                last_space = i
        elif ch == "\\":
            i += 1
            if i >= n:
                return line
            last_space = -1
        else:
            last_space = -1
        i += 1
    return line[:last_space] if last_space >= 0 else line


def _class_regex(chars: set[int]) -> str:
    """A regex character class matching exactly the given byte values."""
    chars.discard(0)
    chars.discard(_SLASH)  # WM_PATHNAME: a class never matches "/"
    if not chars:
        return "(?!)"
    parts: list[str] = []
    ordered = sorted(chars)
    start = prev = ordered[0]
    for c in [*ordered[1:], -1]:
        if c == prev + 1:
            prev = c
            continue
        if start == prev:
            parts.append(f"\\x{start:02x}")
        else:
            parts.append(f"\\x{start:02x}-\\x{prev:02x}")
        start = prev = c
    return "[" + "".join(parts) + "]"


def _parse_named_class(pattern: str, j: int, chars: set[int]) -> tuple[int, bool]:
    """Handle "[" at pattern[j] inside a bracket, followed by ":".

    Returns the index of the last character consumed and whether it was a
    "[:name:]" class (which, like a range, cannot start a range).
    """
    close = pattern.find("]", j + 2)
    if close < 0:
        raise _NeverMatches
    inner = pattern[j + 2 : close]
    if not inner or inner[-1] != ":":
        chars.add(ord("["))  # not a "[:name:]": the "[" is an ordinary member
        return j, False
    members = _CHAR_CLASSES.get(inner[:-1])
    if members is None:
        raise _NeverMatches
    chars.update(members)
    return close, True


def _parse_class(pattern: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression opening at pattern[i] == "[".

    Returns the regex and the index just past the closing "]".  Follows
    wildmatch.c: "]" first in the set is literal, "!" or "^" negates, a
    "-" between two characters makes a range, "[:name:]" is a named class,
    a backslash escapes the next character; an unterminated bracket or an
    unknown class name makes the whole pattern never match.
    """
    n = len(pattern)
    j = i + 1
    negated = j < n and pattern[j] in "!^"
    if negated:
        j += 1
    chars: set[int] = set()
    prev: str | None = None  # last single member: a range may start there
    first = True
    while j < n and (first or pattern[j] != "]"):
        first = False
        ch = pattern[j]
        if ch == "-" and prev is not None and j + 1 < n and pattern[j + 1] != "]":
            j += 1
            if pattern[j] == "\\":
                j += 1
            if j >= n:
                raise _NeverMatches
            chars.update(range(ord(prev), ord(pattern[j]) + 1))
            prev = None
        elif ch == "[" and pattern.startswith(":", j + 1):
            j, named = _parse_named_class(pattern, j, chars)
            prev = None if named else "["
        else:
            if ch == "\\":
                j += 1
                if j >= n:
                    raise _NeverMatches
                ch = pattern[j]
            chars.add(ord(ch))
            prev = ch
        j += 1
    if j >= n:
        raise _NeverMatches  # no closing "]"
    if negated:
        chars = set(range(1, 256)) - chars
    return _class_regex(chars), j + 1


def _translate(pattern: str) -> str:
    """Translate a wildmatch pattern (WM_PATHNAME) to a regex body.

    The pattern's start counts as a directory boundary for ``**``, as the
    start of the string handed to wildmatch does in git.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "*":
            j = i
            while j < n and pattern[j] == "*":
                j += 1
            boundary_before = i == 0 or pattern[i - 1] == "/"
            if j - i >= 2 and boundary_before and j == n:
                out.append(".*")  # trailing "**": everything
            elif j - i >= 2 and boundary_before and pattern[j] == "/":
                out.append("(?:.*/)?")  # "**/": zero or more directories
                j += 1
            elif j - i >= 2 and boundary_before and pattern.startswith("\\/", j):
                out.append(".*")  # "**\/": slashes allowed, at least one
            else:
                out.append("[^/]*")
            i = j
        elif ch == "?":
            out.append("[^/]")
            i += 1
        elif ch == "[":
            regex, i = _parse_class(pattern, i)
            out.append(regex)
        elif ch == "\\":
            if i + 1 >= n:
                raise _NeverMatches  # a trailing backslash matches nothing
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(ch))
            i += 1
    return "".join(out)


class _Table:
    """The patterns of one ignore file that apply to one kind of entry.

    Literal basenames, ``*suffix`` patterns and literal paths (the bulk of
    real ignore files) are looked up in dicts; only the rest goes through
    one regex per kind, which tries the patterns last-first.
    """

    __slots__ = (
        "always",
        "base_groups",
        "base_parts",
        "base_re",
        "literals",
        "path_groups",
        "path_literals",
        "path_parts",
        "path_re",
        "suffixes",
    )

    def __init__(self) -> None:
        self.always = -1  # last pattern matching every basename ("*")
        self.literals: dict[str, int] = {}  # basename -> pattern index
        # "*suffix" patterns by the suffix's last character, last-first
        self.suffixes: dict[str, list[tuple[int, str]]] = {}
        self.base_parts: list[tuple[int, str]] = []
        self.base_re: re.Pattern[str] | None = None
        self.base_groups: list[int] = []
        self.path_literals: dict[str, int] = {}  # root-relative path -> index
        self.path_parts: list[tuple[int, str]] = []
        self.path_re: re.Pattern[str] | None = None
        self.path_groups: list[int] = []

    def finish(self) -> None:
        """Compile what was collected; called once per ignore file."""
        for bucket in self.suffixes.values():
            bucket.sort(reverse=True)
        self.base_re, self.base_groups = _alternation(self.base_parts)
        self.path_re, self.path_groups = _alternation(self.path_parts)

    def matcher(self) -> Callable[[str, str], int]:
        """A function (basename, root-relative path) -> index of the last
        pattern matching that entry, or -1.  Everything it needs is bound
        in its closure: it runs for every entry of the tree.
        """
        always = self.always
        literal = self.literals.get
        path_literal = self.path_literals.get
        suffixes = self.suffixes.get
        base_re = None if self.base_re is None else self.base_re.fullmatch
        base_groups = self.base_groups
        path_re = None if self.path_re is None else self.path_re.fullmatch
        path_groups = self.path_groups

        def last_match(name: str, rel: str) -> int:
            best = max(always, literal(name, -1), path_literal(rel, -1))
            bucket = suffixes(name[-1])
            if bucket is not None:
                for k, suffix in bucket:  # last-first: the first hit is the one
                    if k <= best:
                        break
                    if name.endswith(suffix):
                        best = k
                        break
            if base_re is not None:
                m = base_re(name)
                if m is not None:
                    best = max(best, base_groups[m.lastindex or 0])
            if path_re is not None:
                m = path_re(rel)
                if m is not None:
                    best = max(best, path_groups[m.lastindex or 0])
            return best

        return last_match


def _alternation(parts: list[tuple[int, str]]) -> tuple[re.Pattern[str] | None, list[int]]:
    """One regex trying the patterns last-first; group number -> index."""
    if not parts:
        return None, []
    ordered = sorted(parts, reverse=True)
    regex = "|".join(f"({body})" for _, body in ordered)
    return re.compile(regex, re.DOTALL), [-1] + [k for k, _ in ordered]


class _Level:
    """The compiled patterns of one ignore file."""

    __slots__ = ("dirs", "files", "match_dir", "match_file", "negated")

    def __init__(self, data: bytes, base: str) -> None:
        """Compile the ignore file contents; base is "" or "dir/sub/"."""
        self.files = _Table()
        self.dirs = _Table()
        self.negated: list[bool] = []
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        # latin-1 maps each byte to one character: regexes then see bytes,
        # as git's wildmatch does.
        for raw in data.decode("latin-1").split("\n"):
            if raw and raw[0] != "#":
                self._add(raw.removesuffix("\r"), base)
        self.files.finish()
        self.dirs.finish()
        self.match_file = self.files.matcher()
        self.match_dir = self.dirs.matcher()

    def _add(self, line: str, base: str) -> None:
        """Add one pattern line (port of dir.c parse_path_pattern)."""
        line = _trim_trailing_spaces(line)
        negative = line.startswith("!")
        if negative:
            line = line[1:]
        dir_only = line.endswith("/")
        if dir_only:
            line = line[:-1]
        if not line or line == "/":
            return
        index = len(self.negated)
        tables = (self.dirs,) if dir_only else (self.files, self.dirs)
        try:
            if "/" in line:
                _add_path_pattern(tables, index, line, base)
            else:
                _add_basename_pattern(tables, index, line)
        except _NeverMatches:
            return
        self.negated.append(negative)


def _add_basename_pattern(tables: tuple[_Table, ...], index: int, line: str) -> None:
    """A pattern without "/": matched against the basename, at any depth."""
    if _simple_length(line) == len(line):
        for table in tables:
            table.literals[line] = index
    elif line[0] == "*" and _simple_length(line[1:]) == len(line) - 1:
        suffix = line[1:]  # git's "ends with" fast path, "*" included
        for table in tables:
            if suffix:
                table.suffixes.setdefault(suffix[-1], []).append((index, suffix))
            else:
                table.always = index
    else:
        body = _translate(line)
        for table in tables:
            table.base_parts.append((index, body))


def _add_path_pattern(tables: tuple[_Table, ...], index: int, line: str, base: str) -> None:
    """A pattern with a "/": matched against the path below base."""
    line = line.removeprefix("/")
    prefix = _simple_length(line)
    if prefix == len(line):
        for table in tables:
            table.path_literals[base + line] = index
        return
    # git compares the literal prefix itself and hands only the rest to
    # wildmatch, whose start then counts as a directory boundary for "**".
    body = re.escape(base + line[:prefix]) + _translate(line[prefix:])
    for table in tables:
        table.path_parts.append((index, body))


def _read_level(path: str | pathlib.Path, base: str, seen: list[str] | None = None) -> _Level | None:
    """The patterns of an ignore file; seen, when given, gets its path and stat signature."""
    try:
        with open(path, "rb") as f:
            if seen is not None:
                seen += (os.fspath(path), stat_signature(os.fstat(f.fileno())))
            data = f.read()
    except OSError:
        if seen is not None:
            seen += (os.fspath(path), stat_signature(None))
        return None
    level = _Level(data, base)
    return level if level.negated else None


def _byte_form(text: str) -> str:
    """The latin-1 spelling of text's file-system bytes (what patterns see)."""
    return os.fsencode(text).decode("latin-1")


_Matchers = list[tuple[Callable[[str, str], int], list[bool]]]


def _is_ignored(matchers: _Matchers, name: str, rel: str) -> bool:
    """Apply the ignore files, deepest first: the first one with a say decides."""
    if not rel.isascii():
        name = _byte_form(name)
        rel = _byte_form(rel)
    for last_match, negated in matchers:
        k = last_match(name, rel)
        if k >= 0:
            return not negated[k]
    return False


def _levels_here(
    entries: list[os.DirEntry[str]], prefix: str, levels: tuple[_Level, ...], seen: list[str]
) -> tuple[_Level, ...] | None:
    """The ignore levels for a directory's entries; None to skip it whole."""
    gitignore: os.DirEntry[str] | None = None
    for entry in entries:
        name = entry.name
        if name == ".gitignore":
            gitignore = entry
        elif name == "pyvenv.cfg" and prefix and not entry.is_dir(follow_symlinks=False):
            return None  # a virtualenv below the root
    # git does not read a .gitignore that is a symbolic link
    if gitignore is not None and gitignore.is_file(follow_symlinks=False):
        base = prefix if prefix.isascii() else _byte_form(prefix)
        level = _read_level(gitignore.path, base, seen)
        if level is not None:
            return (level, *levels)
    return levels


class _Walk:
    """One listing: the directories still to scan, the files found, and what was read.

    seen alternates paths and stat signatures (``stat_signature``) of each directory listed
    and ignore file read: what the listing depends on.
    """

    __slots__ = ("out", "pending", "seen", "skip_dirs")

    def __init__(self, skip_dirs: frozenset[str]) -> None:
        self.skip_dirs = skip_dirs
        self.pending: list[tuple[str, str, tuple[_Level, ...]]] = []
        self.out: list[str] = []
        self.seen: list[str] = []

    def scan(self, path: str, prefix: str, levels: tuple[_Level, ...]) -> None:
        """List one directory: files to out, subdirectories to pending."""
        try:
            # stat before listing: an entry added in between changes the signature
            # after it, so the remembered listing is never newer than its signature
            sig = stat_signature(os.stat(path))
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            if not prefix:
                raise  # the root itself: the caller must hear of it
            self.seen += (path, stat_signature(None))
            return  # unreadable or vanished directory: git skips it too
        self.seen += (path, sig)
        here = _levels_here(entries, prefix, levels, self.seen)
        if here is None:
            return
        skip_dirs, pending, out = self.skip_dirs, self.pending, self.out
        for_files: _Matchers = [(level.match_file, level.negated) for level in here]
        for_dirs: _Matchers = [(level.match_dir, level.negated) for level in here]
        for entry in entries:
            name = entry.name
            if name == ".git":
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if is_dir:
                    if name in skip_dirs:
                        continue
                elif not (entry.is_file(follow_symlinks=False) or entry.is_symlink()):
                    continue  # FIFO, socket, device: git skips them
            except OSError:
                continue
            rel = prefix + name
            if here and _is_ignored(for_dirs if is_dir else for_files, name, rel):
                continue
            if is_dir:
                pending.append((entry.path, rel + "/", here))
            else:
                out.append(rel)


# -- git's index: the tracked files -------------------------------------------

#: The key of the parsed index in a caller's persistent memo (JSON-able values only).
INDEX_MEMO_KEY = "git-index"
#: The key of the remembered walk in the same memo.
WALK_MEMO_KEY = "walk"
# Like git's own racy-clean rule: a stat taken within this of the file's last
# change may miss a same-size rewrite in the same timestamp tick, so it is
# not remembered.
_RACY_NS = 2_000_000_000
#: index path -> (its stat signature, the tracked paths), for this process
_parsed: dict[str, tuple[tuple[int, ...], frozenset[str]]] = {}
_MAX_POINTER_FILE = 4096


def _index_path(root: str) -> str | None:
    """The index file of the repository whose work tree is root, if any."""
    dot_git = os.path.join(root, ".git")
    try:
        st = os.stat(dot_git)
    except OSError:
        return None
    if stat.S_ISDIR(st.st_mode):
        return os.path.join(dot_git, "index")
    if not stat.S_ISREG(st.st_mode) or st.st_size > _MAX_POINTER_FILE:
        return None
    # a linked worktree or a submodule: ".git" is a file saying where the git dir is
    try:
        with open(dot_git, "rb") as f:
            text = os.fsdecode(f.read().strip())
    except OSError:
        return None
    if not text.startswith("gitdir:"):
        return None
    gitdir = text[len("gitdir:") :].strip()
    return os.path.join(root, gitdir, "index") if gitdir else None


def parse_index(data: bytes) -> list[str] | None:
    """The paths in a git index file (format versions 2, 3 and 4), each once.

    None when the data is not an index this parser fully understands: the
    caller then must not trust the result either way.
    """
    if len(data) < 12 or data[:4] != b"DIRC":
        return None
    version = int.from_bytes(data[4:8], "big")
    count = int.from_bytes(data[8:12], "big")
    if version not in (2, 3, 4):
        return None
    # Nothing in the index says which hash the repository uses: try SHA-1,
    # then SHA-256.  The wrong size fails the name-length check at the first
    # entry or the extension walk at the end.
    for oid_size in (20, 32):
        try:
            names = _parse_entries(data, version, count, oid_size)
        except _SplitIndex:
            return None
        if names is not None:
            if not names:
                return []
            return os.fsdecode(b"\0".join(names)).split("\0")
    return None


class _SplitIndex(Exception):
    """A split index: most entries live in a shared file this parser does not read."""


def _parse_entries(data: bytes, version: int, count: int, oid_size: int) -> list[bytes] | None:
    """The entries' names, or None if data does not parse with this hash size.

    An entry is ten 32-bit stat fields, the object name, 16-bit flags (the
    name's length in the low 12 bits), in v3 and later 16-bit extended flags
    when flagged (skip-worktree, intent-to-add), then the name.
    """
    names: list[bytes] = []
    try:
        if version < 4:
            pos = _names_v2(data, version, count, oid_size, names)
        else:
            pos = _names_v4(data, count, oid_size, names)
    except IndexError:
        return None  # truncated
    if pos < 0:
        return None
    # extensions (4-byte signature, 32-bit size) must end at the checksum
    end = len(data) - oid_size
    sparse = False
    while pos + 8 <= end:
        signature = data[pos : pos + 4]
        if signature == b"link":
            raise _SplitIndex
        sparse = sparse or signature == b"sdir"
        pos += 8 + int.from_bytes(data[pos + 4 : pos + 8], "big")
    if pos != end:
        return None
    if sparse:  # a sparse index: entries ending in "/" stand for whole directories
        names = [name for name in names if not name.endswith(b"/")]
    return names


# The two loops below run once per tracked file on every index change: lean on purpose.


def _names_v2(data: bytes, version: int, count: int, oid_size: int, names: list[bytes]) -> int:
    """Versions 2 and 3: NUL-terminated names padded to 8 bytes.  Returns the end, or -1."""
    flags_at = 40 + oid_size
    end = len(data) - oid_size  # the trailing checksum
    append = names.append
    prev = b""
    pos = 12
    for _ in range(count):
        at = pos + flags_at
        flags = (data[at] << 8) | data[at + 1]
        start = at + 2
        if flags & 0x4000:  # extended flags follow
            if version < 3:
                return -1
            start += 2
        length = flags & 0xFFF
        if not length:
            return -1  # git has no empty names
        nul = start + length
        if length == 0xFFF:  # longer names: find the NUL
            nul = data.find(b"\0", nul, end)
            if nul < 0:
                return -1
        elif data[nul]:
            return -1  # no name of the flagged length: the wrong hash size
        name = data[start:nul]
        pos += (nul - pos + 8) & ~7  # 1 to 8 NULs pad to a multiple of 8
        if name != prev:  # conflict stages repeat a name next to each other
            append(name)
        prev = name
    return pos


def _names_v4(data: bytes, count: int, oid_size: int, names: list[bytes]) -> int:
    """Version 4: each name drops bytes from the previous one and appends the rest."""
    flags_at = 40 + oid_size
    end = len(data) - oid_size
    append = names.append
    prev = b""
    pos = 12
    for _ in range(count):
        at = pos + flags_at
        flags = (data[at] << 8) | data[at + 1]
        start = at + 4 if flags & 0x4000 else at + 2
        # how many bytes to drop, in the varint of OFS_DELTA pack entries
        c = data[start]
        start += 1
        strip = c & 0x7F
        while c & 0x80:
            c = data[start]
            start += 1
            strip = ((strip + 1) << 7) | (c & 0x7F)
        nul = data.find(b"\0", start, end)
        if nul < 0 or strip > len(prev):
            return -1
        name = prev[: len(prev) - strip] + data[start:nul]
        length = flags & 0xFFF
        if not name or (len(name) != length and not (length == 0xFFF and len(name) >= length)):
            return -1
        pos = nul + 1  # no padding in v4
        if name != prev:
            append(name)
        prev = name
    return pos


def _signature(st: os.stat_result) -> tuple[int, ...]:
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def tool_signature(path: str) -> list[int] | None:
    """A tool's file (a compiler, rustup's state) by size, time and inode: what changes
    when it is upgraded in place; None when it is not there."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def stat_signature(st: os.stat_result | None) -> str:
    """A stat signature as one string ("-" for a path that is not there): what tells a
    changed file or directory, as in git's index (size, times, inode)."""
    return "-" if st is None else f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"


def _is_racy(sig: str, now: int) -> bool:
    """Whether a signature was taken within two seconds of its file's last change."""
    if sig == "-":
        return False
    _, mtime, ctime, _ = sig.split(":")
    return now - max(int(mtime), int(ctime)) < _RACY_NS


def _remembered_walk(memo: dict[str, Any], key: str) -> list[str] | None:
    """The remembered walk's record, if every path it read has the same stat.

    The record: key, the paths read and their signatures, the sorted listing, the
    index's state and the tracked paths missing from the listing (all strings).
    """
    saved = memo.get(WALK_MEMO_KEY)
    if not (
        isinstance(saved, list) and len(saved) == 5 and saved[0] == key and all(isinstance(part, str) for part in saved)
    ):
        return None
    seen = saved[1].split("\0")
    for i in range(0, len(seen) - 1, 2):
        try:
            st: os.stat_result | None = os.stat(seen[i])
        except OSError:
            st = None
        if stat_signature(st) != seen[i + 1]:
            return None
    return saved


def _split(joined: str) -> list[str]:
    return joined.split("\0") if joined else []


def _index_state(root: str, now: int) -> str:
    """The index file's path and signature, "" for one changed within two seconds."""
    index = _index_path(root)
    if index is None:
        return "-"
    try:
        sig = stat_signature(os.stat(index))
    except OSError:
        sig = "-"
    return "" if _is_racy(sig, now) else f"{index}\0{sig}"


def tracked_paths(root: str, memo: dict[str, Any] | None = None) -> frozenset[str]:
    """The paths git's index tracks in the work tree at root; empty without one.

    Remembered by the index file's stat signature in this process and, when
    given, in memo (a JSON-able dict the caller persists), so that an
    unchanged index is not parsed again.
    """
    index = _index_path(root)
    if index is None:
        return frozenset()
    try:
        sig = _signature(os.stat(index))
    except OSError:
        return frozenset()
    known = _parsed.get(index)
    if known is not None and known[0] == sig:
        return known[1]
    saved = None if memo is None else memo.get(INDEX_MEMO_KEY)
    if (
        isinstance(saved, list)
        and len(saved) == 3
        and saved[0] == index
        and saved[1] == list(sig)
        and isinstance(saved[2], str)
    ):
        paths = frozenset(saved[2].split("\0")) if saved[2] else frozenset()
        _parsed[index] = (sig, paths)
        return paths
    try:
        with open(index, "rb") as f:
            sig = _signature(os.fstat(f.fileno()))  # of what is read, should git replace it now
            data = f.read()
    except OSError:
        return frozenset()
    names = parse_index(data)
    paths = frozenset(names or ())  # unparsable: nothing added, as if there were no index
    if time.time_ns() - max(sig[1], sig[2]) > _RACY_NS:
        _parsed[index] = (sig, paths)
        if memo is not None:
            memo[INDEX_MEMO_KEY] = [index, list(sig), "\0".join(sorted(paths))]
    return paths


def _existing_tracked(root: str, missing: list[str], skip_dirs: frozenset[str]) -> list[str]:
    """Those of the tracked paths the ignore rules left out that the walk would count."""
    found = []
    dir_ok: dict[str, bool] = {}
    for rel in missing:
        parts = rel.split("/")
        if any(p in ("", ".", "..", ".git") for p in parts):
            continue
        if any(p in skip_dirs for p in parts[:-1]):
            continue
        if not all(_dir_ok(root, "/".join(parts[:i]), dir_ok) for i in range(1, len(parts))):
            continue
        try:
            mode = os.lstat(os.path.join(root, *parts)).st_mode
        except OSError:
            continue  # deleted, or outside a sparse checkout
        if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
            found.append(rel)
    return found


def _dir_ok(root: str, rel: str, known: dict[str, bool]) -> bool:
    """Whether a directory below root is one the walk would enter but for ignore rules.

    A real directory (not a symbolic link to one: the link is what is listed)
    that is no virtualenv.
    """
    ok = known.get(rel)
    if ok is None:
        path = os.path.join(root, *rel.split("/"))
        try:
            ok = stat.S_ISDIR(os.lstat(path).st_mode)
        except OSError:
            ok = False
        if ok:
            # a pyvenv.cfg that is no directory marks a virtualenv, as in the walk
            with contextlib.suppress(OSError):
                ok = stat.S_ISDIR(os.lstat(os.path.join(path, "pyvenv.cfg")).st_mode)
        known[rel] = ok
    return ok


def list_tree(
    root: pathlib.Path,
    *,
    skip_dirs: frozenset[str] = frozenset(),
    memo: dict[str, Any] | None = None,
) -> list[str]:
    """Sorted POSIX relative paths of the files under root that git would not ignore.

    memo, a dict the caller keeps between processes (marshal-able values), spares
    walking an unchanged tree and parsing an unchanged git index again.
    """
    top = os.fspath(root)
    key = "\0".join((top, *sorted(skip_dirs)))
    now = time.time_ns()
    index_state = _index_state(top, now)
    saved = None if memo is None else _remembered_walk(memo, key)
    if saved is not None and saved[3] == index_state and index_state:
        out, missing = _split(saved[2]), _split(saved[4])
    else:
        if saved is None:
            walk = _Walk(skip_dirs)
            exclude = _read_level(os.path.join(top, ".git", "info", "exclude"), "", walk.seen)
            walk.pending.append((top, "", () if exclude is None else (exclude,)))
            while walk.pending:
                walk.scan(*walk.pending.pop())
            out, seen = sorted(walk.out), walk.seen
            racy = any(_is_racy(sig, now) for sig in seen[1::2])
        else:
            out, seen, racy = _split(saved[2]), saved[1].split("\0"), False
        missing = sorted(tracked_paths(top, memo).difference(out))
        if memo is not None and not racy:
            memo[WALK_MEMO_KEY] = [key, "\0".join(seen), "\0".join(out), index_state, "\0".join(missing)]
    if missing:
        out = sorted(out + _existing_tracked(top, missing, skip_dirs))
    return out
