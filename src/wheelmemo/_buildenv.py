"""What a miss hands the inner backend: a clean build directory, and observers of its reads.

A cached result must be what a clean build would give (PEP 517: "the presence or
absence of any caches should not make a material difference").  Backends that decide
what to rebuild by timestamps alone must not reuse leftovers: setuptools' ``build_ext``
skips an extension whose output in ``build/`` is newer than its sources, so a change of
``CFLAGS``, of ``define_macros`` or of a header outside ``depends`` would give a stale
``.so``.  Per backend:

- **setuptools** (and setuptools-rust, which runs through it): ``build_base`` points to
  a fresh directory of this miss, through ``DIST_EXTRA_CONFIG`` (the last configuration
  file setuptools reads; a user's own file is merged in), so ``build_ext`` compiles
  everything and ``bdist_wheel`` stages in an empty directory.  ``*.egg-info`` is still
  written into the tree; it is an output, never an input.
- **maturin / cargo**: the target directory is wheelmemo's persistent one
  (``_builddir``), whose changed inputs never keep an old time; cargo's fingerprints
  cover sources, environment variables named by ``env!`` and ``rerun-if-env-changed``,
  flags and dependency versions.  What cargo recorded there is read afterwards
  (``_learned.cargo_learned``).
- **scikit-build-core / meson-python**: for a regular wheel, a build directory in
  wheelmemo's persistent one, configured from scratch with Ninja's state kept
  (``_ninja_builddir``), else one in this miss's scratch directory, through
  ``config_settings`` (``_buildsys.build_dir_plan``), read after the build for what the
  compilers read (``_buildsys.read_build_dirs``).
- others: called as they are; their Python reads and compilers are observed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ._learned import CargoFindings, cargo_learned
from ._recorder import Recorder

__all__ = ["SCRATCH_DIRS", "cargo_target_dirs", "observed_build"]

#: The scratch directories of the misses running in this process, outermost first: a
#: hook computed inside another's build (a build hook's ``get_requires`` answer) reads
#: the outer one's files (its ``DIST_EXTRA_CONFIG``), which are outputs of wheelmemo's,
#: never inputs.
SCRATCH_DIRS: list[str] = []


@contextlib.contextmanager
def observed_build(
    family: str,
    env: Mapping[str, str],
    known: Mapping[str, str] | None = None,
) -> Iterator[tuple[Recorder, Path]]:
    """Run the body as a miss: a scratch directory, a clean or persistent build dir
    (``env``: the variables that name it), a recorder (``known``: the declared inputs,
    by absolute path)."""
    scratch = Path(tempfile.mkdtemp(prefix="wheelmemo-build-"))
    saved: dict[str, str | None] = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    SCRATCH_DIRS.append(str(scratch))
    try:
        with Recorder(scratch, known) as recorder:
            # inside the recorder: a user's DIST_EXTRA_CONFIG read here is a learned input
            if family == "setuptools":
                saved["DIST_EXTRA_CONFIG"] = os.environ.get("DIST_EXTRA_CONFIG")
                os.environ["DIST_EXTRA_CONFIG"] = _setuptools_config(scratch)
            yield recorder, scratch
    finally:
        SCRATCH_DIRS.remove(str(scratch))
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(scratch, ignore_errors=True)


def _setuptools_config(scratch: Path) -> str:
    import configparser

    config = configparser.RawConfigParser()
    user = os.environ.get("DIST_EXTRA_CONFIG")
    if user:
        config.read(user, encoding="utf-8")
    if not config.has_section("build"):
        config.add_section("build")
    config.set("build", "build_base", str(scratch / "build"))
    path = scratch / "setup-extra.cfg"
    with open(path, "w", encoding="utf-8") as f:
        config.write(f)
    return str(path)


def cargo_target_dirs(root: Path, environ: Mapping[str, str], workspace: Path) -> list[Path]:
    """Where cargo writes for this project: ``CARGO_TARGET_DIR``, else the workspace's ``target``."""
    configured = environ.get("CARGO_TARGET_DIR")
    if configured:
        return [root / configured]
    return [workspace / "target"]


def cargo_findings(
    root: Path, pyproject: dict[str, Any], environ: Mapping[str, str], manifests: list[str]
) -> CargoFindings:
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
    from ._inputs import _load_toml

    package = _load_toml(directory / "Cargo.toml").get("package") or {}
    name = package.get("name") if isinstance(package, dict) else None
    return name if isinstance(name, str) else None


def cargo_packages(root: Path, pyproject: dict[str, Any]) -> tuple[Path, dict[str, Path]]:
    """The workspace root, and the local packages (the project's crate and its path
    dependencies) by name: build scripts' relative paths are relative to their package."""
    from ._inputs import _load_toml, cargo_inputs

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
