"""The build environment in the key: build requirements installed from a path or URL,
requirements beyond ``build-system.requires``, and where an in-tree backend may live.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from wheelmemo import _key
from wheelmemo._errors import ConfigError
from wheelmemo._inner import InnerBackend
from wheelmemo._key import requirement_name, vcs_part, versions_part

from conftest import HERE, FakeSite, Hooks


def _dist(
    site: Path,
    name: str,
    version: str,
    requires: tuple[str, ...] = (),
    *,
    direct_url: Mapping[str, object] | None = None,
    record: str | None = None,
) -> Path:
    """A .dist-info as an installer leaves it; ``direct_url`` makes it a PEP 610 install."""
    dist_info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    (dist_info / "METADATA").write_text("\n".join(lines) + "\n\nRequires-Dist: in-the-body\n")
    if direct_url is not None:
        (dist_info / "direct_url.json").write_text(json.dumps(direct_url))
    if record is not None:
        (dist_info / "RECORD").write_text(record)
    return dist_info


FILE_URL = {"url": "file:///src/plugin", "dir_info": {}}
RECORD_1 = "plugin/__init__.py,sha256=AAAA,10\nplugin-1.0.dist-info/RECORD,,\n"
RECORD_2 = "plugin/__init__.py,sha256=BBBB,10\nplugin-1.0.dist-info/RECORD,,\n"


# -- installed from an index: the version is enough, and cheap ---------------------


def test_index_install_is_keyed_by_its_version(tmp_path: Path) -> None:
    _dist(tmp_path, "plugin", "1.0", record=RECORD_1)
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)]) == {"plugin": "1.0"}
    (tmp_path / "plugin-1.0.dist-info" / "RECORD").write_text(RECORD_2)
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)]) == {"plugin": "1.0"}


def test_common_case_reads_no_record_and_no_metadata_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A hit pays one METADATA read per closure member: no RECORD, no direct_url.json."""
    _dist(tmp_path, "backend", "1.0", ("dep-a>=1", "dep-b; python_version<'4'"), record=RECORD_1)
    _dist(tmp_path, "dep-a", "2.0", record=RECORD_1)
    _dist(tmp_path, "dep-b", "3.0", record=RECORD_1)
    opened: list[str] = []
    real_open = open

    def spy(file: str, *args: object, **kwargs: object) -> object:
        opened.append(Path(file).name)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(_key, "open", spy, raising=False)
    versions = versions_part(["backend"], "backend", paths=[str(tmp_path)])
    assert versions == {"backend": "1.0", "dep-a": "2.0", "dep-b": "3.0"}
    assert sorted(opened) == ["METADATA"] * 3
    # the body of METADATA is not a header: its Requires-Dist line is not followed
    assert "in-the-body" not in versions


# -- installed from a path or URL (PEP 610) ----------------------------------------


def test_direct_url_install_is_keyed_by_its_record(tmp_path: Path) -> None:
    _dist(tmp_path, "plugin", "1.0", direct_url=FILE_URL, record=RECORD_1)
    first = versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"]
    assert first.startswith("1.0 (direct, RECORD ")
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"] == first
    (tmp_path / "plugin-1.0.dist-info" / "RECORD").write_text(RECORD_2)
    second = versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"]
    assert second != first
    assert second.startswith("1.0 (direct, RECORD ")


def test_direct_url_key_is_what_was_installed_not_how(tmp_path: Path) -> None:
    """One build of a path-installed wheelmemo in uv's and pip's isolated environments:
    scripts whose #! names each environment, pip's bytecode, the installer's own files and
    the order differ; the key does not.  Another file's content does."""
    uv = (
        "plugin/__init__.py,sha256=AAAA,10\n../../../bin/plugin,sha256=UVENV,99\n"
        "plugin-1.0.dist-info/INSTALLER,sha256=UV,3\nplugin-1.0.dist-info/RECORD,,\n"
    )
    pip = (
        "../../../bin/plugin,sha256=PIPENV,120\nplugin/__pycache__/__init__.cpython-311.pyc,,\n"
        "plugin-1.0.dist-info/INSTALLER,sha256=PIP,4\nplugin-1.0.dist-info/REQUESTED,,\n"
        "plugin-1.0.dist-info/direct_url.json,sha256=DU,60\nplugin/__init__.py,sha256=AAAA,10\n"
        "plugin-1.0.dist-info/RECORD,,\n"
    )
    keys = []
    for site, record in (("uv", uv), ("pip", pip), ("edited", uv.replace("AAAA", "CCCC")), ("gone", uv[34:])):
        _dist(tmp_path / site, "plugin", "1.0", direct_url=FILE_URL, record=record)
        keys.append(versions_part(["plugin"], "x", paths=[str(tmp_path / site)])["plugin"])
    assert keys[0] == keys[1]
    assert len({keys[0], keys[2], keys[3]}) == 3  # a file's content, and a file gone, are seen


def test_direct_url_key_is_content_not_location(tmp_path: Path) -> None:
    """The same build installed into two environments gives one key."""
    for site in ("a", "b"):
        _dist(tmp_path / site, "plugin", "1.0", direct_url=FILE_URL, record=RECORD_1)
    assert versions_part(["plugin"], "x", paths=[str(tmp_path / "a")]) == versions_part(
        ["plugin"], "x", paths=[str(tmp_path / "b")]
    )


def test_direct_url_dependency_deep_in_the_closure(tmp_path: Path) -> None:
    _dist(tmp_path, "backend", "1.0", ("middle",))
    _dist(tmp_path, "middle", "1.0", ("plugin[extra]>=1",))
    info = _dist(tmp_path, "plugin", "1.0", direct_url=FILE_URL, record=RECORD_1)
    before = versions_part(["backend"], "backend", paths=[str(tmp_path)])
    (info / "RECORD").write_text(RECORD_2)
    after = versions_part(["backend"], "backend", paths=[str(tmp_path)])
    assert before["plugin"] != after["plugin"]
    assert before["backend"] == after["backend"] == "1.0"


def test_direct_url_without_record_falls_back_to_direct_url(tmp_path: Path) -> None:
    info = _dist(tmp_path, "plugin", "1.0", direct_url=FILE_URL)
    first = versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"]
    assert first.startswith("1.0 (direct, no RECORD, direct_url ")
    (info / "direct_url.json").write_text(
        json.dumps({"url": "https://g/x.git", "vcs_info": {"vcs": "git", "commit_id": "abc"}})
    )
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"] != first


def test_direct_url_that_is_not_json_still_changes_the_key(tmp_path: Path) -> None:
    _dist(tmp_path, "plugin", "1.0", record=RECORD_1)
    (tmp_path / "plugin-1.0.dist-info" / "direct_url.json").write_text("{not json")
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"].startswith("1.0 (direct, RECORD ")


def test_editable_install_is_marked(tmp_path: Path) -> None:
    """A PEP 660 install's RECORD lists only its .pth: the mark says why edits are unseen."""
    _dist(
        tmp_path,
        "plugin",
        "1.0",
        record="__editable__.plugin-1.0.pth,sha256=X,1\n",
        direct_url={"url": "file:///src/plugin", "dir_info": {"editable": True}},
    )
    assert versions_part(["plugin"], "plugin", paths=[str(tmp_path)])["plugin"].startswith(
        "1.0 (direct editable, RECORD "
    )


def test_backend_distribution_outside_requires_is_keyed_by_its_record(tmp_path: Path) -> None:
    info = _dist(tmp_path, "mybackend", "1.0", direct_url=FILE_URL, record=RECORD_1)
    before = versions_part([], "mybackend", paths=[str(tmp_path)])
    (info / "RECORD").write_text(RECORD_2)
    after = versions_part([], "mybackend", paths=[str(tmp_path)])
    assert set(before) == {"backend:mybackend"}
    assert before != after


# -- .egg-info: no RECORD, so version only, marked ---------------------------------


def test_egg_info_is_marked_and_its_requires_followed(tmp_path: Path) -> None:
    egg = tmp_path / "devplugin.egg-info"  # setup.py develop: no version in the name
    egg.mkdir()
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: devplugin\nVersion: 0.3\n\nbody\n")
    (egg / "requires.txt").write_text("helper>=1\n\n[extra]\nextradep\n\n[:sys_platform == 'win32']\nwindep\n")
    _dist(tmp_path, "helper", "2.0")
    _dist(tmp_path, "extradep", "1.5")
    legacy = tmp_path / "oldplugin-4.0-py3.11.egg-info"  # a distutils install: a single file
    legacy.write_text("Metadata-Version: 1.0\nName: oldplugin\nVersion: 4.0\n")
    versions = versions_part(["devplugin", "oldplugin"], "x", paths=[str(tmp_path)])
    assert versions == {
        "devplugin": "0.3 (egg-info)",
        "extradep": "1.5",
        "helper": "2.0",
        "oldplugin": "4.0 (egg-info)",
    }
    (egg / "PKG-INFO").write_text("Metadata-Version: 1.1\nName: devplugin\nVersion: 0.4\n")
    assert versions_part(["devplugin"], "x", paths=[str(tmp_path)])["devplugin"] == "0.4 (egg-info)"


# -- requirements beyond build-system.requires --------------------------------------


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("setuptools-scm>=8", "setuptools-scm"),
        ("cython; python_version<'3.13'", "cython"),
        ("cython ; python_version < '3.13'", "cython"),
        ("foo @ file:///x", "foo"),
        ("foo@file:///x", "foo"),
        ("bar[extra]>=1", "bar"),
        ("bar [extra, other] >= 1", "bar"),
        ("Zope.Interface_X (>=1.0)", "zope-interface-x"),
        ("  spaced~=1.0", "spaced"),
        ("a", "a"),
        ("pkg-==1", "pkg"),  # not PEP 508, but a name cannot end in "-"
        ("", None),
        ("; python_version<'3'", None),
    ],
)
def test_requirement_name(text: str, name: str | None) -> None:
    assert requirement_name(text) == name


def test_extra_requirements_join_the_closure(tmp_path: Path) -> None:
    _dist(tmp_path, "backend", "1.0")
    _dist(tmp_path, "cython", "3.0", ("tempita",))
    _dist(tmp_path, "tempita", "0.5")
    _dist(tmp_path, "foo", "1.0", direct_url=FILE_URL, record=RECORD_1)
    extra = ["setuptools-scm>=8", "cython; python_version<'3.13'", "foo @ file:///x", "bar[extra]>=1"]
    versions = versions_part(["backend"], "backend", paths=[str(tmp_path)], extra=extra)
    assert versions["backend"] == "1.0"
    assert versions["cython"] == "3.0"
    assert versions["tempita"] == "0.5"
    assert versions["foo"].startswith("1.0 (direct, RECORD ")
    assert versions["setuptools-scm"] == versions["bar"] == "missing"
    # the same strings given as requires key the same
    assert versions_part(["backend", *extra], "backend", paths=[str(tmp_path)]) == versions
    # and without extra the signature and the result are what they were
    assert versions_part(["backend"], "backend", [str(tmp_path)]) == {"backend": "1.0"}


def test_vcs_plugin_reached_through_an_extra_requirements_dependency(tmp_path: Path) -> None:
    site, tree = tmp_path / "site", tmp_path / "tree"
    tree.mkdir()
    _dist(site, "backend", "1.0")
    _dist(site, "myplugin", "1.0", ("setuptools-scm>=8; extra == 'vcs'",))
    _dist(site, "setuptools-scm", "8.1")
    without = versions_part(["backend"], "backend", paths=[str(site)])
    assert vcs_part(without, str(tree)) is None
    versions = versions_part(["backend"], "backend", paths=[str(site)], extra=["myplugin[vcs]>=1"])
    assert versions["setuptools-scm"] == "8.1"
    assert vcs_part(versions, str(tree)) is not None


# -- through the hooks ------------------------------------------------------------


def test_rebuilt_direct_url_requirement_of_the_same_version_rebuilds(hooks: Hooks, fake_site: FakeSite) -> None:
    info = fake_site.path / "countingbackend-1.0.dist-info"
    (info / "direct_url.json").write_text(json.dumps({"url": "file:///src/countingbackend", "dir_info": {}}))
    (info / "RECORD").write_text("countingbackend.py,sha256=AAAA,100\n")
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    (info / "RECORD").write_text("countingbackend.py,sha256=BBBB,100\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2


# -- backend-path must stay inside the project --------------------------------------


def _in_tree_backend(hooks: Hooks, backend_path: str, where: Path | None = None) -> None:
    """Configure backend = "intree" with the given backend-path, and put intree.py in ``where``."""
    if where is not None:
        where.mkdir(parents=True, exist_ok=True)
        shutil.copy(HERE / "fake_backend" / "countingbackend.py", where / "intree.py")
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            'backend = "countingbackend"', f'backend = "intree"\nbackend-path = [{backend_path}]'
        )
    )


@pytest.fixture
def no_intree() -> Iterator[None]:
    """No ``intree`` module before (another test may leave one) or after."""
    sys.modules.pop("intree", None)
    yield
    sys.modules.pop("intree", None)


def _config_error(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        hooks.build_wheel()
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert hooks.calls()["build_wheel"] == 0
    return err


@pytest.mark.parametrize("kind", ["parent", "absolute", "symlink", "dotdot through a subdirectory"])
def test_backend_path_outside_the_project_is_a_config_error(
    hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, no_intree: None
) -> None:
    elsewhere = tmp_path / "elsewhere"
    entry = {
        "parent": "../elsewhere",
        "absolute": str(elsewhere),
        "symlink": "_backend",
        "dotdot through a subdirectory": "src/../../elsewhere",
    }[kind]
    _in_tree_backend(hooks, json.dumps(entry), elsewhere)
    if kind == "symlink":
        (hooks.project / "_backend").symlink_to(elsewhere, target_is_directory=True)
    err = _config_error(hooks, capsys)
    assert err.startswith(
        f"wheelmemo: error: [tool.wheelmemo] backend-path entry {entry!r} points outside the project ("
    )
    assert err.endswith(
        "PEP 517 requires in-tree backends to live in the source tree; move the backend into the project"
    )


def test_backend_path_outside_through_config_settings(
    hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    with pytest.raises(SystemExit):
        hooks.build_wheel(config_settings={"wheelmemo.backend-path": "../elsewhere"})
    assert "backend-path entry '../elsewhere' points outside the project" in capsys.readouterr().err


@pytest.mark.parametrize("entry", [".", "./_backend", "_backend/../_backend", "_link"])
def test_backend_path_inside_the_project_is_accepted(hooks: Hooks, entry: str, no_intree: None) -> None:
    where = hooks.project if entry == "." else hooks.project / "_backend"
    _in_tree_backend(hooks, json.dumps(entry), where)
    if entry == "_link":  # a symlink that stays inside the tree is inside
        (hooks.project / "_link").symlink_to(hooks.project / "_backend", target_is_directory=True)
    hooks.build_wheel()
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1


def test_backend_path_is_checked_against_the_real_project_root(tmp_path: Path) -> None:
    """The root may be reached through a symlink; what counts is where things really are."""
    real = tmp_path / "real"
    (real / "_backend").mkdir(parents=True)
    (tmp_path / "elsewhere").mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    inner = InnerBackend("intree", ("_backend",), link)
    assert inner.backend_path == (str((real / "_backend").resolve()),)
    with pytest.raises(ConfigError, match=r"backend-path entry '\.\./elsewhere' points outside"):
        InnerBackend("intree", ("../elsewhere",), link)


def test_backend_path_symlink_loop_is_no_traceback(tmp_path: Path) -> None:
    """Before Python 3.13 resolving a loop raises RuntimeError: that becomes a ConfigError.
    From 3.13 the loop resolves to itself, inside the tree, and importing from it fails."""
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    if sys.version_info < (3, 13):
        with pytest.raises(ConfigError, match="backend-path entry 'loop' cannot be resolved"):
            InnerBackend("intree", ("loop",), tmp_path)
    else:
        InnerBackend("intree", ("loop",), tmp_path)


def test_module_of_the_same_name_imported_earlier_is_not_reused(
    hooks: Hooks,
    fake_site: FakeSite,
    no_intree: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """pyproject-hooks imports an in-tree backend from backend-path only; so does wheelmemo:
    a module of that name already imported from elsewhere is an error, not the backend."""
    _in_tree_backend(hooks, '"_backend"', hooks.project / "_backend")
    shutil.copy(HERE / "fake_backend" / "countingbackend.py", fake_site.path / "intree.py")
    impostor = types.ModuleType("intree")
    impostor.__file__ = str(fake_site.path / "intree.py")
    impostor.build_wheel = lambda *args: "impostor.whl"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "intree", impostor)
    err = _config_error(hooks, capsys)
    assert err.startswith(
        f"wheelmemo: error: [tool.wheelmemo] backend = 'intree' was imported from "
        f"{(fake_site.path / 'intree.py').resolve()}, not from backend-path"
    )
    # one without a file (a namespace package, a built-in) is not taken for it either
    del impostor.__file__
    assert "was imported from (no __file__)" in _config_error(hooks, capsys)


def test_a_hook_answered_inside_a_build_learns_nothing_of_the_builds_scratch(tmp_path: Path, cache_dir: Path) -> None:
    """A hook answers what its own key needs (``get_requires``) as a miss of its own, inside
    its miss: setuptools then reads the outer miss's ``DIST_EXTRA_CONFIG``, a file of
    wheelmemo's in a directory gone after the build, never an input (``python -m build``
    missed every time on it).  Each hook in a process of its own, as a frontend calls it
    (setuptools loads compiled modules, such as Cython's when it is installed, that stay
    in a process)."""
    import subprocess

    from conftest import PACKAGES

    project = tmp_path / "project"
    shutil.copytree(PACKAGES / "setuptools_cext", project)
    for hook in ("build_sdist", "build_wheel"):
        out = tmp_path / hook
        out.mkdir()
        subprocess.run(
            [sys.executable, "-c", f"import wheelmemo; wheelmemo.{hook}({str(out)!r})"],
            cwd=project,
            check=True,
            capture_output=True,
        )
    stored = [
        path for path in (cache_dir / "v1").rglob("*") if path.is_file() and b"wheelmemo-build-" in path.read_bytes()
    ]
    assert stored == []
