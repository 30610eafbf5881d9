"""A frontend cannot tell wheelmemo from the inner backend, whatever the tree or the backend does.

Odd trees (absolute symlinks, links to FIFOs, sockets and devices), misbehaving inner
backends (answers that are not PEP 517's, missing hooks, their own
``UnsupportedOperation``) and in-tree backends shadowed elsewhere: the frontend gets
the inner backend's answer, a warning at most, and never a crash, a hang or a broken
cache entry.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import wheelmemo

from conftest import HERE, ROOT, FakeSite, Hooks


def _backend_module(fake_site: FakeSite, name: str, source: str) -> None:
    """A backend module beside countingbackend (named countingbackend_*: the Hooks
    runner drops it from sys.modules after every call, as a fresh process would)."""
    assert name.startswith("countingbackend")
    (fake_site.path / f"{name}.py").write_text(textwrap.dedent(source))


def _use_backend(project: Path, ref: str, extra: str = "") -> None:
    pyproject = project / "pyproject.toml"
    text = pyproject.read_text().replace('backend = "countingbackend"', f'backend = "{ref}"{extra}')
    pyproject.write_text(text)


def _stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def _one_error_line(hooks: Hooks, capsys: pytest.CaptureFixture[str], hook: str, *args: Any) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        hooks(hook, *args)
    assert exc.value.code == 1
    lines = _stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert lines[0].startswith("wheelmemo: error: "), lines
    return lines[0]


# -- 1. an sdist wheelmemo cannot fingerprint is still the frontend's sdist ----------------
def test_sdist_holding_an_absolute_symlink_is_returned_with_a_warning(
    hooks: Hooks, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("outside the tree\n")
    (hooks.project / "link").symlink_to(outside)  # the fake backend tars it as a link
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True)
    capsys.readouterr()
    name = hooks("build_sdist", str(dest))
    assert name == "fake_project-1.0.0.tar.gz"
    assert (dest / name).is_file()
    warnings = [line for line in _stderr_lines(capsys) if "warning" in line]
    assert len(warnings) == 1, warnings
    assert f"cannot record what {name} was made from" in warnings[0]
    assert hooks.calls()["build_sdist"] == 1


def test_sdist_that_is_no_archive_is_returned_with_a_warning(
    hooks: Hooks, fake_site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    _backend_module(
        fake_site,
        "countingbackend_badtar",
        """
        from countingbackend import *  # noqa: F403

        def build_sdist(sdist_directory, config_settings=None):
            import os
            with open(os.path.join(sdist_directory, "x-1.tar.gz"), "wb") as f:
                f.write(b"\\x1f\\x8b not really gzip")
            return "x-1.tar.gz"
    """,
    )
    _use_backend(hooks.project, "countingbackend_badtar")
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True)
    capsys.readouterr()
    assert hooks("build_sdist", str(dest)) == "x-1.tar.gz"
    assert any("cannot record what x-1.tar.gz was made from" in line for line in _stderr_lines(capsys))


# -- 2. a size that is not one is one error line ---------------------------------------------
BAD_SIZES = ["inf", "nan", "1e400", "-1", "", "10Q", "-inf", "infG", "1e400G"]


@pytest.mark.parametrize("value", BAD_SIZES)
@pytest.mark.parametrize("source", ["environment", "config_settings", "pyproject"])
def test_bad_max_size_is_one_error_line(
    hooks: Hooks, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, source: str, value: str
) -> None:
    config: dict[str, str] | None = None
    if source == "environment":
        monkeypatch.setenv("WHEELMEMO_MAX_SIZE", value)
    elif source == "config_settings":
        config = {"wheelmemo.max-size": value}
    else:
        _use_backend(hooks.project, "countingbackend", f"\nmax-size = {json.dumps(value)}")
    dest = hooks.out / "w"
    dest.mkdir(parents=True)
    line = _one_error_line(hooks, capsys, "build_wheel", str(dest), config)
    assert "max-size" in line
    assert "must be a size" in line
    assert hooks.calls()["build_wheel"] == 0


def test_good_sizes_still_parse() -> None:
    from wheelmemo._settings import parse_size

    assert parse_size("10G") == 10 * 1000**3
    assert parse_size("1.5K") == 1500
    assert parse_size("500MiB") == 500 * 1024**2
    assert parse_size(" 7 ") == 7
    assert parse_size(0) == 0
    for bad in (*BAD_SIZES, float("inf"), float("nan"), 1.5, True, None, -3):
        assert parse_size(bad) is None, bad


# -- 3. links to FIFOs, sockets and devices are never opened ----------------------------------
@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short directory: a unix socket's path must fit in ~100 bytes."""
    path = Path(tempfile.mkdtemp(prefix="wm-", dir="/tmp" if os.path.isdir("/tmp") else None))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _special(kind: str, where: Path) -> tuple[Path, socket.socket | None]:
    if kind == "fifo":
        os.mkfifo(where / "fifo")
        return where / "fifo", None
    if kind == "socket":
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(where / "sock"))
        sock.listen(1)
        return where / "sock", sock
    return Path("/dev/zero"), None


def _hook_process(
    hooks: Hooks, fake_site: FakeSite, dest: Path, timeout: float = 10.0
) -> subprocess.CompletedProcess[str]:
    """One build_wheel as a frontend runs it: a fresh process, here with a deadline."""
    dest.mkdir(parents=True, exist_ok=True)
    code = "import sys, wheelmemo\nsys.stdout.write(wheelmemo.build_wheel(sys.argv[1]))\n"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)])}
    try:
        return subprocess.run(
            [sys.executable, "-c", code, str(dest)],
            cwd=hooks.project,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"build_wheel did not finish within {timeout} s: it hangs")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
@pytest.mark.parametrize("kind", ["fifo", "socket", "/dev/zero"])
def test_link_to_a_special_file_is_keyed_by_kind_never_read(
    hooks: Hooks, fake_site: FakeSite, short_tmp: Path, kind: str
) -> None:
    target, sock = _special(kind, short_tmp)
    if not os.path.exists(target):
        pytest.skip(f"{target} is not available here")
    (hooks.project / "src" / "fakepkg" / "special").symlink_to(target)
    try:
        first = _hook_process(hooks, fake_site, hooks.out / "one")
        second = _hook_process(hooks, fake_site, hooks.out / "two")
    finally:
        if sock is not None:
            sock.close()
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout == "fake_project-1.0.0-py3-none-any.whl"
    warnings = [line for line in first.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1, first.stderr
    assert "src/fakepkg/special" in warnings[0]
    assert "not a regular file" in warnings[0]
    assert "Traceback" not in first.stderr + second.stderr
    # the marker is stable: the second build is a hit
    assert hooks.calls()["build_wheel"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
def test_special_file_markers_are_stable(short_tmp: Path) -> None:
    code = textwrap.dedent("""
        import os, sys
        from wheelmemo._inputs import StatCache
        where = sys.argv[1]
        os.mkfifo(os.path.join(where, "fifo"))
        os.symlink(os.path.join(where, "fifo"), os.path.join(where, "link"))
        cache = StatCache(None)
        found = [cache.digest("link", os.path.join(where, "link")), cache.digest("fifo", os.path.join(where, "fifo"))]
        if os.path.exists("/dev/zero"):
            found.append(cache.digest("zero", "/dev/zero"))
        print(" ".join(found))
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(short_tmp)],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("hashing a special file hangs")
    assert done.returncode == 0, done.stderr
    expected = ["special:fifo", "special:fifo"] + (["special:char-device"] if os.path.exists("/dev/zero") else [])
    assert done.stdout.split() == expected


def test_corrupt_stat_cache_record_is_ignored(tmp_path: Path) -> None:
    """The stat cache is storage: a damaged record means hashing again, never a crash."""
    import marshal

    from wheelmemo._inputs import StatCache, file_digest

    data = tmp_path / "data.txt"
    data.write_text("content\n")
    stat_file = tmp_path / "stat.m"
    for damaged in (5, "text", [1, 2], [None, None, None, None, None], {"x": 1}):
        stat_file.write_bytes(marshal.dumps({"files": {"data.txt": damaged}, "memo": {}}))
        assert StatCache(stat_file).digest("data.txt", str(data)) == file_digest(data)


def test_unreadable_input_is_a_warning_not_a_crash(
    hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from wheelmemo import _inputs

    secret = hooks.project / "src" / "fakepkg" / "secret.dat"
    secret.write_text("x")
    real = _inputs.file_digest_crc

    def no_permission(path: str | Path, deadline: float | None = None) -> tuple[str, int]:
        if str(path).endswith("secret.dat"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path, deadline)

    monkeypatch.setattr(_inputs, "file_digest_crc", no_permission)
    capsys.readouterr()
    assert hooks.build_wheel().is_file()
    warnings = [line for line in _stderr_lines(capsys) if "warning" in line]
    assert any("src/fakepkg/secret.dat" in line and "cannot be read" in line for line in warnings), warnings


# -- 4. a pyproject.toml that cannot be read is one error line --------------------------------
def test_pyproject_not_utf8_is_one_error_line(hooks: Hooks, capsys: pytest.CaptureFixture[str]) -> None:
    pyproject = hooks.project / "pyproject.toml"
    pyproject.write_bytes(pyproject.read_bytes().replace(b'name = "fake-project"', b'name = "fake\xff"'))
    line = _one_error_line(hooks, capsys, "get_requires_for_build_wheel")
    assert "pyproject.toml is not valid TOML/UTF-8" in line
    assert "fix the encoding" in line


@pytest.mark.parametrize("damage", ["directory", "permission", "dangling link", "deep nesting"])
def test_unreadable_pyproject_is_one_error_line(
    hooks: Hooks, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    pyproject = hooks.project / "pyproject.toml"
    if damage == "directory":
        pyproject.unlink()
        pyproject.mkdir()
    elif damage == "permission":  # chmod does not stop root: simulate what it does
        real_open = os.open

        def denied(path: Any, *args: Any, **kwargs: Any) -> int:
            if os.fspath(path) == str(pyproject):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
    elif damage == "dangling link":
        pyproject.unlink()
        pyproject.symlink_to(hooks.project / "nowhere.toml")
    else:
        pyproject.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    line = _one_error_line(hooks, capsys, "get_requires_for_build_wheel")
    assert "pyproject.toml" in line
    assert hooks.calls() == {}


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX special files")
def test_pyproject_that_is_a_fifo_is_one_error_line(hooks: Hooks, fake_site: FakeSite) -> None:
    pyproject = hooks.project / "pyproject.toml"
    pyproject.unlink()
    os.mkfifo(pyproject)
    done = _hook_process(hooks, fake_site, hooks.out)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("wheelmemo: error: ")
    assert "pyproject.toml is not a regular file" in done.stderr


# -- 5. answers that are not PEP 517's are passed on, never cached ----------------------------
BAD_BACKEND = """
    import os
    import shutil
    import countingbackend
    from countingbackend import *  # noqa: F403

    def _answer(hook, directory, config_settings):
        # countingbackend's hook, answered as BAD_ANSWER says
        how = os.environ["BAD_ANSWER"]
        if how == "subdir":
            sub = os.path.join(directory, "sub")
            os.makedirs(sub, exist_ok=True)
            return "sub/" + hook(sub, config_settings)
        name = hook(directory, config_settings)
        if how == "absolute":
            return os.path.abspath(os.path.join(directory, name))
        if how == "missing":
            return "not-" + name
        if how == "none":
            return None
        if how == "empty":  # (metadata) a directory with no files
            shutil.rmtree(os.path.join(directory, name))
            os.mkdir(os.path.join(directory, name))
        return name

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        return _answer(countingbackend.build_wheel, wheel_directory, config_settings)

    def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
        return _answer(countingbackend.prepare_metadata_for_build_wheel, metadata_directory, config_settings)

    def build_sdist(sdist_directory, config_settings=None):
        return _answer(countingbackend.build_sdist, sdist_directory, config_settings)
"""
BAD_ANSWERS = ["subdir", "absolute", "missing", "none"]


@pytest.fixture
def bad_hooks(hooks: Hooks, fake_site: FakeSite) -> Hooks:
    _backend_module(fake_site, "countingbackend_bad", BAD_BACKEND)
    _use_backend(hooks.project, "countingbackend_bad")
    return hooks


def _expected(how: str, directory: Path, name: str) -> str | None:
    return {
        "subdir": f"sub/{name}",
        "absolute": str((directory / name).resolve()),
        "missing": f"not-{name}",
        "none": None,
    }[how]


def _answered_uncached(
    hooks: Hooks,
    capsys: pytest.CaptureFixture[str],
    hook: str,
    expected: Callable[[Path], str | None],
    warning: str,
    *args: Any,
) -> None:
    """Three calls of ``hook``, each passing on ``expected(its directory)`` with one
    warning saying ``warning``: none is answered from the cache."""
    for attempt in ("one", "two", "three"):
        dest = hooks.out / attempt
        dest.mkdir(parents=True)
        capsys.readouterr()
        assert hooks(hook, str(dest), *args) == expected(dest)
        warnings = [line for line in _stderr_lines(capsys) if "warning" in line]
        assert len(warnings) == 1, warnings
        assert warning in warnings[0]
    assert hooks.calls()[hook] == 3


@pytest.mark.parametrize("how", BAD_ANSWERS)
def test_build_wheel_answer_that_is_not_a_basename_is_passed_on_uncached(
    bad_hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.setenv("BAD_ANSWER", how)
    name = "fake_project-1.0.0-py3-none-any.whl"
    _answered_uncached(bad_hooks, capsys, "build_wheel", lambda dest: _expected(how, dest, name), "not cached", None)
    # a sound answer afterwards is cached as usual
    monkeypatch.setenv("BAD_ANSWER", "good")
    bad_hooks.build_wheel(subdir="good1")
    bad_hooks.build_wheel(subdir="good2")
    assert bad_hooks.calls()["build_wheel"] == 4


@pytest.mark.parametrize("how", [*BAD_ANSWERS, "empty"])
def test_metadata_answer_that_is_not_a_basename_is_passed_on_uncached(
    bad_hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.setenv("BAD_ANSWER", how)
    name = "fake_project-1.0.0.dist-info"
    _answered_uncached(
        bad_hooks,
        capsys,
        "prepare_metadata_for_build_wheel",
        lambda dest: name if how == "empty" else _expected(how, dest, name),
        "not cached",
        None,
    )


@pytest.mark.parametrize("how", BAD_ANSWERS)
def test_sdist_answer_that_is_not_a_basename_is_passed_on_uncached(
    bad_hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.setenv("BAD_ANSWER", how)
    _answered_uncached(
        bad_hooks,
        capsys,
        "build_sdist",
        lambda dest: _expected(how, dest, "fake_project-1.0.0.tar.gz"),
        "not cached, and what it was made from is not recorded",
    )


def _rewrite_records(cache_dir: Path, kind: str, files: list[list[Any]]) -> int:
    """Replace the files of every stored ``kind`` record, with a valid checksum."""
    from wheelmemo._records import checksum

    count = 0
    for path in cache_dir.rglob("entries/*/*.json"):
        record = json.loads(path.read_bytes())
        if record.get("kind") != kind:
            continue
        record.pop("checksum")
        record["files"] = files
        path.write_text(json.dumps(dict(record, checksum=checksum(record))))
        count += 1
    return count


@pytest.mark.parametrize(
    "files", [[], [["sub/x.whl", "0" * 64, 0]], [["/abs/x.whl", "0" * 64, 0]]], ids=["no files", "subdir", "absolute"]
)
@pytest.mark.parametrize("kind", ["metadata-wheel", "wheel"])
def test_stored_entry_with_bad_files_is_corrupt_and_discarded(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str], kind: str, files: list[list[Any]]
) -> None:
    hook = "prepare_metadata_for_build_wheel" if kind == "metadata-wheel" else "build_wheel"
    first = hooks.out / "one"
    first.mkdir(parents=True)
    good = hooks(hook, str(first), None)
    assert _rewrite_records(cache_dir, kind, files) == 1
    second = hooks.out / "two"
    second.mkdir(parents=True)
    capsys.readouterr()
    assert hooks(hook, str(second), None) == good
    assert any("corrupt" in line for line in _stderr_lines(capsys))
    assert hooks.calls()[hook] == 2
    third = hooks.out / "three"
    third.mkdir(parents=True)
    assert hooks(hook, str(third), None) == good
    assert hooks.calls()[hook] == 2  # the rebuilt entry replaced the corrupt one
    assert sorted(p.name for p in third.iterdir()) == [good]


@pytest.mark.parametrize(
    "files", [[], [["sub/x.whl", "0" * 64, 0]], [["/abs/x.whl", "0" * 64, 0]]], ids=["no files", "subdir", "absolute"]
)
@pytest.mark.parametrize("kind", ["metadata-wheel", "wheel"])
def test_hit_checks_the_entry_whatever_the_store_checked(
    hooks: Hooks,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    files: list[list[Any]],
) -> None:
    """A store that hands back an entry unfit for the hook (a remote one, an old format)
    makes a miss, never an IndexError or a file written outside the directory."""
    from wheelmemo._store import LocalStore, StoredFile

    hook = "prepare_metadata_for_build_wheel" if kind == "metadata-wheel" else "build_wheel"
    first = hooks.out / "one"
    first.mkdir(parents=True)
    good = hooks(hook, str(first), None)
    real_get = LocalStore.get
    tampered: list[str] = []

    def get(self: LocalStore, key: str) -> Any:
        entry = real_get(self, key)
        if entry is not None and entry.kind == kind and not tampered:
            tampered.append(key)
            return entry._replace(files=tuple(StoredFile(*f) for f in files))
        return entry

    monkeypatch.setattr(LocalStore, "get", get)
    second = hooks.out / "two"
    second.mkdir(parents=True)
    capsys.readouterr()
    assert hooks(hook, str(second), None) == good
    assert tampered
    assert any(
        line.startswith("wheelmemo: warning: ") and "building it again" in line for line in _stderr_lines(capsys)
    )
    # nothing but the answer was written (LocalStore.materialize may leave an empty directory)
    written = {p.relative_to(second).parts[0] for p in second.rglob("*") if not p.is_dir()}
    assert written == {good}


@pytest.mark.parametrize("how", ["missing", "none"])
def test_editable_derived_from_an_unfit_wheel_answer_is_one_error_line(
    bad_hooks: Hooks, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    monkeypatch.setenv("BAD_ANSWER", how)
    dest = bad_hooks.out / "ed"
    dest.mkdir(parents=True)
    line = _one_error_line(bad_hooks, capsys, "build_editable", str(dest))
    assert "build_wheel returned" in line
    assert 'editable = "native"' in line


# -- 6. UnsupportedOperation reaches the frontend as the PEP 517 signal ------------------------
UNSUPPORTED_BACKEND = """
    from countingbackend import *  # noqa: F403

    class UnsupportedOperation(Exception):
        pass

    def build_sdist(sdist_directory, config_settings=None):
        raise UnsupportedOperation("this backend builds no sdist here")
"""


def _frontend(project: Path, fake_site: FakeSite) -> Any:
    from pyproject_hooks import BuildBackendHookCaller

    env = {"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(fake_site.path)])}

    def runner(cmd: list[str], cwd: str | None = None, extra_environ: dict[str, str] | None = None) -> None:
        result = subprocess.run(
            cmd,
            cwd=cwd,
            env={**os.environ, **(extra_environ or {}), **env},
            capture_output=True,
            text=True,
            check=False,
        )
        runner.stderr = result.stderr  # type: ignore[attr-defined]
        if result.returncode:
            raise subprocess.CalledProcessError(result.returncode, cmd, result.stdout, result.stderr)

    return BuildBackendHookCaller(str(project), "wheelmemo", runner=runner, python_executable=sys.executable)


def test_module_exposes_unsupported_operation() -> None:
    assert issubclass(wheelmemo.UnsupportedOperation, Exception)
    assert "UnsupportedOperation" in dir(wheelmemo)


def test_inner_unsupported_operation_reaches_pyproject_hooks(hooks: Hooks, fake_site: FakeSite, tmp_path: Path) -> None:
    from pyproject_hooks import UnsupportedOperation

    _backend_module(fake_site, "countingbackend_unsupported", UNSUPPORTED_BACKEND)
    _use_backend(hooks.project, "countingbackend_unsupported")
    caller = _frontend(hooks.project, fake_site)
    with pytest.raises(UnsupportedOperation) as exc:
        caller.build_sdist(str(tmp_path))
    # the inner backend's own exception and message are in the traceback the frontend shows
    assert "countingbackend_unsupported.UnsupportedOperation: this backend builds no sdist here" in (
        exc.value.traceback
    )
    # and the frontend's fallback, a wheel from the tree, works
    (tmp_path / "w").mkdir()
    assert caller.build_wheel(str(tmp_path / "w")) == "fake_project-1.0.0-py3-none-any.whl"


def test_inner_unsupported_operation_in_process(hooks: Hooks, fake_site: FakeSite) -> None:
    _backend_module(fake_site, "countingbackend_unsupported", UNSUPPORTED_BACKEND)
    _use_backend(hooks.project, "countingbackend_unsupported")
    with pytest.raises(wheelmemo.UnsupportedOperation) as exc:
        hooks("build_sdist", str(hooks.out))
    assert type(exc.value.__cause__).__name__ == "UnsupportedOperation"
    assert type(exc.value.__cause__).__module__ == "countingbackend_unsupported"


def test_other_inner_exceptions_of_build_sdist_pass_through(hooks: Hooks, fake_site: FakeSite) -> None:
    _backend_module(
        fake_site,
        "countingbackend_sdistfails",
        """
        from countingbackend import *  # noqa: F403

        class UnsupportedOperation(Exception):
            pass

        def build_sdist(sdist_directory, config_settings=None):
            raise KeyError("inner")
    """,
    )
    _use_backend(hooks.project, "countingbackend_sdistfails")
    with pytest.raises(KeyError, match="inner"):
        hooks("build_sdist", str(hooks.out))


# -- 7. an in-tree backend comes from backend-path and nowhere else ----------------------------
def _in_tree_backend(hooks: Hooks, name: str = "countingbackend_intree") -> Path:
    backend_dir = hooks.project / "_backend"
    backend_dir.mkdir()
    shutil.copy(HERE / "fake_backend" / "countingbackend.py", backend_dir / f"{name}.py")
    _use_backend(hooks.project, name, '\nbackend-path = ["_backend"]')
    return backend_dir


DECOY = 'raise RuntimeError("the decoy backend was imported instead of the in-tree one")\n'


@pytest.fixture
def clean_meta_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))


@pytest.mark.usefixtures("clean_meta_path")
def test_in_tree_backend_wins_over_a_same_named_module_earlier_on_sys_path(
    hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend_dir = _in_tree_backend(hooks)
    decoys = tmp_path / "decoys"
    decoys.mkdir()
    (decoys / "countingbackend_intree.py").write_text(DECOY)
    # the decoy's directory first, the backend's directory already on sys.path after it
    monkeypatch.setattr(sys, "path", [str(decoys), *sys.path, str(backend_dir.resolve())])
    wheel = hooks.build_wheel()
    assert wheel.name == "fake_project-1.0.0-py3-none-any.whl"
    assert hooks.calls()["build_wheel"] == 1


@pytest.mark.usefixtures("clean_meta_path")
def test_in_tree_backend_wins_over_an_import_hook(hooks: Hooks, tmp_path: Path) -> None:
    import importlib.util

    _in_tree_backend(hooks)
    decoy = tmp_path / "decoy.py"
    decoy.write_text(DECOY)

    class Interceptor:
        def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
            if fullname == "countingbackend_intree":
                return importlib.util.spec_from_file_location(fullname, decoy)
            return None

    sys.meta_path.insert(0, Interceptor())
    wheel = hooks.build_wheel()
    assert wheel.name == "fake_project-1.0.0-py3-none-any.whl"


@pytest.mark.usefixtures("clean_meta_path")
def test_in_tree_backend_missing_from_backend_path_is_one_error_line(
    hooks: Hooks, fake_site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """countingbackend is installed, but backend-path says where it must come from."""
    (hooks.project / "_backend").mkdir()
    _use_backend(hooks.project, "countingbackend", '\nbackend-path = ["_backend"]')
    line = _one_error_line(hooks, capsys, "build_wheel", str(hooks.out))
    assert "backend = 'countingbackend' cannot be imported" in line
    assert "backend-path" in line


@pytest.mark.usefixtures("clean_meta_path")
def test_backend_path_finder_does_not_outlive_the_hook(hooks: Hooks) -> None:
    before = list(sys.meta_path)
    _in_tree_backend(hooks)
    hooks.build_wheel()
    assert sys.meta_path == before


# -- 8. a hook is required only when it is called ---------------------------------------------
NO_SDIST = """
    from countingbackend import build_wheel, get_requires_for_build_wheel  # noqa: F401
"""
NO_WHEEL = """
    from countingbackend import build_sdist, get_requires_for_build_sdist  # noqa: F401
"""


def test_backend_without_build_sdist_builds_wheels(
    hooks: Hooks, fake_site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    _backend_module(fake_site, "countingbackend_nosdist", NO_SDIST)
    _use_backend(hooks.project, "countingbackend_nosdist")
    assert hooks("get_requires_for_build_sdist") == []
    assert hooks.build_wheel().is_file()
    line = _one_error_line(hooks, capsys, "build_sdist", str(hooks.out))
    assert line.startswith("wheelmemo: error: backend 'countingbackend_nosdist' has no build_sdist hook")


def test_backend_without_build_wheel_builds_sdists(
    hooks: Hooks, fake_site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    _backend_module(fake_site, "countingbackend_nowheel", NO_WHEEL)
    _use_backend(hooks.project, "countingbackend_nowheel")
    assert hooks("get_requires_for_build_wheel") == []
    dest = hooks.out / "sdist"
    dest.mkdir(parents=True)
    assert hooks("build_sdist", str(dest)) == "fake_project-1.0.0.tar.gz"
    line = _one_error_line(hooks, capsys, "build_wheel", str(hooks.out))
    assert line.startswith("wheelmemo: error: backend 'countingbackend_nowheel' has no build_wheel hook")
    meta = hooks.out / "meta"
    meta.mkdir()
    line = _one_error_line(hooks, capsys, "prepare_metadata_for_build_wheel", str(meta))
    assert "has no build_wheel hook" in line
