"""The `wheelmemo` command: stats, list, prune, clean, export, explain, init."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmemo._cli import main
from wheelmemo._settings import tomllib
from wheelmemo._store import LocalStore

from conftest import PACKAGES, ROOT, FakeSite, Hooks


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _wheels(cache_dir: Path) -> list[dict[str, object]]:
    return [r for r in LocalStore(cache_dir).records() if r["kind"] == "wheel"]


def test_help_for_every_command() -> None:
    for command in ("init", "explain", "stats", "list", "prune", "clean", "export", "verify"):
        result = subprocess.run(
            [sys.executable, "-m", "wheelmemo", command, "--help"],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        assert result.returncode == 0
        assert "exit status:" in result.stdout


def test_stats_count_hits_and_misses_exactly(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()  # miss
    hooks.build_wheel()  # hit
    hooks.build_wheel()  # hit
    meta = hooks.out / "meta"
    meta.mkdir()
    hooks("prepare_metadata_for_build_wheel", str(meta))  # hit: from the cached wheel
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# edit\n")
    hooks.build_wheel()  # miss
    capsys.readouterr()
    code, out, _ = _cli(capsys, "stats", "--json")
    assert code == 0
    stats = json.loads(out)["projects"]["fake-project"]
    assert (stats["hits"], stats["misses"]) == (3, 2)
    assert stats["kinds"]["wheel"] == {"hits": 2, "misses": 2}
    assert stats["kinds"]["metadata-wheel"] == {"hits": 1, "misses": 0}
    _, table, _ = _cli(capsys, "stats")
    assert "fake-project  3     2       60%" in table
    _cli(capsys, "stats", "--zero")
    assert json.loads(_cli(capsys, "stats", "--json")[1])["total"]["hits"] == 0


def test_list_shows_entries(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    capsys.readouterr()
    code, out, _ = _cli(capsys, "list")
    assert code == 0
    line = next(row for row in out.splitlines() if " wheel " in row)
    assert line.split()[:4] == ["fake-project", "1.0.0", "wheel", "py3-none-any"]


def _fill(hooks: Hooks, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
    for i in range(count):
        monkeypatch.setenv("FAKE_BUILD_FLAG", str(i))
        hooks.build_wheel(subdir=f"w{i}")


def test_prune_evicts_least_recently_used_first(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(hooks, monkeypatch, 4)
    monkeypatch.setenv("FAKE_BUILD_FLAG", "0")
    hooks.build_wheel(subdir="again")  # entry 0 is now the most recently used; entry 1 the least
    store = LocalStore(cache_dir)
    # one byte under at a time until a wheel goes (a limit derived from what a build adds
    # depended on how that build's stats lines and blocks happened to fall: flaky)
    for _ in range(20):
        code, out, _ = _cli(capsys, "prune", "--max-size", str(store.size() - 1))
        assert code == 0
        assert out.startswith("wheelmemo: removed ")
        if len(_wheels(cache_dir)) < 4:
            break
    assert len(_wheels(cache_dir)) == 3
    hooks.build_wheel(subdir="after")  # flag 0: still cached
    assert hooks.calls()["build_wheel"] == 4
    monkeypatch.setenv("FAKE_BUILD_FLAG", "1")
    hooks.build_wheel(subdir="gone")  # the least recently used went first
    assert hooks.calls()["build_wheel"] == 5


@pytest.mark.skipif(sys.platform == "win32", reason="holds the lock with flock, which is POSIX")
def test_prune_leaves_an_entry_in_use(hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    (record,) = _wheels(cache_dir)
    lock = cache_dir / "v1" / "locks" / f"{record['key']}.lock"
    import fcntl

    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_SH)  # as a reader copying it out would
        _cli(capsys, "clean")
        assert len(_wheels(cache_dir)) == 1
    _cli(capsys, "clean")
    assert _wheels(cache_dir) == []
    assert not list((cache_dir / "v1" / "blobs").glob("*/*"))


def test_size_limit_is_enforced_after_stores(hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hooks.build_wheel(subdir="probe")
    one = LocalStore(cache_dir).size()
    monkeypatch.setenv("FAKE_BUILD_FLAG", "probe")
    hooks.build_wheel(subdir="probe2")
    limit = one + (LocalStore(cache_dir).size() - one) * 1.5  # room for two builds, not three
    monkeypatch.setenv("WHEELMEMO_MAX_SIZE", str(int(limit)))
    _fill(hooks, monkeypatch, 5)
    assert LocalStore(cache_dir).size() <= limit
    assert len(_wheels(cache_dir)) <= 2


def test_export_writes_the_cached_wheel(hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    built = hooks.build_wheel()
    capsys.readouterr()
    code, out, _ = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "exported"))
    assert code == 0
    assert Path(out.strip()).read_bytes() == built.read_bytes()
    code, out, _ = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "ed"), "--editable")
    assert code == 0
    assert "_wheelmemo_editable_fake_project.pth" in __import__("zipfile").ZipFile(out.strip()).namelist()
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# edit\n")
    code, _, err = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "stale"))
    assert code == 1
    assert "no cached wheel for the current state of fake-project" in err
    assert hooks.calls()["build_wheel"] == 1


def test_export_and_explain_see_a_new_git_tag(hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A VCS-versioned project: the command line keys the tree with its own git state,
    not the newest entry's (a wheel of the old tag must not be exported for the new one)."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=hooks.project,
            check=True,
            capture_output=True,
        )

    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'requires = ["wheelmemo", "countingbackend"]',
            'requires = ["wheelmemo", "countingbackend", "setuptools-scm>=8"]',
        )
    )
    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    git("tag", "v1.0.0")
    hooks.build_wheel()
    capsys.readouterr()
    assert _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "one"))[0] == 0
    git("commit", "-q", "--allow-empty", "-m", "two")
    git("tag", "v1.1.0")
    code, _, err = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "two"))
    assert (code, "no cached wheel for the current state" in err) == (1, True)
    code, out, _ = _cli(capsys, "explain", str(hooks.project))
    assert "would miss" in out and "vcs" in out, out
    assert hooks.calls()["build_wheel"] == 1


def test_explain_and_export_find_an_entry_of_an_older_build_environment(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """uv builds, an edit is built by another frontend whose build environment differs
    (pip adds a requirement), the edit is reverted: the tree is uv's entry again."""
    first = hooks.build_wheel(subdir="first")
    data = hooks.project / "src" / "fakepkg" / "data.py"
    saved = data.read_text()
    data.write_text(saved + "# edit\n")
    fake_site.install("countingbackend", "2.0")  # another build environment
    hooks.build_wheel(subdir="second")
    data.write_text(saved)
    capsys.readouterr()
    code, out, _ = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "x"))
    assert code == 0 and Path(out.strip()).read_bytes() == first.read_bytes()
    assert "build_wheel: would hit" in _cli(capsys, "explain", str(hooks.project))[1]
    assert hooks.calls()["build_wheel"] == 2


def test_export_with_nothing_cached(hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "x"))
    assert code == 1
    assert "nothing cached for fake-project" in err


def test_explain_names_what_changed(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    capsys.readouterr()
    assert "build_wheel: would hit" in _cli(capsys, "explain", str(hooks.project))[1]
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# edit\n")
    (hooks.project / "src" / "fakepkg" / "new.py").write_text("")
    out = _cli(capsys, "explain", str(hooks.project))[1]
    assert "build_wheel: would miss" in out
    assert "src/fakepkg/data.py changed" in out
    assert "src/fakepkg/new.py added" in out


def _requirement() -> str:
    """What init writes, from wheelmemo's own version: ``wheelmemo>=X.Y,<X+1``."""
    from wheelmemo import __version__

    major, minor = __version__.split(".")[:2]
    return f"wheelmemo>={major}.{minor},<{int(major) + 1}"


_REQUIREMENT = _requirement()


def _plain_project(tmp_path: Path) -> Path:
    project = tmp_path / "plain"
    shutil.copytree(PACKAGES / "setuptools_cext", project)
    text = (project / "pyproject.toml").read_text()
    text = text.replace(
        'requires = ["wheelmemo", "setuptools>=64"]\nbuild-backend = "wheelmemo"',
        'requires = ["setuptools>=64"]  # kept comment\nbuild-backend = "setuptools.build_meta"',
    )
    text = text.split("[tool.wheelmemo]")[0] + '[tool.uv]\ncache-keys = [{ file = "extra.txt" }]\n'
    (project / "pyproject.toml").write_text(text)
    return project


def test_init_adopts_and_is_idempotent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _plain_project(tmp_path)
    assert _cli(capsys, "init", str(project), "--check")[0] == 1
    before = (project / "pyproject.toml").read_text()
    code, out, _ = _cli(capsys, "init", str(project), "--dry-run")
    assert code == 0
    assert '+build-backend = "wheelmemo"' in out
    assert (project / "pyproject.toml").read_text() == before
    assert _cli(capsys, "init", str(project))[0] == 0
    text = (project / "pyproject.toml").read_text()
    assert 'build-backend = "wheelmemo"' in text
    assert "# kept comment" in text
    assert '[tool.wheelmemo]\nbackend = "setuptools.build_meta"' in text
    for key in ('{ file = "extra.txt" }', '{file = "setup.py"}', '{file = "src/**/*.c"}', '{file = "pyproject.toml"}'):
        assert key in text
    assert _cli(capsys, "init", str(project))[0] == 0
    assert (project / "pyproject.toml").read_text() == text
    assert _cli(capsys, "init", str(project), "--check")[0] == 0


def test_init_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _cli(capsys, "init", str(tmp_path))
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1


def test_clean_forgets_stat_caches(hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    (hooks.project / "src" / "fakepkg" / "old.py").write_text("")
    os.utime(hooks.project / "src" / "fakepkg" / "old.py", (time.time() - 10, time.time() - 10))
    for path in (hooks.project / "src" / "fakepkg").iterdir():
        os.utime(path, (time.time() - 10, time.time() - 10))
    hooks.build_wheel()
    assert list((cache_dir / "v1" / "stat").iterdir())
    _cli(capsys, "prune", "--older-than", "30d")
    assert list((cache_dir / "v1" / "stat").iterdir()), "a recently used tree keeps its stat cache"
    _cli(capsys, "clean")
    assert not list((cache_dir / "v1" / "stat").iterdir())


def test_clean_removes_every_entry_not_in_use(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Value-only entries (get_requires answers, manifests) free no bytes, and go too."""
    hooks.build_wheel()
    store = LocalStore(cache_dir)
    (wheel,) = _wheels(cache_dir)
    record = cache_dir / "v1" / "entries" / wheel["key"][:2] / f"{wheel['key']}.json"
    os.utime(record, (1, 1))  # the least recently used: evicted first, then no bytes are left
    entries = store.records()
    assert {r["kind"] for r in entries} == {"wheel", "manifest", "requires-wheel"}
    code, out, _ = _cli(capsys, "clean")
    assert code == 0
    assert out.startswith(f"wheelmemo: removed {len(entries)} entries")
    assert store.records() == []
    assert not [p for where in ("entries", "parts", "blobs") for p in (cache_dir / "v1" / where).rglob("*")]


def test_init_keys_uv_on_every_file_the_stale_check_watches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The import warning names a command that rebuilds; uv sync rebuilds only on a
    cache-key: a build file in any directory must be one (issue 11: src/pkg/meson.build)."""
    from wheelmemo._inputs import builds_compiled_parts

    project = _plain_project(tmp_path)
    for rel in ("src/pkg/meson.build", "cmake/FindThing.cmake", "lib/sub/CMakeLists.txt"):
        (project / rel).parent.mkdir(parents=True, exist_ok=True)
        (project / rel).write_text("# build file\n")
    assert _cli(capsys, "init", str(project))[0] == 0
    keys = [
        key["file"]
        for key in tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]["cache-keys"]
        if "file" in key
    ]
    for pattern in ("src/**/meson.build", "cmake/**/*.cmake", "lib/**/CMakeLists.txt", "src/**/*.c"):
        assert pattern in keys
    # every watched file is under a key (a glob of uv's: ** spans directories)
    import fnmatch

    watched = [
        p.relative_to(project).as_posix()
        for p in project.rglob("*")
        if p.is_file() and builds_compiled_parts(p.relative_to(project).as_posix())
    ]
    for label in watched:
        assert any(fnmatch.fnmatch(label, key.replace("**/", "*")) or label == key for key in keys), label
    # a new kind of build file: init --check says the keys drifted
    (project / "tools" / "gen").mkdir(parents=True)
    (project / "tools" / "gen" / "meson.build").write_text("# new\n")
    code, _, err = _cli(capsys, "init", str(project), "--check")
    assert code == 1 and "tools/**/meson.build" in err


def test_explain_on_a_project_not_adopted_points_to_init(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "mesonproject"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["meson-python"]\nbuild-backend = "mesonpy"\n[project]\nname = "m"\n'
    )
    code, out, err = _cli(capsys, "explain", str(project))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "'mesonpy'" in err and "wheelmemo init" in err
    assert "maturin" not in err


def test_explain_and_export_write_nothing_into_the_cache(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks.build_wheel()
    (hooks.project / "src" / "fakepkg" / "new.py").write_text("")  # a stat cache would change

    def snapshot() -> dict[str, tuple[int, bytes]]:
        return {
            str(p.relative_to(cache_dir)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in cache_dir.rglob("*")
            if p.is_file()
        }

    before = snapshot()
    assert _cli(capsys, "explain", str(hooks.project))[0] == 1  # new.py: the next build would miss
    (hooks.project / "src" / "fakepkg" / "new.py").unlink()
    assert _cli(capsys, "export", str(hooks.project), "-o", str(tmp_path / "exported"))[0] == 0
    assert snapshot() == before


def test_an_interpreter_change_reads_as_python_versions() -> None:
    from wheelmemo._key import diff_parts

    old = {
        "implementation": "cpython",
        "version": "3.12.1 (main)",
        "cache_tag": "cpython-312",
        "ext_suffix": ".cpython-312-x86_64-linux-gnu.so",
        "soabi": "cpython-312-x86_64-linux-gnu",
    }
    new = {
        "implementation": "cpython",
        "version": "3.13.0 (main)",
        "cache_tag": "cpython-313",
        "ext_suffix": ".cpython-313-x86_64-linux-gnu.so",
        "soabi": "cpython-313-x86_64-linux-gnu",
    }
    assert diff_parts({"interpreter": old}, {"interpreter": new}) == ["Python 3.12.1 → 3.13.0"]
    threaded = dict(new, soabi="cpython-313t-x86_64-linux-gnu")
    assert diff_parts({"interpreter": new}, {"interpreter": threaded}) == ["Python 3.13.0, another build of it (soabi)"]


@pytest.mark.parametrize("sample", sorted(p.name for p in (PACKAGES / "init_samples").iterdir()))
def test_init_writes_toml_as_a_person_would(tmp_path: Path, capsys: pytest.CaptureFixture[str], sample: str) -> None:
    """The pyproject.toml files of real projects (from their sdists), one per backend."""
    project = tmp_path / "project"
    project.mkdir()
    before = (PACKAGES / "init_samples" / sample).read_text()
    (project / "pyproject.toml").write_text(before)
    assert _cli(capsys, "init", str(project))[0] == 0
    after = (project / "pyproject.toml").read_text()
    assert tomllib.loads(after)["build-system"]["build-backend"] == "wheelmemo"
    assert after.count('","') == before.count('","')  # a space after every comma we write
    assert ",tags" not in after
    lines = after.split("\n")
    added = {line for line in lines if line.startswith("[")} - {line for line in before.split("\n")}
    assert "[tool.wheelmemo]" in added
    previous_header = ""
    for number, line in enumerate(lines):
        if not line.startswith("["):
            continue
        # a table we added, and the one after it, are separated by a blank line
        if line in added or previous_header in added:
            assert lines[number - 1] == "", f"{line} touches the line above"
        previous_header = line
    assert after.endswith("\n") and not after.endswith("\n\n")
    # the requires list keeps its layout: one line, or one item per line indented as before
    requires_before = before.split("requires = ", 1)[1].split("]", 1)[0]
    requires_after = after.split("requires = ", 1)[1].split("]", 1)[0]
    if "\n" in requires_before:
        indent = requires_before.split("\n")[1][
            : len(requires_before.split("\n")[1]) - len(requires_before.split("\n")[1].lstrip())
        ]
        assert f'\n{indent}"{_REQUIREMENT}",\n' in requires_after
    else:
        assert requires_after.startswith(f'["{_REQUIREMENT}", ')
    assert _cli(capsys, "init", str(project), "--check")[0] == 0


def test_init_says_when_wheelmemo_saves_little(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pure = tmp_path / "pure"
    (pure / "src" / "pure").mkdir(parents=True)
    (pure / "src" / "pure" / "__init__.py").write_text("")
    (pure / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["pdm-backend"]\nbuild-backend = "pdm.backend"\n[project]\nname = "pure"\n'
    )
    code, out, _ = _cli(capsys, "init", str(pure))
    assert code == 0 and "note: nothing in" in out and "saves little" in out
    native = _plain_project(tmp_path)
    code, out, _ = _cli(capsys, "init", str(native))
    assert code == 0 and "note:" not in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """``wheelmemo --version``, as uv, sccache and git answer it (it was a usage error)."""
    from wheelmemo import __version__
    from wheelmemo._cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"wheelmemo {__version__}\n"


@pytest.mark.parametrize("name", ["impl.inl", "impl.ipp", "impl.tpp", "a.hxx", "a.c++", "start.S", "start.s", "x.asm"])
def test_sources_compilers_read_are_watched(name: str) -> None:
    """``init``'s cache-keys and the editable install's staleness check watch the
    sources a compiler was seen reading: an edit of a tracked ``impl.inl`` left ``uv
    sync`` with the old module."""
    from wheelmemo._inputs import builds_compiled_parts

    assert builds_compiled_parts(f"src/{name}")


# -- the conventions of uv, sccache and git (issue 22) --------------------------------
def test_global_options_before_or_after_the_command(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--cache-dir`` (and ``--color``) anywhere, as uv takes its global options; one
    given before the command is not reset by the command's parser (its default)."""
    hooks.build_wheel()
    hooks.build_wheel()
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "another-cache"))  # not the one built into
    capsys.readouterr()
    for args in (
        ["--cache-dir", str(cache_dir), "stats", "--json"],
        ["stats", "--json", "--cache-dir", str(cache_dir)],
        ["stats", "--cache-dir", str(cache_dir), "--json", "--color", "never"],
        ["--color", "never", "stats", "--json", "--cache-dir", str(cache_dir)],
    ):
        code, out, _ = _cli(capsys, *args)
        assert code == 0, args
        assert json.loads(out)["projects"]["fake-project"]["hits"] == 1, args
    code, out, _ = _cli(capsys, "explain", str(hooks.project), "--cache-dir", str(cache_dir))
    assert (code, "build_wheel: would hit" in out) == (0, True)
    assert not (tmp_path / "another-cache").exists()


def test_the_project_is_found_upward(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """From a subdirectory, as uv and git find theirs: the nearest pyproject.toml above."""
    built = hooks.build_wheel()
    deep = hooks.project / "src" / "fakepkg"
    monkeypatch.chdir(deep)
    capsys.readouterr()
    code, out, _ = _cli(capsys, "explain")
    assert code == 0 and f"fake-project ({hooks.project})" in out and "build_wheel: would hit" in out
    code, out, _ = _cli(capsys, "export", "-o", str(tmp_path / "exported"))
    assert code == 0 and Path(out.strip()).read_bytes() == built.read_bytes()
    # an explicit path keeps working, from anywhere
    monkeypatch.chdir(tmp_path)
    assert _cli(capsys, "explain", str(hooks.project))[0] == 0
    # the cache commands read the cache the project's [tool.wheelmemo] cache-dir names
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("[tool.wheelmemo]\n", "[tool.wheelmemo]\ncache-dir = 'mine'\n"))
    monkeypatch.delenv("WHEELMEMO_CACHE_DIR")
    monkeypatch.chdir(deep)
    assert _cli(capsys, "stats")[1].rstrip().endswith(f" in {hooks.project / 'mine'}")
    assert hooks.calls()["build_wheel"] == 1


def test_init_in_a_subdirectory_edits_the_project_above_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _plain_project(tmp_path)
    (project / "src" / "deeper").mkdir(parents=True)
    monkeypatch.chdir(project / "src" / "deeper")
    code, _, err = _cli(capsys, "init", "--check")
    assert code == 1 and err.startswith("wheelmemo: ../../pyproject.toml needs `wheelmemo init`")
    code, out, _ = _cli(capsys, "init")
    assert code == 0 and out.startswith("wheelmemo: updated ../../pyproject.toml:")
    assert 'build-backend = "wheelmemo"' in (project / "pyproject.toml").read_text()
    assert not (project / "src" / "deeper" / "pyproject.toml").exists()


def test_explain_exit_status_and_json(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """0: the next build would hit, 1: it would miss (as ``git diff --exit-code``);
    ``--json`` says the same, with the id the build's line prints."""
    hooks.build_wheel()
    hooks.build_wheel()
    logged = capsys.readouterr().err.split("build_wheel hit ", 1)[1][:8]
    code, out, _ = _cli(capsys, "explain", "--json", str(hooks.project))
    report = json.loads(out)
    assert code == 0 and report["hit"] is True
    wheel = report["hooks"]["build_wheel"]
    assert (wheel["hit"], wheel["id"], wheel["key"][:8], wheel["reasons"]) == (True, logged, logged, [])
    assert report["hooks"]["build_editable"]["derived_from"].startswith("build_wheel")
    assert report["project"] == "fake-project" and report["compiler_cache"]["enabled"] is False
    with open(hooks.project / "src" / "fakepkg" / "data.py", "a") as f:
        f.write("# edit\n")
    code, out, _ = _cli(capsys, "explain", str(hooks.project))
    assert code == 1 and "build_wheel: would miss" in out
    code, out, _ = _cli(capsys, "explain", "--json", "--kind", "wheel", str(hooks.project))
    report = json.loads(out)
    assert code == 1 and report["hit"] is False and list(report["hooks"]) == ["build_wheel"]
    wheel = report["hooks"]["build_wheel"]
    assert (wheel["hit"], wheel["id"], wheel["closest"]) == (False, None, logged)
    assert wheel["reasons"] == ["src/fakepkg/data.py changed"]
    code, out, _ = _cli(capsys, "explain", "--kind", "editable", str(hooks.project))
    assert code == 1 and "build_editable: derived from the regular wheel" in out
    assert "    build_wheel: would miss; against the closest entry" in out
    assert "\n      src/fakepkg/data.py changed\n" in out  # below the line it belongs to
    # no cache: every build runs the backend
    monkeypatch.setenv("WHEELMEMO_DISABLE", "1")
    code, out, _ = _cli(capsys, "explain", str(hooks.project))
    assert code == 1 and "disabled" in out
    monkeypatch.delenv("WHEELMEMO_DISABLE")
    # a usage or configuration error: 2
    assert _cli(capsys, "explain", str(hooks.project / "src"))[0] == 2
    assert hooks.calls()["build_wheel"] == 1


def test_list_shows_what_was_built_with_the_logs_id(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    hooks.build_wheel()
    hooks.build_wheel()
    logged = capsys.readouterr().err.split("build_wheel hit ", 1)[1][:8]
    code, out, _ = _cli(capsys, "list")
    assert code == 0
    rows = [line.split() for line in out.splitlines() if line.startswith("fake-project ")]
    assert len(rows) == 1  # the wheel; not its manifest nor the get_requires answer
    assert rows[0][:4] == ["fake-project", "1.0.0", "wheel", "py3-none-any"] and rows[0][-1] == logged
    assert "None" not in out and "manifest" not in out and "3 internal records not shown" in out
    code, out, _ = _cli(capsys, "list", "--all")
    kinds = {line.split()[2] for line in out.splitlines() if line.startswith("fake-project ")}
    assert kinds == {"wheel", "manifest", "requires-wheel"}  # internal records are the project's too
    assert "None" not in out
    code, out, _ = _cli(capsys, "list", "--json")
    (entry,) = json.loads(out)["entries"]
    assert {k: entry[k] for k in ("id", "project", "version", "kind", "tags")} == {
        "id": logged,
        "project": "fake-project",
        "version": "1.0.0",
        "kind": "wheel",
        "tags": "py3-none-any",
    }
    assert entry["size"] > 0 and entry["files"][0].endswith(".whl")
    assert len(json.loads(_cli(capsys, "list", "--json", "--all")[1])["entries"]) == 4


def _plant_build_dir(cache_dir: Path, project_id: str) -> Path:
    """A persistent build directory of ``project_id``, as a native miss leaves one."""
    from wheelmemo._builddir import BuildDir, build_dir_name

    path = LocalStore(cache_dir).build_path(build_dir_name(project_id, {"python": "3"}))
    assert path is not None
    (path / "target.o").write_bytes(b"x" * 1000)
    BuildDir(path).note_use(project_id, "py3")
    BuildDir(path).note_size(force=True)
    return path


def test_clean_one_project(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``clean --project``: one project's entries (the internal ones too) and build
    directories, by name, by path or found from the current directory; no other's."""
    first = hooks.project
    other = tmp_path / "other"
    shutil.copytree(first, other)
    pyproject = other / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('name = "fake-project"', 'name = "Other_Project"'))
    hooks.build_wheel(subdir="a")
    hooks.project = other
    hooks.build_wheel(subdir="b")
    kept, gone = _plant_build_dir(cache_dir, "fake-project"), _plant_build_dir(cache_dir, "Other_Project")
    store = LocalStore(cache_dir)
    before = {r["key"]: r for r in store.records()}
    capsys.readouterr()
    code, out, _ = _cli(capsys, "clean", "--project", "other-project")  # as PEP 503 compares names
    assert code == 0
    assert out.startswith("wheelmemo: removed 4 entries, 1 build directory of Other_Project, freed ")
    left = {r["key"] for r in store.records()}
    assert len(left) == 4 and left < set(before)
    assert kept.is_dir() and not gone.exists()
    hooks.build_wheel(subdir="c")  # the other project builds again
    hooks.project = first
    hooks.build_wheel(subdir="d")  # this one still hits
    assert hooks.calls()["build_wheel"] == 3
    # found from the current directory, then by path
    monkeypatch.chdir(first / "src")
    assert _cli(capsys, "clean", "--project")[1].startswith("wheelmemo: removed 4 entries, 1 build directory of fake")
    assert not kept.exists() and len(store.records()) == 4
    monkeypatch.chdir(tmp_path)
    assert _cli(capsys, "clean", "--project", str(other))[1].startswith("wheelmemo: removed 4 entries")
    assert store.records() == []
    code, out, err = _cli(capsys, "clean", "--project", "unknown")
    assert (code, out) == (0, "") and err.startswith("warning: no project 'unknown' in the cache at ")


def test_stats_count_remote_hits_in_the_projects_row(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hit from the remote is a hit of the project's (its row said "0 hits 1 misses")."""
    remote = tmp_path / "remote"
    remote.mkdir()
    for var in ("WHEELMEMO_REMOTE_READ_ONLY", "WHEELMEMO_REMOTE_RESHARE", "WHEELMEMO_REMOTE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WHEELMEMO_REMOTE", remote.as_uri() + "/team")
    hooks.build_wheel(subdir="a")  # machine A: a miss, uploaded
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "cache-b"))
    hooks.build_wheel(subdir="b")  # machine B: a hit from the remote
    assert hooks.calls()["build_wheel"] == 1
    capsys.readouterr()
    stats = json.loads(_cli(capsys, "stats", "--json")[1])
    project = stats["projects"]["fake-project"]
    assert (project["hits"], project["remote_hits"], project["misses"]) == (1, 1, 0)
    assert project["kinds"]["wheel"] == {"hits": 1, "misses": 0}
    assert (stats["remote"]["hit"], stats["total"]["hits"], stats["total"]["misses"]) == (1, 1, 0)
    table = _cli(capsys, "stats")[1]
    assert table.splitlines()[0].split() == [
        "project",
        "hits",
        "misses",
        "hit",
        "rate",
        "time",
        "saved",
        "hits",
        "from",
        "the",
        "remote",
    ]
    assert table.splitlines()[1].split()[:4] == ["fake-project", "1", "0", "100%"]
    assert table.splitlines()[1].split()[-1] == "1"


def test_messages_in_uvs_style(
    hooks: Hooks, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``error:`` / ``warning:`` as uv writes them, coloured only on a terminal or with
    FORCE_COLOR, never with NO_COLOR; the build hooks' lines keep ``wheelmemo:``."""
    from wheelmemo import _log

    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    code, _, err = _cli(capsys, "explain", str(tmp_path))  # no pyproject.toml: not a tty, no colour
    assert code == 2 and err.startswith("error: ") and "\x1b" not in err and err.count("\n") == 1
    monkeypatch.setenv("FORCE_COLOR", "1")
    err = _cli(capsys, "explain", str(tmp_path))[2]
    assert err.startswith("\x1b[1;31merror:\x1b[0m ") and err.count("\n") == 1
    monkeypatch.setenv("NO_COLOR", "1")
    assert _cli(capsys, "explain", str(tmp_path))[2].startswith("error: ")
    assert _cli(capsys, "--color", "always", "explain", str(tmp_path))[2].startswith("\x1b[1;31merror:")
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.delenv("NO_COLOR")
    # a usage error: argparse's usage, then uv's line
    with pytest.raises(SystemExit) as exit_info:
        main(["stats", "--max-size", "1"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1] == "error: unrecognized arguments: --max-size 1"
    # a warning of the cache's code during a command: the command's style, once
    hooks.build_wheel()
    (cache_dir / "v1" / "stats.jsonl").unlink()
    (cache_dir / "v1" / "stats.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
    capsys.readouterr()
    err = _cli(capsys, "stats")[2]
    assert err.startswith("warning: ") and "symbolic link" in err and "wheelmemo:" not in err
    # a build hook after it keeps its own lines
    _log._warned.clear()  # (warned once per process: a hook runs in a process of its own)
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert err.startswith("wheelmemo: warning: ") and "wheelmemo: build_wheel hit " in err


def test_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from wheelmemo import _log

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)
    terminal, pipe = Terminal(), io.StringIO()
    _log.message("warning", "a", terminal)
    _log.message("warning", "a", pipe)
    assert (terminal.getvalue(), pipe.getvalue()) == ("\x1b[1;33mwarning:\x1b[0m a\n", "warning: a\n")
    monkeypatch.setenv("NO_COLOR", "")  # empty: as if unset (no-color.org)
    assert _log.use_colour(terminal)
    monkeypatch.setenv("NO_COLOR", "0")  # any other value disables it
    assert not _log.use_colour(terminal)


def test_a_reader_that_stops_early_gets_no_traceback(hooks: Hooks, cache_dir: Path) -> None:
    """`wheelmemo stats --json | head -1`: the reader has what it wanted; no BrokenPipeError."""
    hooks.build_wheel()
    with subprocess.Popen(
        [sys.executable, "-m", "wheelmemo", "--cache-dir", str(cache_dir), "stats", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # before the command writes a byte
        err = proc.stderr.read().decode()
    assert (proc.returncode, err) == (141 if os.name != "nt" else 1, "")
