"""``wheelmemo init``: adopt wheelmemo in a project's ``pyproject.toml``.

It moves the current ``build-backend`` (and ``backend-path``) under ``[tool.wheelmemo]``,
makes ``wheelmemo`` the build backend and a build requirement, and writes
``[tool.uv] cache-keys`` that cover what the compiled parts are built from, so that
``uv sync`` calls the backend when one of them changes (seed 002), and once the project
has been built through wheelmemo, what its newest build was seen reading beyond them
(``_learned``: ``{env = "MY_FLAVOR"}``, ``{file = "../shared/x.h"}``).  Python sources
need no key: an editable install serves them from the tree.  Formatting and comments are
kept (tomlkit); an existing ``cache-keys`` is merged; running it twice changes nothing.
"""

from __future__ import annotations

import difflib
import sys
from pathlib import Path
from typing import Any

from ._errors import ConfigError
from ._inner import ALIASES
from ._inputs import (
    BUILD_FILE_SUFFIXES,
    NATIVE_SOURCE_SUFFIXES,
    StatCache,
    builds_compiled_parts,
    collect_inputs,
)
from ._key import VCS_PLUGINS, backend_family, requirement_name
from .backends import Adapter, adapter_for

__all__ = ["init_project", "learned_cache_keys", "required_cache_keys"]

#: PEP 517: a project without build-backend is built with setuptools' legacy backend.
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"


def required_cache_keys(root: Path, pyproject: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    """The uv cache-keys that change whenever an input of the compiled parts changes:
    exactly the files an editable install's stale check watches (``builds_compiled_parts``),
    in every directory, so that the command its warning names rebuilds them."""
    adapter = _adapter(pyproject, backend)
    inputs = collect_inputs(root, pyproject, adapter=adapter, stat_cache=StatCache(None))
    watched = [label for label in inputs if builds_compiled_parts(label)]
    in_tree = [label for label in watched if not label.startswith(("../", "/"))]
    keys: list[dict[str, Any]] = [{"file": label} for label in in_tree if "/" not in label]
    # per top-level directory, not "**/*.rs": that would take in target/'s generated files
    patterns: set[str] = set()
    for label in in_tree:
        if "/" not in label or adapter.cache_key_alone(label):
            continue
        top, name = label.split("/", 1)[0], label.rsplit("/", 1)[-1]
        suffix = next((s for s in (*NATIVE_SOURCE_SUFFIXES, *BUILD_FILE_SUFFIXES) if name.endswith(s)), None)
        patterns.add(f"{top}/**/*{suffix}" if suffix else f"{top}/**/{name}")
    keys += [{"file": pattern} for pattern in sorted(patterns)]
    keys += [{"file": label} for label in in_tree if "/" in label and adapter.cache_key_alone(label)]
    outside = sorted(
        {"/".join(label.split("/")[: label.count("../") + 1]) for label in watched if label.startswith("../")}
    )
    keys += [{"file": f"{directory}/**/*"} for directory in outside]
    requires = pyproject.get("build-system", {}).get("requires", [])
    if {requirement_name(str(r)) for r in requires} & VCS_PLUGINS:
        keys.append({"git": {"commit": True, "tags": True}})
    return keys


def learned_cache_keys(root: Path) -> list[dict[str, Any]]:
    """uv cache-keys for what the newest wheel built through wheelmemo read beyond the
    declared inputs: the variables, and the files (relative to the project)."""
    import os

    from ._errors import WheelmemoError
    from ._memo import Memo

    try:
        memo = Memo(None, root=root.resolve(), offline=True)
    except WheelmemoError:
        return []  # not built through wheelmemo yet: nothing learned
    store = memo.store
    last = store.last_key(memo.project_id, "wheel") if store is not None else None
    parts = store.parts(last) if store is not None and last else None
    learned = (parts or {}).get("learned")
    if not isinstance(learned, dict):
        return []
    keys: list[dict[str, Any]] = [{"env": name} for name in sorted(learned.get("env") or {})]
    for label in sorted(learned.get("files") or {}):
        relative = os.path.relpath(label, root.resolve()) if os.path.isabs(label) else label
        keys.append({"file": Path(relative).as_posix()})
    return keys


def _plain(value: Any) -> Any:
    """tomlkit items as plain Python values, for comparing cache-keys."""
    unwrap = getattr(value, "unwrap", None)
    return unwrap() if callable(unwrap) else value


def _space_tables(text: str, before: str) -> str:
    """A blank line before and after each table header that ``init`` added, as a person
    separates tables (tomlkit may put a new table right against the next one)."""
    lines = text.split("\n")
    old_headers = {line.strip() for line in before.split("\n") if line.startswith("[")}
    spaced: list[str] = []
    for number, line in enumerate(lines):
        is_header = line.startswith("[")
        ours = is_header and line.strip() not in old_headers
        follows_ours = is_header and any(
            previous.startswith("[") and previous.strip() not in old_headers
            for previous in _last_header(lines[:number])
        )
        if (ours or follows_ours) and spaced and spaced[-1].strip():
            spaced.append("")
        spaced.append(line)
    return "\n".join(spaced)


def _last_header(lines: list[str]) -> list[str]:
    for line in reversed(lines):
        if line.startswith("["):
            return [line]
    return []


def _compiles(root: Path, pyproject: dict[str, Any], backend: str) -> bool:
    """Whether the project has sources of compiled parts (Rust, C, C++, Cython...)."""
    adapter = _adapter(pyproject, backend)
    inputs = collect_inputs(root, pyproject, adapter=adapter, stat_cache=StatCache(None))
    return adapter.always_compiles or any(label.endswith(NATIVE_SOURCE_SUFFIXES) for label in inputs)


def _adapter(pyproject: dict[str, Any], backend: str) -> Adapter:
    """The adapter of the inner ``backend`` (and of the plugins the project requires)."""
    requires = (pyproject.get("build-system") or {}).get("requires") or []
    return adapter_for(backend_family(ALIASES.get(backend, backend)), [str(r) for r in requires])


def _inline(value: dict[str, Any]) -> Any:
    """``{git = {commit = true, tags = true}}``, spaced as a person writes it (tomlkit's
    ``update`` of a nested dict leaves out the space after the comma)."""
    import tomlkit

    table = tomlkit.inline_table()
    for name, item in value.items():
        table.append(name, _inline(item) if isinstance(item, dict) else item)
    return table


def _adopt(doc: Any, path: Path) -> tuple[str, list[dict[str, Any]]]:
    """Edit the document in place; return the build-backend it had and the keys added."""
    import tomlkit

    build_system = doc.setdefault("build-system", tomlkit.table())
    backend = str(build_system.get("build-backend", DEFAULT_BACKEND))
    tool = doc.setdefault("tool", tomlkit.table(is_super_table=True))
    wheelmemo = tool.setdefault("wheelmemo", tomlkit.table())
    if backend != "wheelmemo":
        wheelmemo["backend"] = backend
        if "backend-path" in build_system:
            wheelmemo["backend-path"] = build_system["backend-path"]
            del build_system["backend-path"]
        build_system["build-backend"] = "wheelmemo"
        if "requires" not in build_system:
            build_system["requires"] = ["setuptools>=40.8.0"]
    inner = str(wheelmemo.get("backend", DEFAULT_BACKEND))
    requires = build_system["requires"]
    if not any(requirement_name(str(r)) == "wheelmemo" for r in requires):
        if "\n" in requires.as_string():  # one item per line, indented as the others
            requires.insert(0, "wheelmemo")
        else:  # tomlkit's insert writes no space after the comma: ["wheelmemo","x"]
            spaced = tomlkit.item(["wheelmemo", *requires.unwrap()])
            spaced.trivia.comment_ws = requires.trivia.comment_ws
            spaced.trivia.comment = requires.trivia.comment
            build_system["requires"] = spaced

    uv = tool.setdefault("uv", tomlkit.table())
    existing = [_plain(key) for key in uv.get("cache-keys", [])]
    wanted = required_cache_keys(path, doc.unwrap(), inner)
    wanted += [key for key in learned_cache_keys(path) if key not in wanted]
    missing = [key for key in wanted if key not in existing]
    if missing:
        keys = uv.setdefault("cache-keys", tomlkit.array())
        keys.multiline(True)
        for key in missing:
            keys.append(_inline(key))

    return backend, missing


def init_project(path: Path, *, check: bool = False, dry_run: bool = False) -> int:
    try:
        import tomlkit
    except ImportError:
        raise ConfigError("wheelmemo init needs tomlkit: pip install 'wheelmemo[cli]'") from None
    pyproject = path / "pyproject.toml"
    try:
        before = pyproject.read_text(encoding="utf-8")
        doc = tomlkit.parse(before)
    except FileNotFoundError:
        raise ConfigError(f"{pyproject} not found: run wheelmemo init in a project directory") from None
    except tomlkit.exceptions.ParseError as e:
        raise ConfigError(f"{pyproject} is not valid TOML ({e}): fix the syntax") from None

    backend, missing = _adopt(doc, path)
    after = _space_tables(tomlkit.dumps(doc), before)
    if check:
        if after == before:
            print(f"wheelmemo: {pyproject} is up to date")
            return 0
        print(f"wheelmemo: {pyproject} needs `wheelmemo init`:", file=sys.stderr)
        for key in missing:
            print(f"  cache-keys lacks {key}", file=sys.stderr)
        if backend != "wheelmemo":
            print(f"  build-backend is {backend!r}, not 'wheelmemo'", file=sys.stderr)
        return 1
    if dry_run or after == before:
        sys.stdout.writelines(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=str(pyproject),
                tofile=str(pyproject),
            )
        )
        if after == before:
            print(f"wheelmemo: {pyproject} is up to date")
        return 0
    pyproject.write_text(after, encoding="utf-8")
    inner = str(doc["tool"]["wheelmemo"]["backend"])
    print(f"wheelmemo: {pyproject} now builds through wheelmemo with {inner!r}")
    if not _compiles(path, doc.unwrap(), inner):
        print(
            f"wheelmemo: note: nothing in {path} is compiled: a hit costs about what {inner} itself "
            "takes to build a pure-Python wheel, so wheelmemo saves little here; it pays for "
            "native builds (Rust, C, C++, Cython)"
        )
    return 0
