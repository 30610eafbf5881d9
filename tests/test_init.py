"""`wheelmemo init`: what it writes, what it says, and `init --check` (issue 22)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wheelmemo import __version__
from wheelmemo._cli import main
from wheelmemo._settings import tomllib
from wheelmemo._store import LocalStore

from conftest import PACKAGES, ROOT, FakeSite, Hooks, use_learning_backend
from realtools import Frontends, tool

MAJOR, MINOR = (int(part) for part in __version__.split(".")[:2])
REQUIREMENT = f"wheelmemo>={MAJOR}.{MINOR},<{MAJOR + 1}"


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _project(tmp_path: Path, build_system: str, extra: str = "", name: str = "project") -> Path:
    project = tmp_path / name
    (project / "src").mkdir(parents=True)
    (project / "src" / "ext.c").write_text("int x;\n")
    (project / "pyproject.toml").write_text(
        f'[build-system]\n{build_system}\n\n[project]\nname = "p"\nversion = "1"\n{extra}'
    )
    return project


def _maturin_project(tmp_path: Path, name: str = "rusty") -> Path:
    """What `maturin new --bindings pyo3` writes: no Cargo.lock until the first build."""
    project = tmp_path / name
    (project / "src").mkdir(parents=True)
    (project / "src" / "lib.rs").write_text("use pyo3::prelude::*;\n")
    (project / "Cargo.toml").write_text(
        f'[package]\nname = "{name}"\nversion = "0.1.0"\nedition = "2021"\n\n'
        f'[lib]\nname = "{name}"\ncrate-type = ["cdylib"]\n\n[dependencies]\npyo3 = "0.30"\n'
    )
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["maturin>=1.7,<2.0"]\nbuild-backend = "maturin"\n\n'
        f'[project]\nname = "{name}"\nrequires-python = ">=3.9"\ndynamic = ["version"]\n\n'
        '[tool.maturin]\nfeatures = ["pyo3/extension-module"]\n'
    )
    return project


def _requires(project: Path) -> list[str]:
    return list(tomllib.loads((project / "pyproject.toml").read_text())["build-system"]["requires"])


def _keys(project: Path) -> list[dict[str, object]]:
    return list(tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]["cache-keys"])


# -- the requirement -------------------------------------------------------------------------
def test_init_writes_a_version_range_of_its_own_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unpinned "wheelmemo" lets a later major version with other settings build the project."""
    project = _project(tmp_path, 'requires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"')
    assert _cli(capsys, "init", str(project))[0] == 0
    assert _requires(project) == [REQUIREMENT, "setuptools>=64"]


@pytest.mark.parametrize("written", ["wheelmemo", "wheelmemo==0.0.7", "wheelmemo @ file:///src/wheelmemo"])
def test_init_leaves_a_wheelmemo_requirement_as_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    project = _project(tmp_path, f'requires = ["{written}", "setuptools>=64"]\nbuild-backend = "setuptools.build_meta"')
    assert _cli(capsys, "init", str(project))[0] == 0
    assert _requires(project) == [written, "setuptools>=64"]


def test_the_range_follows_pep_440s_compatible_release() -> None:
    from wheelmemo._init import wheelmemo_requirement

    assert wheelmemo_requirement("0.1.0") == "wheelmemo>=0.1,<1"
    assert wheelmemo_requirement("0.3.7") == "wheelmemo>=0.3,<1"
    assert wheelmemo_requirement("1.4.2.post1") == "wheelmemo>=1.4,<2"
    # a pre-release of X.Y.0 is below X.Y: the range must admit the wheelmemo that wrote it
    assert wheelmemo_requirement("0.2.0.dev3") == "wheelmemo>=0.2.0.dev3,<1"
    assert wheelmemo_requirement("2.0.0rc1") == "wheelmemo>=2.0.0rc1,<3"
    assert wheelmemo_requirement("1.2.1rc1") == "wheelmemo>=1.2,<2"


# -- requires-python ---------------------------------------------------------------------------
def test_python_floor_is_wheelmemos_requires_python() -> None:
    from wheelmemo._init import PYTHON_FLOOR

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert declared == ">=" + ".".join(map(str, PYTHON_FLOOR))


@pytest.mark.parametrize(
    ("requires_python", "admitted"),
    [
        (">=3.8", "3.8"),
        (">=3.7, <4", "3.7"),
        (">=3.8.1", "3.8"),
        ("~=3.6", "3.6"),
        ("==3.8.*", "3.8"),
        (">=2.7, !=3.0.*, !=3.1.*", "2.7"),
        (None, None),  # no requires-python: every Python
        (">=3.9", ""),
        (">=3.12", ""),
        ("~=3.10.2", ""),
        (">=3.7, !=3.7.*, !=3.8.*", ""),
    ],
)
def test_init_warns_when_requires_python_starts_below_wheelmemos(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], requires_python: str | None, admitted: str | None
) -> None:
    line = "" if requires_python is None else f'requires-python = "{requires_python}"\n'
    project = _project(tmp_path, 'requires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"', line)
    for args in (["init", str(project)], ["init", "--check", str(project)]):
        err = _cli(capsys, *args)[2]
        warnings = [line for line in err.splitlines() if "warning:" in line]
        if admitted == "":
            assert warnings == []
            continue
        (warning,) = warnings
        assert '">=3.9"' in warning
        if admitted is None:
            assert "no requires-python" in warning
        else:
            assert f'requires-python = "{requires_python}" admits Python {admitted},' in warning


def test_no_warning_where_requires_python_is_not_in_pyproject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """setup.py-only metadata (no [project] table), or a dynamic requires-python: not ours to read."""
    project = tmp_path / "legacy"
    project.mkdir()
    (project / "pyproject.toml").write_text('[build-system]\nrequires = ["setuptools"]\n')
    assert "warning" not in _cli(capsys, "init", str(project))[2]
    dynamic = _project(tmp_path, 'requires = ["setuptools"]', 'dynamic = ["requires-python"]\n', name="dynamic")
    assert "warning" not in _cli(capsys, "init", str(dynamic))[2]


# -- what it says ------------------------------------------------------------------------------
def test_init_says_each_change_and_only_what_it_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = _maturin_project(tmp_path)
    code, out, _ = _cli(capsys, "init", str(project))
    assert code == 0
    assert out.splitlines() == [
        f"wheelmemo: updated {project / 'pyproject.toml'}:",
        "  build-backend: maturin → wheelmemo (maturin now under [tool.wheelmemo] backend)",
        f"  build-system.requires: added {REQUIREMENT}",
        "  [tool.uv] cache-keys: added 4 keys: Cargo.lock, Cargo.toml, pyproject.toml, src/**/*.rs",
        (
            "wheelmemo: note: no Cargo.lock yet: the build that writes it is not cached; "
            "run `cargo generate-lockfile` and commit it"
        ),
    ]
    # a second run that only adds keys says so, and nothing about the backend
    (project / "csrc").mkdir()
    (project / "csrc" / "shim.c").write_text("int y;\n")
    code, out, _ = _cli(capsys, "init", str(project))
    assert code == 0
    assert out.splitlines() == [
        f"wheelmemo: updated {project / 'pyproject.toml'}:",
        "  [tool.uv] cache-keys: added 1 key: csrc/**/*.c",
    ]
    # a run that changes nothing says so
    text = (project / "pyproject.toml").read_text()
    assert _cli(capsys, "init", str(project))[:2] == (
        0,
        f"wheelmemo: {project / 'pyproject.toml'} is up to date: nothing to change\n",
    )
    assert (project / "pyproject.toml").read_text() == text


def test_init_check_lists_the_changes_it_would_make(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "legacy"
    project.mkdir()
    (project / "setup.py").write_text("")
    (project / "pyproject.toml").write_text('[build-system]\nbackend-path = ["."]\n')
    code, out, err = _cli(capsys, "init", "--check", str(project))
    assert (code, out) == (1, "")
    assert err.splitlines()[1:] == [
        (
            "  build-backend: none (setuptools.build_meta:__legacy__, PEP 517's default) → wheelmemo "
            "(setuptools.build_meta:__legacy__ now under [tool.wheelmemo] backend)"
        ),
        "  backend-path: moved under [tool.wheelmemo]",
        "  build-system.requires: added setuptools>=40.8.0 (what a project without it is built with)",
        f"  build-system.requires: added {REQUIREMENT}",
        "  [tool.uv] cache-keys: added 2 keys: pyproject.toml, setup.py",
    ]
    assert _cli(capsys, "init", str(project))[0] == 0
    written = tomllib.loads((project / "pyproject.toml").read_text())
    assert written["build-system"] == {"build-backend": "wheelmemo", "requires": [REQUIREMENT, "setuptools>=40.8.0"]}
    assert written["tool"]["wheelmemo"] == {"backend": "setuptools.build_meta:__legacy__", "backend-path": ["."]}
    assert _cli(capsys, "init", "--check", str(project))[0] == 0


def test_init_adds_requires_to_a_project_that_names_wheelmemo_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "bare"
    project.mkdir()
    (project / "pyproject.toml").write_text('[build-system]\nbuild-backend = "wheelmemo"\n')
    code, out, _ = _cli(capsys, "init", str(project))
    assert code == 0 and "build-backend" not in out
    assert _requires(project) == [REQUIREMENT]


# -- init --check is deterministic --------------------------------------------------------------
def test_init_keys_cargo_lock_before_the_first_build_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fresh `maturin new` project has no Cargo.lock; its first build writes one."""
    fresh = _maturin_project(tmp_path)
    locked = shutil.copytree(fresh, tmp_path / "locked")
    assert _cli(capsys, "init", str(fresh))[0] == 0
    assert {"file": "Cargo.lock"} in _keys(fresh)
    (fresh / "Cargo.lock").write_text("version = 4\n")  # what the first build does
    assert _cli(capsys, "init", "--check", str(fresh))[0] == 0
    # what init writes does not depend on whether the lock exists yet
    (locked / "Cargo.lock").write_text("version = 4\n")
    assert _cli(capsys, "init", str(locked))[0] == 0
    assert (locked / "pyproject.toml").read_text() == (fresh / "pyproject.toml").read_text()


def test_a_workspace_members_lock_is_the_workspace_roots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wheelmemo._init import plan

    project = _maturin_project(tmp_path)
    (project / "rust").mkdir()
    (project / "Cargo.toml").rename(project / "rust" / "Cargo.toml")
    (project / "src").rename(project / "rust" / "src")
    text = (project / "pyproject.toml").read_text() + 'manifest-path = "rust/Cargo.toml"\n'
    (project / "pyproject.toml").write_text(text)
    keys = plan(project, tomllib.loads(text)).keys
    assert {"file": "rust/**/Cargo.lock"} in keys
    # a workspace at the project's root: cargo writes its lock there
    (project / "Cargo.toml").write_text('[workspace]\nmembers = ["rust"]\n')
    keys = plan(project, tomllib.loads(text)).keys
    assert {"file": "Cargo.lock"} in keys and {"file": "rust/**/Cargo.lock"} not in keys


def test_init_check_never_reads_what_a_cache_learned(
    hooks: Hooks,
    fake_site: FakeSite,
    cache_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The learned variables and files are explain's and the stale warning's: a check that
    read them passed on an empty cache and failed after a build (useless in CI)."""
    (tmp_path / "shared.h").write_text("#define X 1\n")
    use_learning_backend(hooks, fake_site, read=["../shared.h"])
    monkeypatch.setenv("LEARN_FLAVOR", "a")
    empty = tmp_path / "empty-cache"

    def check(cache: Path) -> tuple[int, str, str]:
        monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(cache))
        return _cli(capsys, "init", "--check", str(hooks.project))

    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(empty))
    assert _cli(capsys, "init", str(hooks.project))[0] == 0
    on_empty = check(empty)
    assert on_empty[0] == 0

    monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(cache_dir))
    hooks.build_wheel()
    (wheel,) = [r for r in LocalStore(cache_dir).records() if r["kind"] == "wheel"]
    learned = (LocalStore(cache_dir).parts(str(wheel["key"])) or {})["learned"]
    assert "LEARN_FLAVOR" in learned["env"] and any(f.endswith("shared.h") for f in learned["files"])
    capsys.readouterr()

    assert check(cache_dir) == on_empty
    assert check(empty) == on_empty
    assert _cli(capsys, "init", str(hooks.project))[1].endswith("nothing to change\n")
    keys = _keys(hooks.project)
    assert {"env": "LEARN_FLAVOR"} not in keys and {"file": "../shared.h"} not in keys


def test_init_check_needs_no_tomlkit(tmp_path: Path) -> None:
    """The pre-commit hook installs wheelmemo with its dependencies only (no cli extra)."""
    project = _maturin_project(tmp_path)
    blocker = tmp_path / "no_tomlkit"
    blocker.mkdir()
    (blocker / "tomlkit.py").write_text("raise ImportError('no tomlkit here')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT / "src")])}
    env.pop("WHEELMEMO_CACHE_DIR", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wheelmemo", *args, str(project)],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    assert run("init", "--check").returncode == 1
    assert "tomlkit" in run("init").stderr  # writing does need it: one line, the fix
    text = (project / "pyproject.toml").read_text()
    text = text.replace('requires = ["maturin', f'requires = ["{REQUIREMENT}", "maturin').replace(
        'build-backend = "maturin"', 'build-backend = "wheelmemo"'
    )
    keys = '[tool.uv]\ncache-keys = [{file = "Cargo.lock"}, {file = "Cargo.toml"}, {file = "pyproject.toml"}, '
    text += '\n[tool.wheelmemo]\nbackend = "maturin"\n\n' + keys + '{file = "src/**/*.rs"}]\n'
    (project / "pyproject.toml").write_text(text)
    checked = run("init", "--check")
    assert (checked.returncode, checked.stderr) == (0, ""), checked.stderr


# -- the pre-commit hook -----------------------------------------------------------------------
def _hooks_yaml() -> list[dict[str, object]]:
    yaml = pytest.importorskip("yaml")
    loaded = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(loaded, list)
    return loaded


def test_pre_commit_hook_is_init_check() -> None:
    (hook,) = _hooks_yaml()
    # pre-commit's manifest schema: id, name, entry, language are required
    assert {"id", "name", "entry", "language"} <= set(hook)
    assert hook["id"] == "wheelmemo-init-check"
    assert hook["entry"] == "wheelmemo init --check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert "additional_dependencies" not in hook  # --check runs on wheelmemo's own dependencies
    # and pre-commit's own schema
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if Path(pre_commit).exists():
        checked = subprocess.run(
            [pre_commit, "validate-manifest", str(ROOT / ".pre-commit-hooks.yaml")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_pre_commit_hook_runs_on_every_file_init_reads() -> None:
    """A file that can change what init writes (a new native source directory, a build
    file) triggers the hook; the others do not."""
    from wheelmemo._inputs import _BUILD_FILE_NAMES, BUILD_FILE_SUFFIXES, NATIVE_SOURCE_SUFFIXES

    (hook,) = _hooks_yaml()
    files = re.compile(str(hook["files"]))
    labels = [f"pkg/sub/x{suffix}" for suffix in (*NATIVE_SOURCE_SUFFIXES, *BUILD_FILE_SUFFIXES)]
    labels += [name for name in _BUILD_FILE_NAMES] + [f"sub/{name}" for name in _BUILD_FILE_NAMES]
    labels += ["pyproject.toml", ".gitignore", "sub/.gitignore", ".cargo/config.toml"]
    for label in labels:
        assert files.search(label), label
    for label in ("README.md", "src/pkg/__init__.py", "docs/index.md", "src/pkg/data.json", "pkg/cache"):
        assert not files.search(label), label


@pytest.mark.real
def test_pre_commit_try_repo_runs_the_hook(tmp_path: Path) -> None:
    """pre-commit installs this repository as a hook and runs `wheelmemo init --check`."""
    pre_commit = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
    if not Path(pre_commit).exists():
        pytest.skip("pre-commit is not installed")
    git = shutil.which("git")
    assert git
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"),
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@t",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@t",
    }
    env.pop("WHEELMEMO_CACHE_DIR", None)
    project = _maturin_project(tmp_path)
    subprocess.run([git, "init", "-q"], cwd=project, check=True, env=env)
    subprocess.run([git, "add", "-A"], cwd=project, check=True, env=env)

    def try_repo() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [pre_commit, "try-repo", str(ROOT), "wheelmemo-init-check", "--all-files", "--verbose"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    failed = try_repo()
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "needs `wheelmemo init`" in failed.stdout
    assert main(["init", str(project)]) == 0
    subprocess.run([git, "add", "-A"], cwd=project, check=True, env=env)
    passed = try_repo()
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "is up to date" in passed.stdout


def test_sample_projects_keep_passing_init_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """init then --check on the maturin package of the suite, its lock removed (a fresh project)."""
    project = tmp_path / "maturin_mixed"
    shutil.copytree(PACKAGES / "maturin_mixed", project)
    lock = (project / "Cargo.lock").read_text()
    (project / "Cargo.lock").unlink()
    text = (project / "pyproject.toml").read_text()
    text = text.replace('"wheelmemo", ', "").replace('build-backend = "wheelmemo"', 'build-backend = "maturin"')
    (project / "pyproject.toml").write_text(text.split("[tool.wheelmemo]")[0])
    assert _cli(capsys, "init", str(project))[0] == 0
    (project / "Cargo.lock").write_text(lock)
    assert _cli(capsys, "init", "--check", str(project))[0] == 0


@pytest.mark.real
def test_real_maturin_new_adopted_by_init(frontends: Frontends, tmp_path: Path) -> None:
    """A project as `maturin new` writes it (no Cargo.lock, requires-python >=3.8), adopted
    with `wheelmemo init` and built twice with uv: init --check passes before and after
    the first build (which writes Cargo.lock), the second build compiles nothing, and
    maturin's "build-backend is not maturin" warning is not printed."""
    frontends.run(tool("maturin"), "new", "--bindings", "pyo3", "fresh_rs", cwd=tmp_path)
    project = tmp_path / "fresh_rs"
    assert not (project / "Cargo.lock").exists()

    def wheelmemo(*args: str) -> subprocess.CompletedProcess[str]:
        return frontends.run(sys.executable, "-m", "wheelmemo", *args, cwd=project)

    adopted = wheelmemo("init")
    assert "  build-backend: maturin → wheelmemo (maturin now under [tool.wheelmemo] backend)" in adopted.stdout
    if '">=3.8"' in (project / "pyproject.toml").read_text():  # maturin's template of today
        assert 'warning: requires-python = ">=3.8" admits Python 3.8' in adopted.stderr
    assert wheelmemo("init", "--check").returncode == 0

    frontends.uv_build(project)
    first = frontends.last_stderr
    assert "build_wheel miss (nothing cached for this project yet)" in first
    assert frontends.compiles("--crate-name fresh_rs ") == 1
    assert "is not set to `maturin`" not in first
    assert (project / "Cargo.lock").exists()
    assert wheelmemo("init", "--check").returncode == 0

    frontends.uv_build(project)
    assert "build_wheel hit" in frontends.last_stderr
    assert frontends.compiles("--crate-name fresh_rs ") == 1
    assert wheelmemo("init", "--check").returncode == 0
