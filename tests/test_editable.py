"""Editable wheels derived from the regular wheel: one build, sources live from the tree.

An editable wheel is "installed" by unpacking it into a site directory that a fresh
interpreter adds with ``site.addsitedir`` (which runs its ``.pth`` file), as an
installer's target environment would.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import HERE, PACKAGES, FakeSite, Hooks


def _install(wheel: Path, site_dir: Path) -> Path:
    site_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site_dir)
    return site_dir


def _python(site_dir: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    prelude = f"import site; site.addsitedir({str(site_dir)!r})\n"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [sys.executable, "-c", prelude + code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    )


def _editable(hooks: Hooks, subdir: str = "ed") -> Path:
    dest = hooks.out / subdir
    dest.mkdir(parents=True, exist_ok=True)
    return dest / hooks("build_editable", str(dest))


def test_editable_is_derived_from_the_cached_wheel(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    wheel = hooks.build_wheel()
    editable = _editable(hooks)
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "build_wheel": 1}
    assert editable.name == wheel.name
    assert "build_editable derived from the wheel (redirect)" in capsys.readouterr().err
    with zipfile.ZipFile(editable) as ed, zipfile.ZipFile(wheel) as wh:
        names = set(ed.namelist())
        # PEP 660: the regular wheel's metadata
        assert ed.read("fake_project-1.0.0.dist-info/METADATA") == wh.read("fake_project-1.0.0.dist-info/METADATA")
        record = ed.read("fake_project-1.0.0.dist-info/RECORD").decode()
    # sources come from the tree, build products ship inside
    assert "fakepkg/__init__.py" not in names
    assert "_wheelmemo_editable_fake_project/fakepkg/_generated.py" in names
    assert "_wheelmemo_editable_fake_project.pth" in names
    assert all(name in record for name in names)


def test_editable_first_then_wheel_builds_once(hooks: Hooks) -> None:
    _editable(hooks)
    hooks.build_wheel()
    _editable(hooks, "again")
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "build_wheel": 1}


def test_sources_are_live_from_the_tree(hooks: Hooks, tmp_path: Path) -> None:
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    pkg = hooks.project / "src" / "fakepkg"
    out = _python(
        site_dir,
        "import fakepkg, fakepkg._generated as g; print(fakepkg.__file__); print(fakepkg.hello()); print(g.__file__)",
        tmp_path,
    )
    file, hello, generated = out.stdout.split("\n")[:3]
    assert file == str(pkg / "__init__.py")
    assert hello == "hello v1"
    assert generated.startswith(str(site_dir))
    # an edit is live without reinstall; a new module is importable; a deleted one is gone
    with open(pkg / "__init__.py", "a") as f:
        f.write("\ndef added():\n    return 'added'\n")
    (pkg / "fresh.py").write_text("X = 'fresh'\n")
    (pkg / "data.py").unlink()
    out = _python(
        site_dir,
        "import fakepkg, fakepkg.fresh; print(fakepkg.added(), fakepkg.fresh.X)\n"
        "try:\n    import fakepkg.data\nexcept ImportError:\n    print('gone')",
        tmp_path,
    )
    assert out.stdout.split() == ["added", "fresh", "gone"]


def test_deleting_build_outputs_from_the_tree_breaks_nothing(hooks: Hooks, tmp_path: Path) -> None:
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    for junk in hooks.project.rglob("_generated.py"):
        junk.unlink()
    out = _python(site_dir, "import fakepkg._generated as g; print(g.FLAG)", tmp_path)
    assert out.stdout.strip() == "None"


def test_stale_compiled_parts_warn_once_on_import(hooks: Hooks, tmp_path: Path) -> None:
    (hooks.project / "tests").mkdir()
    (hooks.project / "tests" / "test_it.py").write_text("")
    (hooks.project / "notes.txt").write_text("")
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    quiet = _python(site_dir, "import fakepkg, fakepkg._generated", tmp_path)
    assert quiet.stderr == ""
    # a live source edit is not stale, nor a test or a note; a native input is
    for other in ("src/fakepkg/__init__.py", "tests/test_it.py", "notes.txt"):
        with open(hooks.project / other, "a") as f:
            f.write("# edited\n")
    assert _python(site_dir, "import fakepkg", tmp_path).stderr == ""
    with open(hooks.project / "Cargo.toml", "a") as f:
        f.write("# edited\n")
    err = _python(site_dir, "import fakepkg, fakepkg._generated, fakepkg.data", tmp_path).stderr
    assert err.count("wheelmemo: warning:") == 1
    assert "fake-project: Cargo.toml changed since the installed build" in err
    # a command that rebuilds whatever uv's cache-keys are (uv sync alone may not)
    assert "uv sync --reinstall-package fake-project" in err and "pip install -e ." in err


def test_stale_warning_of_a_project_without_project_table_names_a_command_that_installs_it(
    hooks: Hooks, tmp_path: Path
) -> None:
    """uv sync installs only a project with a [project] table: `uv sync --reinstall-package`
    cannot rebuild one whose metadata lives in setup.py / setup.cfg."""
    pyproject = hooks.project / "pyproject.toml"
    text = pyproject.read_text()
    start, end = text.index("[project]"), text.index("[tool.wheelmemo]")
    pyproject.write_text(text[:start] + text[end:])
    (hooks.project / "setup.cfg").write_text("[metadata]\nname = legacy-project\nversion = 1.0\n")
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    with open(hooks.project / "Cargo.toml", "a") as f:
        f.write("# edited\n")
    err = _python(site_dir, "import fakepkg", tmp_path).stderr
    assert "legacy_project: Cargo.toml changed since the installed build" in err
    assert "uv sync" not in err
    assert "`uv pip install --reinstall-package legacy_project -e .` or `pip install -e .`" in err


def test_inplace_mode_copies_and_restores_built_files(
    hooks: Hooks, tmp_path: Path, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compiled module the build made goes into the tree, and comes back after `git clean`."""
    # countingbackend, plus an extension module in the wheel that the tree does not have
    (fake_site.path / "countingbackend_ext.py").write_text(
        "import os, zipfile\nimport countingbackend\nfrom countingbackend import *  # noqa\n\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    name = countingbackend.build_wheel(wheel_directory, config_settings, metadata_directory)\n"
        "    with zipfile.ZipFile(os.path.join(wheel_directory, name), 'a') as zf:\n"
        "        zf.writestr('fakepkg/_speedups.so', b'compiled\\n')\n"
        "    return name\n"
    )
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('backend = "countingbackend"', 'backend = "countingbackend_ext"')
    )
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "inplace")
    built = hooks.project / "src" / "fakepkg" / "_speedups.so"
    assert not built.exists()
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    assert hooks.calls()["build_wheel"] == 1
    assert built.read_bytes() == b"compiled\n"  # copied into the tree, beside its package
    with zipfile.ZipFile(next((hooks.out / "ed").glob("*.whl"))) as zf:
        pth = zf.read("_wheelmemo_editable_fake_project.pth").decode()
    assert "bootstrap" in pth
    built.unlink()  # git clean -fdx
    out = _python(site_dir, "import fakepkg, fakepkg._generated as g; print(fakepkg.__file__); print(g.FLAG)", tmp_path)
    assert out.stdout.split("\n")[:2] == [str(hooks.project / "src" / "fakepkg" / "__init__.py"), "None"]
    assert built.read_bytes() == b"compiled\n"  # restored at interpreter start


def test_a_site_dir_added_with_an_empty_sys_path_keeps_the_interpreter_working(hooks: Hooks, tmp_path: Path) -> None:
    """pip's build environment adds the target environment's site directory with
    ``sys.path`` emptied (to learn which paths to hide), in an interpreter that has not
    imported the finder's standard modules: the .pth line must not take the process down."""
    site_dir = _install(_editable(hooks), tmp_path / "site-packages")
    code = (
        f"import sys, site; saved = sys.path[:]; sys.path[:] = []; site.addsitedir({str(site_dir)!r}); "
        "sys.path[:] = saved; import json; print('alive')"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert (out.returncode, out.stdout) == (0, "alive\n"), out.stderr
    assert _python(site_dir, "import fakepkg; print(fakepkg.__file__)", tmp_path).stdout.strip() == str(
        hooks.project / "src" / "fakepkg" / "__init__.py"
    ), "the finder still works from a normal start"


def test_inplace_extension_modules_are_restored_after_git_clean(tmp_path: Path) -> None:
    """Build the editable of a wheel holding an extension file; delete it from the tree."""
    from wheelmemo._editable import derive_editable

    tree = tmp_path / "tree"
    (tree / "pkg").mkdir(parents=True)
    (tree / "pkg" / "__init__.py").write_text("from . import _ext\n")
    import hashlib

    init = (tree / "pkg" / "__init__.py").read_bytes()
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    ext = b"# pretend-compiled\nVALUE = 42\n"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", init)
        zf.writestr("pkg/_ext.so", ext)
        zf.writestr("pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    inputs = {"pkg/__init__.py": hashlib.sha256(init).hexdigest()}
    out = tmp_path / "out"
    out.mkdir()
    name = derive_editable(wheel, out, tree, inputs, project="pkg", mode="inplace")
    assert (tree / "pkg" / "_ext.so").read_bytes() == ext
    (tree / "pkg" / "_ext.so").unlink()  # git clean -fdx
    site_dir = _install(out / name, tmp_path / "site")
    _python(site_dir, "pass", tmp_path)  # interpreter start runs the .pth
    assert (tree / "pkg" / "_ext.so").read_bytes() == ext


def test_native_mode_uses_the_inner_build_editable(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    editable = _editable(hooks)
    with zipfile.ZipFile(editable) as zf:
        assert "fake_project.pth" in zf.namelist()
    assert hooks.calls() == {"build_editable": 1}


@pytest.mark.parametrize("damage", ["deleted", "modified"])
def test_native_mode_restores_in_tree_artifacts(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    """Seed 003: after `git clean`, a cached native editable must not come back broken."""
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    _editable(hooks)
    artifact = hooks.project / "src" / "fakepkg" / "_native.so"
    built = artifact.read_bytes()
    if damage == "deleted":
        import shutil

        shutil.rmtree(artifact.parent)  # git clean -fdx takes untracked dirs too
        (hooks.project / "src" / "fakepkg").mkdir()
        for name in ("__init__.py", "data.py"):
            (hooks.project / "src" / "fakepkg" / name).write_text(
                {"__init__.py": 'def hello():\n    return "hello v1"\n', "data.py": "VALUE = 1\n"}[name]
            )
    else:
        artifact.write_bytes(b"something else")
    capsys.readouterr()
    _editable(hooks, "again")
    assert hooks.calls() == {"build_editable": 1}
    assert artifact.read_bytes() == built
    assert "restored src/fakepkg/_native.so from the cache" in capsys.readouterr().err


def test_wheel_member_outside_the_root_is_refused(tmp_path: Path) -> None:
    from wheelmemo._editable import derive_editable

    wheel = tmp_path / "evil-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("../../escape.so", b"x")
        zf.writestr("evil-1.0.dist-info/METADATA", "Name: evil\n")
    (tmp_path / "out").mkdir()
    with pytest.raises(ValueError, match="outside the installation root"):
        derive_editable(wheel, tmp_path / "out", tmp_path, {}, project="evil", mode="inplace")
    assert not (tmp_path.parent / "escape.so").exists()


def _forge_native_entry(hooks: Hooks, cache_dir: Path, tree_name: str) -> None:
    """Build a native editable, then add a file named ``tree:<tree_name>`` to its record,
    as someone who can write to the cache could (checksum recomputed)."""
    import json

    from wheelmemo._records import checksum

    _editable(hooks)
    (path,) = [
        p for p in (cache_dir / "v1" / "entries").rglob("*.json") if json.loads(p.read_text())["kind"] == "editable"
    ]
    record = json.loads(path.read_text())
    record.pop("checksum")
    _, blob, size = record["files"][1]
    record["files"].append([f"tree:{tree_name}", blob, size])
    path.write_text(json.dumps(dict(record, checksum=checksum(record))))


def test_forged_native_entry_cannot_write_outside_the_tree(
    hooks: Hooks, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    _forge_native_entry(hooks, cache_dir, "../escape.so")
    _editable(hooks, "again")
    assert not (hooks.project.parent / "escape.so").exists()
    assert hooks.calls() == {"build_editable": 2}  # the forged entry was discarded and rebuilt


def test_forged_native_entry_cannot_create_directories_through_a_link(
    hooks: Hooks,
    cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (hooks.project / "link").symlink_to(outside)
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "native")
    _forge_native_entry(hooks, cache_dir, "link/sub/x.so")
    _editable(hooks, "again")
    assert list(outside.iterdir()) == []
    assert hooks.calls() == {"build_editable": 2}


# -- a package whose tree directory has another name (lib/ -> pkg) ---------------------


@pytest.fixture
def renamed(fake_site: FakeSite, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Hooks:
    """``renamed_package``: ``pkg`` built from ``lib/`` by ``countingbackend_layout``."""
    shutil.copy(HERE / "fake_backend" / "countingbackend_layout.py", fake_site.path)
    importlib.invalidate_caches()
    project = tmp_path / "renamed"
    shutil.copytree(PACKAGES / "renamed_package", project)
    log = tmp_path / "backend.log"
    monkeypatch.setenv("FAKE_BACKEND_LOG", str(log))
    return Hooks(project, log, tmp_path / "out", monkeypatch)


def test_renamed_package_dir_is_live_from_the_tree(
    renamed: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    editable = _editable(renamed)
    assert "warning" not in capsys.readouterr().err
    with zipfile.ZipFile(editable) as zf:
        shipped = {n for n in zf.namelist() if n.startswith("_wheelmemo_editable_renamed_package/")}
    # the sources are served from lib/, only the build product ships
    assert shipped == {"_wheelmemo_editable_renamed_package/pkg/_generated.py"}
    site_dir = _install(editable, tmp_path / "site-packages")
    lib = renamed.project / "lib"
    show = (
        "import pkg, pkg.core, pkg.sub.m, pkg._generated as g\n"
        "print(pkg.__name__, pkg.__file__, pkg.core.__file__, pkg.sub.m.__file__, g.__file__, sep='\\n')\n"
        "print(pkg.hello(), pkg.sub.m.VALUE, g.GENERATED)\n"
        "try:\n    import lib\nexcept ImportError:\n    print('no lib')\n"
    )
    out = _python(site_dir, show, tmp_path)
    name, init, core, sub, generated, values, no_lib = out.stdout.splitlines()
    assert (name, init, core, sub) == ("pkg", str(lib / "__init__.py"), str(lib / "core.py"), str(lib / "sub" / "m.py"))
    assert generated.startswith(str(site_dir))
    assert values == "hello v1 1 True"
    assert no_lib == "no lib"  # the package is importable by its name only
    assert out.stderr == ""
    # an edit of lib/core.py is live; a module new in lib/ is importable as pkg.fresh
    (lib / "core.py").write_text("def hello():\n    return 'edited in lib/'\n")
    (lib / "fresh.py").write_text("X = 'fresh'\n")
    out = _python(site_dir, "import pkg, pkg.fresh; print(pkg.hello(), pkg.fresh.X, pkg.fresh.__file__)", tmp_path)
    assert out.stdout.split() == ["edited", "in", "lib/", "fresh", str(lib / "fresh.py")]
    assert out.stderr == ""


def test_renamed_package_stale_check_watches_its_native_sources(renamed: Hooks, tmp_path: Path) -> None:
    site_dir = _install(_editable(renamed), tmp_path / "site-packages")
    lib = renamed.project / "lib"
    with open(lib / "core.py", "a") as f:
        f.write("# a live edit\n")
    assert _python(site_dir, "import pkg", tmp_path).stderr == ""
    # lib/answer.c is in the wheel too (pkg/answer.c), but editing it changes the compiled parts
    with open(lib / "answer.c", "a") as f:
        f.write("/* edited */\n")
    err = _python(site_dir, "import pkg, pkg.sub", tmp_path).stderr
    assert err.count("wheelmemo: warning:") == 1
    assert "renamed-package: lib/answer.c changed since the installed build" in err


def test_renamed_package_in_inplace_mode_is_served_by_the_finder(
    renamed: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WHEELMEMO_EDITABLE", "inplace")
    site_dir = _install(_editable(renamed), tmp_path / "site-packages")
    lib = renamed.project / "lib"
    (lib / "core.py").write_text("def hello():\n    return 'edited in lib/'\n")
    out = _python(
        site_dir,
        "import pkg, pkg._generated as g; print(pkg.__file__); print(pkg.hello()); print(g.GENERATED)",
        tmp_path,
    )
    assert out.stdout.splitlines() == [str(lib / "__init__.py"), "edited in lib/", "True"]
    # no sys.path entry for lib/'s parent: that would make `import lib` work, not `import pkg`
    assert _python(site_dir, "import sys; print(sys.path)", tmp_path).stdout.count(str(renamed.project)) == 0


def test_renamed_package_inplace_extension_goes_beside_its_sources(tmp_path: Path) -> None:
    """Compiled files are copied into lib/ (the real directory), and restored there."""
    from wheelmemo._editable import derive_editable

    tree = tmp_path / "tree"
    (tree / "lib").mkdir(parents=True)
    init = b"from . import _ext\n"
    (tree / "lib" / "__init__.py").write_bytes(init)
    ext = b"# pretend-compiled\n"
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("pkg/__init__.py", init)
        zf.writestr("pkg/_ext.so", ext)
        zf.writestr("pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n")
        zf.writestr("pkg-1.0.dist-info/RECORD", "")
    out = tmp_path / "out"
    out.mkdir()
    name = derive_editable(
        wheel, out, tree, {"lib/__init__.py": hashlib.sha256(init).hexdigest()}, project="pkg", mode="inplace"
    )
    assert (tree / "lib" / "_ext.so").read_bytes() == ext
    assert not (tree / "pkg").exists()
    (tree / "lib" / "_ext.so").unlink()  # git clean -fdx
    site_dir = _install(out / name, tmp_path / "site")
    _python(site_dir, "pass", tmp_path)  # interpreter start runs the .pth
    assert (tree / "lib" / "_ext.so").read_bytes() == ext


def test_package_with_sources_in_no_tree_layout_ships_and_warns_once(
    renamed: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file renamed into the package (hatch force-include): no tree directory to serve."""
    pyproject = renamed.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('include = {"lib" = "pkg"}', 'include = {"lib/core.py" = "pkg/__init__.py"}')
    )
    editable = _editable(renamed)
    err = capsys.readouterr().err
    assert err.count("wheelmemo: warning:") == 1
    assert (
        "package 'pkg' is served as a copy, not from the tree: the wheel's pkg/__init__.py is lib/core.py of the tree"
    ) in err
    assert "edits to its sources need a reinstall" in err
    with zipfile.ZipFile(editable) as zf:
        assert "_wheelmemo_editable_renamed_package/pkg/__init__.py" in zf.namelist()
    site_dir = _install(editable, tmp_path / "site-packages")
    (renamed.project / "lib" / "core.py").write_text("def hello():\n    return 'edited in lib/'\n")
    out = _python(site_dir, "import pkg, pkg._generated; print(pkg.hello())", tmp_path)
    assert out.stdout.split() == ["hello", "v1"]  # the copy, as the warning said


def _digests(files: dict[str, bytes]) -> dict[str, list[str]]:
    by_digest: dict[str, list[str]] = {}
    for label, data in files.items():
        by_digest.setdefault(hashlib.sha256(data).hexdigest(), []).append(label)
    return by_digest


def _members(files: dict[str, bytes]) -> list[Any]:
    from wheelmemo._editable import _Member

    return [_Member(path, zipfile.ZipInfo(path), hashlib.sha256(data).hexdigest()) for path, data in files.items()]


def test_tree_dirs_votes_prefer_exact_and_ignore_stray_files(capsys: pytest.CaptureFixture[str]) -> None:
    from wheelmemo._editable import _tree_dirs, _warn_unmapped

    core, util = b"def f(): pass\n", b"X = 1\n"
    tree = {
        # a copy of the package under another name does not beat src/pkg on a tie
        "src/pkg/core.py": core,
        "src/pkg/util.py": util,
        "old/core.py": core,
        "old/util.py": util,
        # lib/ holds three of other's files, tests/other/ two: most votes win over the exact name
        "lib/__init__.py": b"",
        "lib/a.py": b"A = 1\n",
        "lib/b.py": b"B = 1\n",
        "tests/other/__init__.py": b"",
        "tests/other/a.py": b"A = 1\n",
        # an empty __init__.py, a LICENSE: no reason to serve a generated package from there
        "tests/__init__.py": b"",
        "LICENSE": b"MIT\n",
        # one file in two directories: a guess, not mapped
        "x/m.py": b"M = 1\n",
        "y/m.py": b"M = 1\n",
        "src/mod.py": b"MOD = 1\n",
        "lib/renamed_mod.py": b"RMOD = 1\n",
    }
    wheel = {
        "pkg/core.py": core,
        "pkg/util.py": util,
        "other/__init__.py": b"",
        "other/a.py": b"A = 1\n",
        "other/b.py": b"B = 1\n",
        "gen/__init__.py": b"",
        "gen/LICENSE": b"MIT\n",
        "amb/m.py": b"M = 1\n",
        "mod.py": b"MOD = 1\n",
        "rmod.py": b"RMOD = 1\n",
    }
    dirs = _tree_dirs(_members(wheel), _digests(tree))
    assert dirs == {"pkg": "src/pkg", "other": "lib", "mod.py": "src/mod.py"}
    # the guess is reported; a generated package and a renamed module are not
    _warn_unmapped(_members(wheel), dirs, _digests(tree))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert "package 'amb' is served as a copy, not from the tree: the wheel's amb/m.py is x/m.py" in lines[0]


def test_derived_editable_hooks_log_under_their_own_names(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    """Answered as the regular wheel's, but the line names the hook the frontend called."""
    hooks("get_requires_for_build_editable")
    meta = hooks.out / "meta"
    meta.mkdir(parents=True)
    hooks("prepare_metadata_for_build_editable", str(meta))
    err = capsys.readouterr().err
    assert "wheelmemo: get_requires_for_build_editable miss" in err
    assert "wheelmemo: prepare_metadata_for_build_editable miss" in err
    assert hooks.calls() == {"get_requires_for_build_wheel": 1, "prepare_metadata_for_build_wheel": 1}
