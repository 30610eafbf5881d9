"""wheelmemo's modules compiled once per interpreter and kept in the cache (``_bytecode``).

Each case runs a fresh interpreter on a copy of the package with no ``__pycache__``, as
uv's build environments have it, and counts the ``compile`` audit events of the
package's modules imported after the finder was installed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import wheelmemo

PACKAGE = Path(wheelmemo.__file__).parent
# Windows has neither owners nor modes for _bytecode to check (it trusts the user's directory)
POSIX_OWNERS = pytest.mark.skipif(sys.platform == "win32", reason="owners, modes and symlinks are POSIX")
#: imported after install(): what a hook process loads through the cache
LATE = ["wheelmemo._memo", "wheelmemo._cli", "wheelmemo._remote_http"]

SCRIPT = """
import json, sys
late = False
compiled = []
def audit(event, args):
    if late and event == "compile" and isinstance(args[1], str) and args[1].startswith(sys.argv[1]):
        compiled.append(args[1][len(sys.argv[1]):].lstrip("/\\\\"))
sys.addaudithook(audit)
import importlib, wheelmemo._bytecode
wheelmemo._bytecode.install(sys.argv[2], writable=sys.argv[3] == "1")
late = True
modules = [importlib.import_module(name) for name in sys.argv[4:]]
print(json.dumps({
    "compiled": sorted(compiled),
    "co_filenames": [m.__spec__.loader.get_code(m.__name__).co_filename for m in modules],
    "files": [m.__file__ for m in modules],
    "loader": type(modules[0].__spec__.loader).__name__,
}))
"""


def _copy(dest: Path) -> Path:
    """The package as an installer leaves it in a build environment: no __pycache__."""
    shutil.copytree(PACKAGE, dest / "wheelmemo", ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _run(
    site: Path,
    cache: Path,
    *,
    writable: bool = True,
    modules: list[str] = LATE,
    dont_write: bool = True,
    flags: tuple[str, ...] = (),
) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    out = subprocess.run(
        [sys.executable, *flags, "-c", SCRIPT, str(site / "wheelmemo"), str(cache), "1" if writable else "0", *modules],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _code_files(cache: Path) -> list[Path]:
    return sorted((cache / "code").iterdir()) if (cache / "code").is_dir() else []


def test_modules_are_compiled_once_for_every_build_environment(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _run(_copy(tmp_path / "env1"), cache)
    assert first["loader"] == "_Loader"
    assert "_memo.py" in first["compiled"] and "_cli.py" in first["compiled"]
    assert len(_code_files(cache)) == len(first["compiled"])

    again = _run(tmp_path / "env1", cache)
    assert again["compiled"] == []
    # another build environment (another path), the same sources: read, not compiled,
    # and its code names its own files (tracebacks show them)
    other = _run(_copy(tmp_path / "env2"), cache)
    assert other["compiled"] == []
    assert other["co_filenames"] == other["files"]
    assert all(name.startswith(str(tmp_path / "env2")) for name in other["co_filenames"])
    assert len(_code_files(cache)) == len(first["compiled"])


def test_code_compiled_with_other_optimizations_is_kept_apart(tmp_path: Path) -> None:
    """-O strips asserts and -OO docstrings: such code never stands for plain code."""
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    plain = _run(site, cache, modules=["wheelmemo._records"])
    assert plain["compiled"] == ["_records.py"]
    assert _run(site, cache, modules=["wheelmemo._records"], flags=("-OO",))["compiled"] == ["_records.py"]
    assert _run(site, cache, modules=["wheelmemo._records"], flags=("-OO",))["compiled"] == []
    assert _run(site, cache, modules=["wheelmemo._records"])["compiled"] == []
    assert len(_code_files(cache)) == 2


def test_a_changed_module_is_compiled_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    _run(site, cache)
    memo = site / "wheelmemo" / "_memo.py"
    memo.write_text(memo.read_text() + "\nEDITED = 1\n")
    assert _run(site, cache)["compiled"] == ["_memo.py"]
    script = f"import wheelmemo._bytecode as b; b.install({str(cache)!r}, writable=True); import wheelmemo._memo as m; print(m.EDITED)"
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "1"


@pytest.mark.parametrize(
    "damage",
    [
        "truncated",
        "flipped",
        "empty",
        "directory",
        *(pytest.param(damage, marks=POSIX_OWNERS) for damage in ("symlink", "writable-by-others", "someone-else's")),
    ],
)
def test_a_damaged_code_file_is_compiled_again(tmp_path: Path, damage: str) -> None:
    """Damaged, or not the user's own: the code of a shared cache's other writers is never run."""
    if damage == "someone-else's" and os.getuid() != 0:
        pytest.skip("giving a file to another user takes root")
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    first = _run(site, cache, modules=["wheelmemo._records"])
    assert first["compiled"] == ["_records.py"]
    (code,) = _code_files(cache)
    data = code.read_bytes()
    outside = tmp_path / "outside"
    outside.write_bytes(data)
    code.unlink()
    if damage == "truncated":
        code.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        code.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    elif damage == "empty":
        code.write_bytes(b"")
    elif damage == "directory":
        code.mkdir()
    elif damage == "symlink":
        code.symlink_to(outside)  # a good file behind a symlink is not followed either
    else:  # the right bytes, from someone else, or where someone else could have put them
        code.write_bytes(data)
        if damage == "writable-by-others":
            code.chmod(0o666)
        else:
            os.chown(code, 54321, 54321)
    assert _run(site, cache, modules=["wheelmemo._records"])["compiled"] == ["_records.py"]
    if damage != "directory":  # written again whole, the user's own
        # a whole file again: its digest, then its code (not byte for byte the first one:
        # before 3.11, marshal writes a frozenset's members in the order of their hashes,
        # which change with every process)
        again = code.read_bytes()
        assert hashlib.sha256(again[32:]).digest() == again[:32] and not code.is_symlink()
        if sys.platform != "win32":
            assert code.stat().st_uid == os.getuid() and not code.stat().st_mode & 0o022
        assert _run(site, cache, modules=["wheelmemo._records"])["compiled"] == []
    assert outside.read_bytes() == data


@POSIX_OWNERS
def test_a_code_directory_others_can_write_is_never_used(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    every = _run(site, cache)["compiled"]
    (cache / "code").chmod(0o775)
    files = _code_files(cache)
    assert _run(site, cache)["compiled"] == every
    assert _code_files(cache) == files  # nor written


def test_a_read_only_cache_is_read_and_never_written(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    assert _run(site, cache, writable=False)["compiled"] != []
    assert not cache.exists()
    _run(site, cache)  # written by a writer
    assert _run(site, cache, writable=False)["compiled"] == []


def test_a_code_directory_that_cannot_be_made_changes_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.write_text("a file where the cache directory should be")
    site = _copy(tmp_path / "env")
    every = _run(site, tmp_path / "elsewhere")["compiled"]
    assert _run(site, cache)["compiled"] == every
    assert _run(site, cache)["compiled"] == every  # nothing kept, nothing broken
    assert cache.read_text() == "a file where the cache directory should be"


def test_the_usual_pycache_is_used_where_it_exists(tmp_path: Path) -> None:
    import compileall

    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    assert compileall.compile_dir(str(site), quiet=1)
    assert _run(site, cache)["compiled"] == []
    assert not cache.exists()


def test_a_hook_process_loads_wheelmemo_through_the_cache(tmp_path: Path) -> None:
    """The hooks install the finder with the project's cache before the modules a hit
    needs are imported."""
    site = _copy(tmp_path / "env")
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["wheelmemo"]\nbuild-backend = "wheelmemo"\n'
        '[project]\nname = "p"\nversion = "1"\n'
        '[tool.wheelmemo]\nbackend = "inner"\nbackend-path = ["."]\n'
    )
    (project / "inner.py").write_text("def get_requires_for_build_wheel(config_settings=None):\n    return []\n")
    cache = tmp_path / "cache"
    script = (
        "import sys, wheelmemo; print(wheelmemo.get_requires_for_build_wheel()); "
        "print(type(sys.modules['wheelmemo._memo'].__spec__.loader).__name__)"
    )
    env = {**os.environ, "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", "WHEELMEMO_CACHE_DIR": str(cache)}
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", script], cwd=project, env=env, check=True, capture_output=True, text=True
        ).stdout.split()
        assert out == ["[]", "_Loader"]
    assert len(_code_files(cache)) > 5
    # a read-only cache (untrusted jobs) is read, and gets nothing written
    env["WHEELMEMO_CACHE_DIR"] = str(tmp_path / "fresh")
    env["WHEELMEMO_CACHE_READ_ONLY"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["[]", "_Loader"]
    assert _code_files(tmp_path / "fresh") == []
    env["WHEELMEMO_DISABLE"] = "1"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=project, env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out == ["[]", "SourceFileLoader"]


def test_clean_removes_the_compiled_modules_and_prune_the_old_ones(tmp_path: Path) -> None:
    from wheelmemo._store import LocalStore

    cache = tmp_path / "cache"
    _run(_copy(tmp_path / "env"), cache)
    files = _code_files(cache)
    assert files
    old = files[0]
    os.utime(old, (1_000_000_000, 1_000_000_000))
    LocalStore(cache).prune(max_size=10**12)  # any prune: code written 30 days ago goes
    assert _code_files(cache) == files[1:]
    LocalStore(cache).prune(older_than=3600.0)
    assert _code_files(cache) == files[1:]
    LocalStore(cache).prune(max_size=0)  # clean
    assert _code_files(cache) == []


def test_processes_writing_the_same_modules_at_once(tmp_path: Path) -> None:
    """Eight processes start on an empty cache together: each file is written whole once
    (the last rename wins, every one the same), and none is left half-written."""
    cache = tmp_path / "cache"
    site = _copy(tmp_path / "env")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(site), PYTHONDONTWRITEBYTECODE="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SCRIPT, str(site / "wheelmemo"), str(cache), "1", *LATE],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    compiled = [json.loads(p.communicate()[0])["compiled"] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    every = _run(site, tmp_path / "alone")["compiled"]
    assert set().union(*compiled) == set(every)  # each module by one process at least
    assert [p.name for p in _code_files(cache) if p.name.startswith(".tmp-")] == []
    assert len(_code_files(cache)) == len(every)
    assert _run(site, cache)["compiled"] == []
