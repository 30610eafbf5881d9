"""cargo: maturin, and the cargo side of setuptools-rust (a plugin of setuptools).

**The key.**  Besides cargo's and rustc's variables (``ENV``), a build that runs cargo
is keyed on ``rustc -vV`` (memoized by the stat of rustup's state: ``toolchain_part``),
and, for maturin, on what cargo reads outside the tree, parsed from the manifests
rather than asked of ``cargo metadata`` (which costs a process and may touch the
network on every hook call): path dependencies, workspace manifests and
``Cargo.lock``, ``.cargo/config.toml`` in ancestor directories and ``CARGO_HOME``
(``cargo_inputs``).  setuptools-rust's crates are named in ``setup.py``, which is not
read: what they read is learned.

**The build directory.**  cargo's target directory is wheelmemo's persistent build
directory (``_builddir``): ``CARGO_TARGET_DIR`` points into it, and
``MATURIN_PEP517_USE_BASE_PYTHON=1`` (setuptools-rust's
``SETUPTOOLS_RUST_PEP517_USE_BASE_PYTHON=1``) keeps pyo3's build script (which keys on
the interpreter's path) from rebuilding pyo3 in every new isolated environment.  Any
one set by the user wins, and then the directory is the user's.  Its changed inputs never
keep an old time (``_builddir``'s stamps); cargo's fingerprints cover sources,
environment variables named by ``env!`` and ``rerun-if-env-changed``, flags and
dependency versions.

**Learned inputs.**  After a miss, rustc's dep-info files (``*.d``, with ``# env-dep:``
lines) and build scripts' ``rerun-if-changed`` / ``rerun-if-env-changed`` (in the
``cargo:`` and ``cargo::`` forms) in the target directories (``cargo_learned``,
``cargo_findings``).  cargo's registry and git checkouts are keyed by ``Cargo.lock``.

**The sdist.**  maturin adds descriptive fields (``readme``) to the ``[package]`` table
of the ``Cargo.toml`` it ships: they change nothing rustc builds (``cargo_manifest``).

**A miss** sets ``MATURIN_NO_MISSING_BUILD_BACKEND_WARNING``: maturin's warning that
``build-backend`` is not maturin is wrong for a project built through wheelmemo.

**init** keys ``.cargo/config.toml`` by itself (a pattern of ``.cargo/`` would take in
what else lives there), and ``Cargo.lock`` before the first build writes it
(``cargo_lock``).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._walk import tool_signature
from . import COMPILERS, Adapter, Findings

if TYPE_CHECKING:
    from .._compcache import Launcher

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "ENV_PATTERNS",
    "Cargo",
    "adapter",
    "cargo_findings",
    "cargo_inputs",
    "cargo_learned",
    "cargo_lock",
    "cargo_packages",
    "plug",
    "toolchain_part",
]

ENV_PATTERNS = frozenset(
    {
        "RUSTFLAGS",
        "RUSTDOCFLAGS",
        "CARGO_*",
        "MATURIN_*",
        "PYO3_*",
        "RUSTC",
        "RUSTC_WRAPPER",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTUP_TOOLCHAIN",
        "TARGET_*",
        "HOST_*",
        *COMPILERS,
    }
)


class Cargo(Adapter):
    """A build that runs cargo: maturin's (``host`` None), or another family's with a
    cargo plugin (``host``: setuptools' adapter under setuptools-rust), which answers
    every question cargo has nothing to add to."""

    env = tuple(sorted(ENV_PATTERNS))
    takes_build_dir = True

    def __init__(self, family: str, host: Adapter | None = None) -> None:
        super().__init__(family)
        self.host = host
        self.always_compiles = host is None or host.always_compiles

    def __repr__(self) -> str:
        return f"<Cargo {self.family}{f' on {self.host!r}' if self.host else ''}>"

    def env_patterns(self) -> frozenset[str]:
        return ENV_PATTERNS | (self.host.env_patterns() if self.host else frozenset())

    def toolchain(self, memo: dict[str, Any], environ: Mapping[str, str]) -> str | None:
        return toolchain_part(memo, environ)

    def outside_inputs(self, root: Path, pyproject: dict[str, Any]) -> dict[str, str]:
        if self.host is not None:  # its crates are named in setup.py: learned, not declared
            return self.host.outside_inputs(root, pyproject)
        return _cargo_files(root, pyproject)

    def outside_copy(self, root: Path, pyproject: dict[str, Any]) -> object:
        # path dependencies and cargo's configuration and workspace in ancestor
        # directories, by path (CARGO_HOME's may be an ancestor's too: a set)
        dirs, files = cargo_inputs(root, pyproject)
        real = root.resolve()
        return (
            sorted(str(d) for d in dirs if d != real and real not in d.parents),
            sorted({str(f) for f in files if real not in f.parents}),
            self.host.outside_copy(root, pyproject) if self.host else None,
        )

    def scratch_env(self, scratch: Path) -> dict[str, str]:
        if self.host:
            return self.host.scratch_env(scratch)
        # maturin (1.7+) warns on every build whose pyproject.toml's build-backend is
        # not maturin, "packaging tools such as pip will not use maturin": through
        # wheelmemo they do. Only that warning goes (maturin only asks whether it is set).
        return {"MATURIN_NO_MISSING_BUILD_BACKEND_WARNING": "1"}

    def build_dir_env(self, build_dir: Path, environ: Mapping[str, str]) -> dict[str, str]:
        env: dict[str, str] = {}
        if "CARGO_TARGET_DIR" not in environ:
            env["CARGO_TARGET_DIR"] = str(build_dir / "target")
            # pyo3's build script keys on the interpreter's path, new in every isolated
            # environment: both backends can hand it the base interpreter instead
            for name in ("MATURIN_PEP517_USE_BASE_PYTHON", "SETUPTOOLS_RUST_PEP517_USE_BASE_PYTHON"):
                if name not in environ:
                    env[name] = "1"
        return env

    def fresh_build_env(self, directory: Path) -> dict[str, str]:
        return {"CARGO_TARGET_DIR": str(directory)}

    @property
    def launcher_vars(self) -> tuple[str, ...]:  # type: ignore[override]
        return ("RUSTC_WRAPPER", "CARGO_BUILD_RUSTC_WRAPPER", *(self.host.launcher_vars if self.host else ()))

    def compiler_launcher_env(self, launcher: Launcher, environ: Mapping[str, str]) -> dict[str, str]:
        env = self.host.compiler_launcher_env(launcher, environ) if self.host else {}
        if not (environ.get("RUSTC_WRAPPER") or environ.get("CARGO_BUILD_RUSTC_WRAPPER")):
            env["RUSTC_WRAPPER"] = launcher.rustc_wrapper
        return env

    def learned_inputs(
        self, root: Path, pyproject: dict[str, Any], environ: Mapping[str, str], declared: Iterable[str]
    ) -> Findings | None:
        manifests = [label for label in declared if label.rsplit("/", 1)[-1] == "Cargo.toml"]
        return cargo_findings(root, pyproject, environ, manifests)

    def sdist_normalizers(self) -> dict[str, Callable[[Path | None], object]]:
        return {**(self.host.sdist_normalizers() if self.host else {}), "Cargo.toml": cargo_manifest}

    def cache_key_alone(self, label: str) -> bool:
        return label.startswith(".cargo/") or (self.host is not None and self.host.cache_key_alone(label))

    def written_inputs(self, root: Path, pyproject: dict[str, Any]) -> list[str]:
        lock = cargo_lock(root, pyproject)
        resolved = root.resolve()
        inside = lock is not None and resolved in lock.parents
        return [Path(os.path.relpath(lock, resolved)).as_posix()] if lock is not None and inside else []


def adapter(family: str) -> Adapter:
    return Cargo(family)


def plug(host: Adapter) -> Adapter:
    """``host``'s family with a cargo plugin (setuptools-rust)."""
    return host if isinstance(host, Cargo) else Cargo(host.family, host)


def _load_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def toolchain_part(memo: dict[str, Any], environ: Mapping[str, str]) -> str:
    """``rustc -vV`` for cargo-based backends, re-run only when rustup's state changes.

    ``memo`` is the persistent stat-cache dict; rustup picks the toolchain from its
    settings file, its toolchains directory, ``RUSTUP_TOOLCHAIN`` and the tree's
    ``rust-toolchain(.toml)`` (the latter is an input file anyway).
    """
    import shutil

    rustc = environ.get("RUSTC") or shutil.which("rustc", path=environ.get("PATH"))
    if not rustc:
        return "rustc: not found"
    rustup_home = environ.get("RUSTUP_HOME") or os.path.join(os.path.expanduser("~"), ".rustup")
    toolchains = os.path.join(rustup_home, "toolchains")
    try:
        installed = sorted(os.listdir(toolchains))
    except OSError:
        installed = []
    probe = json.dumps(
        [
            rustc,
            tool_signature(os.path.realpath(rustc)),
            tool_signature(os.path.join(rustup_home, "settings.toml")),
            [[t, tool_signature(os.path.join(toolchains, t))] for t in installed],
            environ.get("RUSTUP_TOOLCHAIN"),
            os.getcwd(),
        ]
    )
    cached = memo.get("toolchain")
    if isinstance(cached, list) and len(cached) == 2 and cached[0] == probe:
        return str(cached[1])
    import subprocess

    try:
        out = subprocess.run(
            [rustc, "-vV"], capture_output=True, text=True, check=True, env=dict(environ), stdin=subprocess.DEVNULL
        ).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        return f"rustc: {e}"
    memo["toolchain"] = [probe, out]
    return out


def _dep_tables(manifest: dict[str, Any]) -> Iterable[dict[str, Any]]:
    for name in ("dependencies", "build-dependencies", "dev-dependencies"):
        table = manifest.get(name)
        if isinstance(table, dict):
            yield table
    for target in (manifest.get("target") or {}).values():
        if isinstance(target, dict):
            yield from _dep_tables(target)
    for table in (manifest.get("patch") or {}).values():
        if isinstance(table, dict):
            yield table
    workspace = manifest.get("workspace")
    if isinstance(workspace, dict) and isinstance(workspace.get("dependencies"), dict):
        yield workspace["dependencies"]


def cargo_inputs(root: Path, pyproject: dict[str, Any]) -> tuple[list[Path], list[Path]]:
    """What cargo reads outside the tree: (path-dependency dirs, single files).

    Parsed from the manifests rather than asked of ``cargo metadata``, which costs a
    process and may touch the network on every hook call.
    """
    maturin = ((pyproject.get("tool") or {}).get("maturin")) or {}
    manifest_path = (root / maturin.get("manifest-path", "Cargo.toml")).resolve()
    if not manifest_path.is_file():
        return [], []
    dirs: list[Path] = []
    files: list[Path] = []
    # cargo configuration and the workspace root live in ancestor directories
    for parent in manifest_path.parents:
        for name in (".cargo/config.toml", ".cargo/config"):
            if (parent / name).is_file():
                files.append(parent / name)
        if parent != manifest_path.parent and (parent / "Cargo.toml").is_file():
            workspace = _load_toml(parent / "Cargo.toml")
            if "workspace" in workspace:
                files += [p for p in (parent / "Cargo.toml", parent / "Cargo.lock") if p.is_file()]
                _walk_path_deps(parent / "Cargo.toml", workspace, dirs)
    cargo_home = Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo")
    files += [p for p in (cargo_home / "config.toml", cargo_home / "config") if p.is_file()]
    _walk_path_deps(manifest_path, _load_toml(manifest_path), dirs)
    return dirs, files


def cargo_lock(root: Path, pyproject: dict[str, Any]) -> Path | None:
    """The ``Cargo.lock`` cargo writes for the project's manifest, whether or not it
    exists yet: the workspace root's (an ancestor manifest with ``[workspace]``), else
    the manifest's own; None without a manifest."""
    maturin = ((pyproject.get("tool") or {}).get("maturin")) or {}
    manifest_path: Path = (root / maturin.get("manifest-path", "Cargo.toml")).resolve()
    if not manifest_path.is_file():
        return None
    for parent in manifest_path.parents:
        if parent != manifest_path.parent and "workspace" in _load_toml(parent / "Cargo.toml"):
            return parent / "Cargo.lock"
    return manifest_path.parent / "Cargo.lock"


def _walk_path_deps(manifest_path: Path, manifest: dict[str, Any], seen: list[Path]) -> None:
    for table in _dep_tables(manifest):
        for spec in table.values():
            if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                dep = (manifest_path.parent / spec["path"]).resolve()
                if dep not in seen and (dep / "Cargo.toml").is_file():
                    seen.append(dep)
                    _walk_path_deps(dep / "Cargo.toml", _load_toml(dep / "Cargo.toml"), seen)


def _cargo_files(root: Path, pyproject: dict[str, Any]) -> dict[str, str]:
    """Label -> path of what cargo reads outside the tree, labelled relative to it."""
    from .._inputs import SKIP_DIRS
    from .._walk import list_tree

    dirs, files = cargo_inputs(root, pyproject)
    resolved_root = root.resolve()
    found: dict[str, str] = {}
    for directory in dirs:
        if directory == resolved_root or resolved_root in directory.parents:
            continue  # inside the tree: already walked
        for rel in list_tree(directory, skip_dirs=SKIP_DIRS | {"target"}):
            dep_file = directory / rel
            found[Path(os.path.relpath(dep_file, resolved_root)).as_posix()] = str(dep_file)
    for outside in files:
        if resolved_root not in outside.parents:
            # by absolute path: the same file whatever the tree's depth (an unpacked sdist)
            found[outside.as_posix()] = str(outside)
    return found


#: Variables cargo sets for rustc and build scripts itself (``env!("OUT_DIR")``): their
#: values come from cargo, whatever the environment says; ``CARGO_*`` is keyed anyway.
CARGO_SETS = frozenset(
    {"OUT_DIR", "TARGET", "HOST", "PROFILE", "OPT_LEVEL", "DEBUG", "NUM_JOBS", "RUSTC_LINKER", "RUSTDOC"}
)


_ENV_DEP = re.compile(r"^# env-dep:([^=\n]+)(?:=.*)?$", re.MULTILINE)


_RERUN = re.compile(r"^cargo::?rerun-if-(changed|env-changed)=(.*)$", re.MULTILINE)


def cargo_learned(target_dirs: Iterable[Path], packages: Mapping[str, Path], workspace: Path) -> Findings:
    """Read every dep-info and build-script ``output`` file under the target dirs.

    All of them, not only those this build wrote: a unit that cargo found fresh is part
    of the build too, and its files are as old as the build that made it.  A superset
    can only cause a miss.  ``packages`` maps local package names to their directories
    (build scripts' relative paths are relative to their package); rustc's relative
    paths are relative to the workspace root, where cargo runs it.
    """
    from .._recorder import parse_make_deps

    target_dirs = list(target_dirs)
    findings = Findings(target_dirs)
    for target in target_dirs:
        if not target.is_dir():
            continue
        for dep_info in _glob_any(
            target, ("*/deps/*.d", "*/*/deps/*.d", "*/build/*/*.d", "*/*/build/*/*.d", "*/*.d", "*/*/*.d")
        ):
            try:
                text = dep_info.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError:
                continue
            for dep in parse_make_deps(text):
                findings.files.setdefault(str(workspace / dep), "rustc")
            for name in _ENV_DEP.findall(text):
                if name not in CARGO_SETS:  # cargo's own value, not the environment's
                    findings.env.setdefault(name, "rustc (env!)")
        for output in _glob_any(target, ("*/build/*/output", "*/*/build/*/output")):
            package = output.parent.name.rpartition("-")[0]
            try:
                text = output.read_text(encoding="utf-8", errors="surrogateescape")
            except OSError:
                continue
            base = packages.get(package)
            for what, raw in _RERUN.findall(text):
                value = raw.strip()
                source = f"build script of {package}"
                if what == "env-changed":
                    findings.env.setdefault(value, source)
                elif base is not None:  # a registry crate's files are covered by Cargo.lock
                    findings.files.setdefault(str(base / value), source)
    return findings


def _glob_any(root: Path, patterns: Iterable[str]) -> Iterator[Path]:
    seen: set[Path] = set()
    for pattern in patterns:
        for path in root.glob(pattern):
            if path not in seen:
                seen.add(path)
                yield path


def cargo_target_dirs(root: Path, environ: Mapping[str, str], workspace: Path) -> list[Path]:
    """Where cargo writes for this project: ``CARGO_TARGET_DIR``, else the workspace's ``target``."""
    configured = environ.get("CARGO_TARGET_DIR")
    if configured:
        return [root / configured]
    return [workspace / "target"]


def cargo_findings(root: Path, pyproject: dict[str, Any], environ: Mapping[str, str], manifests: list[str]) -> Findings:
    """What cargo's dep-info and build-script outputs say the build of ``root`` read.

    ``manifests``: the project's ``Cargo.toml`` files (labels).  maturin builds the one
    its settings name; setuptools-rust may build any of them, each with its own target
    directory next to it unless ``CARGO_TARGET_DIR`` says otherwise.
    """
    workspace, packages = cargo_packages(root, pyproject)
    crates = [(root / label).parent.resolve() for label in manifests]
    for crate in crates:
        name = _package_name(crate)
        if name is not None:
            packages.setdefault(name, crate)
    findings = cargo_learned(cargo_target_dirs(root, environ, workspace), packages, workspace)
    if environ.get("CARGO_TARGET_DIR"):
        return findings  # one target directory for every crate: read above
    for crate in crates:
        if crate != workspace:  # its own target dir; rustc's relative paths are the crate's
            nested = cargo_learned([crate / "target"], packages, crate)
            for path, source in nested.files.items():
                findings.files.setdefault(path, source)
            for name, source in nested.env.items():
                findings.env.setdefault(name, source)
            findings.target_dirs += nested.target_dirs
    return findings


def _package_name(directory: Path) -> str | None:
    package = _load_toml(directory / "Cargo.toml").get("package") or {}
    name = package.get("name") if isinstance(package, dict) else None
    return name if isinstance(name, str) else None


def cargo_packages(root: Path, pyproject: dict[str, Any]) -> tuple[Path, dict[str, Path]]:
    """The workspace root, and the local packages (the project's crate and its path
    dependencies) by name: build scripts' relative paths are relative to their package."""
    maturin = ((pyproject.get("tool") or {}).get("maturin")) or {}
    manifest = (root / maturin.get("manifest-path", "Cargo.toml")).resolve()
    workspace = manifest.parent
    for parent in list(manifest.parents)[1:]:
        if "workspace" in _load_toml(parent / "Cargo.toml"):
            workspace = parent  # the nearest enclosing workspace, as cargo finds it
            break
    dirs, _ = cargo_inputs(root, pyproject)
    packages: dict[str, Path] = {}
    for directory in [manifest.parent, *dirs]:
        name = _package_name(directory)
        if name is not None:
            packages[name] = directory
    return workspace, packages


#: Fields of a Cargo.toml [package] table that describe the package and change nothing
#: rustc builds: maturin's sdist adds ``readme`` to the manifest it ships.
_CARGO_DESCRIPTIVE = frozenset(
    {
        "readme",
        "description",
        "license",
        "license-file",
        "authors",
        "repository",
        "homepage",
        "documentation",
        "keywords",
        "categories",
        "include",
        "exclude",
        "publish",
    }
)


def cargo_manifest(path: Path | None) -> object:
    """A Cargo.toml without the descriptive fields of its [package] table."""
    if path is None:
        return None
    with open(path, "rb") as f:
        try:
            manifest = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(str(e)) from None
    package = manifest.get("package")
    if isinstance(package, dict):
        manifest["package"] = {k: v for k, v in package.items() if k not in _CARGO_DESCRIPTIVE}
    return manifest
