"""List the files of a project tree that git would not ignore, without git.

This module owns one question: which files under a project root would
``git ls-files --others --cached --exclude-standard`` report in a
repository where nothing is committed yet?  It answers it without running
git, so it works the same inside a repository, outside one and in an
unpacked sdist, and its answer never depends on the machine: the user's
global excludes file is not read, matching is case-sensitive everywhere.

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
"""

from __future__ import annotations

import os
import pathlib
import re
from typing import Callable

__all__ = ["list_tree"]

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


def _read_level(path: str | pathlib.Path, base: str) -> _Level | None:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
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
    entries: list[os.DirEntry[str]], prefix: str, levels: tuple[_Level, ...]
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
        level = _read_level(gitignore.path, base)
        if level is not None:
            return (level, *levels)
    return levels


class _Walk:
    """One listing: the directories still to scan and the files found."""

    __slots__ = ("out", "pending", "skip_dirs")

    def __init__(self, skip_dirs: frozenset[str]) -> None:
        self.skip_dirs = skip_dirs
        self.pending: list[tuple[str, str, tuple[_Level, ...]]] = []
        self.out: list[str] = []

    def scan(self, path: str, prefix: str, levels: tuple[_Level, ...]) -> None:
        """List one directory: files to out, subdirectories to pending."""
        try:
            with os.scandir(path) as it:
                entries = list(it)
        except OSError:
            if not prefix:
                raise  # the root itself: the caller must hear of it
            return  # unreadable or vanished directory: git skips it too
        here = _levels_here(entries, prefix, levels)
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


def list_tree(root: pathlib.Path, *, skip_dirs: frozenset[str] = frozenset()) -> list[str]:
    """Sorted POSIX relative paths of the files under root that git would not ignore."""
    top = pathlib.Path(root)
    exclude = _read_level(top / ".git" / "info" / "exclude", "")
    walk = _Walk(skip_dirs)
    walk.pending.append((os.fspath(top), "", () if exclude is None else (exclude,)))
    while walk.pending:
        walk.scan(*walk.pending.pop())
    walk.out.sort()
    return walk.out
