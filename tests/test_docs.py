"""The documentation against the code: the settings and command references are generated
from the code (``wheelmemo._reference``, put in place by ``docs/hooks.py``), the commands
the README and the site name exist, the README's command table lists them all, and the
recipe of "Use it before it is on PyPI" works (real).

The site itself, in a browser: ``tests/test_docs_site.py`` (``nox -s docs``).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import subprocess
from pathlib import Path

import pytest

from wheelmemo import _cli, _reference, _settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = _cli._parser()
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def rendered(page: str) -> str:
    """A page of docs/ as MkDocs gets it from the site's hook."""
    spec = importlib.util.spec_from_file_location("docs_hooks", DOCS / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    result = hooks.on_page_markdown((DOCS / page).read_text(encoding="utf-8"), page=None, config=None, files=None)
    assert isinstance(result, str)
    return result


@pytest.mark.parametrize("name", sorted(_reference.BLOCKS))
def test_the_reference_kept_in_the_repository_is_up_to_date(name: str) -> None:
    """Whoever reads docs/reference/*.md where the repository is hosted sees the settings
    and the commands, not an empty marker; they are what the code says now."""
    page, kept, _ = _reference.BLOCKS[name]
    text = (DOCS / page).read_text(encoding="utf-8")
    assert _reference.fill(text, name, kept()) == text, "run `python -m wheelmemo._reference --write docs`"
    assert len(text.split(f"<!-- wheelmemo:{name} -->", 1)[1]) > 1000


def test_the_settings_page_has_every_setting_of_the_code() -> None:
    page = rendered("reference/settings.md")
    docs = _reference.setting_docs()
    for key, (name, kind, var) in _settings._FIELDS.items():
        section = page.split(f"## `{key}` {{#{key}}}\n", 1)[1].split("\n## ", 1)[0]
        assert f"`[tool.wheelmemo] {key}`" in section
        assert (f"environment: `{var}`" if var else "environment: none") in section
        default = _reference._default(name, kind)
        assert f"default: {default}" in section
        assert docs[name] in section and len(docs[name]) > 20  # described, not only named
        assert f"user configuration file: {'yes' if key in _settings.USER_KEYS else 'no'}" in section
    assert set(docs) == set(_settings.Settings._fields)  # every field of Settings has its description


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        ("max_size", "size", '`"10G"`'),
        ("backend", "str", "required"),
        ("disable", "bool", "`false`"),
        ("remote_timeout", "seconds", "`2`"),
        ("env", "list", "`[]`"),
        ("compiler_cache", "compiler", '`"none"`'),
        ("remote_read_only", "tristate", "unset"),
    ],
)
def test_defaults_are_shown_as_a_user_writes_them(name: str, kind: str, expected: str) -> None:
    assert _reference._default(name, kind) == expected


def test_a_setting_without_a_description_fails_the_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_settings._FIELDS, "new-thing", ("new_thing", "bool", "WHEELMEMO_NEW_THING"))
    with pytest.raises(ValueError, match="new-thing"):
        _reference.settings_markdown()


def test_the_command_page_has_every_command_with_its_options() -> None:
    page = rendered("reference/cli.md")
    for name, sub in subcommands().items():
        section = page.split(f"## `wheelmemo {name}`\n", 1)[1].split("\n## ", 1)[0]
        assert f"usage: wheelmemo {name}" in section
        for action in sub._actions:
            for option in action.option_strings:
                assert option in section


def code_lines(text: str) -> list[str]:
    """The lines of a markdown text a reader would type: its `inline` code spans, and the
    lines of its fenced blocks of commands (console, shell, CI yaml; a block without a
    language is output)."""
    fence = r"^```(console|bash|sh|shell|yaml)?[^\n]*\n(.*?)^```"
    blocks = re.findall(fence, text, flags=re.DOTALL | re.MULTILINE)
    rest = re.sub(fence, "", text, flags=re.DOTALL | re.MULTILINE)
    commands = [line for language, block in blocks if language for line in block.splitlines()]
    return commands + re.findall(r"`([^`\n]+)`", rest)


#: a command line that runs wheelmemo: ``$ wheelmemo stats``, ``uvx --from X wheelmemo init``
COMMAND = re.compile(
    r"^(?:-\s+)?(?:run:\s*)?(?:\$\s+)?(?:uvx\s+--from\s+\S+\s+|python3?\s+-m\s+)?wheelmemo\s+([a-z][a-z-]*)"
)


def mentioned_commands(text: str) -> set[str]:
    """The subcommands the code of a markdown text runs: what a reader would type."""
    return {m.group(1) for line in code_lines(text) if (m := COMMAND.match(line.strip()))}


def test_every_command_the_documentation_names_exists() -> None:
    known = set(subcommands())
    pages = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
    wrong = {
        f"{page.relative_to(ROOT)}: wheelmemo {word}"
        for page in pages
        for word in mentioned_commands(page.read_text(encoding="utf-8")) - known
    }
    assert wrong == set()
    assert mentioned_commands((ROOT / "README.md").read_text(encoding="utf-8")) >= {"init", "clean", "verify"}


def test_the_check_finds_a_command_that_does_not_exist() -> None:
    text = (
        "Run `wheelmemo cache clean`, then\n\n```console\n$ wheelmemo stats --json\n"
        "$ uvx --from 'wheelmemo[cli]' wheelmemo init\nwheelmemo: pyproject.toml now builds through wheelmemo with x\n"
        "```\nwheelmemo is fine; `python -m wheelmemo verify`.\n```\nwheelmemo at b7a65db\n```\n"
        "```yaml\n- run: wheelmemo prune --max-size 1G\n```\n"
    )
    assert mentioned_commands(text) == {"cache", "stats", "init", "verify", "prune"}


def command_table(readme: str) -> list[str]:
    """The rows of the table under "The `wheelmemo` command", up to its first non-row line."""
    section = readme.split("## The `wheelmemo` command\n", 1)[1].lstrip("\n")
    rows = []
    for line in section.splitlines():
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_readme_command_table_lists_every_command() -> None:
    rows = command_table((ROOT / "README.md").read_text(encoding="utf-8"))
    listed = {m.group(1) for row in rows if (m := re.match(r"\| `wheelmemo ([a-z-]+)", row))}
    assert listed == set(subcommands())


def test_the_command_table_ends_at_its_first_non_row() -> None:
    readme = "## The `wheelmemo` command\n\n| a | b |\n|---|---|\n| `wheelmemo init` | x |\n\ntext\n| `wheelmemo export` | y |\n"
    assert command_table(readme) == ["| a | b |", "|---|---|", "| `wheelmemo init` | x |"]


def test_the_readme_names_every_setting_and_links_the_reference() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    configuration = readme.split("## Configuration\n", 1)[1].split("\n## ", 1)[0]
    for key in _settings._FIELDS:
        assert f"`{key}`" in configuration
    assert "docs/reference/settings.md" in configuration


def test_the_readme_says_which_frontends_show_the_hook_line() -> None:
    """uv sync shows a backend's stderr only with -v (test_before_pypi_with_uv_sources runs it)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sentence = " ".join(readme.split("Every hook prints one line on stderr", 1)[1].split(":\n", 1)[0].split())
    assert "`uv sync` and pip only with `-v`" in sentence
    assert "(uv shows it" not in readme


def test_the_site_lists_the_pages_of_the_issue() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    for page in (
        "index.md",
        "tutorial.md",
        "install.md",
        "how-to/github-actions.md",
        "how-to/cibuildwheel.md",
        "how-to/maturin-action.md",
        "remote.md",
        "verify.md",
        "reference/settings.md",
        "reference/cli.md",
        "design.md",
        "key.md",
        "reliability.md",
        "benchmarks.md",
        "releasing.md",
    ):
        assert f": {page}\n" in nav
        assert (DOCS / page).is_file()
    assert "hooks:\n  - docs/hooks.py" in nav


HATCHLING_PROJECT = """\
[build-system]
requires = ["wheelmemo", "hatchling"]
build-backend = "wheelmemo"

[project]
name = "before-pypi"
version = "1.0"

[tool.wheelmemo]
backend = "hatchling.build"

[tool.uv.sources]
wheelmemo = {{ path = "{root}" }}
"""


@pytest.mark.real
def test_before_pypi_with_uv_sources(tmp_path: Path, uv_cache: Path) -> None:
    """The README's uv recipe, and which of uv's commands show the hook's line."""
    from realtools import tool

    project = tmp_path / "project"
    (project / "src" / "before_pypi").mkdir(parents=True)
    (project / "src" / "before_pypi" / "__init__.py").write_text("X = 1\n")
    (project / "pyproject.toml").write_text(HATCHLING_PROJECT.format(root=ROOT.as_posix()))
    env = {
        **os.environ,
        "UV_CACHE_DIR": str(uv_cache),
        "WHEELMEMO_CACHE_DIR": str(tmp_path / "cache"),
        "UV_NO_PROGRESS": "1",
    }
    for name in ("VIRTUAL_ENV", "UV_FIND_LINKS", "PIP_FIND_LINKS", "WHEELMEMO_LOG"):
        env.pop(name, None)

    def uv(*args: str) -> str:
        done = subprocess.run([tool("uv"), *args], cwd=project, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stderr

    built = uv("build")
    assert "wheelmemo: build_wheel miss (nothing cached for this project yet) → hatchling" in built
    assert sorted(p.name for p in (project / "dist").glob("before_pypi-*")) == [
        "before_pypi-1.0-py2.py3-none-any.whl",
        "before_pypi-1.0.tar.gz",
    ]
    quiet = uv("sync")
    assert "wheelmemo:" not in quiet  # uv sync hides the hook's line ...
    verbose = uv("sync", "-v", "--reinstall-package", "before-pypi")
    assert "wheelmemo: build_wheel hit" in verbose  # ... and shows it with -v
