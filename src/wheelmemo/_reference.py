"""The reference pages of the documentation site, generated from the code.

``settings_markdown()`` renders every setting from the one table of ``_settings``
(``_FIELDS``: key, kind, environment variable; ``USER_KEYS``; the defaults and the
attribute docstrings of ``Settings``), ``cli_markdown()`` every command from ``_cli``'s
argparse parser, so the site cannot drift from the code.  The repository keeps the
settings and a table of the commands between markers in ``docs/reference/*.md`` (for
whoever reads them there; ``python -m wheelmemo._reference --write docs`` updates them,
and a test fails when they are out of date); ``docs/hooks.py`` fills the same blocks
when MkDocs builds the site, the commands' whole ``--help`` included.  Never imported
by a build hook.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

from . import _settings

__all__ = ["BLOCKS", "cli_markdown", "commands_markdown", "fill", "setting_docs", "settings_markdown"]


def setting_docs() -> dict[str, str]:
    """``Settings`` field name -> its attribute docstring, read from ``_settings``' source
    (attribute docstrings exist only there: Python keeps none at run time)."""
    tree = ast.parse(Path(_settings.__file__).read_text(encoding="utf-8"))
    (cls,) = (node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Settings")
    docs: dict[str, str] = {}
    body = cls.body
    for field, doc in zip(body, body[1:]):
        if (
            isinstance(field, ast.AnnAssign)
            and isinstance(field.target, ast.Name)
            and isinstance(doc, ast.Expr)
            and isinstance(doc.value, ast.Constant)
            and isinstance(doc.value.value, str)
        ):
            docs[field.target.id] = " ".join(doc.value.value.split())
    return docs


def _default(name: str, kind: str) -> str:
    defaults = _settings.Settings._field_defaults
    if name not in defaults:
        return "required"
    value = defaults[name]
    if value is None:
        return '`"none"`' if kind == "compiler" else "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if kind == "size" and isinstance(value, int):
        for unit, size in (("T", 1000**4), ("G", 1000**3), ("M", 1000**2), ("K", 1000)):
            if value and value % size == 0:
                return f'`"{value // size}{unit}"`'
        return f"`{value}`"
    if isinstance(value, float):
        return f"`{value:g}`"
    if isinstance(value, tuple):
        return "`[]`" if not value else f"`{list(value)!r}`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value!r}`"


def settings_markdown() -> str:
    """A summary table of every setting, then a section each: its key, variable, default,
    whether the user configuration file may set it, and what it does."""
    docs = setting_docs()
    fields = _settings._FIELDS
    missing = [key for key, (name, _, _) in fields.items() if not docs.get(name)]
    if missing:  # a setting nobody described is a defect of the code, not of the page
        raise ValueError(f"settings without a docstring in Settings: {', '.join(missing)}")
    lines = ["| key | environment variable | default |", "|---|---|---|"]
    for key, (name, kind, var) in fields.items():
        lines.append(f"| [`{key}`](#{key}) | {f'`{var}`' if var else ''} | {_default(name, kind)} |")
    for key, (name, kind, var) in fields.items():
        lines += [
            "",
            f"## `{key}` {{#{key}}}",
            "",
            f"- `pyproject.toml`: `[tool.wheelmemo] {key}`",
            f"- environment: `{var}`" if var else "- environment: none (the project's own setting)",
            f"- `config_settings`: `-C wheelmemo.{key}=…`",
            f"- user configuration file: {'yes' if key in _settings.USER_KEYS else 'no'}",
            f"- default: {_default(name, kind)}",
            "",
            docs[name],
        ]
    return "\n".join(lines) + "\n"


def cli_markdown() -> str:
    """``wheelmemo --help`` and each command's ``--help``, as a user's terminal shows them."""
    from . import _cli

    columns = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal: the page must not depend on it
    try:
        parser = _cli._parser()
        subparsers = [
            action
            for action in parser._actions
            if isinstance(action.choices, dict) and action.option_strings == []  # the subcommands
        ]
        lines = ["## `wheelmemo`", "", "```text", parser.format_help().rstrip(), "```"]
        for action in subparsers:
            assert isinstance(action.choices, dict)
            for name, sub in action.choices.items():
                sub.epilog = None  # the exit statuses: printed once, above
                lines += ["", f"## `wheelmemo {name}`", "", "```text", sub.format_help().rstrip(), "```"]
    finally:
        if columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = columns
    return "\n".join(lines) + "\n"


def commands_markdown() -> str:
    """A table of the commands and what each does: the part of the commands page that is
    kept in the repository (the same on every Python; argparse's help text is not)."""
    from . import _cli

    (action,) = (a for a in _cli._parser()._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| [`wheelmemo {name}`](#wheelmemo-{name}) | {helps.get(name, '')} |" for name in action.choices]
    return "\n".join(lines) + "\n"


#: the generated blocks of the reference pages: what the repository keeps between the
#: markers (``--write``), and what the site shows there (``docs/hooks.py``)
BLOCKS = {
    "settings": ("reference/settings.md", settings_markdown, settings_markdown),
    "cli": ("reference/cli.md", commands_markdown, lambda: commands_markdown() + "\n" + cli_markdown()),
}


def fill(text: str, name: str, content: str) -> str:
    """``text`` with the block ``name`` (between ``<!-- wheelmemo:NAME -->`` and
    ``<!-- /wheelmemo:NAME -->``) holding ``content``."""
    begin, end = f"<!-- wheelmemo:{name} -->", f"<!-- /wheelmemo:{name} -->"
    head, found, rest = text.partition(begin)
    if not found or end not in rest:
        raise ValueError(f"no {begin} ... {end} block")
    return f"{head}{begin}\n{content}{end}{rest.split(end, 1)[1]}"


def main(argv: list[str]) -> int:
    """``settings`` or ``cli``: print that page's generated part for the site; ``--write
    DOCS``: bring the blocks kept in DOCS/reference/*.md up to date."""
    if len(argv) == 2 and argv[0] == "--write":
        for name, (page, kept, _) in BLOCKS.items():
            path = Path(argv[1]) / page
            path.write_text(fill(path.read_text(encoding="utf-8"), name, kept()), encoding="utf-8")
        return 0
    if len(argv) != 1 or argv[0] not in BLOCKS:
        print("usage: python -m wheelmemo._reference settings|cli|--write DOCS", file=sys.stderr)
        return 2
    sys.stdout.write(BLOCKS[argv[0]][2]())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
