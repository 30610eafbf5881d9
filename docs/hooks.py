"""MkDocs hook: the reference pages are generated from the code (wheelmemo._reference).

A page holding ``<!-- wheelmemo:settings -->`` or ``<!-- wheelmemo:cli -->`` gets the
settings table of ``_settings`` or the help of every command of ``_cli``'s parser there.
"""

from __future__ import annotations

from typing import Any

MARKERS = {"<!-- wheelmemo:settings -->": "settings_markdown", "<!-- wheelmemo:cli -->": "cli_markdown"}


def on_page_markdown(markdown: str, **_: Any) -> str:
    from wheelmemo import _reference

    for marker, function in MARKERS.items():
        if marker in markdown:
            markdown = markdown.replace(marker, getattr(_reference, function)())
    return markdown
