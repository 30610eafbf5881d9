"""What an sdist unpacks to, so that a wheel built from the unpacked copy meets the tree's.

uv build and python -m build make the sdist in the tree, unpack it into a temporary
directory and build the wheel there.  At ``build_sdist`` time wheelmemo unpacks the
sdist itself and fingerprints the copy exactly as ``build_wheel`` will fingerprint the
frontend's copy (same walk, same exclusions, content only), and records that
fingerprint -> the tree's inputs digest.  Paths and temporary directories never count.
"""

from __future__ import annotations

import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path

from ._inputs import StatCache, collect_inputs
from ._key import inputs_digest
from ._settings import load_project, load_settings

__all__ = ["unpacked_inputs_digest"]


def unpacked_inputs_digest(sdist: Path, family: str, environ: Mapping[str, str]) -> str | None:
    """The inputs digest of ``sdist`` once unpacked; ``None`` for a format we do not read."""
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
        project = load_project(tops[0])
        settings, _ = load_settings(project, None, environ)
        inputs = collect_inputs(tops[0], project.pyproject, backend=family, include=settings.inputs,
                                exclude=settings.exclude, stat_cache=StatCache(None))
    return inputs_digest(inputs)
