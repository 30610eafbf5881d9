"""MkDocs hook: the reference pages are generated from the code (wheelmemo._reference).

The blocks between ``<!-- wheelmemo:settings -->`` / ``<!-- /wheelmemo:settings -->``
and ``<!-- wheelmemo:cli -->`` / ``<!-- /wheelmemo:cli -->`` get what the code says now:
every setting of ``_settings``, every command of ``_cli``'s parser with its ``--help``.
"""

from __future__ import annotations

from typing import Any


def on_page_markdown(markdown: str, **_: Any) -> str:
    from wheelmemo import _reference

    for name, (_page, _kept, shown) in _reference.BLOCKS.items():
        if f"<!-- wheelmemo:{name} -->" in markdown:
            markdown = _reference.fill(markdown, name, shown())
    return markdown
