"""The GitHub Actions recipe of docs/how-to/github-actions.md, run as a script on two runners.

The workflow is read from the page itself (the YAML block after its ``<!-- recipe:``
comment), so the page and this test cannot drift apart: its ``run:`` steps run as
written, in order, with ``bash -e`` as GitHub's default shell runs them, and its
``uses:`` steps are played by this test:

- ``actions/checkout``: a ``git clone`` of the project's repository, at another path on
  each runner, and ``github.sha`` is the commit checked out.  Runner 2 checks out a
  later commit with the same tree (a re-run, a merge of a change elsewhere), so its
  exact key misses and the cache comes through ``restore-keys``, as on every later
  commit.
- ``actions/cache/restore`` and ``actions/cache/save``: a store of tarballs by key, with
  GitHub's rules: a key is saved once (a second save is skipped); a restore takes the
  exact key, else the newest cache whose key starts with the key, then with each
  restore key in turn.  The path is tarred as ``actions/cache`` tars it (a pax archive,
  ``--posix``: times to the nanosecond; compressed), after the steps before the save,
  and extracted at the same absolute path.
- ``astral-sh/setup-uv``: this environment's ``uv`` and ``uvx`` on ``PATH``.
- ``${{ }}`` expressions: ``runner.os``, ``github.sha``, ``hashFiles(...)`` and
  ``steps.<id>.outputs.cache-primary-key``; any other fails the test.

What a runner is here, and what is faithful: on GitHub every runner of an image has the
same home directory (``/home/runner``) and starts from the image, and ``actions/cache``
restores to the absolute path it saved.  So both runners have the same ``HOME`` path,
emptied between them (and a private ``TMPDIR``): nothing of runner 1 reaches runner 2
but the tarball.  The checkouts are at different paths, which GitHub's fixed workspace
would not even need.  What stands for the image and is shared: the compilers (behind
the counting shims of ``tests/shims``), the Rust toolchain and ``CARGO_HOME`` (the
image's), the interpreter (``setup-python``), and uv's own cache (``setup-uv``'s
``enable-cache``: downloaded packages, never a build of the project).  wheelmemo is
installed from a wheel of this checkout (``UV_FIND_LINKS``), as the README says to use
it before it is on an index.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no types (types-PyYAML does)

from realtools import ROOT, SHIMS, copy_project, tool

DOC = ROOT / "docs" / "how-to" / "github-actions.md"
MARKER = "<!-- recipe:"
#: the crate or source each project compiles: runner 1 must compile it, runner 2 nothing
PROJECTS = {"setuptools_cext": "_speed.c", "maturin_mixed": "--crate-name mixed_demo "}
GIT = ("git", "-c", "user.name=wheelmemo-test", "-c", "user.email=test@wheelmemo.invalid")


def recipe() -> dict[str, Any]:
    """The workflow of the page: the YAML block right after the recipe comment."""
    text = DOC.read_text(encoding="utf-8")
    assert MARKER in text, f"{DOC} has no {MARKER} comment before its workflow"
    after = text[text.index(MARKER) :]
    match = re.search(r"^```yaml\n(.*?)^```", after, re.DOTALL | re.MULTILINE)
    assert match, f"no ```yaml block after {MARKER} in {DOC}"
    workflow: dict[str, Any] = yaml.safe_load(match.group(1))
    return workflow


def the_job(workflow: dict[str, Any]) -> dict[str, Any]:
    (job,) = workflow["jobs"].values()
    assert isinstance(job, dict)
    return job


def hash_files(root: Path, patterns: list[str]) -> str:
    """GitHub's ``hashFiles``: a SHA-256 of the matched files' SHA-256s; '' when none matched."""
    files = sorted({p for pattern in patterns for p in root.glob(pattern) if p.is_file()})
    if not files:
        return ""
    total = hashlib.sha256()
    for path in files:
        total.update(hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()


class ActionsCache:
    """GitHub's cache service: tarballs by key, each key saved once."""

    def __init__(self, store: Path) -> None:
        self.store = store
        store.mkdir()
        self.keys: list[str] = []  # oldest first

    def restore(self, path: Path, key: str, restore_keys: list[str]) -> str | None:
        """Extract the matching cache at ``path``; the key it had, or None."""
        found = key if key in self.keys else None
        for prefix in (key, *restore_keys):
            if found is None:
                found = next((k for k in reversed(self.keys) if k.startswith(prefix)), None)
        if found is not None:
            archive = self.store / f"{self.keys.index(found)}.tar.gz"
            subprocess.run(["tar", "-xzf", str(archive), "-P"], check=True)
            assert path.is_dir(), f"the cache {found} did not restore {path}"
        return found

    def save(self, path: Path, key: str) -> bool:
        if key in self.keys or not path.is_dir():
            return False  # immutable: "Cache already exists", or nothing to save
        archive = self.store / f"{len(self.keys)}.tar.gz"
        subprocess.run(["tar", "--format=pax", "-czf", str(archive), "-P", str(path)], check=True)
        self.keys.append(key)
        return True


@dataclass
class Runner:
    """One fresh GitHub-hosted runner playing the recipe's job."""

    name: str
    home: Path
    workspace: Path
    repository: Path
    sha: str
    cache: ActionsCache
    image_env: dict[str, str]
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)

    def expand(self, text: str) -> str:
        def value(match: re.Match[str]) -> str:
            expression = match.group(1).strip()
            if expression == "runner.os":
                return "Linux"
            if expression == "github.sha":
                return self.sha
            if expression in ("!cancelled()", "always()", "success()"):
                return "true"
            call = re.fullmatch(r"hashFiles\((.*)\)", expression)
            if call:
                return hash_files(self.workspace, re.findall(r"'([^']*)'", call.group(1)))
            step = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
            if step:
                return self.outputs[step.group(1)][step.group(2)]
            pytest.fail(f"the recipe uses ${{{{ {expression} }}}}, which this test does not play")

        return re.sub(r"\$\{\{(.*?)\}\}", value, text)

    def env(self, *tables: dict[str, Any] | None) -> dict[str, str]:
        env = {**self.image_env, "HOME": str(self.home), "GITHUB_WORKSPACE": str(self.workspace)}
        for table in tables:
            env.update({k: self.expand(str(v)) for k, v in (table or {}).items()})
        return env

    def path(self, text: str, env: dict[str, str]) -> Path:
        assert text.startswith(("~/", "/")), f"path {text!r}: give an absolute or ~ path"
        return Path(env["HOME"] + text[1:]) if text.startswith("~") else Path(text)

    def run_job(self, job: dict[str, Any]) -> None:
        for step in job["steps"]:
            env = self.env(job.get("env"), step.get("env"))
            if "if" in step:
                assert self.expand(str(step["if"])).strip() == "true"
            uses, given = step.get("uses", ""), step.get("with", {})
            if uses.startswith("actions/checkout@"):
                self.checkout()
            elif uses.startswith("astral-sh/setup-uv@"):
                pass  # uv and uvx are on the image's PATH
            elif uses.startswith("actions/cache/restore@"):
                key = self.expand(given["key"])
                restore_keys = [self.expand(k) for k in given.get("restore-keys", "").splitlines() if k.strip()]
                matched = self.cache.restore(self.path(given["path"], env), key, restore_keys)
                self.log.append(f"restore {key}: {matched}")
                self.outputs[step["id"]] = {"cache-primary-key": key, "cache-matched-key": matched or ""}
            elif uses.startswith("actions/cache/save@"):
                key = self.expand(given["key"])
                self.log.append(f"save {key}: {self.cache.save(self.path(given['path'], env), key)}")
            elif "run" in step:
                self.run(self.expand(step["run"]), env)
            else:
                pytest.fail(f"the recipe's step {step} is not one this test plays")

    def checkout(self) -> None:
        subprocess.run(["git", "clone", "--quiet", str(self.repository), str(self.workspace)], check=True)
        subprocess.run(["git", "checkout", "--quiet", self.sha], cwd=self.workspace, check=True)

    def run(self, script: str, env: dict[str, str]) -> None:
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-c", script],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        self.log.append(f"$ {script}\n{result.stdout}{result.stderr}")
        assert result.returncode == 0, f"{self.name}: the recipe's step failed:\n" + "\n".join(self.log)[-8000:]


def image_env(tmp: Path, wheelhouse: Path, uv_cache: Path, compile_log: Path) -> dict[str, str]:
    """What every runner of the image has: compilers, toolchains, uv, the interpreter;
    ``tmp`` is the runner's own (its ``TMPDIR`` and the directory uv is put on PATH from)."""
    home = Path.home()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WHEELMEMO_", "PIP_", "UV_", "XDG_", "CARGO_", "RUSTUP_", "MATURIN_"))
    }
    env.pop("VIRTUAL_ENV", None)
    setup_uv = tmp / "setup-uv"
    setup_uv.mkdir(parents=True)
    (tmp / "tmp").mkdir()
    for name in ("uv", "uvx"):
        (setup_uv / name).symlink_to(tool(name))
    env.update(
        PATH=f"{setup_uv}{os.pathsep}{env['PATH']}",
        TMPDIR=str(tmp / "tmp"),
        CARGO_HOME=os.environ.get("CARGO_HOME") or str(home / ".cargo"),
        RUSTUP_HOME=os.environ.get("RUSTUP_HOME") or str(home / ".rustup"),
        UV_PYTHON=sys.executable,
        UV_CACHE_DIR=str(uv_cache),
        UV_FIND_LINKS=str(wheelhouse),
        RUSTC_WRAPPER=str(SHIMS / "rustc_wrapper"),
        CC=str(SHIMS / "cc_wrapper"),
        WHEELMEMO_TEST_COMPILE_LOG=str(compile_log),
    )
    return env


def repository(name: str, tmp: Path) -> tuple[Path, str, str]:
    """A git repository of the project: its first commit, and a later one of the same tree."""
    repo = copy_project(name, tmp / "origin")
    subprocess.run([*GIT, "init", "--quiet", "-b", "main"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "--quiet", "-m", "first"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "--quiet", "--allow-empty", "-m", "later"], cwd=repo, check=True)
    shas = subprocess.run(
        ["git", "rev-list", "--reverse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    return repo, shas[0], shas[1]


def test_recipe_prunes_before_it_saves_what_it_restored() -> None:
    """The page's workflow, read as the real test reads it: one restore, a build, a
    prune, then a save of the same path under the restore step's primary key."""
    job = the_job(recipe())
    steps = job["steps"]
    kinds = [str(s.get("uses", "")).split("@")[0] or s["run"].split()[0] for s in steps]
    restore, save = kinds.index("actions/cache/restore"), kinds.index("actions/cache/save")
    prune = next(i for i, s in enumerate(steps) if "wheelmemo prune --max-size" in s.get("run", ""))
    build = next(i for i, s in enumerate(steps) if s.get("run", "").startswith("uv build"))
    assert restore < build < prune < save
    assert steps[restore]["with"]["path"] == steps[save]["with"]["path"] == job["env"]["WHEELMEMO_CACHE_DIR"]
    assert steps[save]["with"]["key"] == f"${{{{ steps.{steps[restore]['id']}.outputs.cache-primary-key }}}}"
    key = steps[restore]["with"]["key"]
    for prefix in steps[restore]["with"]["restore-keys"].splitlines():
        assert key.startswith(prefix), f"restore key {prefix!r} is no prefix of the key {key!r}"


@pytest.mark.parametrize("page", ["github-actions.md", "cibuildwheel.md", "maturin-action.md"])
def test_how_to_snippets_are_valid_yaml_and_toml(page: str) -> None:
    """Every YAML and TOML block of the CI how-to pages parses (a user pastes them)."""
    text = (DOC.parent / page).read_text(encoding="utf-8")
    blocks = re.findall(r"^```(yaml|toml)\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    assert blocks
    for kind, body in blocks:
        parsed = yaml.safe_load(body) if kind == "yaml" else tomllib.loads(body)
        assert parsed, body


@pytest.mark.real
@pytest.mark.skipif(sys.platform == "win32", reason="the recipe's runner is ubuntu-latest: bash, tar, HOME")
@pytest.mark.parametrize("name", sorted(PROJECTS))
def test_second_runner_compiles_nothing(name: str, wheelhouse: Path, uv_cache: Path, tmp_path: Path) -> None:
    """Runner 1 starts cold and compiles the project; runner 2, a later commit of the same
    tree in another checkout with an emptied home, restores runner 1's cache through
    ``restore-keys``, and its ``uv build`` (an sdist, then a wheel from it) compiles
    nothing, logs a hit and gives runner 1's wheel, byte for byte."""
    job = the_job(recipe())
    repo, first, later = repository(name, tmp_path)
    home = tmp_path / "home" / "runner"  # the same path on both runners, emptied between
    cache = ActionsCache(tmp_path / "actions-cache")
    compiles: dict[str, list[str]] = {}
    wheels: dict[str, Path] = {}
    runners = [("runner-1", tmp_path / "r1" / "work" / name, first), ("runner-2", tmp_path / "r2" / "w" / "x", later)]
    for runner_name, workspace, sha in runners:
        shutil.rmtree(home.parent, ignore_errors=True)
        home.mkdir(parents=True)
        log = tmp_path / f"{runner_name}-compiles.log"
        env = image_env(tmp_path / runner_name, wheelhouse, uv_cache, log)
        runner = Runner(runner_name, home, workspace, repo, sha, cache, env)
        runner.run_job(job)
        compiles[runner_name] = log.read_text().splitlines() if log.exists() else []
        (wheel,) = (workspace / "dist").glob("*.whl")
        wheels[runner_name] = wheel
        if runner_name == "runner-1":
            assert any(PROJECTS[name] in line for line in compiles[runner_name]), "runner 1 must build"
            assert cache.keys, "runner 1 saved no cache:\n" + "\n".join(runner.log)
        else:
            output = "\n".join(runner.log)
            assert compiles[runner_name] == [], f"runner 2 compiled:\n{compiles[runner_name]}\n{output[-6000:]}"
            assert "build_wheel hit" in output and "build_wheel miss" not in output, output[-6000:]
            # through restore-keys: runner 1's cache, under its own key
            assert f"restore {cache.keys[0][: -len(first)]}{later}: {cache.keys[0]}" in output, output[-6000:]
    assert wheels["runner-2"].name == wheels["runner-1"].name
    assert wheels["runner-2"].read_bytes() == wheels["runner-1"].read_bytes()
