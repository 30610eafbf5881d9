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
    # a new header that shadows another (the ``shadow`` operation of --compiler-cache):
    # the persistent Ninja build directory keeps the object compiled with the old one
    "skbuild-shadowing-header-ninja": {"family": "skbuild", "kind": "stale wheel", "fields": ["shared_value"]},
    "meson-shadowing-header-ninja": {"family": "meson", "kind": "stale wheel", "fields": ["shared_value"]},
    # a file only the assembler reads (``.incbin``) edited: Ninja's persistent directory keeps
    # the object; with the compiler cache, sccache returns the object made with the old file
    "skbuild-incbin-ninja": {"family": "skbuild", "kind": "stale wheel", "fields": ["fz_blob"]},
    "meson-incbin-ninja": {"family": "meson", "kind": "stale wheel", "fields": ["fz_blob"]},
    "setuptools-incbin-sccache": {"family": "setuptools", "kind": "stale wheel", "fields": ["fz_blob"]},
    "setuptools-incbin-sccache-editable": {"family": "setuptools", "kind": "stale editable", "fields": ["fz_blob"]},
}
