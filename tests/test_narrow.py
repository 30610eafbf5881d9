"""Narrow inputs: an edit of files no build read or shipped is a hit, when that is known.

A result stands for a tree whose only changes since its build are edits of files the
build never opened or shipped, when the build was sealed (it ran no other process, so
every file it opened was seen).  Added and removed files, other changes of the key, a
learned input that changed, a build that ran a process: all misses.  The fake backend
reads ``pyproject.toml`` and the files under ``src/``, and ships the latter.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from conftest import HERE, FakeSite, Hooks, use_learning_backend

pytestmark = pytest.mark.usefixtures("timestamps")  # each test racy and settled


@pytest.fixture(autouse=True)
def narrowing(monkeypatch: pytest.MonkeyPatch, hooks: Hooks) -> None:
    monkeypatch.setenv("WHEELMEMO_NARROW", "1")  # opted in (the default is off)
    for rel in ("docs/guide.md", "tests/test_fake.py"):
        (hooks.project / rel).parent.mkdir(parents=True, exist_ok=True)
        (hooks.project / rel).write_text("first\n")


def _edit(hooks: Hooks, rel: str, text: str = "edited\n") -> None:
    (hooks.project / rel).write_text(text)


def test_edits_of_files_no_build_read_are_hits(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    first = hooks.build_wheel().read_bytes()
    _edit(hooks, "docs/guide.md")
    _edit(hooks, "tests/test_fake.py")
    assert hooks.build_wheel().read_bytes() == first
    assert hooks.calls()["build_wheel"] == 1
    assert hooks.calls()["get_requires_for_build_wheel"] == 1  # its answer too
    # a file the build read (and shipped): a miss, then edits of the others are hits again
    _edit(hooks, "src/fakepkg/data.py", "VALUE = 2\n")
    second = hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    _edit(hooks, "docs/guide.md", "third\n")
    assert hooks.build_wheel().read_bytes() == second.read_bytes()
    assert hooks.calls()["build_wheel"] == 2
    assert "miss" not in capsys.readouterr().err.split("src/fakepkg/data.py changed")[-1]


def test_a_narrow_hit_never_survives_narrow_false(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    """The narrow hit is listed under the edited tree's key, marked narrow: with narrow
    off it is not found there, the tree builds, and its own result is listed first."""
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    hooks.build_wheel()  # found directly under this key now
    assert hooks.calls()["build_wheel"] == 1
    monkeypatch.setenv("WHEELMEMO_NARROW", "false")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert hooks.calls()["get_requires_for_build_wheel"] == 2  # its narrow answer too
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    monkeypatch.setenv("WHEELMEMO_NARROW", "1")  # on again: this tree's own result comes first
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    _edit(hooks, "docs/guide.md", "first\n")  # the first tree: its own result, narrow or not
    monkeypatch.setenv("WHEELMEMO_NARROW", "false")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


@pytest.mark.parametrize("change", ["added", "removed", "renamed"])
def test_a_file_added_or_removed_is_a_miss(hooks: Hooks, change: str) -> None:
    """A build may list a directory, or test whether a file exists, without opening it."""
    hooks.build_wheel()
    docs = hooks.project / "docs"
    if change == "added":
        (docs / "more.md").write_text("x\n")
    elif change == "removed":
        (docs / "guide.md").unlink()
    else:
        (docs / "guide.md").rename(docs / "moved.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_any_other_change_beside_an_unread_edit_is_a_miss(hooks: Hooks) -> None:
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel(config_settings={"x": "1"})
    assert hooks.calls()["build_wheel"] == 2


def test_a_file_the_build_read_is_a_miss(hooks: Hooks, fake_site: FakeSite) -> None:
    use_learning_backend(hooks, fake_site, read=["docs/guide.md"])
    hooks.build_wheel()
    _edit(hooks, "tests/test_fake.py")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == "edited\n"


def test_a_changed_learned_input_is_a_miss(hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    use_learning_backend(hooks, fake_site)
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    monkeypatch.setenv("LEARN_FLAVOR", "b")  # read by the build, declared nowhere
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_a_build_that_ran_a_process_is_not_narrowed(hooks: Hooks, fake_site: FakeSite) -> None:
    """What another process reads is not seen: any edit may matter."""
    use_learning_backend(hooks, fake_site, run=["pass"])
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_an_in_tree_backends_modules_count_as_read(hooks: Hooks) -> None:
    """Imported before the build and maybe from __pycache__: no open is seen, yet they count."""
    backend = hooks.project / "_backend"
    backend.mkdir()
    shutil.copy(HERE / "fake_backend" / "countingbackend.py", backend / "intree.py")
    (backend / "helper.py").write_text("FLAVOR = 1\n")
    with open(backend / "intree.py", "a") as f:
        f.write("\nimport helper  # noqa\n")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('backend = "countingbackend"', 'backend = "intree"\nbackend-path = ["_backend"]')
    )
    try:
        hooks.build_wheel()
        _edit(hooks, "docs/guide.md")
        hooks.build_wheel()
        assert hooks.calls()["build_wheel"] == 1
        _edit(hooks, "_backend/helper.py", "FLAVOR = 2\n")
        hooks.build_wheel()
        assert hooks.calls()["build_wheel"] == 2
    finally:
        for name in ("intree", "helper"):
            sys.modules.pop(name, None)


def test_narrow_false_keys_on_every_file(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_NARROW", "false")
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_the_sdist_reads_every_file(hooks: Hooks, tmp_path: Path) -> None:
    """build_sdist packs the docs and tests: editing them is a miss for it."""
    out = tmp_path / "sdists"
    out.mkdir()
    hooks("build_sdist", str(out))
    _edit(hooks, "docs/guide.md")
    hooks("build_sdist", str(out))
    assert hooks.calls()["build_sdist"] == 2


def test_explain_and_export_see_it_and_write_nothing(
    hooks: Hooks, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from wheelmemo._cli import main

    first = hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    cache = Path(os.environ["WHEELMEMO_CACHE_DIR"])
    before = sorted(p for p in cache.rglob("*") if "stat" not in p.parts)
    capsys.readouterr()
    assert main(["explain", str(hooks.project)]) == 0
    assert "build_wheel: would hit" in capsys.readouterr().out
    assert main(["export", str(hooks.project), "--out-dir", str(tmp_path / "exported")]) == 0
    assert (tmp_path / "exported" / first.name).read_bytes() == first.read_bytes()
    assert sorted(p for p in cache.rglob("*") if "stat" not in p.parts) == before


def test_a_file_read_through_append_mode_counts_as_read(hooks: Hooks, fake_site: FakeSite) -> None:
    """open(name, "a+") keeps the old content readable: it is a read when the file was there."""
    use_learning_backend(hooks, fake_site, append_read=["docs/guide.md"])
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == "edited\n"


@pytest.mark.parametrize("way", ["os_open", "dir_fd"])
def test_a_read_no_event_names_unseals_the_build(hooks: Hooks, fake_site: FakeSite, way: str) -> None:
    """``os.open`` of a relative name (to the working directory, or to a ``dir_fd`` the
    audit event omits) reads a file the recorder cannot name: any edit may matter."""
    use_learning_backend(hooks, fake_site, **{way: ["docs/guide.md"]})
    hooks.build_wheel()
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == "first\n"
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == "edited\n"


def test_a_process_started_the_way_multiprocessing_does_unseals_the_build(
    hooks: Hooks,
    fake_site: FakeSite,
) -> None:
    """multiprocessing's "spawn" and "forkserver" start methods raise no audit event."""
    use_learning_backend(hooks, fake_site, spawnv=["pass"])
    hooks.build_wheel()
    _edit(hooks, "docs/guide.md")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_a_compiled_module_from_outside_the_stdlib_unseals_the_build(hooks: Hooks, fake_site: FakeSite) -> None:
    """Its C code may read files without an event (a C library opening a file by name)."""
    import sysconfig

    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    compiled = Path(sysconfig.get_config_var("DESTSHARED") or "") / f"xxlimited{suffix}"
    if not compiled.is_file():
        pytest.skip(f"no {compiled.name} to copy")
    shutil.copy(compiled, fake_site.path / compiled.name)
    try:
        use_learning_backend(hooks, fake_site, **{"import": ["xxlimited"]})
        hooks.build_wheel()
        _edit(hooks, "docs/guide.md")
        hooks.build_wheel()
        assert hooks.calls()["build_wheel"] == 2
    finally:
        sys.modules.pop("xxlimited", None)


def test_a_file_whose_size_the_build_looked_at_counts_as_read(hooks: Hooks, fake_site: FakeSite) -> None:
    """os.stat raises no audit event: a build may decide from a file's size without
    opening it (os.path.getsize, Path.stat), and an edit changes the size."""
    use_learning_backend(hooks, fake_site, sizes=["docs/guide.md"])
    hooks.build_wheel()
    _edit(hooks, "tests/test_fake.py")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    _edit(hooks, "docs/guide.md", "a longer text\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == len("a longer text\n")


def test_narrow_is_off_by_default(hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not every read can be seen: the size of an ``os.scandir`` entry (its ``stat()`` is
    C code that no audit event nor wrapper sees) decides this build, and editing the file
    changes it.  Unless a project opts in, every edit is a miss."""
    monkeypatch.delenv("WHEELMEMO_NARROW")
    use_learning_backend(hooks, fake_site, scandir_sizes=["docs/guide.md"])
    hooks.build_wheel()
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == len("first\n")
    _edit(hooks, "docs/guide.md", "a longer text\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert [r for r in hooks.records() if r["hook"] == "saw"][-1]["docs/guide.md"] == len("a longer text\n")
