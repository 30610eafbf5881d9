"""What an sdist unpacks to, so that a wheel built from the unpacked copy meets the tree's.

uv build and python -m build make the sdist in the tree, unpack it into a temporary
directory and build the wheel there.  At ``build_sdist`` time wheelmemo unpacks the
sdist itself and fingerprints the copy exactly as ``build_wheel`` will fingerprint the
frontend's copy (same walk, same exclusions, content only), and records that
fingerprint -> the tree's inputs digest, with the project files the copy lacks, adds
or changes.  The wheel built in the copy may share the tree's result only when the
tree's build read or shipped none of those files (``Memo._mismatch``): an sdist is
not the tree (hatchling's ``sdist.exclude``, MANIFEST rules).  Paths and temporary
directories never count.

Differences that are not differences: ``PKG-INFO``, which every sdist adds, the
``[egg_info] tag_build = / tag_date = 0`` lines setuptools writes into the sdist's
``setup.cfg`` (they set what an absent section sets), and descriptive fields maturin
adds to the ``[package]`` table of the ``Cargo.toml`` it ships (``readme``).
"""

from __future__ import annotations

import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ._inputs import StatCache, collect_inputs
from ._key import inputs_digest
from ._settings import load_project, load_settings

__all__ = ["compare_unpacked", "tree_files"]


def tree_files(sdist: Path, tree: Path) -> dict[str, str]:
    """The files of ``tree`` that ``sdist`` holds, path -> "the sdist": what an sdist is
    made of, whether or not the backend was seen reading them (maturin, a Rust program,
    reads what no audit hook sees: a gitignored file its ``include`` ships).  Learned as
    inputs of the sdist, so that an edit of one is a miss; none for a format not read."""
    from ._records import is_relative_name

    if not sdist.name.endswith(".tar.gz"):
        return {}
    with tarfile.open(sdist) as tf:
        names = [member.name for member in tf.getmembers() if member.isfile()]
    found: dict[str, str] = {}
    for name in names:
        parts = name.split("/")[1:]
        # where the tree's files sit in the archive depends on the backend: maturin, given
        # a path dependency outside the project, ships the project one level down
        # (``fzr-1.0.0/proj/src/lib.rs``); every tail that names a file of the tree is
        # taken: one too many can only make a miss
        for start in range(len(parts)):
            relative = "/".join(parts[start:])
            if is_relative_name(relative) and (tree / relative).is_file():
                found[str(tree / relative)] = "the sdist"
    return found


def compare_unpacked(
    sdist: Path,
    family: str,
    environ: Mapping[str, str],
    tree: Path,
    tree_inputs: Mapping[str, str],
) -> tuple[str, list[str], list[str]] | None:
    """The inputs digest of ``sdist`` once unpacked, the project files where it differs
    from the ``tree`` it was made from, and those whose bytes differ to the same effect
    (``PKG-INFO`` always); ``None`` for a format we do not read."""
    if not sdist.name.endswith(".tar.gz"):
        return None
    with tempfile.TemporaryDirectory(prefix="wheelmemo-sdist-") as tmp, tarfile.open(sdist) as tf:
        if hasattr(tarfile, "data_filter"):
            tf.extractall(tmp, filter="data")
        elif any(m.name.startswith("/") or ".." in m.name.split("/") for m in tf):
            return None  # pragma: no cover - Python < 3.11.4 without the data filter
        else:  # pragma: no cover
            tf.extractall(tmp)
        tops = list(Path(tmp).iterdir())
        if len(tops) != 1:
            return None
        top = tops[0]
        project = load_project(top)
        settings, _ = load_settings(project, None, environ)
        inputs = collect_inputs(
            top,
            project.pyproject,
            backend=family,
            include=settings.inputs,
            exclude=settings.exclude,
            stat_cache=StatCache(None),
        )
        changed = [
            label
            for label in sorted(set(inputs) | set(tree_inputs))
            if not label.startswith("/") and inputs.get(label) != tree_inputs.get(label)
        ]
        equivalent = [
            "PKG-INFO",
            *(
                label
                for label in changed
                if label != "PKG-INFO" and _equivalent(label, top, tree, label in tree_inputs)
            ),
        ]
    return inputs_digest(inputs), [label for label in changed if label not in equivalent], equivalent


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


def _equivalent(label: str, unpacked: Path, tree: Path, tree_has_it: bool) -> bool:
    """Whether a file the sdist changed is the tree's as far as any build is concerned."""
    name = label.rsplit("/", 1)[-1]
    normalize = {"setup.cfg": _setup_cfg_sections, "Cargo.toml": _cargo_manifest}.get(name)
    if normalize is None:
        return False
    try:
        return normalize(unpacked / label) == normalize(tree / label if tree_has_it else None)
    except (OSError, ValueError, UnicodeDecodeError):
        return False


def _setup_cfg_sections(path: Path | None) -> object:
    """setup.cfg without the ``[egg_info] tag_build = / tag_date = 0`` setuptools adds."""
    import configparser

    parser = configparser.RawConfigParser()
    if path is not None:
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as e:
            raise ValueError(str(e)) from None
    found = {name: dict(parser.items(name)) for name in parser.sections()}
    tags = found.get("egg_info", {})
    if tags.get("tag_build", None) == "" and tags.get("tag_date", None) == "0":
        del tags["tag_build"], tags["tag_date"]
    return {name: values for name, values in found.items() if values}


def _cargo_manifest(path: Path | None) -> object:
    """A Cargo.toml without the descriptive fields of its [package] table."""
    if path is None:
        return None
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    with open(path, "rb") as f:
        try:
            manifest = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(str(e)) from None
    package = manifest.get("package")
    if isinstance(package, dict):
        manifest["package"] = {k: v for k, v in package.items() if k not in _CARGO_DESCRIPTIVE}
    return manifest
