"""list_tree against real git: ``git ls-files --others --cached --exclude-standard``.

Every case builds a tree in tmp_path, checks what the case is about (paths that
must be listed, paths that must not), then checks that list_tree and git agree
to the path.  A few rules are wheelmemo's own (virtualenvs, skip_dirs): those
are checked against the expectation only, git would list the files.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from wheelmemo._walk import list_tree

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
        with open(
            path, "a" if rel == ".git/info/exclude" else "w", encoding="utf-8", newline=""
        ) as f:
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
        pat = "/".join(
            rng.choice([p, "*", "**", p[:1] + "*", p + "**", "?" * len(p)]) for p in parts
        )
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
    write_tree(
        tmp_path, dict(sorted(files.items(), key=lambda kv: kv[0].endswith("/"), reverse=True))
    )
    assert list_tree(tmp_path) == git_files(tmp_path)
