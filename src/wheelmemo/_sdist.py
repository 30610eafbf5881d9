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

Differences that are not differences: ``PKG-INFO``, which every sdist adds, and what
the backend's adapter says of a file it changes (``Adapter.sdist_normalizers``:
setuptools' ``[egg_info]`` tags in ``setup.cfg``, maturin's ``readme`` in ``Cargo.toml``).
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from ._inputs import StatCache, collect_inputs
from ._key import inputs_digest
from ._settings import load_project, load_settings

if TYPE_CHECKING:
    from .backends import Adapter

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
    adapter: Adapter,
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
            adapter=adapter,
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
                if label != "PKG-INFO" and _equivalent(adapter, label, top, tree, label in tree_inputs)
            ),
        ]
    return inputs_digest(inputs), [label for label in changed if label not in equivalent], equivalent


def _equivalent(adapter: Adapter, label: str, unpacked: Path, tree: Path, tree_has_it: bool) -> bool:
    """Whether a file the sdist changed is the tree's as far as the backend's build is concerned."""
    name = label.rsplit("/", 1)[-1]
    normalize = adapter.sdist_normalizers().get(name)
    if normalize is None:
        return False
    try:
        return normalize(unpacked / label) == normalize(tree / label if tree_has_it else None)
    except (OSError, ValueError, UnicodeDecodeError):
        return False
