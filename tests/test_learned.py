"""Inputs learned from the build: what it read that nobody declared is checked on every hit.

The fast cases run ``learningbackend`` (a fake backend that reads an undeclared variable,
files named in ``[tool.learning]``, and imports modules), counting its builds exactly;
the parsers of cargo's and the C compiler's dependency records are checked on their
real formats.  ``test_real_never_stale.py`` does the same with maturin, setuptools and
hatchling through real frontends.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from wheelmemo._recorder import Recorder, parse_make_deps
from wheelmemo.backends import Findings
from wheelmemo.backends.cargo import cargo_learned

from conftest import FakeSite, Hooks, use_learning_backend

pytestmark = pytest.mark.usefixtures("timestamps")  # each test racy and settled


def _saw(hooks: Hooks) -> dict[str, Any]:
    """What the newest build read."""
    return [r for r in hooks.records() if r["hook"] == "saw"][-1]


def test_undeclared_variable_read_by_the_build(
    hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_learning_backend(hooks, fake_site)
    hooks.build_wheel()
    monkeypatch.setenv("LEARN_FLAVOR", "a")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["flavor"] == "a"
    hooks.build_wheel()
    monkeypatch.delenv("LEARN_FLAVOR")
    hooks.build_wheel()  # back to the first state: its result is still there
    monkeypatch.setenv("LEARN_FLAVOR", "a")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    monkeypatch.setenv("LEARN_FLAVOR", "b")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    # a variable nobody read is no input, and PATH never is
    monkeypatch.setenv("UNREAD_VARIABLE", "1")
    monkeypatch.setenv("PATH", "/elsewhere:" + os.environ["PATH"])
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3


def test_the_miss_line_and_explain_name_the_learned_input(
    hooks: Hooks,
    fake_site: FakeSite,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from wheelmemo._cli import main

    use_learning_backend(hooks, fake_site)
    hooks.build_wheel()
    monkeypatch.setenv("LEARN_FLAVOR", "secret-value-42")
    capsys.readouterr()
    assert main(["explain", str(hooks.project)]) == 1  # a miss, as git diff --exit-code says
    assert "build_wheel: would miss: LEARN_FLAVOR changed (read by python)" in capsys.readouterr().out
    hooks.build_wheel()
    assert "build_wheel miss (LEARN_FLAVOR changed (read by python))" in capsys.readouterr().err
    # the value itself is never written to the cache, only a digest of it
    cache = Path(os.environ["WHEELMEMO_CACHE_DIR"])
    for path in cache.rglob("*"):
        if path.is_file():
            assert b"secret-value-42" not in path.read_bytes(), path


def test_gitignored_and_outside_files_read_by_the_build(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    shared = tmp_path / "shared.h"
    shared.write_text("#define X 1\n")
    (hooks.project / "generated.log").write_text("one\n")  # *.log is gitignored
    use_learning_backend(hooks, fake_site, read=["generated.log", "../shared.h", "absent.txt"])
    hooks.build_wheel()
    (hooks.project / "generated.log").write_text("two\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["generated.log"] == "two\n"
    shared.write_text("#define X 2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    (hooks.project / "absent.txt").write_text("now here\n")  # it was read as absent
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 4
    # touching every file and reverting nothing is a hit
    for path in [shared, *hooks.project.rglob("*")]:
        os.utime(path)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 4


def test_exclude_never_hides_a_file_the_build_read(hooks: Hooks, fake_site: FakeSite) -> None:
    (hooks.project / "NOTES.md").write_text("v1\n")
    use_learning_backend(hooks, fake_site, read=["NOTES.md"])
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('env = ["FAKE_BUILD_FLAG"]', 'env = ["FAKE_BUILD_FLAG"]\nexclude = ["*.md"]')
    )
    hooks.build_wheel()
    (hooks.project / "OTHER.md").write_text("not read\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (hooks.project / "NOTES.md").write_text("v2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_files_the_build_writes_before_reading_are_no_inputs(hooks: Hooks, fake_site: FakeSite) -> None:
    use_learning_backend(hooks, fake_site, scratch=["scratch.log"])
    hooks.build_wheel()
    (hooks.project / "scratch.log").write_text("changed by hand\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_an_input_changed_during_the_build_is_not_cached(
    hooks: Hooks,
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (hooks.project / "state.log").write_text("0\n")
    use_learning_backend(hooks, fake_site, read=["state.log"], rewrite=["state.log"])
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert "the build changed its own inputs (state.log)" in capsys.readouterr().err


def test_a_declared_input_the_build_read_and_deleted_is_not_cached(
    hooks: Hooks,
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The recorder takes a declared input for a file without looking (no stat per open):
    one the build deletes is seen by the key's second look at the tree."""
    (hooks.project / "once.txt").write_text("read once\n")
    use_learning_backend(hooks, fake_site, remove=["once.txt"])
    hooks.build_wheel()
    assert "the build changed its own inputs (once.txt" in capsys.readouterr().err
    (hooks.project / "once.txt").write_text("read once\n")  # the tree as the first build found it
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_a_build_that_writes_a_declared_input_is_named_once(
    hooks: Hooks,
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cargo writes a missing Cargo.lock: the next build would miss because of it."""
    use_learning_backend(hooks, fake_site, rewrite=["Cargo.lock"])
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert err.count("the build changed its own inputs (Cargo.lock changed)") == 1
    assert "commit generated files" in err


def test_a_build_that_creates_an_input_names_it_once(
    hooks: Hooks,
    fake_site: FakeSite,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cargo writes Cargo.lock where there was none: one name, not "Cargo.lock, Cargo.lock added"."""
    (hooks.project / "Cargo.lock").unlink(missing_ok=True)
    use_learning_backend(hooks, fake_site, rewrite=["Cargo.lock"], read=["Cargo.lock"])
    hooks.build_wheel()
    err = capsys.readouterr().err
    assert "the build changed its own inputs (Cargo.lock added)" in err


def test_imported_distribution_outside_the_requirement_closure(hooks: Hooks, fake_site: FakeSite) -> None:
    """--no-build-isolation: setup.py imports what build-system.requires does not name."""
    (fake_site.path / "extradep.py").write_text("VALUE = 1\n")
    fake_site.install("extradep", "1.0")
    use_learning_backend(hooks, fake_site, **{"import": ["extradep"]})
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    fake_site.install("extradep", "2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_requirements_added_by_get_requires_are_keyed(hooks: Hooks, fake_site: FakeSite) -> None:
    """setup_requires: what get_requires_for_build_wheel added is part of the key."""
    fake_site.install("helperdep", "1.0")
    use_learning_backend(hooks, fake_site, requires=["helperdep>=1"])
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    fake_site.install("helperdep", "2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


def test_vcs_plugin_added_by_get_requires_keys_the_git_state(hooks: Hooks, fake_site: FakeSite) -> None:
    fake_site.install("setuptools-scm", "8.0")
    use_learning_backend(hooks, fake_site, requires=["setuptools-scm>=8"])

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=hooks.project,
            check=True,
            capture_output=True,
        )

    git("init", "-q")
    git("add", "-A")
    git("commit", "-qm", "one")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    git("tag", "v2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


# -- the observers ----------------------------------------------------------------------------
def test_recorder_sees_reads_before_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("READ_ME", "1")
    (tmp_path / "in.txt").write_text("x")
    with Recorder(tmp_path) as recorder:
        os.environ.get("READ_ME")
        assert "ALSO_READ" not in os.environ
        os.environ["WRITTEN_FIRST"] = "1"
        os.environ.get("WRITTEN_FIRST")
        (tmp_path / "in.txt").read_text()
        (tmp_path / "out.txt").write_text("y")
        (tmp_path / "out.txt").read_text()
        os.environ.get("PATH")
        copied = dict(os.environ)  # an environment handed on whole names nothing
        assert os.environ.copy() == copied
        assert dict(os.environ.items()) == copied
        assert [k for k in os.environ if k == "READ_LATER"] == []
        os.environ.get("READ_LATER")
    monkeypatch.delenv("WRITTEN_FIRST")
    assert type(os.environ).__name__ == "_Environ"  # put back
    assert recorder.env_read() == ["ALSO_READ", "READ_LATER", "READ_ME"]
    assert str(tmp_path / "in.txt") in recorder.files_read()
    assert str(tmp_path / "out.txt") not in recorder.files_read()
    assert recorder.environ_before["READ_ME"] == "1"


def test_recorder_takes_declared_inputs_for_files_without_a_stat(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declared, other = tmp_path / "declared.txt", tmp_path / "other.txt"
    declared.write_text("x")
    other.write_text("y")
    stats: list[str] = []
    real = os.stat

    def counting(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        stats.append(os.fspath(path))
        return real(path, *args, **kwargs)

    with Recorder(tmp_path, {str(declared): "declared.txt"}) as recorder:
        watched = os.stat  # the recorder's own (put back by it, not by monkeypatch's undo)
        os.stat = counting
        try:
            declared.read_text()
            other.read_text()
        finally:
            os.stat = watched
    assert os.stat is real
    assert stats == [str(other)]
    declared.unlink()
    other.unlink()
    # a declared input gone after the build is the key's to see (it then caches nothing);
    # another file read and gone was the build's temporary
    assert recorder.files_read() == [str(declared)]


def test_recorder_notes_a_declared_input_by_its_own_path_with_no_abspath(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """hatchling opens and stats each file it ships by its absolute path: such a path, a
    declared input's own, is noted as it is (per file of 10,000, ``abspath`` was a third
    of what recording cost); any other spelling still goes through ``abspath``."""
    (tmp_path / "pkg").mkdir()
    declared, dotted = tmp_path / "pkg" / "a.py", tmp_path / "pkg" / ".hidden.py"
    declared.write_text("x")
    dotted.write_text("y")
    known = {str(declared): "pkg/a.py", str(dotted): "pkg/.hidden.py"}
    taken: list[str] = []
    real = os.path.abspath

    def counting(path: Any) -> str:
        taken.append(os.fspath(path))
        return real(path)

    with Recorder(tmp_path, known) as recorder:
        monkeypatch.setattr(os.path, "abspath", counting)
        declared.read_text()
        os.stat(str(declared))
        os.path.getsize(str(declared))
        monkeypatch.undo()
    assert taken == []  # read, then looked at twice: noted with no abspath
    with Recorder(tmp_path, known) as again:
        # the same file by other spellings, and a dotfile (which the check sends the long way)
        with open(f"{tmp_path}/pkg/../pkg/a.py", encoding="utf-8") as f:
            f.read()
        with open(f"{tmp_path}//pkg/.hidden.py", encoding="utf-8") as f:
            f.read()
        os.stat(f"{tmp_path}/pkg/./a.py")
    assert recorder.looked_at == again.looked_at == {str(declared)}
    assert recorder.files_read() == [str(declared)]
    assert again.files_read() == sorted([str(declared), str(dotted)])


def test_recorder_keeps_what_the_process_held_out_of_the_builds_collections(tmp_path: Path) -> None:
    """Objects alive before the call (the key's state of 10,000 inputs) are frozen for its
    duration, so the collections its allocations set off do not visit them; given back
    after, and a process's own frozen objects are left as they were."""
    import gc

    class Node:
        other: object = None

    started_frozen = gc.get_freeze_count()
    gc.unfreeze()  # an interpreter may start with objects frozen (3.12.1 here: 375): none now
    try:
        _recorder_freezes_only_an_unfrozen_process(tmp_path, Node)
    finally:
        if started_frozen:
            gc.freeze()


def _recorder_freezes_only_an_unfrozen_process(tmp_path: Path, Node: type[Any]) -> None:
    import gc

    before = gc.get_freeze_count()
    assert before == 0
    cycle = Node()
    cycle.other = cycle  # garbage only a collection finds, once dropped
    with Recorder(tmp_path):
        assert gc.get_freeze_count() > before
        del cycle
        gc.collect()
    assert gc.get_freeze_count() == 0
    gc.collect()  # what was dropped during the call is collected after it
    assert not any(type(o) is Node for o in gc.get_objects())
    gc.freeze()  # the process's own (refcounting may still free some of them)
    try:
        with Recorder(tmp_path):
            pass
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_make_style_dependency_lists() -> None:
    text = (
        "build/a.o: src/a.c include/x\\ y.h \\\n  /abs/z.h\n"
        "/t/release/deps/m.d: src/lib.rs src/gen.txt\n\nsrc/lib.rs:\n\n# env-dep:FLAVOR=a\n"
    )
    assert parse_make_deps(text) == ["src/a.c", "include/x y.h", "/abs/z.h", "src/lib.rs", "src/gen.txt"]


def test_cargo_dep_info_and_build_script_outputs(tmp_path: Path) -> None:
    workspace = tmp_path / "proj"
    release = workspace / "target" / "release"
    (release / "deps").mkdir(parents=True)
    (release / "deps" / "demo-0123.d").write_text(
        f"{release}/deps/demo-0123.d: src/lib.rs src/generated.txt\n\nsrc/lib.rs:\nsrc/generated.txt:\n\n"
        "# env-dep:FLAVOR=a\n# env-dep:UNSET_ONE\n# env-dep:OUT_DIR=/cargo/sets/it\n"
    )
    out = release / "build" / "demo-4567"
    out.mkdir(parents=True)
    (out / "output").write_text(
        "cargo:rerun-if-env-changed=MY_FLAVOR\ncargo::rerun-if-changed=wrapper.h\ncargo:rustc-env=X=1\n"
    )
    registry = release / "build" / "pyo3-build-config-89ab"
    registry.mkdir()
    (registry / "output").write_text("cargo:rerun-if-env-changed=PYO3_CONFIG_FILE\ncargo:rerun-if-changed=x\n")
    found = cargo_learned([workspace / "target"], {"demo": workspace}, workspace)
    assert found.files == {
        str(workspace / "src/lib.rs"): "rustc",
        str(workspace / "src/generated.txt"): "rustc",
        str(workspace / "wrapper.h"): "build script of demo",
    }
    assert found.env == {
        "FLAVOR": "rustc (env!)",
        "UNSET_ONE": "rustc (env!)",
        "MY_FLAVOR": "build script of demo",
        "PYO3_CONFIG_FILE": "build script of pyo3-build-config",
    }


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")
def test_compiler_dependency_output_leaves_objects_identical(tmp_path: Path) -> None:
    """DEPENDENCIES_OUTPUT makes gcc list the headers it read, and changes nothing it builds."""
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "v.h").write_text("#define V 3\n")
    (tmp_path / "a.c").write_text('#include "v.h"\nint f(void) { return V; }\n')
    env = {k: v for k, v in os.environ.items() if k not in ("DEPENDENCIES_OUTPUT", "SUNPRO_DEPENDENCIES")}
    compile_a = ["gcc", "-O2", "-fPIC", "-Iinc", "-c", "a.c", "-o"]
    subprocess.run([*compile_a, "plain.o"], cwd=tmp_path, env=env, check=True)
    with Recorder(tmp_path) as recorder:
        subprocess.run([*compile_a, "observed.o"], cwd=tmp_path, check=True)
    assert (tmp_path / "plain.o").read_bytes() == (tmp_path / "observed.o").read_bytes()
    assert recorder.compiler_dep_paths == ["a.c", "inc/v.h"]
    assert "DEPENDENCIES_OUTPUT" not in os.environ


def test_editable_import_warns_when_a_learned_input_changed(
    hooks: Hooks,
    fake_site: FakeSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stale check of an editable install watches what the build read, too."""
    import zipfile

    shared = tmp_path / "shared.h"
    shared.write_text("#define X 1\n")
    monkeypatch.setenv("LEARN_FLAVOR", "a")
    use_learning_backend(hooks, fake_site, read=["../shared.h"])
    dest = hooks.out / "editable"
    dest.mkdir(parents=True)
    site_dir = tmp_path / "site-packages"
    with zipfile.ZipFile(dest / hooks("build_editable", str(dest))) as zf:
        zf.extractall(site_dir)

    def import_it(**env: str) -> str:
        # twice, as site does in a virtual environment: the .pth file runs twice
        code = f"import site; site.addsitedir({str(site_dir)!r}); site.addsitedir({str(site_dir)!r}); import fakepkg, fakepkg.data"
        run_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | env
        return subprocess.run(
            [sys.executable, "-c", code], cwd=tmp_path, env=run_env, capture_output=True, text=True, check=True
        ).stderr

    assert import_it() == ""
    warned = import_it(LEARN_FLAVOR="b")
    assert "$LEARN_FLAVOR changed since the installed build" in warned
    assert warned.count("wheelmemo: warning:") == 1
    shared.write_text("#define X 2\n")
    assert f"{shared} changed since the installed build" in import_it()


def test_temporaries_and_per_build_variables_are_no_inputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from wheelmemo._learned import BuildContext, learn

    monkeypatch.setenv("UV_INTERNAL__BUILD_DIR", "/tmp/uv-build-1")
    temporary = tmp_path / "made-by-a-subprocess.json"
    temporary.write_text("{}")
    with Recorder(tmp_path) as recorder:
        temporary.read_text()
        temporary.unlink()  # read and deleted: a temporary of the build
        os.environ.get("UV_INTERNAL__BUILD_DIR")
        os.environ.get("SHLVL")
        with pytest.raises(FileNotFoundError):
            open(tmp_path / "optional.cfg")  # noqa: SIM115 - read as absent: an input
    context = BuildContext(
        tmp_path / "project", {}, skip=[], is_output=lambda _: False, declared_env=lambda _: False, closure=()
    )
    learned, changed = learn(recorder, context, _Digests(), None, dict)
    assert list(learned["files"]) == [str(tmp_path / "optional.cfg")]
    assert learned["files"][str(tmp_path / "optional.cfg")][0] == "missing"
    assert learned["env"] == {}
    assert changed == []


class _Digests:
    def learned_state(self, label: str, path: str, *, walk: bool = False, deadline: float | None = None) -> str:
        return "missing" if not os.path.exists(path) else "present"


def test_unpacked_sdist_meets_the_tree_when_the_vcs_plugin_comes_from_get_requires(
    hooks: Hooks,
    fake_site: FakeSite,
    tmp_path: Path,
) -> None:
    """The copy has no git: it takes the git state the tree's wheel was keyed on."""
    import tarfile

    fake_site.install("setuptools-scm", "8.0")
    use_learning_backend(hooks, fake_site, requires=["setuptools-scm>=8"])
    (hooks.project / ".gitignore").unlink()  # the fake sdist leaves dotfiles out
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "one"], ["tag", "v1.0"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=hooks.project,
            check=True,
            capture_output=True,
        )
    hooks.build_wheel(subdir="tree")
    sdists = hooks.out / "sdist"
    sdists.mkdir()
    with tarfile.open(sdists / hooks("build_sdist", str(sdists))) as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    (hooks.project,) = (tmp_path / "unpacked").iterdir()
    hooks.build_wheel(subdir="copy")
    assert hooks.calls()["build_wheel"] == 1


def test_cargo_outputs_outside_the_tree_are_no_inputs(tmp_path: Path) -> None:
    """CARGO_TARGET_DIR elsewhere: OUT_DIR's generated files and target/wheels are
    cargo's outputs, written by this build, never inputs (nor inputs that changed)."""
    from wheelmemo._learned import BuildContext, learn

    target = tmp_path / "target"
    generated = target / "release" / "build" / "demo-1" / "out" / "generated.rs"
    generated.parent.mkdir(parents=True)
    with Recorder(tmp_path) as recorder:
        generated.write_text("// made by build.rs during this build\n")
    cargo = Findings([target])
    cargo.files[str(generated)] = "rustc"
    context = BuildContext(
        tmp_path / "project",
        {},
        skip=cargo.target_dirs,
        is_output=lambda _: False,
        declared_env=lambda _: False,
        closure=(),
    )
    learned, changed = learn(recorder, context, _Digests(), cargo, dict)
    assert learned["files"] == {}
    assert changed == []


def test_how_wheelmemo_itself_was_installed_is_not_keyed(hooks: Hooks, fake_site: FakeSite) -> None:
    """A development install of wheelmemo gets a new RECORD in every build environment;
    wheelmemo is keyed by its version, in the key's own part."""
    fake_site.install("wheelmemo", "0.1.0")
    dist_info = next(fake_site.path.glob("wheelmemo-*.dist-info"))
    (dist_info / "direct_url.json").write_text('{"url": "file:///src/wheelmemo", "dir_info": {"editable": true}}')
    (dist_info / "RECORD").write_text("_wheelmemo.pth,sha256=one,10\n")
    hooks.build_wheel()
    (dist_info / "RECORD").write_text("_wheelmemo.pth,sha256=two,10\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_compiler_dependencies_gone_after_the_build_are_no_inputs(tmp_path: Path) -> None:
    """meson's compiler checks compile /tmp/tmpXXXX/testfile.cpp and delete it."""
    from wheelmemo._learned import BuildContext, learn

    header = tmp_path / "shared.h"
    header.write_text("#define X 1\n")
    with Recorder(tmp_path) as recorder:
        pass
    recorder.compiler_dep_paths = [str(tmp_path / "tmpabc" / "testfile.cpp"), str(header), "cmake/relative.h"]
    context = BuildContext(
        tmp_path / "project", {}, skip=[], is_output=lambda _: False, declared_env=lambda _: False, closure=()
    )
    learned, _ = learn(recorder, context, _Digests(), None, dict)
    assert list(learned["files"]) == [str(header)]


def test_a_crates_target_dir_inside_the_tree_is_no_input(tmp_path: Path) -> None:
    """setuptools-rust: cargo writes src/_ext/target/…/out/ during the build."""
    from wheelmemo._learned import BuildContext, learn

    project = tmp_path / "project"
    target = project / "src" / "_ext" / "target"
    generated = target / "release" / "build" / "pyo3-build-config-1" / "out" / "config.txt"
    generated.parent.mkdir(parents=True)
    with Recorder(tmp_path) as recorder:
        generated.write_text("written by a build script during this build\\n")
    cargo = Findings([target])
    cargo.files[str(generated)] = "build script of pyo3-build-config"
    context = BuildContext(
        project, {}, skip=cargo.target_dirs, is_output=lambda _: False, declared_env=lambda _: False, closure=()
    )
    learned, changed = learn(recorder, context, _Digests(), cargo, dict)
    assert learned["files"] == {}
    assert changed == []


def test_a_frontends_lock_file_the_build_reads_is_learned(hooks: Hooks, fake_site: FakeSite) -> None:
    """uv.lock is no declared input (no backend reads it), but one that does learns it."""
    (hooks.project / "uv.lock").write_text("version = 1\n")
    use_learning_backend(hooks, fake_site, read=["uv.lock"])
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (hooks.project / "uv.lock").write_text("version = 2\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["uv.lock"] == "version = 2\n"


@pytest.mark.parametrize("way", ["item", "getenvb", "get"])
def test_a_variable_read_through_environb_is_learned(
    hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    """os.environb (and os.getenvb) holds the same variables as os.environ, by bytes."""
    if not hasattr(os, "environb"):
        pytest.skip("no os.environb on this platform")
    use_learning_backend(hooks, fake_site, environb=[way], only_environb=True)
    monkeypatch.setenv("LEARN_FLAVOR", "a")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    monkeypatch.setenv("LEARN_FLAVOR", "b")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)[way] == "b"
    monkeypatch.delenv("LEARN_FLAVOR")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    assert _saw(hooks)[way] is None


def test_recorder_sees_environb_and_leaves_bulk_copies_out(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if not hasattr(os, "environb"):
        pytest.skip("no os.environb on this platform")
    monkeypatch.setenv("BYTES_READ", "1")
    with Recorder(tmp_path) as recorder:
        assert b"BYTES_ABSENT" not in os.environb
        os.getenvb(b"BYTES_READ")
        os.environb.get(b"BYTES_GOT")
        assert dict(os.environb) == os.environb.copy()  # handed on whole: names nothing
        os.environb[b"BYTES_WRITTEN"] = b"1"
        os.environb.get(b"BYTES_WRITTEN")
    monkeypatch.delenv("BYTES_WRITTEN")
    assert type(os.environb).__name__ == "_Environ"  # put back
    assert recorder.env_read() == ["BYTES_ABSENT", "BYTES_GOT", "BYTES_READ"]


def test_recorder_names_the_file_of_a_descriptor(tmp_path: Path) -> None:
    """A descriptor opened before the call, read through open(fd) or mmap: the file is
    named by /proc/self/fd where there is one, else the build is not sealed."""
    import mmap

    for rel in ("by-open.txt", "by-mmap.txt"):
        (tmp_path / rel).write_text("content\n")
    fds = [os.open(tmp_path / rel, os.O_RDONLY) for rel in ("by-open.txt", "by-mmap.txt")]
    try:
        with Recorder(tmp_path) as recorder:
            with open(fds[0], encoding="utf-8", closefd=False) as f:
                f.read()
            with mmap.mmap(fds[1], 0, access=mmap.ACCESS_READ) as mapped:
                mapped.read()
    finally:
        for fd in fds:
            os.close(fd)
    if os.path.isdir("/proc/self/fd"):
        assert recorder.files_read() == [str(tmp_path / "by-mmap.txt"), str(tmp_path / "by-open.txt")]
        assert recorder.sealed
    else:
        assert not recorder.sealed


def test_recorder_stays_sealed_for_what_names_no_unseen_file(tmp_path: Path) -> None:
    """shutil.rmtree and os.fwalk open directories relative to a dir_fd, tempfile makes
    files through descriptors: none of it reads a file the recorder cannot name."""
    import tempfile

    (tmp_path / "tree" / "a" / "b").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "b" / "f.txt").write_text("x")
    with Recorder(tmp_path) as recorder:
        list(os.fwalk(tmp_path / "tree"))
        shutil.rmtree(tmp_path / "tree")
        with tempfile.TemporaryFile() as f:
            f.write(b"x")
        with tempfile.NamedTemporaryFile() as f:
            f.write(b"x")
        fd, name = tempfile.mkstemp(dir=tmp_path)
        with os.fdopen(fd, "w") as f:
            f.write("x")
        os.close(os.open(tmp_path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)))
    assert recorder.sealed
    assert recorder.files_read() == []
    with Recorder(tmp_path) as recorder:
        os.close(os.open(os.path.relpath(name), os.O_RDONLY))
    assert not recorder.sealed


class Accelerator:
    """``fastaccel``, an optional accelerator that ``setup.py`` imports in a ``try``, as a
    --no-build-isolation environment has it: in a venv-like layout (the prefix is on
    sys.path too, as a venv's prefix is on the skip list), from a wheel without
    top_level.txt, under a distribution name that is not the module's."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.site = root / "lib" / "site-packages"
        self.site.mkdir(parents=True)
        monkeypatch.syspath_prepend(str(root))
        monkeypatch.syspath_prepend(str(self.site))

    def install(self, version: str) -> None:
        self.uninstall()
        (self.site / "fastaccel").mkdir()
        (self.site / "fastaccel" / "__init__.py").write_text(f"VALUE = {version!r}\n")
        info = self.site / f"fast_accel_lib-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: fast-accel-lib\nVersion: {version}\n")
        (info / "RECORD").write_text(f"fastaccel/__init__.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
        importlib.invalidate_caches()

    def install_broken(self, version: str) -> None:
        """A version whose import fails (a missing shared library, a Python it does not support)."""
        self.install(version)
        (self.site / "fastaccel" / "__init__.py").write_text("raise ImportError('no libfastaccel.so')\n")
        importlib.invalidate_caches()

    def uninstall(self) -> None:
        shutil.rmtree(self.site / "fastaccel", ignore_errors=True)
        for info in self.site.glob("fast_accel_lib-*.dist-info"):
            shutil.rmtree(info)
        importlib.invalidate_caches()


def test_an_uninstalled_accelerator_is_a_miss(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    accelerator.install("1.0")
    use_learning_backend(hooks, fake_site, optional_import=["fastaccel"])
    hooks.build_wheel()
    assert _saw(hooks)["fastaccel"] == "1.0"
    accelerator.uninstall()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["fastaccel"] is None


def test_an_accelerator_installed_after_the_build_is_a_miss(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    use_learning_backend(hooks, fake_site, optional_import=["fastaccel"])
    hooks.build_wheel()
    assert _saw(hooks)["fastaccel"] is None
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    accelerator.install("1.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["fastaccel"] == "1.0"


def test_an_optional_import_is_learned_both_ways(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each state has its own result: installed, uninstalled, reinstalled, upgraded."""
    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    install, uninstall = accelerator.install, accelerator.uninstall
    dist_info = accelerator.site / "fast_accel_lib-1.0.dist-info"
    use_learning_backend(hooks, fake_site, optional_import=["fastaccel"])
    install("1.0")
    hooks.build_wheel()
    assert _saw(hooks)["fastaccel"] == "1.0"
    uninstall()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["fastaccel"] is None
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    install("1.0")  # the first build's state again: its result
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    install("2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    assert _saw(hooks)["fastaccel"] == "2.0"
    uninstall()  # the second build's state again: its result
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    assert not dist_info.exists()


def test_what_an_earlier_recorded_call_imported_counts_for_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pip runs setup.py for the metadata, then again for the wheel, in one process: the
    second run finds the accelerator loaded (or looks for it in vain again, or not)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "carried_accel.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(site))
    try:
        with Recorder(tmp_path):
            importlib.import_module("carried_accel")
            with pytest.raises(ImportError):
                importlib.import_module("carried_missing_accel")
        with Recorder(tmp_path) as second:
            importlib.import_module("carried_accel")  # already loaded: no finder asked
        assert second.imported_from([str(site)]) == {"carried_accel": str(site / "carried_accel.py")}
        assert "carried_missing_accel" in second.failed_imports
    finally:
        sys.modules.pop("carried_accel", None)


def test_the_watched_stat_is_what_the_stdlib_asks_for(tmp_path: Path) -> None:
    """shutil.copystat of a symlink asks "os.stat in os.supports_follow_symlinks": the
    recorder's os.stat must answer as the real one (else copystat fails)."""
    (tmp_path / "target.txt").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target.txt")
    (tmp_path / "copy").symlink_to(tmp_path / "target.txt")
    with Recorder(tmp_path):
        assert os.stat in os.supports_follow_symlinks
        shutil.copystat(tmp_path / "link", tmp_path / "copy", follow_symlinks=False)
        os.stat(tmp_path / "target.txt")
    assert os.stat in os.supports_follow_symlinks
    assert len(os.supports_follow_symlinks) == len({f.__name__ for f in os.supports_follow_symlinks})


def test_a_distribution_asked_for_by_name_is_learned(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``importlib.metadata.version("fast-accel-lib")`` decides the build without an import:
    installing, upgrading and uninstalling it are misses, each state found again a hit."""
    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    use_learning_backend(hooks, fake_site, dist_version=["fast-accel-lib"])
    hooks.build_wheel()
    assert _saw(hooks)["fast-accel-lib"] is None
    accelerator.install("1.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["fast-accel-lib"] == "1.0"
    accelerator.install("2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3
    accelerator.uninstall()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 3


def test_opens_that_keep_the_old_content_read_it_when_there_was_one(tmp_path: Path) -> None:
    """ "a+" and O_RDWR | O_CREAT read an existing file's content; of a new file, nothing."""
    for rel in ("old-append.txt", "old-rdwr.txt"):
        (tmp_path / rel).write_text("old\n")
    with Recorder(tmp_path) as recorder:
        for rel in ("old-append.txt", "new-append.txt"):
            with open(tmp_path / rel, "a+", encoding="utf-8") as f:
                f.write("more\n")
        for rel in ("old-rdwr.txt", "new-rdwr.txt"):
            os.close(os.open(tmp_path / rel, os.O_RDWR | os.O_CREAT))
        with open(tmp_path / "appended.log", "a", encoding="utf-8") as f:  # writes only
            f.write("log\n")
    assert recorder.files_read() == [str(tmp_path / "old-append.txt"), str(tmp_path / "old-rdwr.txt")]


def test_recorder_names_sqlites_file_and_unseals_for_a_connection(tmp_path: Path) -> None:
    """sqlite3 opens its file in C (the ``sqlite3.connect`` event names it); a socket's
    server may read files for the build (a daemon): not sealed."""
    import socket
    import sqlite3

    sqlite3.connect(tmp_path / "state.db").close()
    with Recorder(tmp_path) as recorder:
        sqlite3.connect(tmp_path / "state.db").close()
        sqlite3.connect(tmp_path / "made-by-the-build.db").close()  # an output
        sqlite3.connect(":memory:").close()
    if sys.version_info >= (3, 10):  # the event is new in 3.10
        assert recorder.files_read() == [str(tmp_path / "state.db")]
    assert recorder.sealed
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with Recorder(tmp_path) as recorder, socket.create_connection(server.getsockname()):
            pass
    assert not recorder.sealed


def test_an_accelerator_that_failed_to_import_is_learned_by_version(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed but broken: the build went without it; the next version imports."""
    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    accelerator.install_broken("1.0")
    use_learning_backend(hooks, fake_site, import_statement=["fastaccel"])
    hooks.build_wheel()
    assert _saw(hooks)["fastaccel"] is None
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    accelerator.install("2.0")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert _saw(hooks)["fastaccel"] == "2.0"


def test_the_command_line_takes_an_entrys_imports_as_its_build_environment_had_them(
    hooks: Hooks,
    fake_site: FakeSite,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``explain`` and ``export`` run outside the isolated build environment: a module the
    build looked for in vain (setuptools tries Cython) may well be in the command line's
    own environment, which says nothing of the build's."""
    from wheelmemo._cli import main

    accelerator = Accelerator(tmp_path / "venv", monkeypatch)
    use_learning_backend(hooks, fake_site, optional_import=["fastaccel"])
    built = hooks.build_wheel()
    accelerator.install("1.0")  # in this process, not in the build's environment
    capsys.readouterr()
    assert main(["export", str(hooks.project), "-o", str(tmp_path / "exported")]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes() == built.read_bytes()
    main(["explain", str(hooks.project)])
    assert "build_wheel: would hit" in capsys.readouterr().out


@pytest.mark.skipif(sys.platform == "win32", reason="msvcrt is there on Windows")
def test_a_standard_modules_probe_as_it_is_imported_is_not_learned(tmp_path: Path) -> None:
    """``subprocess`` tries ``import msvcrt`` when it is first imported: in the build, or
    before it when wheelmemo ran ``rustc -vV`` (a stale toolchain memo), so a build of the
    same state learned ``msvcrt`` absent only sometimes, under another key (stale fuzz
    seed 2003, maturin).  A probe of a module outside the standard library counts."""
    (tmp_path / "probing_module.py").write_text("try:\n    import probed_accel\nexcept ImportError:\n    pass\n")
    saved = sys.modules.pop("subprocess")
    sys.path.insert(0, str(tmp_path))
    try:
        with Recorder(tmp_path) as recorder:
            importlib.import_module("subprocess")  # imported afresh: its probe runs
            importlib.import_module("probing_module")
    finally:
        sys.modules["subprocess"] = saved
        sys.modules.pop("probing_module", None)
        sys.path.remove(str(tmp_path))
    assert "msvcrt" not in recorder.missing_imports
    assert "probed_accel" in recorder.missing_imports
    assert "probed_accel" in recorder.failed_imports


def test_a_declared_input_outside_the_tree_is_not_learned_by_where_it_is(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``../shared.h`` declared (a maturin path dependency is, by ``../`` labels) and read
    by the build is the declared input: not learned again as ``/abs/shared.h``, which put
    the checkout's place in the entry's key (stale fuzz seed 2003: every world its own key)
    and made the same state in another checkout miss.  Its content is still checked."""
    shared = tmp_path / "shared.h"
    shared.write_text("#define X 1\n")
    use_learning_backend(hooks, fake_site, read=["../shared.h"])
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace("[tool.wheelmemo]\n", '[tool.wheelmemo]\ninputs = ["../shared.h"]\n')
    )
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    shutil.copytree(hooks.project, moved / "project")
    shared.rename(moved / "shared.h")
    elsewhere = Hooks(moved / "project", hooks.log, hooks.out, monkeypatch)
    elsewhere.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (moved / "shared.h").write_text("#define X 2\n")
    elsewhere.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
