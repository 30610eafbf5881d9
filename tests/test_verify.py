"""Verification: ``compare_wheels``, ``wheelmemo verify`` and sampled verification of hits.

The wrong entry of these tests is made through a documented blind spot: a build that
learns a variable from a subprocess it hands the environment whole (README: "an
environment handed whole to a subprocess names nothing").  wheelmemo cannot see that
read, so the build with another value hits the first value's wheel; verification is
what finds it.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from wheelmemo._cli import main
from wheelmemo._errors import ConfigError
from wheelmemo._settings import load_project, load_settings
from wheelmemo._store import LocalStore
from wheelmemo._verify import BehaviourProbe, compare_wheels, copy_tree

from conftest import FakeSite, Hooks

_DATE = (1980, 1, 1, 0, 0, 0)

#: countingbackend's wheel, and what a subprocess given the environment whole printed
FLAVOR_BACKEND = """
import os, subprocess, sys, uuid, zipfile
from pathlib import Path
from typing import Any

import countingbackend
from countingbackend import build_sdist, get_requires_for_build_wheel, prepare_metadata_for_build_wheel

CODE = "import os; print(os.environ.get('FLAVOR', 'plain'))"


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    flavor = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True,
                            check=True).stdout.strip()
    name = countingbackend._build("build_wheel", wheel_directory, config_settings)
    with zipfile.ZipFile(Path(wheel_directory) / name, "a") as zf:
        zf.writestr(zipfile.ZipInfo("fakepkg/flavor.txt", countingbackend._DATE), flavor)
        if os.environ.get("STAMP_EVERY_BUILD"):  # a member no two builds agree on
            zf.writestr(zipfile.ZipInfo("fakepkg/stamp.txt", countingbackend._DATE), uuid.uuid4().hex)
    return name
"""


@pytest.fixture
def flavored(hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch) -> Hooks:
    """The fake project, built by ``flavorbackend``; its site on PYTHONPATH, for the plain
    builds ``wheelmemo verify --frontend none`` runs in a subprocess."""
    (fake_site.path / "flavorbackend.py").write_text(FLAVOR_BACKEND)
    fake_site.install("flavorbackend", "1.0", requires=("countingbackend",))
    pyproject = hooks.project / "pyproject.toml"
    text = pyproject.read_text().replace('"countingbackend"]', '"flavorbackend"]')
    pyproject.write_text(text.replace('backend = "countingbackend"', 'backend = "flavorbackend"'))
    monkeypatch.setenv("PYTHONPATH", str(fake_site.path))
    monkeypatch.delenv("WHEELMEMO_VERIFY_RATE", raising=False)
    return hooks


def _flavor(wheel: Path) -> str:
    with zipfile.ZipFile(wheel) as zf:
        return zf.read("fakepkg/flavor.txt").decode()


def _wheel_keys(cache: Path) -> list[str]:
    return [str(r["key"]) for r in LocalStore(cache).records() if r["kind"] == "wheel"]


def _verify(capsys: pytest.CaptureFixture[str], project: Path, *extra: str) -> tuple[int, str, str]:
    code = main(["verify", str(project), "--frontend", "none", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _take_environment(frontends: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """This process's environment as the frontends' builds have it: ``verify`` runs here."""
    for name, value in frontends.env().items():
        monkeypatch.setenv(name, value)
    for name in [n for n in os.environ if n.startswith("WHEELMEMO_") and n not in frontends.env()]:
        monkeypatch.delenv(name)


def _wrong_entry(flavored: Hooks, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Build with FLAVOR=vanilla, then hit that wheel with FLAVOR=chocolate."""
    monkeypatch.setenv("FLAVOR", "vanilla")
    assert _flavor(flavored.build_wheel(subdir="first")) == "vanilla"
    monkeypatch.setenv("FLAVOR", "chocolate")
    stale = flavored.build_wheel(subdir="second")
    assert flavored.calls()["build_wheel"] == 1  # the blind spot: a hit
    assert _flavor(stale) == "vanilla"  # ... of the wrong wheel
    return stale


# -- wheelmemo verify --------------------------------------------------------------------
def test_verify_names_the_member_of_a_wrong_entry(
    flavored: Hooks, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _wrong_entry(flavored, monkeypatch)
    (key,) = _wheel_keys(cache_dir)
    capsys.readouterr()
    code, out, _ = _verify(capsys, flavored.project)
    assert code == 1
    assert f"the cached wheel {key[:8]} of fake-project differs from a plain build" in out
    assert "\n  fakepkg/flavor.txt: content\n" in out
    assert "RECORD" not in out  # the same RECORD rows: the member is named, nothing else
    assert flavored.calls()["build_wheel"] == 3  # two plain builds: they agree on the member, the cache not

    code, out, _ = _verify(capsys, flavored.project, "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["status"], report["entry"], report["frontend"]) == ("different", key, "none")
    assert report["members"]["fakepkg/flavor.txt"] == "content"
    assert {v for n, v in report["members"].items() if n != "fakepkg/flavor.txt"} == {"same"}

    # the state the entry was made from: the same wheel
    monkeypatch.setenv("FLAVOR", "vanilla")
    code, out, _ = _verify(capsys, flavored.project)
    assert code == 0
    assert f"the cached wheel {key[:8]} of fake-project is what a plain build makes" in out
    assert flavored.calls()["build_wheel"] == 6  # 2 more for --json, 1 for the same wheel
    assert _wheel_keys(cache_dir) == [key]  # verify reads the cache, it does not change it


def test_cache_dir_option_is_the_cache_explain_export_and_verify_read(
    flavored: Hooks,
    cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    built = flavored.build_wheel()
    capsys.readouterr()
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "another-cache"))
    option = ["--cache-dir", str(cache_dir)]
    assert main([*option, "export", str(flavored.project), "-o", str(tmp_path / "x")]) == 0
    assert Path(capsys.readouterr().out.strip()).read_bytes() == built.read_bytes()
    main([*option, "explain", str(flavored.project)])
    assert "would hit" in capsys.readouterr().out
    code = main([*option, "verify", str(flavored.project), "--frontend", "none"])
    out = capsys.readouterr().out
    assert (code, "nothing cached" in out) == (0, False), out
    assert flavored.calls()["build_wheel"] == 2  # the one build, and verify's plain one


def test_verify_with_nothing_cached(flavored: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _verify(capsys, flavored.project, "--json")
    assert code == 0
    assert json.loads(out)["status"] == "nothing cached"
    assert flavored.calls()["build_wheel"] == 0


def test_verify_says_when_the_plain_build_fails(
    flavored: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    flavored.build_wheel()
    monkeypatch.delenv("PYTHONPATH")  # (not keyed) the plain build's subprocess lacks the backend
    code, _, err = _verify(capsys, flavored.project)
    assert code == 2
    assert "the plain build of fake-project failed" in err
    assert "No module named 'flavorbackend'" in err


def test_the_clean_copy_leaves_build_outputs_out(tmp_path: Path) -> None:
    root = tmp_path / "p"
    for rel in (
        "pyproject.toml",
        "src/m.py",
        "src/gen.cxx",
        ".git/HEAD",
        "build/x.o",
        "target/debug/a",
        "p.egg-info/PKG-INFO",
        "src/_m.cpython-312.so",
        ".venv/bin/python",
        "cache/blob",
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    copy_tree(root, tmp_path / "copy", (root / "cache",))
    kept = sorted(p.relative_to(tmp_path / "copy").as_posix() for p in (tmp_path / "copy").rglob("*") if p.is_file())
    assert kept == [".git/HEAD", "pyproject.toml", "src/gen.cxx", "src/m.py"]


OUTSIDE_BACKEND = """
import zipfile
from pathlib import Path


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name = "p-1-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / name, "w") as zf:
        zf.writestr("p/shared.txt", Path("../shared/shared.txt").read_text())
    return name
"""


def test_the_plain_build_runs_beside_the_project(tmp_path: Path) -> None:
    """A build that reads ``../shared`` (a path source, a cargo path dependency, an
    outside header) reads the same file from the clean copy; the copy is removed."""
    from wheelmemo._verify import plain_build

    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "shared.txt").write_text("from beside")
    root = tmp_path / "p"
    root.mkdir()
    (root / "outside_backend.py").write_text(OUTSIDE_BACKEND)
    pyproject = {"build-system": {"build-backend": "outside_backend", "backend-path": ["."]}}
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(os.listdir(tmp_path))
    wheel = plain_build(root, work, "none", pyproject)
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read("p/shared.txt") == b"from beside"
    assert sorted(os.listdir(tmp_path)) == before


# -- sampled verification of hits ----------------------------------------------------------
def test_verify_rate_evicts_a_wrong_entry_and_returns_the_fresh_wheel(
    flavored: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    cache_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FLAVOR", "vanilla")
    flavored.build_wheel(subdir="first")
    (key,) = _wheel_keys(cache_dir)
    monkeypatch.setenv("FLAVOR", "chocolate")
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "1")
    capsys.readouterr()
    fresh = flavored.build_wheel(subdir="second")
    assert flavored.calls()["build_wheel"] == 3  # the first, and two fresh builds for the hit (they agree)
    assert _flavor(fresh) == "chocolate"
    err = capsys.readouterr().err
    assert err.count(f"cache entry {key[:8]} of fake-project differs from a fresh build") == 1
    assert "fakepkg/flavor.txt: content" in err
    assert _wheel_keys(cache_dir) == []
    assert LocalStore(cache_dir).rejected(key)

    # the key does not determine the wheel: nothing is cached under it again
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "0")
    for n, flavor in enumerate(("vanilla", "chocolate")):
        monkeypatch.setenv("FLAVOR", flavor)
        assert _flavor(flavored.build_wheel(subdir=f"again{n}")) == flavor
        assert flavored.calls()["build_wheel"] == 4 + n
    assert _wheel_keys(cache_dir) == []

    main(["stats", "--json"])
    total = json.loads(capsys.readouterr().out)["total"]
    assert (total["verified"], total["mismatches"]) == (1, 1)
    assert (total["hits"], total["misses"]) == (0, 4)  # the mismatch counts as the build it was


def test_verify_rate_keeps_a_right_entry(
    flavored: Hooks, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = flavored.build_wheel(subdir="first")
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "1")
    capsys.readouterr()
    assert _flavor(flavored.build_wheel(subdir="second")) == "plain"
    assert flavored.calls()["build_wheel"] == 2
    assert "differs" not in capsys.readouterr().err
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "0")
    assert flavored.build_wheel(subdir="third").read_bytes() == first.read_bytes()
    assert flavored.calls()["build_wheel"] == 2  # still a hit
    main(["stats", "--json"])
    total = json.loads(capsys.readouterr().out)["total"]
    assert (total["verified"], total["mismatches"], total["hits"]) == (1, 0, 2)


def test_a_member_every_plain_build_writes_anew_is_no_difference(
    flavored: Hooks, monkeypatch: pytest.MonkeyPatch, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """meson-python's ``_build_config.py`` holds the build directory's random path: two
    plain builds differ in it, so it judges no build (verify gave a false alarm, and
    verify-rate evicted a right entry and banned its key)."""
    monkeypatch.setenv("STAMP_EVERY_BUILD", "1")
    flavored.build_wheel(subdir="first")
    capsys.readouterr()
    code, out, _ = _verify(capsys, flavored.project, "--json")
    report = json.loads(out)
    assert (code, report["members"]["fakepkg/stamp.txt"]) == (0, "not reproducible")
    assert flavored.calls()["build_wheel"] == 3  # two plain builds: they disagree on the member
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "1")
    flavored.build_wheel(subdir="second")
    assert flavored.calls()["build_wheel"] == 5  # the hit, and two fresh builds
    assert "differs" not in capsys.readouterr().err
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "0")
    flavored.build_wheel(subdir="third")
    assert flavored.calls()["build_wheel"] == 5  # the entry stands
    assert len(_wheel_keys(cache_dir)) == 1


def test_verify_rate_zero_never_builds_on_a_hit(flavored: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    _wrong_entry(flavored, monkeypatch)  # asserts the hit: one build_wheel call in all


@pytest.mark.parametrize("value", ["2", "-0.1", "nan", "often"])
def test_verify_rate_must_be_a_share(flavored: Hooks, value: str) -> None:
    with pytest.raises(
        ConfigError,
        match=r"^verify-rate \(in environment variable WHEELMEMO_VERIFY_RATE\) "
        r"must be a number from 0 to 1",
    ):
        load_settings(load_project(flavored.project), None, {"WHEELMEMO_VERIFY_RATE": value})
    assert load_settings(load_project(flavored.project), None, {"WHEELMEMO_VERIFY_RATE": "0.05"})[0].verify_rate == 0.05


# -- compare_wheels ----------------------------------------------------------------------
def _wheel(
    path: Path, members: dict[str, bytes], date: tuple[int, ...] = _DATE, modes: dict[str, int] | None = None
) -> Path:
    import base64
    import hashlib

    rows = []
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date)  # type: ignore[arg-type]
            info.external_attr = (modes or {}).get(name, 0o644) << 16
            zf.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            rows.append(f"{name},sha256={digest},{len(data)}\n")
        zf.writestr(
            zipfile.ZipInfo("p-1.dist-info/RECORD", date),  # type: ignore[arg-type]
            "".join(rows) + "p-1.dist-info/RECORD,,\n",
        )
    return path


def test_compare_wheels_verdicts(tmp_path: Path) -> None:
    base = {
        "p/__init__.py": b"",
        "p/a.py": b"A = 1\n",
        "p/gone.py": b"",
        "p/run": b"#!/bin/sh\n",
        "p/_c.cpython-312-x86_64-linux-gnu.so": b"\x7fELF one",
        "p-1.dist-info/METADATA": b"Name: p\n",
    }
    expected = _wheel(tmp_path / "p-1-py3-none-any.whl", base, modes={"p/run": 0o755})
    changed = {**base, "p/a.py": b"A = 2\n", "p/new.py": b"", "p/_c.cpython-312-x86_64-linux-gnu.so": b"\x7fELF two"}
    del changed["p/gone.py"]
    (tmp_path / "b").mkdir()
    actual = _wheel(tmp_path / "b" / "p-1-py3-none-any.whl", changed, date=(2020, 1, 1, 0, 0, 0))
    diff = compare_wheels(expected, actual)
    verdicts = {m.name: m.verdict for m in diff.members}
    assert verdicts == {
        "p/__init__.py": "only timestamps",
        "p/a.py": "content",
        "p/gone.py": "missing",
        "p/new.py": "extra",
        "p/run": "mode",
        "p/_c.cpython-312-x86_64-linux-gnu.so": "content",
        "p-1.dist-info/METADATA": "only timestamps",
        "p-1.dist-info/RECORD": "follows",
    }
    assert not diff.same
    probed = compare_wheels(expected, actual, lambda name: name.endswith(".so"))
    assert {m.name: m.verdict for m in probed.members}["p/_c.cpython-312-x86_64-linux-gnu.so"] == "behaviour-same"
    differs = compare_wheels(expected, actual, lambda _: False)
    assert {m.name: m.verdict for m in differs.members}["p/_c.cpython-312-x86_64-linux-gnu.so"] == "behaviour"

    # the same bytes, other dates: the same wheel
    (tmp_path / "c").mkdir()
    again = _wheel(tmp_path / "c" / "p-1-py3-none-any.whl", base, date=(2021, 1, 1, 0, 0, 0), modes={"p/run": 0o755})
    assert compare_wheels(expected, again).same
    # a RECORD row that differs while its member does not: RECORD itself is wrong
    (tmp_path / "d").mkdir()
    forged = tmp_path / "d" / "p-1-py3-none-any.whl"
    with zipfile.ZipFile(again) as source, zipfile.ZipFile(forged, "w") as zf:
        for info in source.infolist():
            data = source.read(info)
            zf.writestr(
                info, data.replace(b"p/a.py,sha256=", b"p/a.py,sha256=x") if "RECORD" in info.filename else data
            )
    assert {m.name: m.verdict for m in compare_wheels(expected, forged).members}["p-1.dist-info/RECORD"] == "content"


def test_the_behaviour_probe_imports_and_calls(tmp_path: Path) -> None:
    def wheel(name: str, body: str) -> Path:
        (tmp_path / name).mkdir()
        return _wheel(tmp_path / name / "p-1-py3-none-any.whl", {"p/__init__.py": b"", "p/m.py": body.encode()})

    one = wheel("one", "def answer():\n    return [42, 'x']\ndef add(a, b):\n    return a + b\nLIMIT = 3\n")
    comment = wheel(
        "comment",
        "# built elsewhere\ndef answer():\n    return [42, 'x']\ndef add(a, b):\n    return a - b\nLIMIT = 3\n",
    )
    other = wheel("other", "def answer():\n    return [43, 'x']\ndef add(a, b):\n    return a + b\nLIMIT = 3\n")
    with BehaviourProbe(one, comment) as probe:
        assert probe("p/m.py") is True  # add takes arguments: only its signature is compared
    with BehaviourProbe(one, other) as probe:
        assert probe("p/m.py") is False
        seen = json.loads(str(probe.seen["p/m.py"][0]))
        assert seen == {"LIMIT": "3", "add": "callable(a, b)", "answer": "returns list['42', \"'x'\"]"}
    with BehaviourProbe(one, other) as probe:
        assert probe("p/missing.py") is None  # no such module: it cannot be compared
    assert os.listdir(tmp_path / "one") == ["p-1-py3-none-any.whl"]


# -- through a real frontend, with a real compiled module ------------------------------------
FLAVOR_SETUP = """
import subprocess, sys
from setuptools import Extension, setup

CODE = "import os; print(os.environ.get('FLAVOR', 'plain'))"
flavor = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, check=True).stdout.strip()
setup(ext_modules=[Extension("cext_demo._speed", ["src/cext_demo/_speed.c"],
                             define_macros=[("FLAVOR", f'"{flavor}"')])])
"""


@pytest.mark.real
def test_real_verify_and_verify_rate_on_a_c_extension(
    frontends: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """setuptools compiles a C extension whose string comes from a subprocess handed the
    environment whole; two plain builds in two copies differ in their bytes (paths in
    the debug information), so verify compares the module by behaviour."""
    from realtools import copy_project, wheel_members

    project = copy_project("setuptools_cext", tmp_path)
    (project / "setup.py").write_text(FLAVOR_SETUP)
    source = project / "src" / "cext_demo" / "_speed.c"
    source.write_text(source.read_text().replace('"hello v1"', '"hello " FLAVOR'))

    def so(wheel: Path) -> bytes:
        (data,) = [v for k, v in wheel_members(wheel).items() if k.endswith(".so")]
        return data

    frontends.extra_env["FLAVOR"] = "vanilla"
    assert b"hello vanilla" in so(frontends.uv_build_wheel(project))
    frontends.extra_env["FLAVOR"] = "chocolate"
    assert b"hello vanilla" in so(frontends.uv_build_wheel(project))  # the blind spot: a stale hit
    assert frontends.compiles("_speed.c") == 1

    _take_environment(frontends, monkeypatch)
    code = main(["verify", str(project), "--frontend", "uv", "--json"])
    report = json.loads(capsys.readouterr().out)
    (member,) = [name for name in report["members"] if name.endswith(".so")]
    assert (code, report["status"], report["plain_builds"]) == (1, "different", 2)
    assert report["members"][member] == "behaviour"  # greeting() returns another string
    assert {v for n, v in report["members"].items() if n != member} <= {"same", "only timestamps", "follows"}
    assert frontends.compiles("_speed.c") == 3

    monkeypatch.setenv("FLAVOR", "vanilla")
    code = main(["verify", str(project), "--frontend", "uv", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["status"], report["members"][member]) == (0, "same", "behaviour-same")
    assert frontends.compiles("_speed.c") == 5

    frontends.extra_env.update(FLAVOR="chocolate", WHEELMEMO_VERIFY_RATE="1")
    assert b"hello chocolate" in so(frontends.uv_build_wheel(project))
    assert frontends.compiles("_speed.c") == 7  # two fresh builds: the module differs
    assert "differs from a fresh build of the same state" in frontends.last_stderr
    # built in the same tree, the two fresh modules agree byte for byte: the cached one's
    # other bytes are a difference of content
    assert f"{member}: content" in frontends.last_stderr


def test_a_rejected_key_is_not_imported_from_the_remote_again(
    flavored: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    for var in ("WHEELMEMO_REMOTE_READ_ONLY", "WHEELMEMO_REMOTE_RESHARE", "WHEELMEMO_REMOTE_TOKEN"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WHEELMEMO_REMOTE", shared.as_uri() + "/team")
    monkeypatch.setenv("FLAVOR", "vanilla")
    flavored.build_wheel(subdir="a")  # machine A builds and uploads
    uploaded = sorted(p.name for p in shared.rglob("*") if p.is_file())

    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(tmp_path / "cache-B"))  # machine B
    monkeypatch.setenv("FLAVOR", "chocolate")
    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "1")
    capsys.readouterr()
    assert _flavor(flavored.build_wheel(subdir="b")) == "chocolate"  # a remote hit, found wrong
    assert flavored.calls()["build_wheel"] == 3
    assert "differs from a fresh build of the same state" in capsys.readouterr().err

    monkeypatch.setenv("WHEELMEMO_VERIFY_RATE", "0")
    assert _flavor(flavored.build_wheel(subdir="c")) == "chocolate"  # not the remote's wrong wheel
    assert flavored.calls()["build_wheel"] == 4
    assert sorted(p.name for p in shared.rglob("*") if p.is_file()) == uploaded  # and nothing uploaded


def test_an_sbom_that_differs_only_in_build_stamps_is_no_difference(tmp_path: Path) -> None:
    """maturin writes a CycloneDX SBOM with a random serial number, the time and the build
    directory: two plain builds of one tree differ there, and nowhere else."""

    def sbom(serial: str, when: str, where: str, version: str = "0.22.0") -> bytes:
        return json.dumps(
            {
                "bomFormat": "CycloneDX",
                "serialNumber": f"urn:uuid:{serial}",
                "metadata": {"timestamp": when, "component": {"bom-ref": f"path+file://{where}#m@0.1.0"}},
                "components": [{"name": "pyo3", "version": version}],
                "dependencies": [{"ref": f"path+file://{where}#m@0.1.0", "dependsOn": ["pyo3"]}],
            }
        ).encode()

    name = "m-0.1.0.dist-info/sboms/m.cyclonedx.json"
    for label, body in (
        ("a", sbom("1", "2026-01-01T00:00:00Z", "/tmp/a")),
        ("b", sbom("2", "2026-01-02T00:00:00Z", "/home/u/m")),
        ("c", sbom("3", "2026-01-03T00:00:00Z", "/tmp/a", version="0.23.0")),
    ):
        (tmp_path / label).mkdir()
        _wheel(tmp_path / label / "m-0.1.0-py3-none-any.whl", {"m/__init__.py": b"", name: body})
    a, b, c = (tmp_path / label / "m-0.1.0-py3-none-any.whl" for label in "abc")
    stamped = compare_wheels(a, b)
    assert stamped.same
    assert {m.name: m.verdict for m in stamped.members}[name] == "only build stamps"
    assert {m.name: m.verdict for m in compare_wheels(a, c).differences} == {name: "content"}


@pytest.mark.real
def test_real_verify_finds_a_maturin_entry_right(
    frontends: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A right entry is reported right: maturin's SBOM differs in every build (its
    serial number, time and build directory), its compiled module does not."""
    from realtools import copy_project

    project = copy_project("maturin_mixed", tmp_path)
    crate = "--crate-name mixed_demo "
    frontends.uv_build_wheel(project)
    assert frontends.compiles(crate) == 1

    _take_environment(frontends, monkeypatch)
    code = main(["verify", str(project), "--frontend", "uv", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["status"], report["plain_builds"]) == (0, "same", 1)  # the .so: the same bytes
    assert "only build stamps" in report["members"].values()
    assert frontends.compiles(crate) == 2

    frontends.extra_env["WHEELMEMO_VERIFY_RATE"] = "1"
    frontends.uv_build_wheel(project)  # a hit, built fresh in its build process too
    assert frontends.compiles(crate) == 3
    assert "differs" not in frontends.last_stderr
    frontends.extra_env["WHEELMEMO_VERIFY_RATE"] = "0"
    frontends.uv_build_wheel(project)
    assert frontends.compiles(crate) == 3  # the entry stands


@pytest.mark.real
@pytest.mark.parametrize("package", ["skbuild_cext", "meson_cext"])
def test_real_verify_finds_cmake_and_meson_entries_right(
    package: str, frontends: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """scikit-build-core and meson-python build the same module bytes in two directories:
    one plain build, no false alarm; a verified hit keeps its entry."""
    import sys

    from realtools import copy_project

    project = copy_project(package, tmp_path)
    frontends.run(sys.executable, "-m", "wheelmemo", "init", cwd=project)
    frontends.uv_build_wheel(project)
    assert frontends.compiles("_speed.c") == 1

    _take_environment(frontends, monkeypatch)
    code = main(["verify", str(project), "--frontend", "uv", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert (code, report["status"], report["plain_builds"]) == (0, "same", 1)
    assert frontends.compiles("_speed.c") == 2

    frontends.extra_env["WHEELMEMO_VERIFY_RATE"] = "1"
    frontends.uv_build_wheel(project)
    assert frontends.compiles("_speed.c") == 3
    assert "differs" not in frontends.last_stderr
    frontends.extra_env["WHEELMEMO_VERIFY_RATE"] = "0"
    frontends.uv_build_wheel(project)
    assert frontends.compiles("_speed.c") == 3
