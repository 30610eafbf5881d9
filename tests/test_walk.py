"""list_tree against real git: ``git ls-files --others --cached --exclude-standard``.

Every case builds a tree in tmp_path, checks what the case is about (paths that
must be listed, paths that must not), then checks that list_tree and git agree
to the path.  A few rules are wheelmemo's own (virtualenvs, skip_dirs, tracked
files missing from disk): those are checked against the expectation only.

The last part is about git's index: tracked files are listed even when ignored,
and the index parser is checked on indexes real git wrote (versions 2, 3 and 4,
SHA-1 and SHA-256) and on hand-made ones (long names, truncation).
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from wheelmemo import _walk
from wheelmemo._walk import (
    INDEX_MEMO_KEY,
    WALK_MEMO_KEY,
    list_tree,
    parse_index,
    tracked_paths,
)

GIT = shutil.which("git")
needs_git = pytest.mark.skipif(GIT is None, reason="git is the oracle and is not installed")
_GIT_ENV = {
    **os.environ,
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
}


def _git_version() -> tuple[int, ...]:
    if GIT is None:
        return (0,)
    out = subprocess.run([GIT, "--version"], capture_output=True, text=True, check=True).stdout
    return tuple(int(p) for p in out.split()[2].split(".")[:2] if p.isdigit())


def git_init(root: Path) -> None:
    assert GIT is not None
    subprocess.run([GIT, "init", "-q", str(root)], check=True, env=_GIT_ENV)


def git_files(root: Path) -> list[str]:
    """What git lists: nothing is committed, so every listed file is "other"."""
    assert GIT is not None
    cmd = [GIT, "-c", "core.excludesFile=" + os.devnull, "ls-files"]
    cmd += ["--others", "--cached", "--exclude-standard", "-z"]
    out = subprocess.run(cmd, cwd=root, capture_output=True, check=True, env=_GIT_ENV).stdout
    return sorted(os.fsdecode(p) for p in out.split(b"\0") if p)


def write_tree(root: Path, files: dict[str, str]) -> None:
    """Create files (path -> text); a path ending in "/" is an empty directory.

    ".git/info/exclude" is appended to, so git's template comments stay.
    """
    for rel, text in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if rel == ".git/info/exclude" else "w", encoding="utf-8", newline="") as f:
            f.write(text)


def make_repo(root: Path, files: dict[str, str]) -> None:
    if GIT is not None:
        git_init(root)
    else:
        (root / ".git" / "info").mkdir(parents=True)
    write_tree(root, files)


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str]
    listed: frozenset[str] = field(default_factory=frozenset)
    ignored: frozenset[str] = field(default_factory=frozenset)


def case(name: str, files: dict[str, str], listed: str = "", ignored: str = "") -> Case:
    """listed and ignored are paths separated by "|"."""
    return Case(
        name,
        files,
        frozenset(p for p in listed.split("|") if p),
        frozenset(p for p in ignored.split("|") if p),
    )


CASES = [
    case(
        "blank-lines-and-comments",
        {".gitignore": "# *.txt\n\n   \n*.log\n", "a.txt": "", "a.log": "", "# *.txt": ""},
        listed="a.txt|# *.txt",
        ignored="a.log",
    ),
    case(
        "escaped-hash",
        {".gitignore": "\\#keep\n#plain\n", "#keep": "", "#plain": "", "keep": ""},
        listed="#plain|keep",
        ignored="#keep",
    ),
    case(
        "escaped-bang",
        {".gitignore": "\\!important\n", "!important": "", "important": ""},
        listed="important",
        ignored="!important",
    ),
    case(
        "trailing-spaces",
        {
            ".gitignore": "foo   \nbar\\ \nbaz\\  \n",
            "foo": "",
            "foo ": "",
            "bar": "",
            "bar ": "",
            "baz ": "",
        },
        listed="foo |bar",
        ignored="foo|bar |baz ",
    ),
    case(
        "crlf-and-bom",
        {".gitignore": "\ufeff*.log\r\n!keep.log\r\n", "a.log": "", "keep.log": "", "b": ""},
        listed="keep.log|b",
        ignored="a.log",
    ),
    case(
        "negation",
        {
            ".gitignore": "*.log\n!keep.log\n",
            "a.log": "",
            "keep.log": "",
            "d/keep.log": "",
            "d/b.log": "",
        },
        listed="keep.log|d/keep.log",
        ignored="a.log|d/b.log",
    ),
    case(
        "last-match-wins",
        {".gitignore": "!a.txt\n*.txt\n*.md\n!b.md\n", "a.txt": "", "b.md": "", "c.md": ""},
        listed="b.md",
        ignored="a.txt|c.md",
    ),
    case(
        "negation-under-excluded-dir",
        {
            ".gitignore": "build/\n!build/keep.txt\nout/*\n!out/keep.txt\n",
            "build/keep.txt": "",
            "out/keep.txt": "",
            "out/other.txt": "",
        },
        listed="out/keep.txt",
        ignored="build/keep.txt|out/other.txt",
    ),
    case(
        "negation-cannot-reach-into-excluded-parent",
        {".gitignore": "a/\n", "a/.gitignore": "!*\n", "a/b/c.txt": "", "x.txt": ""},
        listed="x.txt",
        ignored="a/.gitignore|a/b/c.txt",
    ),
    case(
        "whitelist-with-star",
        {".gitignore": "*\n!*/\n!*.py\n", "a.py": "", "a.txt": "", "d/b.py": "", "d/b.txt": ""},
        listed="a.py|d/b.py",
        ignored="a.txt|d/b.txt|.gitignore",
    ),
    case(
        "nested-gitignore-overrides-parent",
        {
            ".gitignore": "*.txt\n",
            "keep/.gitignore": "!*.txt\n",
            "more/.gitignore": "*.md\n",
            "a.txt": "",
            "keep/a.txt": "",
            "keep/deep/a.txt": "",
            "a.md": "",
            "more/a.md": "",
        },
        listed="keep/a.txt|keep/deep/a.txt|a.md",
        ignored="a.txt|more/a.md",
    ),
    case(
        "nested-gitignore-is-relative-to-its-dir",
        {
            "sub/.gitignore": "/only_here\nanywhere\ndeep/x\n",
            "only_here": "",
            "sub/only_here": "",
            "sub/deep/only_here": "",
            "anywhere": "",
            "sub/deep/anywhere": "",
            "sub/deep/x": "",
            "deep/x": "",
        },
        listed="only_here|sub/deep/only_here|anywhere|deep/x",
        ignored="sub/only_here|sub/deep/anywhere|sub/deep/x",
    ),
    case(
        "anchored-by-leading-slash",
        {".gitignore": "/top.txt\n", "top.txt": "", "d/top.txt": ""},
        listed="d/top.txt",
        ignored="top.txt",
    ),
    case(
        "anchored-by-middle-slash",
        {".gitignore": "doc/frotz\n", "doc/frotz": "", "a/doc/frotz": ""},
        listed="a/doc/frotz",
        ignored="doc/frotz",
    ),
    case(
        "unanchored-matches-at-any-depth",
        {".gitignore": "frotz\n", "frotz": "", "a/frotz": "", "a/b/frotz/x": "", "frotzy": ""},
        listed="frotzy",
        ignored="frotz|a/frotz|a/b/frotz/x",
    ),
    case(
        "trailing-slash-matches-only-dirs",
        {
            ".gitignore": "logs/\n/top/\n",
            "logs/a": "",
            "d/logs/b": "",
            "e/logs": "",
            "top/x": "",
            "f/top": "",
        },
        listed="e/logs|f/top",
        ignored="logs/a|d/logs/b|top/x",
    ),
    case(
        "double-star-leading",
        {
            ".gitignore": "**/foo\n**/bar/baz\n",
            "foo": "",
            "a/foo": "",
            "a/b/foo/x": "",
            "foobar": "",
            "bar/baz": "",
            "x/bar/baz": "",
            "bar/qux": "",
        },
        listed="foobar|bar/qux",
        ignored="foo|a/foo|a/b/foo/x|bar/baz|x/bar/baz",
    ),
    case(
        "double-star-trailing",
        {".gitignore": "abc/**\n", "abc/x": "", "abc/y/z": "", "x/abc/y": ""},
        listed="x/abc/y",
        ignored="abc/x|abc/y/z",
    ),
    case(
        "double-star-trailing-then-negation",
        {".gitignore": "abc/**\n!abc/keep\n", "abc/keep": "", "abc/y": ""},
        listed="abc/keep",
        ignored="abc/y",
    ),
    case(
        "double-star-middle",
        {
            ".gitignore": "a/**/b\n",
            "a/b": "",
            "a/x/b": "",
            "a/x/y/b": "",
            "a/xb": "",
            "a/x/c": "",
            "z/a/b": "",
        },
        listed="a/xb|a/x/c|z/a/b",
        ignored="a/b|a/x/b|a/x/y/b",
    ),
    case(
        "double-star-not-at-boundary-is-a-star",
        {
            ".gitignore": "x**y\nq/a**/b\n",
            "xzzy": "",
            "x/y": "",
            "q/ab": "",
            "q/ac/d/b": "",
            "q/c": "",
        },
        listed="x/y|q/c",
        ignored="xzzy|q/ab|q/ac/d/b",
    ),
    case(
        "star-does-not-cross-slash",
        {".gitignore": "a/*.txt\n", "a/x.txt": "", "a/b/x.txt": ""},
        listed="a/b/x.txt",
        ignored="a/x.txt",
    ),
    case(
        "question-mark",
        {".gitignore": "?.c\n", "a.c": "", "ab.c": "", ".c": ""},
        listed="ab.c|.c",
        ignored="a.c",
    ),
    case(
        "character-classes",
        {
            ".gitignore": "[ab].c\n[!a].d\n[^a].e\n[a-c]x\n[]]q\n[[:digit:]].f\n[[:upper:]z].g\n",
            "a.c": "",
            "c.c": "",
            "a.d": "",
            "b.d": "",
            "a.e": "",
            "b.e": "",
            "bx": "",
            "dx": "",
            "]q": "",
            "1.f": "",
            "x.f": "",
            "Q.g": "",
            "z.g": "",
            "q.g": "",
        },
        listed="c.c|a.d|a.e|dx|x.f|q.g",
        ignored="a.c|b.d|b.e|bx|]q|1.f|Q.g|z.g",
    ),
    case(
        "malformed-class-never-matches",
        {".gitignore": "[abc\n[a[:nope:]]x\n", "[abc": "", "ax": ""},
        listed="[abc|ax",
    ),
    case(
        "non-ascii-names-match-as-bytes",
        {".gitignore": "caf?\ncaf??x\n", "café": "", "caféx": "", "cafe": ""},
        listed="café",
        ignored="cafe|caféx",
    ),
    case(
        "git-info-exclude",
        {
            ".git/info/exclude": "*.tmp\n!keep.log\n",
            ".gitignore": "*.log\n",
            "a.tmp": "",
            "keep.log": "",
            "b": "",
        },
        listed="b",
        ignored="a.tmp|keep.log",
    ),
    case(
        "gitignore-beats-info-exclude",
        {".git/info/exclude": "*.txt\n", ".gitignore": "!keep.txt\n", "keep.txt": "", "a.txt": ""},
        listed="keep.txt",
        ignored="a.txt",
    ),
    case(
        "dot-git-file-is-skipped",
        {"wt/.git": "gitdir: /nowhere\n", "wt/x": ""},
        listed="wt/x",
        ignored="wt/.git",
    ),
    case(
        "empty-directories-list-nothing",
        {"empty/": "", "a/b/": "", "f": ""},
        listed="f",
        ignored="empty|empty/|a|a/|a/b|a/b/",
    ),
]


def _check_expectations(result: list[str], c: Case) -> None:
    missing = c.listed - set(result)
    assert not missing, f"should be listed: {sorted(missing)} in {result}"
    wrong = c.ignored & set(result)
    assert not wrong, f"should be ignored: {sorted(wrong)} in {result}"


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_rule_expectation(tmp_path: Path, c: Case) -> None:
    make_repo(tmp_path, c.files)
    _check_expectations(list_tree(tmp_path), c)


@needs_git
@pytest.mark.parametrize("c", CASES, ids=lambda c: c.id)
def test_rule_matches_git(tmp_path: Path, c: Case) -> None:
    make_repo(tmp_path, c.files)
    expected = git_files(tmp_path)
    _check_expectations(expected, c)  # the case does test what it says
    assert list_tree(tmp_path) == expected


@needs_git
def test_symlinks_are_listed_never_followed(tmp_path: Path) -> None:
    git_init(tmp_path)
    write_tree(tmp_path, {"d/f": "", "d/sub/g": "", ".gitignore": "ld/\n"})
    (tmp_path / "ld").symlink_to("d", target_is_directory=True)
    (tmp_path / "lf").symlink_to("d/f")
    (tmp_path / "broken").symlink_to("nowhere")
    result = list_tree(tmp_path)
    assert "lf" in result  # a link to a file is a file
    assert "broken" in result  # so is a dangling one
    assert "ld" in result  # a link to a directory is an entry, and "ld/" is no match
    assert not any(p.startswith("ld/") for p in result)  # ... and is not descended into
    assert result == git_files(tmp_path)


@needs_git
def test_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    git_init(tmp_path)
    write_tree(tmp_path, {"d/f": ""})
    (tmp_path / "d" / "loop").symlink_to("..", target_is_directory=True)
    result = list_tree(tmp_path)
    assert result == ["d/f", "d/loop"]
    assert result == git_files(tmp_path)


@needs_git
@pytest.mark.skipif(_git_version() < (2, 32), reason="git reads symlinked .gitignore before 2.32")
def test_symlinked_gitignore_is_not_read(tmp_path: Path) -> None:
    git_init(tmp_path)
    write_tree(tmp_path, {"rules": "*.txt\n", "a.txt": "", "sub/a.txt": ""})
    (tmp_path / "sub" / ".gitignore").symlink_to("../rules")
    (tmp_path / ".gitignore").symlink_to("rules")
    result = list_tree(tmp_path)
    assert "a.txt" in result
    assert "sub/a.txt" in result
    assert result == git_files(tmp_path)


@needs_git
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_fifo_is_skipped(tmp_path: Path) -> None:
    git_init(tmp_path)
    write_tree(tmp_path, {"f": ""})
    os.mkfifo(tmp_path / "pipe")
    assert list_tree(tmp_path) == ["f"] == git_files(tmp_path)


@needs_git
def test_works_without_git_directory(tmp_path: Path) -> None:
    files = {
        ".gitignore": "*.log\n!keep.log\n/build/\n",
        "a.log": "",
        "keep.log": "",
        "build/x": "",
        "src/.gitignore": "gen/\n",
        "src/gen/y.py": "",
        "src/m.py": "",
    }
    make_repo(tmp_path, files)
    with_git = git_files(tmp_path)
    shutil.rmtree(tmp_path / ".git")
    result = list_tree(tmp_path)
    assert result == with_git
    assert result == [".gitignore", "keep.log", "src/.gitignore", "src/m.py"]


def test_git_directory_is_skipped(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {".git/HEAD": "ref: x\n", ".git/objects/ab/cd": "", "sub/.git/config": "", "f": ""},
    )
    assert list_tree(tmp_path) == ["f"]


def test_virtualenv_directories_are_skipped(tmp_path: Path) -> None:
    # git would list all of these: a virtualenv is wheelmemo's own rule
    write_tree(
        tmp_path,
        {
            "venv/pyvenv.cfg": "home = /usr\n",
            "venv/lib/site.py": "",
            "nested/.env2/pyvenv.cfg": "",
            "nested/.env2/bin/python": "",
            "nested/keep.py": "",
            "pyvenv.cfg.d/pyvenv.cfg/x": "",  # a directory named pyvenv.cfg: not a venv marker
            "src/m.py": "",
        },
    )
    assert list_tree(tmp_path) == ["nested/keep.py", "pyvenv.cfg.d/pyvenv.cfg/x", "src/m.py"]


def test_root_is_never_skipped_as_a_virtualenv(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyvenv.cfg": "", "m.py": ""})
    assert list_tree(tmp_path) == ["m.py", "pyvenv.cfg"]


def test_skip_dirs(tmp_path: Path) -> None:
    # git would list these too: skip_dirs is the caller's own rule
    write_tree(
        tmp_path,
        {
            "node_modules/a.js": "",
            "web/node_modules/b.js": "",
            "web/c.js": "",
            "lib/node_modules": "",
        },
    )
    skip = frozenset({"node_modules"})
    assert list_tree(tmp_path, skip_dirs=skip) == ["lib/node_modules", "web/c.js"]
    assert "web/node_modules/b.js" in list_tree(tmp_path)


def test_missing_root_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list_tree(tmp_path / "nope")


def test_result_is_sorted_posix(tmp_path: Path) -> None:
    write_tree(tmp_path, {"b/a": "", "a.b": "", "a/b/c": "", "B": ""})
    result = list_tree(tmp_path)
    assert result == sorted(result) == ["B", "a.b", "a/b/c", "b/a"]


# Randomised trees and patterns, fixed seeds: an exhaustive-ish cross-check
# of the pattern language against git.

_NAMES = [
    "a",
    "b",
    "ab",
    "a.txt",
    "b.py",
    "x.pyc",
    "foo",
    "foob",
    "[x]",
    "a b",
    "#c",
    "!n",
    "é",
    "q?",
    "-",
    "lib",
]
_TOKENS = [
    "a", "b", "*", "**", "?", "/", "[ab]", "[!a]", "[^b]", "[a-c]", "[]a]", "[[:alpha:]]",
    "\\", "\\!", "\\#", " ", "\\ ", ".", "txt", "foo", "é", "[", "[[:bogus:]]", "[z-a]", "-",
]  # fmt: skip


def _random_pattern(rng: random.Random, paths: list[str]) -> str:
    if paths and rng.random() < 0.5:
        parts = rng.choice(paths).split("/")
        pat = "/".join(rng.choice([p, "*", "**", p[:1] + "*", p + "**", "?" * len(p)]) for p in parts)
    else:
        pat = "".join(rng.choice(_TOKENS) for _ in range(rng.randint(1, 5)))
    prefix = rng.choice(["", "", "", "!", "/", "**/", "!/"])
    suffix = rng.choice(["", "", "", "/", " ", "\\ ", "\r"])
    return prefix + pat + suffix


@needs_git
@pytest.mark.parametrize("seed", range(40))
def test_random_trees_match_git(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    git_init(tmp_path)
    dirs = [""]
    for _ in range(rng.randint(3, 10)):
        dirs.append(rng.choice(dirs) + rng.choice(_NAMES) + "/")
    files: dict[str, str] = {}
    for _ in range(rng.randint(10, 40)):
        rel = rng.choice(dirs) + rng.choice(_NAMES)
        if rel + "/" not in dirs:
            files[rel] = ""
    for d in dirs[1:]:
        files[d] = ""
    paths = [p.rstrip("/") for p in [*dirs, *files] if p]
    for d in rng.sample(dirs, min(len(dirs), rng.randint(1, 3))):
        below = [p[len(d) :] for p in paths if p.startswith(d) and p != d.rstrip("/")]
        lines = [_random_pattern(rng, below) for _ in range(rng.randint(1, 8))]
        files[d + ".gitignore"] = "\n".join(lines) + "\n"
    if rng.random() < 0.3:
        files[".git/info/exclude"] = "".join(_random_pattern(rng, paths) + "\n" for _ in range(3))
    write_tree(tmp_path, dict(sorted(files.items(), key=lambda kv: kv[0].endswith("/"), reverse=True)))
    assert list_tree(tmp_path) == git_files(tmp_path)


# -- git's index: tracked files are listed even when ignored ------------------


def git(root: Path, *args: str) -> str:
    assert GIT is not None
    cmd = [GIT, "-c", "user.name=t", "-c", "user.email=t@t", "-c", "core.excludesFile=" + os.devnull]
    out = subprocess.run([*cmd, *args], cwd=root, capture_output=True, check=True, env=_GIT_ENV)
    return out.stdout.decode()


def index_version(root: Path) -> int:
    return int.from_bytes((root / ".git" / "index").read_bytes()[4:8], "big")


LONG_DIR = "d" * 200  # in a v4 index, the next name drops 200+ bytes: a two-byte varint

TRACKED_TREE = {
    ".gitignore": "*.log\nbuild/\nignored_dir/\n",
    "keep.py": "",
    "a.log": "",
    "build/out.txt": "",
    "build/deep/x.txt": "",
    "build/untracked.txt": "",
    "ignored_dir/sub/gen.cfg": "",
    f"{LONG_DIR}/long.log": "",
    "e/é.log": "",
}
FORCE_ADDED = ["a.log", "build/out.txt", "build/deep/x.txt", f"{LONG_DIR}/long.log", "e/é.log"]


@needs_git
@pytest.mark.parametrize("version", [2, 3, 4])
def test_tracked_ignored_files_are_listed(tmp_path: Path, version: int) -> None:
    make_repo(tmp_path, TRACKED_TREE)
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", *FORCE_ADDED)
    if version == 3:  # git writes v3 only for an entry with extended flags
        write_tree(tmp_path, {"intent.log": ""})
        git(tmp_path, "add", "-f", "-N", "intent.log")
    else:
        git(tmp_path, "update-index", "--index-version", str(version))
    assert index_version(tmp_path) == version
    result = list_tree(tmp_path)
    assert set(FORCE_ADDED) <= set(result)
    assert "build/untracked.txt" not in result  # below an ignored directory, untracked
    assert "ignored_dir/sub/gen.cfg" not in result
    assert result == git_files(tmp_path)


@needs_git
def test_index_of_a_sha256_repository(tmp_path: Path) -> None:
    try:
        subprocess.run(
            [GIT or "git", "init", "-q", "--object-format=sha256", str(tmp_path)],
            check=True,
            capture_output=True,
            env=_GIT_ENV,
        )
    except subprocess.CalledProcessError:
        pytest.skip("this git cannot make SHA-256 repositories")
    write_tree(tmp_path, TRACKED_TREE)
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", *FORCE_ADDED)
    for version in (2, 4):
        git(tmp_path, "update-index", "--index-version", str(version))
        result = list_tree(tmp_path)
        assert set(FORCE_ADDED) <= set(result)
        assert result == git_files(tmp_path)


@needs_git
def test_conflicted_tracked_file_is_listed_once(tmp_path: Path) -> None:
    make_repo(tmp_path, {".gitignore": "*.log\n", "c.log": "1\n"})
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", "c.log")
    git(tmp_path, "commit", "-qm", "one")
    base = git(tmp_path, "rev-parse", "--abbrev-ref", "HEAD").strip()
    git(tmp_path, "checkout", "-qb", "other")
    (tmp_path / "c.log").write_text("2\n")
    git(tmp_path, "commit", "-qam", "two")
    git(tmp_path, "checkout", "-q", base)
    (tmp_path / "c.log").write_text("3\n")
    git(tmp_path, "commit", "-qam", "three")
    with pytest.raises(subprocess.CalledProcessError):
        git(tmp_path, "merge", "other")
    assert git(tmp_path, "ls-files", "--stage").count("\tc.log") == 3  # stages 1, 2, 3
    result = list_tree(tmp_path)
    assert result == [".gitignore", "c.log"]
    assert result == sorted(set(git_files(tmp_path)))  # git prints it once per stage


@needs_git
def test_tracked_files_missing_from_disk_are_not_listed(tmp_path: Path) -> None:
    # git lists them (from the index): there is nothing to fingerprint here
    make_repo(tmp_path, {".gitignore": "*.log\n", "gone.log": "", "sparse.log": "", "f": ""})
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", "gone.log", "sparse.log")
    git(tmp_path, "update-index", "--skip-worktree", "sparse.log")
    (tmp_path / "gone.log").unlink()
    (tmp_path / "sparse.log").unlink()
    assert list_tree(tmp_path) == [".gitignore", "f"]


@needs_git
def test_tracked_files_in_skipped_places_are_not_listed(tmp_path: Path) -> None:
    # skip_dirs, virtualenvs and paths through a directory symlink are wheelmemo's
    # own rules; the index does not override them
    make_repo(
        tmp_path,
        {
            ".gitignore": "*\n",
            "node_modules/a.js": "",
            "venv/pyvenv.cfg": "",
            "venv/lib/site.py": "",
            "ld/f": "",
            "d/f": "",
            "top.txt": "",
        },
    )
    git(tmp_path, "add", "-f", "node_modules/a.js", "venv/lib/site.py", "ld/f", "d/f", "top.txt")
    shutil.rmtree(tmp_path / "ld")
    (tmp_path / "ld").symlink_to("d", target_is_directory=True)
    result = list_tree(tmp_path, skip_dirs=frozenset({"node_modules"}))
    assert result == ["d/f", "top.txt"]
    assert "node_modules/a.js" in list_tree(tmp_path)


@needs_git
def test_tracked_files_of_a_linked_worktree(tmp_path: Path) -> None:
    main = tmp_path / "main"
    make_repo(main, {".gitignore": "*.log\n", "f": ""})
    git(main, "add", "-A")
    git(main, "commit", "-qm", "one")
    wt = tmp_path / "wt"
    git(main, "worktree", "add", "-q", str(wt))
    assert (wt / ".git").is_file()
    write_tree(wt, {"tracked.log": "", "other.log": ""})
    git(wt, "add", "-f", "tracked.log")
    expected = [".gitignore", "f", "tracked.log"]
    assert list_tree(wt) == expected
    assert git_files(wt) == expected
    # submodules write the pointer relative to the work tree
    gitdir = (wt / ".git").read_text().split(":", 1)[1].strip()
    (wt / ".git").write_text(f"gitdir: {os.path.relpath(gitdir, wt)}\n")
    _walk._parsed.clear()
    assert list_tree(wt) == expected
    assert git_files(wt) == expected


@needs_git
@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty", "version-99", "directory"])
def test_unreadable_index_falls_back_to_the_ignore_rules(tmp_path: Path, damage: str) -> None:
    make_repo(tmp_path, {".gitignore": "*.log\n", "a.log": "", "f": ""})
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", "a.log")
    index = tmp_path / ".git" / "index"
    data = index.read_bytes()
    index.unlink()
    if damage == "garbage":
        index.write_bytes(b"not an index at all" * 10)
    elif damage == "truncated":
        index.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        index.write_bytes(b"")
    elif damage == "version-99":
        index.write_bytes(data[:4] + (99).to_bytes(4, "big") + data[8:])
    else:
        index.mkdir()
    assert list_tree(tmp_path) == [".gitignore", "f"]


@needs_git
def test_parsed_index_is_remembered_by_its_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_repo(tmp_path, {".gitignore": "*.log\n", "a.log": "", "b.log": "", "f": ""})
    git(tmp_path, "add", "-A")
    git(tmp_path, "add", "-f", "a.log")
    root = str(tmp_path)
    memo: dict[str, Any] = {}
    # the index was just written: racily clean, so it is parsed but not remembered
    assert tracked_paths(root, memo) == {".gitignore", "a.log", "f"}
    assert memo == {}
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))
    assert tracked_paths(root, memo) == {".gitignore", "a.log", "f"}
    saved = memo[INDEX_MEMO_KEY]
    assert isinstance(saved[2], str)  # JSON-able
    # a later process finds it in the memo without parsing the index again
    _walk._parsed.clear()
    memo[INDEX_MEMO_KEY] = [saved[0], saved[1], saved[2] + "\0planted"]
    assert "planted" in tracked_paths(root, memo)
    assert "planted" in tracked_paths(root, memo)  # ... and in this process's own cache
    # a changed index has another signature: parsed again, whatever was remembered
    git(tmp_path, "add", "-f", "b.log")
    assert tracked_paths(root, memo) == {".gitignore", "a.log", "b.log", "f"}
    assert "b.log" in memo[INDEX_MEMO_KEY][2]


# A remembered walk: the same listing without listing a directory, until one changes.


def _tick() -> None:
    """Let the file system's clock move on (its timestamps may be a few ms coarse)."""
    time.sleep(0.05)


def _remembered(root: Path, memo: dict[str, Any]) -> list[str]:
    """list_tree with memo, failing if it lists a directory."""

    def no_listing(path: str) -> None:
        raise AssertionError(f"listed {path}")

    with pytest.MonkeyPatch.context() as m:
        m.setattr(_walk.os, "scandir", no_listing)
        return list_tree(root, memo=memo)


_CHANGES: dict[str, Any] = {
    "a file added below": lambda r: (r / "pkg" / "sub" / "new.py").write_text(""),
    "a file removed": lambda r: (r / "pkg" / "sub" / "m.py").unlink(),
    "a file renamed": lambda r: (r / "pkg" / "a.py").rename(r / "pkg" / "b.py"),
    "a directory added": lambda r: write_tree(r, {"pkg/newdir/x.py": ""}),
    "a file replaced by a directory": lambda r: ((r / "pkg" / "a.py").unlink(), write_tree(r, {"pkg/a.py/inner": ""})),
    "a .gitignore edited": lambda r: (r / ".gitignore").write_text("*.log\nnotes.txt\n"),
    "a .gitignore un-ignoring": lambda r: (r / ".gitignore").write_text(""),
    "a nested .gitignore added": lambda r: (r / "pkg" / "sub" / ".gitignore").write_text("notes.txt\n"),
    "info/exclude written": lambda r: write_tree(r, {".git/info/exclude": "notes.txt\n"}),
    "an ignored file tracked": lambda r: git(r, "add", "-f", "debug.log"),
    "a virtualenv made": lambda r: write_tree(r, {"pkg/sub/pyvenv.cfg": ""}),
}


@needs_git
@pytest.mark.parametrize("change", list(_CHANGES))
def test_a_remembered_walk_sees_every_change_of_the_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    make_repo(tmp_path, {".gitignore": "*.log\n", "debug.log": "", "pkg/a.py": "", "pkg/sub/m.py": ""})
    git(tmp_path, "add", "-A")
    write_tree(tmp_path, {"pkg/sub/notes.txt": ""})  # not tracked
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))  # nothing is racy: only the stats tell
    memo: dict[str, Any] = {}
    first = list_tree(tmp_path, memo=memo)
    assert WALK_MEMO_KEY in memo
    assert _remembered(tmp_path, memo) == first == git_files(tmp_path)  # nothing listed again
    _tick()
    _CHANGES[change](tmp_path)
    changed = list_tree(tmp_path, memo=memo)
    assert changed != first
    assert changed == list_tree(tmp_path)  # a walk without memo (checked against git above)
    assert _remembered(tmp_path, memo) == changed  # the new walk is remembered in its turn


def test_a_walk_that_saw_a_recent_change_is_not_remembered(tmp_path: Path) -> None:
    # a directory changed within the file system's timestamp tick could change again
    # unseen (racy, as in git): nothing is remembered, the next walk lists again
    write_tree(tmp_path, {"a.py": ""})
    memo: dict[str, Any] = {}
    assert list_tree(tmp_path, memo=memo) == ["a.py"]
    assert WALK_MEMO_KEY not in memo
    (tmp_path / "b.py").write_text("")
    assert list_tree(tmp_path, memo=memo) == ["a.py", "b.py"]


@needs_git
def test_a_recently_written_index_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_repo(tmp_path, {".gitignore": "*.log\n", "a.log": "", "f": ""})
    git(tmp_path, "add", "-A")
    index = os.stat(tmp_path / ".git" / "index")
    written = max(index.st_mtime_ns, index.st_ctime_ns)
    # within two seconds of its change a same-size rewrite could keep the index's stat
    assert _walk._index_state(str(tmp_path), written + 10**9) == ""
    assert _walk._index_state(str(tmp_path), written + 3 * 10**9).endswith(_walk.stat_signature(index))
    monkeypatch.setattr(_walk, "_index_state", lambda root, now: "")
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))
    memo: dict[str, Any] = {}
    assert list_tree(tmp_path, memo=memo) == [".gitignore", "f"]
    # the walk is remembered, the tracked files it lacks are not: the index is read again
    assert memo[WALK_MEMO_KEY][3:] == ["", ""]
    git(tmp_path, "add", "-f", "a.log")
    assert _remembered(tmp_path, memo) == [".gitignore", "a.log", "f"]


def test_a_remembered_walk_is_of_its_root_and_skip_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))
    write_tree(tmp_path, {"one/a.py": "", "one/cache/x": "", "two/b.py": ""})
    memo: dict[str, Any] = {}
    assert list_tree(tmp_path / "one", memo=memo) == ["a.py", "cache/x"]
    assert list_tree(tmp_path / "two", memo=memo) == ["b.py"]
    assert list_tree(tmp_path / "two", memo=memo, skip_dirs=frozenset({"cache"})) == ["b.py"]
    assert list_tree(tmp_path / "one", memo=memo, skip_dirs=frozenset({"cache"})) == ["a.py"]
    # damaged memo entries are no memo
    for damaged in (None, 5, [1, 2, 3, 4, 5], ["x"] * 4):
        memo[WALK_MEMO_KEY] = damaged
        assert list_tree(tmp_path / "one", memo=memo) == ["a.py", "cache/x"]


def test_no_index_no_tracked_paths(tmp_path: Path) -> None:
    write_tree(tmp_path, {".git/HEAD": "", "f": ""})
    assert tracked_paths(str(tmp_path)) == frozenset()
    assert tracked_paths(str(tmp_path / "nowhere")) == frozenset()
    write_tree(tmp_path, {"wt/.git": "not a pointer\n", "wt/x": ""})
    assert tracked_paths(str(tmp_path / "wt")) == frozenset()


# Hand-made indexes: what real git rarely writes, and damage.


def _varint(n: int) -> bytes:
    """git's offset encoding (varint.c encode_varint)."""
    out = [n & 0x7F]
    n >>= 7
    while n:
        n -= 1
        out.insert(0, 0x80 | (n & 0x7F))
        n >>= 7
    return bytes(out)


def make_index(names: list[str], version: int = 2, oid_size: int = 20, extensions: bytes = b"") -> bytes:
    out = bytearray(b"DIRC" + version.to_bytes(4, "big") + len(names).to_bytes(4, "big"))
    prev = b""
    for name in names:
        raw = name.encode()
        entry = bytearray(40 + oid_size)
        entry[24:28] = (0o100644).to_bytes(4, "big")
        entry += min(len(raw), 0xFFF).to_bytes(2, "big")
        if version == 4:
            common = 0  # the shared leading bytes
            while common < min(len(prev), len(raw)) and prev[common] == raw[common]:
                common += 1
            entry += _varint(len(prev) - common) + raw[common:] + b"\0"
        else:
            entry += raw + b"\0"
            entry += b"\0" * (-len(entry) % 8)
        out += entry
        prev = raw
    out += extensions
    out += (hashlib.sha1 if oid_size == 20 else hashlib.sha256)(out).digest()
    return bytes(out)


HAND_MADE = ["a", "b/" + "x" * 5000, "b/y", "c" * 300 + "/z", "é"]


@pytest.mark.parametrize("version", [2, 4])
@pytest.mark.parametrize("oid_size", [20, 32])
def test_hand_made_index(version: int, oid_size: int) -> None:
    data = make_index(HAND_MADE, version, oid_size, extensions=b"TREE" + (3).to_bytes(4, "big") + b"abc")
    assert parse_index(data) == HAND_MADE


@pytest.mark.parametrize("version", [2, 4])
def test_damaged_hand_made_index_is_refused(version: int) -> None:
    data = make_index(HAND_MADE, version)
    for cut in range(len(data)):
        assert parse_index(data[:cut]) is None, cut
    assert parse_index(data + b"\0") is None
    assert parse_index(make_index(["a"], version=5)) is None


def test_split_index_is_refused() -> None:
    # the entries of a split index live in a shared file this parser does not read
    link = b"link" + (20).to_bytes(4, "big") + b"\0" * 20
    assert parse_index(make_index(["a"], extensions=link)) is None


def test_sparse_directory_entries_are_no_files() -> None:
    sdir = b"sdir" + (0).to_bytes(4, "big")
    assert parse_index(make_index(["a", "dir/", "z"], extensions=sdir)) == ["a", "z"]
