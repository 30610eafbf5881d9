"""Fixtures: small projects copied to tmp, a counting fake backend, and a hook runner.

Hooks run in-process here, each call as if in a fresh frontend process: the fake
backend's module and wheelmemo's once-per-process state are dropped after every call.
"""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import types
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["servers"]  # real servers on 127.0.0.1 for the remote tier

HERE = Path(__file__).parent
PACKAGES = HERE / "packages"
ROOT = HERE.parent


class FakeSite:
    """A site directory where ``countingbackend`` is installed as a distribution."""

    def __init__(self, path: Path) -> None:
        self.path = path
        shutil.copy(HERE / "fake_backend" / "countingbackend.py", path / "countingbackend.py")
        self.install("countingbackend", "1.0")

    def install(self, name: str, version: str, requires: tuple[str, ...] = ()) -> None:
        for old in self.path.glob(f"{name}-*.dist-info"):
            shutil.rmtree(old)
        dist_info = self.path / f"{name}-{version}.dist-info"
        dist_info.mkdir()
        lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        lines += [f"Requires-Dist: {r}" for r in requires]
        (dist_info / "METADATA").write_text("\n".join(lines) + "\n")
        (dist_info / "top_level.txt").write_text(name + "\n")
        importlib.invalidate_caches()


class Hooks:
    """Calls wheelmemo's hooks the way a frontend does, counting the inner backend's calls.

    A build hook keys on what ``get_requires_for_build_*`` added to the build environment,
    so a test that calls ``build_wheel`` alone sees one ``get_requires_for_build_wheel``
    call too (a frontend makes it first, and then it is a cache hit).
    """

    def __init__(self, project: Path, log: Path, out: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.project = project
        self.log = log
        self.out = out
        self.monkeypatch = monkeypatch

    def calls(self) -> Counter[str]:
        if not self.log.exists():
            return Counter()
        return Counter(json.loads(line)["hook"] for line in self.log.read_text().splitlines())

    def records(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def __call__(self, hook: str, *args: Any, **kwargs: Any) -> Any:
        import wheelmemo
        from wheelmemo import _log

        self.monkeypatch.chdir(self.project)
        saved_path = sys.path[:]
        imported_before = set(sys.modules)
        try:
            return getattr(wheelmemo, hook)(*args, **kwargs)
        finally:
            sys.path[:] = saved_path
            # the fake backends and what the call imported from this test's directories
            # (the next call's import must be seen, as in a fresh process)
            here = str(self.project.parent)
            for name in [
                m
                for m, module in sys.modules.items()
                if m.startswith("countingbackend")
                or (m not in imported_before and str(getattr(module, "__file__", None) or "").startswith(here))
            ]:
                del sys.modules[name]
            _log._warned.clear()
            importlib.invalidate_caches()

    def build_wheel(self, config_settings: Any = None, metadata_directory: Any = None, subdir: str = "dist") -> Path:
        dest = self.out / subdir
        dest.mkdir(parents=True, exist_ok=True)
        name = self("build_wheel", str(dest), config_settings, metadata_directory)
        return dest / name


def use_learning_backend(hooks: Hooks, fake_site: FakeSite, **table: Any) -> None:
    """Make the project build with learningbackend and this ``[tool.learning]`` table."""
    shutil.copy(HERE / "fake_backend" / "learningbackend.py", fake_site.path / "learningbackend.py")
    fake_site.install("learningbackend", "1.0", requires=("countingbackend",))
    pyproject = hooks.project / "pyproject.toml"
    text = pyproject.read_text().replace('"countingbackend"]', '"learningbackend"]')
    text = text.replace('backend = "countingbackend"', 'backend = "learningbackend"')
    text += "\n[tool.learning]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in table.items())
    pyproject.write_text(text)


def settle_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every file look older than two seconds, so that nothing is racy.

    Changes made right after a build would otherwise be within the racy window, where
    wheelmemo trusts no stat and hashes every file again: the remembered walk and the
    one-comparison check of the stat cache never run.  Here they run, and each hook call
    ends with a pause longer than a file system's timestamp tick, so that a change made
    after it gets another time, as it would for a person.
    """
    import time

    from wheelmemo import _inputs, _walk

    monkeypatch.setattr(_inputs, "_RACY_NS", -(10**12))
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))
    call = Hooks.__call__

    def call_then_pause(self: Hooks, hook: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(self, hook, *args, **kwargs)
        finally:
            time.sleep(0.03)

    monkeypatch.setattr(Hooks, "__call__", call_then_pause)


@pytest.fixture(params=["racy", "settled"])
def timestamps(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test twice: files just written (racy: every stat is checked by hashing) and
    files settled (the remembered walk and stat cache answer)."""
    if request.param == "settled":
        settle_timestamps(monkeypatch)
    return str(request.param)


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSite:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    return FakeSite(site)


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "cache"
    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(path))
    # the fake backends read few of the files whose keying these tests check: a result
    # would stand for edits of the others (test_narrow.py tests that on its own)
    monkeypatch.setenv("WHEELMEMO_NARROW", "0")
    for var in (
        "WHEELMEMO_DISABLE",
        "WHEELMEMO_LOG",
        "WHEELMEMO_METADATA",
        "SOURCE_DATE_EPOCH",
        "FAKE_BUILD_FLAG",
        "FAKE_BACKEND_SLEEP",
        "FAKE_BACKEND_FAIL",
    ):
        monkeypatch.delenv(var, raising=False)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(PACKAGES / "fake_project", dest)
    return dest


@pytest.fixture
def hooks(
    project: Path, fake_site: FakeSite, cache_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Hooks]:
    log = tmp_path / "backend.log"
    monkeypatch.setenv("FAKE_BACKEND_LOG", str(log))
    yield Hooks(project, log, tmp_path / "out", monkeypatch)


@pytest.fixture
def fake_family(
    hooks: Hooks, fake_site: FakeSite, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, type[Any], str], None]]:
    """``use(name, adapter, source)``: build the project with the fake backend ``name``
    (``source``: its module, over countingbackend), whose family module holds the
    adapter class ``adapter``, as a new module of ``wheelmemo.backends`` would."""
    from wheelmemo import backends

    def use(name: str, adapter: type[Any], source: str) -> None:
        module = types.ModuleType(f"wheelmemo.backends.{name}")
        module.ENV_PATTERNS = frozenset(adapter.env)  # type: ignore[attr-defined]
        module.adapter = adapter  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, module.__name__, module)
        monkeypatch.setitem(backends.FAMILIES, name, name)
        backends.all_env_patterns.cache_clear()
        (fake_site.path / f"{name}.py").write_text(source)
        fake_site.install(name, "1.0", requires=("countingbackend",))
        pyproject = hooks.project / "pyproject.toml"
        pyproject.write_text(pyproject.read_text().replace('backend = "countingbackend"', f'backend = "{name}"'))

    yield use
    backends.all_env_patterns.cache_clear()


@pytest.fixture(scope="session")
def uv_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory, uv_cache: Path) -> Path:
    from realtools import build_wheelhouse

    return build_wheelhouse(tmp_path_factory.mktemp("wheelhouse"), uv_cache)


@pytest.fixture
def frontends(wheelhouse: Path, uv_cache: Path, tmp_path: Path) -> Any:
    from realtools import Frontends

    return Frontends(wheelhouse=wheelhouse, uv_cache=uv_cache, work=tmp_path)
