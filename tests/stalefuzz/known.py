"""Failures the fuzzer knows: what a found failure looks like, while its fix is pending.

A failure the fuzzer finds again that matches one of these (same family and kind,
only these ``probe()`` fields or members differ (if ``fields`` is given), a frontend listed if any are, the
detail containing ``text`` if given) is counted under its name and the world goes on,
instead of being shrunk again: so that a long run keeps searching for new ones.  Each
name is a step list in ``tests/test_stale_fuzz.py`` (``FOUND``) replayed by a test that
fails on the code that has the bug; when a fix lands, its entry here goes.
"""

from __future__ import annotations

from typing import Any

KNOWN: dict[str, dict[str, Any]] = {
    "setuptools-environb": {"family": "setuptools", "kind": "stale wheel", "fields": ["fz_envb"]},
    "setuptools-environb-editable": {"family": "setuptools", "kind": "stale editable", "fields": ["fz_envb"]},
    "hatchling-environb": {"family": "hatchling", "kind": "stale wheel", "fields": ["envb", "member fzh_baked.py"]},
    "hatchling-environb-editable": {"family": "hatchling", "kind": "stale editable", "fields": ["envb"]},
    # a NEW bug (not in the issue): wheelmemo's editable .pth imports its finder, which
    # fails in the interpreter maturin runs under pip's build environment
    "maturin-editable-pth-breaks-pip": {
        "family": "maturin", "kind": "wheelmemo failed where the plain build succeeds",
        "frontends": ["pip-e"], "text": "_wheelmemo_editable_fzr.pth"},
}
