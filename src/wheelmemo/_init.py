"""``wheelmemo init``: adopt wheelmemo in a project's ``pyproject.toml``.

It moves the current ``build-backend`` (and ``backend-path``) under ``[tool.wheelmemo]``,
makes ``wheelmemo`` the build backend and a build requirement (``wheelmemo>=X.Y,<X+1``
from its own version; one the project names is left as written), and writes
``[tool.uv] cache-keys`` that cover what the compiled parts are built from, so that
``uv sync`` calls the backend when one of them changes (seed 002).  Python sources need no
key: an editable install serves them from the tree.

What it writes follows from the project's files alone, never from what a cache on this
machine learned (those variables and files are ``explain``'s and the editable stale
warning's business): ``init --check`` gives the same answer in CI, in pre-commit and on a
laptop, and the first build (which writes ``Cargo.lock``) leaves it passing.  The changes
are planned on the parsed file (``plan``), so ``--check`` needs no tomlkit; ``init``
applies them keeping formatting and comments (tomlkit), says each one, and running it
twice changes nothing.
"""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
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

__all__ = ["PYTHON_FLOOR", "Plan", "init_project", "plan", "required_cache_keys", "wheelmemo_requirement"]

#: PEP 517: a project without build-backend is built with setuptools' legacy backend.
DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
#: what a project without ``build-system.requires`` is built with (PEP 518)
DEFAULT_REQUIRES = "setuptools>=40.8.0"
#: The oldest Python wheelmemo installs on: ``requires-python`` in its pyproject.toml.
PYTHON_FLOOR = (3, 9)


def required_cache_keys(root: Path, pyproject: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    """The uv cache-keys that change whenever an input of the compiled parts changes:
    exactly the files an editable install's stale check watches (``builds_compiled_parts``),
    in every directory, so that the command its warning names rebuilds them."""
    adapter = _adapter(pyproject, backend)
    inputs = collect_inputs(root, pyproject, adapter=adapter, stat_cache=StatCache(None))
    # and what the first build writes (Cargo.lock): keyed before it exists, so that the
    # build that writes it does not make the configuration out of date
    written = [label for label in adapter.written_inputs(root, pyproject) if builds_compiled_parts(label)]
    watched = sorted({*(label for label in inputs if builds_compiled_parts(label)), *written})
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


def wheelmemo_requirement(version: str) -> str:
    """``wheelmemo>=X.Y,<X+1`` for wheelmemo ``version``: PEP 440's compatible release
    ``~=X.Y`` spelt out.  A pre-release of X.Y.0 is its own lower bound (``>=X.Y`` would
    leave out the very wheelmemo that wrote it)."""
    match = re.match(r"v?(\d+)\.(\d+)((?:\.\d+)*)(.*)$", version)
    if match is None:
        return "wheelmemo"
    major, minor, rest = int(match[1]), int(match[2]), match[4]
    pre_release = re.match(r"[-_.]?(a|b|c|rc|alpha|beta|pre|preview|dev)", rest.lower()) is not None
    zero_patch = not match[3].strip(".0")
    lower = version if pre_release and zero_patch else f"{major}.{minor}"
    return f"wheelmemo>={lower},<{major + 1}"


def _release(text: str) -> tuple[int, ...] | None:
    match = re.match(r"v?(\d+(?:\.\d+)*)", text.strip())
    return tuple(int(part) for part in match[1].split(".")) if match else None


def _admits(specifier: str, version: tuple[int, ...]) -> bool | None:
    """Whether a ``requires-python`` specifier admits a Python release ``version``;
    None when it cannot be read (PEP 440 clauses on release numbers suffice here)."""
    for clause in specifier.split(","):
        match = re.fullmatch(r"\s*(~=|===|==|!=|<=|>=|<|>)\s*([^\s]+)\s*", clause)
        if match is None:
            return None
        op, text = match[1], match[2]
        wildcard = text.endswith(".*")
        wanted = _release(text[:-2] if wildcard else text)
        if wanted is None:
            return None
        width = max(len(wanted), len(version))
        have, bound = version + (0,) * (width - len(version)), wanted + (0,) * (width - len(wanted))
        if wildcard or op == "~=":  # a prefix: ==3.8.*, and ~=3.8.1's ==3.8.*
            prefix = wanted if wildcard else wanted[:-1]
            in_prefix = version[: len(prefix)] == prefix
            ok = {"==": in_prefix, "!=": not in_prefix, "~=": in_prefix and have >= bound}.get(op)
        else:
            ok = {
                "==": have == bound,
                "===": have == bound,
                "!=": have != bound,
                "<=": have <= bound,
                ">=": have >= bound,
                "<": have < bound,
                ">": have > bound,
            }[op]
        if not ok:
            return False
    return True


def _python_warning(pyproject: dict[str, Any]) -> str | None:
    """The warning for a project whose ``requires-python`` admits a Python older than
    wheelmemo's: a build there cannot install its build backend."""
    project = pyproject.get("project")
    if not isinstance(project, dict) or "requires-python" in (project.get("dynamic") or []):
        return None  # its metadata lives elsewhere (setup.py): not ours to read
    floor = ".".join(map(str, PYTHON_FLOOR))
    specifier = project.get("requires-python")
    if not isinstance(specifier, str):
        return (
            f"no requires-python in [project]: a build on Python older than {floor} cannot install wheelmemo; "
            f'add requires-python = ">={floor}"'
        )
    older = [(2, 7), *((3, minor) for minor in range(PYTHON_FLOOR[1]))]
    for release in older:
        # a patch release may be admitted where x.y.0 is not (>=3.8.1)
        if any(_admits(specifier, (*release, patch)) for patch in range(40)):
            shown = ".".join(map(str, release))
            return (
                f'requires-python = "{specifier}" admits Python {shown}, where wheelmemo does not install '
                f'(it needs >={floor}): a build on Python {shown} fails; raise it to ">={floor}"'
            )
    return None


def _described(key: dict[str, Any]) -> str:
    if "file" in key:
        return str(key["file"])
    if "env" in key:
        return f"${key['env']}"
    if "git" in key:
        return "git commit and tags"
    return str(key)


@dataclass
class Plan:
    """What ``init`` changes in a project's ``pyproject.toml``: nothing when all is empty."""

    #: the build-backend it names now (PEP 517's default when it names none)
    backend: str
    #: whether it names one
    declared: bool
    #: the backend wheelmemo wraps after the change
    inner: str
    #: whether build-system.requires is missing (PEP 518: setuptools is added)
    no_requires: bool = False
    #: the wheelmemo requirement to add, when none is there
    requirement: str | None = None
    #: the [tool.uv] cache-keys to add
    keys: list[dict[str, Any]] = field(default_factory=list)
    #: whether build-system.backend-path goes under [tool.wheelmemo] with the backend
    moves_backend_path: bool = False

    @property
    def adopts(self) -> bool:
        return self.backend != "wheelmemo"

    def changes(self) -> list[str]:
        """One line per change, as ``init`` says them."""
        lines = []
        if self.adopts:
            named = self.backend if self.declared else f"none ({self.backend}, PEP 517's default)"
            lines.append(f"build-backend: {named} → wheelmemo ({self.backend} now under [tool.wheelmemo] backend)")
        if self.moves_backend_path:
            lines.append("backend-path: moved under [tool.wheelmemo]")
        if self.no_requires:
            lines.append(f"build-system.requires: added {DEFAULT_REQUIRES} (what a project without it is built with)")
        if self.requirement:
            lines.append(f"build-system.requires: added {self.requirement}")
        if self.keys:
            count = f"{len(self.keys)} key{'s' if len(self.keys) != 1 else ''}"
            lines.append(f"[tool.uv] cache-keys: added {count}: {', '.join(map(_described, self.keys))}")
        return lines


def plan(root: Path, pyproject: dict[str, Any]) -> Plan:
    """What ``init`` would change, from ``pyproject`` (parsed) and the project's files."""
    from ._version import __version__

    build_system = pyproject.get("build-system") or {}
    tool = pyproject.get("tool") or {}
    backend = str(build_system.get("build-backend", DEFAULT_BACKEND))
    declared = "build-backend" in build_system
    inner = backend if backend != "wheelmemo" else str((tool.get("wheelmemo") or {}).get("backend", DEFAULT_BACKEND))
    requires = [str(r) for r in build_system.get("requires") or []]
    found = Plan(backend, declared, inner)
    if found.adopts:
        found.moves_backend_path = "backend-path" in build_system
        found.no_requires = "requires" not in build_system
    if not any(requirement_name(r) == "wheelmemo" for r in requires):
        found.requirement = wheelmemo_requirement(__version__)
    existing = [key for key in (tool.get("uv") or {}).get("cache-keys") or []]
    found.keys = [key for key in required_cache_keys(root, pyproject, inner) if key not in existing]
    return found


def _apply(doc: Any, change: Plan) -> None:
    """Make the planned changes in the tomlkit document."""
    import tomlkit

    build_system = doc.setdefault("build-system", tomlkit.table())
    if change.adopts:
        tool = doc.setdefault("tool", tomlkit.table(is_super_table=True))
        wheelmemo = tool.setdefault("wheelmemo", tomlkit.table())
        wheelmemo["backend"] = change.backend
        if change.moves_backend_path:
            wheelmemo["backend-path"] = build_system["backend-path"]
            del build_system["backend-path"]
        build_system["build-backend"] = "wheelmemo"
    if change.no_requires:
        build_system["requires"] = [DEFAULT_REQUIRES]
    if change.requirement and "requires" not in build_system:
        build_system["requires"] = [change.requirement]
    elif change.requirement:
        requires = build_system["requires"]
        if "\n" in requires.as_string():  # one item per line, indented as the others
            requires.insert(0, change.requirement)
        else:  # tomlkit's insert writes no space after the comma: ["wheelmemo","x"]
            spaced = tomlkit.item([change.requirement, *requires.unwrap()])
            spaced.trivia.comment_ws = requires.trivia.comment_ws
            spaced.trivia.comment = requires.trivia.comment
            build_system["requires"] = spaced
    if change.keys:
        tool = doc.setdefault("tool", tomlkit.table(is_super_table=True))
        uv = tool.setdefault("uv", tomlkit.table())
        keys = uv.setdefault("cache-keys", tomlkit.array())
        keys.multiline(True)
        for key in change.keys:
            keys.append(_inline(key))


def init_project(path: Path, *, check: bool = False, dry_run: bool = False) -> int:
    from ._log import logger
    from ._settings import load_project

    pyproject = path / "pyproject.toml"
    if not pyproject.exists():
        raise ConfigError(f"{pyproject} not found: run wheelmemo init in a project directory")
    parsed = load_project(path).pyproject  # tomllib: --check needs no tomlkit
    change = plan(path, parsed)
    warning = _python_warning(parsed)
    if warning:
        logger.warning("%s", warning)
    lines = change.changes()
    if check:
        if not lines:
            print(f"wheelmemo: {pyproject} is up to date")
            return 0
        print(f"wheelmemo: {pyproject} needs `wheelmemo init`, which would change:", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
        return 1
    if not lines:
        print(f"wheelmemo: {pyproject} is up to date: nothing to change")
        return 0
    try:
        import tomlkit
    except ImportError:
        raise ConfigError(
            "wheelmemo init needs tomlkit, which the cli extra brings: run it as "
            "`uvx --from 'wheelmemo[cli]' wheelmemo init` (from a checkout: `uvx --from '/path/to/wheelmemo[cli]' "
            "wheelmemo init`), or install tomlkit beside wheelmemo"
        ) from None
    before = pyproject.read_text(encoding="utf-8")
    doc = tomlkit.parse(before)
    _apply(doc, change)
    after = _space_tables(tomlkit.dumps(doc), before)
    if dry_run:
        sys.stdout.writelines(
            difflib.unified_diff(
                before.splitlines(keepends=True),
                after.splitlines(keepends=True),
                fromfile=str(pyproject),
                tofile=str(pyproject),
            )
        )
        return 0
    pyproject.write_text(after, encoding="utf-8")
    print(f"wheelmemo: updated {pyproject}:")
    for line in lines:
        print(f"  {line}")
    if change.adopts and not _compiles(path, parsed, change.inner):
        print(
            f"wheelmemo: note: nothing in {path} is compiled: a hit costs about what {change.inner} itself "
            "takes to build a pure-Python wheel, so wheelmemo saves little here; it pays for "
            "native builds (Rust, C, C++, Cython)"
        )
    written = _adapter(parsed, change.inner).written_inputs(path, parsed) if change.adopts else []
    for label in written:
        if label.endswith("Cargo.lock") and not (path / label).exists():
            # wheelmemo caches no build that changed its own inputs (_engine._learn)
            print(
                f"wheelmemo: note: no {label} yet: the build that writes it is not cached; "
                "run `cargo generate-lockfile` and commit it"
            )
    return 0
