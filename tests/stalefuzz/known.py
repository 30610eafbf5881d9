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
    # none pending: every failure found so far is fixed on main (tests/test_stale_fuzz.py)
}
