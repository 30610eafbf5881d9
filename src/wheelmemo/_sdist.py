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

Differences that are not differences: ``PKG-INFO``, which every sdist adds, and the
``[egg_info] tag_build = / tag_date = 0`` lines setuptools writes into the sdist's
``setup.cfg`` (they set what an absent section sets).
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ._inputs import StatCache, collect_inputs
from ._key import inputs_digest
from ._settings import load_project, load_settings

__all__ = ["compare_unpacked"]


def compare_unpacked(
    sdist: Path, family: str, environ: Mapping[str, str], tree: Path, tree_inputs: Mapping[str, str],
) -> tuple[str, list[str]] | None:
    """The inputs digest of ``sdist`` once unpacked, and the project files where it differs
    from the ``tree`` it was made from; ``None`` for a format we do not read."""
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
        inputs = collect_inputs(top, project.pyproject, backend=family, include=settings.inputs,
                                exclude=settings.exclude, stat_cache=StatCache(None))
        differs = sorted(
            label for label in set(inputs) | set(tree_inputs)
            if not label.startswith("/") and label != "PKG-INFO"
            and inputs.get(label) != tree_inputs.get(label)
            and not (label == "setup.cfg" and _same_setup_cfg(top, tree, label in tree_inputs))
        )
    return inputs_digest(inputs), differs


def _same_setup_cfg(unpacked: Path, tree: Path, tree_has_it: bool) -> bool:
    """Whether the sdist's setup.cfg is the tree's plus setuptools' egg_info tag lines."""
    import configparser

    def sections(path: Path | None) -> dict[str, dict[str, str]]:
        parser = configparser.RawConfigParser()
        if path is not None:
            parser.read(path, encoding="utf-8")
        found = {name: dict(parser.items(name)) for name in parser.sections()}
        tags = found.get("egg_info", {})
        if tags.get("tag_build", None) == "" and tags.get("tag_date", None) == "0":
            del tags["tag_build"], tags["tag_date"]
        return {name: values for name, values in found.items() if values}

    try:
        return sections(unpacked / "setup.cfg") == sections(tree / "setup.cfg" if tree_has_it else None)
    except (OSError, configparser.Error, UnicodeDecodeError):
        return False
