"""Settings: ``[tool.wheelmemo]`` < ``WHEELMEMO_*`` environment < ``config_settings``.

All three sources are merged here and nowhere else.  ``config_settings`` keys that
start with ``wheelmemo.`` are ours and are removed before the rest is handed to the
inner backend untouched.  Unknown keys are rejected with a "did you mean".
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional, Union

from ._errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on old Pythons only
    import tomli as tomllib

__all__ = ["ConfigSettings", "Project", "Settings", "default_cache_dir", "load_project", "load_settings"]

#: What a frontend passes as ``config_settings`` (PEP 517: ``None`` or a str -> str|list).
ConfigSettings = Optional[Mapping[str, Union[str, list[str]]]]

METADATA_MODES = ("hook", "wheel")
EDITABLE_MODES = ("redirect", "inplace", "native")


class Settings(NamedTuple):
    """wheelmemo's settings for one hook call (immutable).

    A NamedTuple rather than a dataclass: importing dataclasses (and inspect) costs
    ~10 ms, a fifth of the budget of a cache hit.
    """

    backend: str
    """The inner backend: ``"module"`` or ``"module:object"`` (``"maturin"``,
    ``"setuptools.build_meta"``, ``"hatchling.build"``, ``"pkg.mod:obj"``); ``"setuptools"``,
    ``"hatchling"`` and a few other distribution names are accepted."""

    backend_path: tuple[str, ...] = ()
    """Directories, relative to the project, put first on ``sys.path`` for an in-tree inner
    backend (PEP 517 ``backend-path``); each must resolve inside the project."""

    cache_dir: Path | None = None
    """Where the cache lives.  Unset: the user cache directory, ``$XDG_CACHE_HOME/wheelmemo``
    (``~/.cache/wheelmemo``), ``~/Library/Caches/wheelmemo`` on macOS,
    ``%LOCALAPPDATA%\\wheelmemo\\Cache`` on Windows."""

    env: tuple[str, ...] = ()
    """Extra environment variables (names or globs) that are part of the key: variables
    that C code or a subprocess reads, which wheelmemo cannot see being read."""

    inputs: tuple[str, ...] = ()
    """Extra input globs, relative to the project; they may point outside it
    (``"../shared/*.h"``) or at ignored files, and they win over ``exclude``."""

    exclude: tuple[str, ...] = ()
    """Globs of project files that are not inputs (``"docs/"``, ``"*.md"``); a file the
    build was seen reading stays an input."""

    metadata: str = "hook"
    """``"hook"``: call the inner ``prepare_metadata_*``; ``"wheel"``: build the wheel for the
    metadata and keep it for the build hook (for backends whose metadata hook does the
    whole build)."""

    editable: str = "redirect"
    """How ``build_editable`` works: ``"redirect"`` derives it from the regular wheel and
    serves the project's sources from the tree through an import hook; ``"inplace"``
    copies compiled files into the tree beside a plain ``.pth``; ``"native"`` memoizes
    the inner backend's own ``build_editable`` with the files it writes into the tree."""

    editable_rebuild: bool = False
    """When an editable install's compiled parts are stale at import, rebuild them
    (through the cache, under a lock) instead of warning."""

    max_size: int = 10 * 1000**3
    """The cache's size limit (``"10G"``, ``"500M"``, bytes) on everything wheelmemo writes
    there (entries, build directories, stat caches, compiled modules), as ``du`` counts
    it; least recently used entries and build directories go first (sccache's default)."""

    disable: bool = False
    """``true``: every hook goes straight to the inner backend."""

    cache_read_only: bool = False
    """``true``: read the cache and write nothing into it (no entry, statistics, stat
    cache, lock or last-use time): for untrusted jobs on a shared cache."""

    remote: str | None = None
    """A shared cache behind the local one: ``http(s)://host/prefix`` (WebDAV, nginx,
    bazel-remote), ``s3://bucket/prefix`` or ``file:///shared/dir``; credentials come from
    the environment, never from here (see the remote cache page)."""

    remote_read_only: bool | None = None
    """``true``: read the remote and never write to it (forks' pull requests).  Unset:
    write when credentials are given.  ``false``, set explicitly: write, with or without
    credentials (an HTTP server on a trusted network; never unsigned to S3)."""

    remote_timeout: float = 2.0
    """Seconds to connect to the remote; it is skipped for the rest of a build that
    could not."""

    remote_budget: float = 60.0
    """Seconds one hook call may spend on the remote in all, uploads included."""

    remote_reshare: bool = False
    """Upload a local hit the remote lacks (by default only what a build made is
    uploaded)."""

    narrow: bool = False
    """``true``: a result also stands for edits of project files its build never read or
    shipped, when every file the build opened was seen (a sealed build).  Off by default,
    since some reads no hook can see ("Edits of files no build read are hits" in the
    documentation's "What the key is made of")."""

    compiler_cache: str | None = None
    """``"sccache"``: the compiles of every miss go through sccache (``RUSTC_WRAPPER`` for
    cargo, ``CC``/``CXX`` for setuptools and meson, the compiler launcher for CMake), its
    objects in the cache and on the remote, under the same ``remote-read-only``; a user's
    own wrapper wins.  Not part of the key (but for meson-python, where meson records it in
    the compile command).  ``"none"``: off."""

    verify_rate: float = 0.0
    """The share (0 to 1) of ``build_wheel`` hits also built fresh by the inner backend and
    compared with the cached wheel: one that differs is removed with a warning, never
    cached again under its key, and the fresh wheel is returned."""


# toml key -> (field name, kind, environment variable or None)
_FIELDS: dict[str, tuple[str, str, str | None]] = {
    "backend": ("backend", "str", None),
    "backend-path": ("backend_path", "list", None),
    "cache-dir": ("cache_dir", "path", "WHEELMEMO_CACHE_DIR"),
    "env": ("env", "list", None),
    "inputs": ("inputs", "list", None),
    "exclude": ("exclude", "list", None),
    "metadata": ("metadata", "str", "WHEELMEMO_METADATA"),
    "editable": ("editable", "str", "WHEELMEMO_EDITABLE"),
    "editable-rebuild": ("editable_rebuild", "bool", "WHEELMEMO_EDITABLE_REBUILD"),
    "max-size": ("max_size", "size", "WHEELMEMO_MAX_SIZE"),
    "disable": ("disable", "bool", "WHEELMEMO_DISABLE"),
    "cache-read-only": ("cache_read_only", "bool", "WHEELMEMO_CACHE_READ_ONLY"),
    "remote": ("remote", "str", "WHEELMEMO_REMOTE"),
    "remote-read-only": ("remote_read_only", "tristate", "WHEELMEMO_REMOTE_READ_ONLY"),
    "remote-timeout": ("remote_timeout", "seconds", "WHEELMEMO_REMOTE_TIMEOUT"),
    "remote-budget": ("remote_budget", "seconds", "WHEELMEMO_REMOTE_BUDGET"),
    "remote-reshare": ("remote_reshare", "bool", "WHEELMEMO_REMOTE_RESHARE"),
    "narrow": ("narrow", "bool", "WHEELMEMO_NARROW"),
    "verify-rate": ("verify_rate", "rate", "WHEELMEMO_VERIFY_RATE"),
    "compiler-cache": ("compiler_cache", "compiler", "WHEELMEMO_COMPILER_CACHE"),
}
#: The keys a user-level configuration file may set, below the project's own: where the
#: cache is and the remote (so that a CI secret or a team's URL need not be in the project).
USER_KEYS = (
    "cache-dir",
    "max-size",
    "cache-read-only",
    "remote",
    "remote-read-only",
    "remote-timeout",
    "remote-budget",
    "remote-reshare",
    "verify-rate",
    "compiler-cache",
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Project(NamedTuple):
    """The source tree a hook runs in (PEP 517: the current directory)."""

    root: Path
    pyproject: dict[str, Any]

    @property
    def requires(self) -> list[str]:
        build_system = self.pyproject.get("build-system", {})
        requires = build_system.get("requires", []) if isinstance(build_system, dict) else []
        return [r for r in requires if isinstance(r, str)]

    @property
    def name(self) -> str | None:
        project = self.pyproject.get("project", {})
        name = project.get("name") if isinstance(project, dict) else None
        return name if isinstance(name, str) else None

    @property
    def tool(self) -> dict[str, Any]:
        tool = self.pyproject.get("tool", {})
        return tool if isinstance(tool, dict) else {}


#: open() of a FIFO waits for a writer, for ever: opened non-blocking, it is refused below
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def default_cache_dir() -> Path:
    """The platform's user cache directory for wheelmemo."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "wheelmemo" / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "wheelmemo"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "wheelmemo"


def load_project(root: Path | None = None) -> Project:
    root = Path.cwd() if root is None else root
    path = root / "pyproject.toml"
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise ConfigError(
            f"{path} not found: wheelmemo reads [tool.wheelmemo] from the project's pyproject.toml"
        ) from None
    except OSError as e:
        raise ConfigError(
            f"{path} cannot be read ({e.strerror or e}): make it a file the build's user can read"
        ) from None
    try:
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                # a directory, a FIFO, a device: reading it would fail, block or never end
                raise ConfigError(f"{path} is not a regular file: make it the project's pyproject.toml file")
            raw = f.read()
    except OSError as e:
        raise ConfigError(
            f"{path} cannot be read ({e.strerror or e}): make it a file the build's user can read"
        ) from None
    try:
        # tomllib.load() would decode too, but its UnicodeDecodeError is no TOMLDecodeError
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"{path} is not valid TOML/UTF-8 (byte {e.start}: {e.reason}): fix the encoding, TOML files are UTF-8"
        ) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path} is not valid TOML ({e}): fix the syntax") from None
    except RecursionError:
        raise ConfigError(f"{path} is not valid TOML (it nests too deeply to parse): fix the syntax") from None
    return Project(root=root, pyproject=data)


def _convert(key: str, kind: str, value: object, source: str) -> object:
    where = f"{key} (in {source})"
    if kind == "str":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a non-empty string, got {value!r}")
        return value
    checked = _CHECKED.get(kind)
    if checked is not None:
        return checked(value, where)
    if kind == "path":
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where} must be a path string, got {value!r}")
        return Path(value).expanduser()
    if kind in ("seconds", "bool", "tristate"):
        converted = _seconds(value) if kind == "seconds" else _bool(value)
        if converted is None:
            wanted = "a positive number of seconds" if kind == "seconds" else "true or false"
            raise ConfigError(f"{where} must be {wanted}, got {value!r}")
        # tristate: an empty variable (a CI secret that is not set) sets nothing
        return None if kind == "tristate" and isinstance(value, str) and not value.strip() else converted
    # list of strings; config_settings and the environment can only give one string
    if isinstance(value, str) and not source.startswith("[tool"):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of strings, got {value!r}")
    return tuple(value)


def _size(value: object, where: str) -> int:
    size = parse_size(value)
    if size is None:
        raise ConfigError(f'{where} must be a size such as "10G", "500M" or a number of bytes, got {value!r}')
    return size


def _checked_rate(value: object, where: str) -> float:
    rate = _rate(value)
    if rate is None:
        raise ConfigError(f"{where} must be a number from 0 to 1 (0.05: one hit in twenty), got {value!r}")
    return rate


def _compiler(value: object, where: str) -> str:
    """``compiler-cache``: "sccache", or "none" (an empty variable too: a CI secret not set)."""
    choice = value.strip().lower() if isinstance(value, str) else value
    if choice not in ("sccache", "none", ""):
        raise ConfigError(f'{where} must be "sccache" or "none", got {value!r}')
    return str(choice) or "none"


#: kinds of ``_FIELDS`` checked by one function each: (value, where) -> value
_CHECKED: dict[str, Callable[[object, str], object]] = {"size": _size, "rate": _checked_rate, "compiler": _compiler}


def _set(values: dict[str, object], name: str, value: object) -> None:
    """``values[name] = value``; None (an empty ``remote-read-only``) sets nothing, and
    leaves what a source below said."""
    if value is not None:
        values[name] = value


def _bool(value: object) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    return None


def _seconds(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 < seconds < float("inf") else None


def _rate(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        rate = float(value)
    except ValueError:
        return None
    return rate if 0 <= rate <= 1 else None  # NaN fails both comparisons


_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "M": 1000**2,
    "MB": 1000**2,
    "G": 1000**3,
    "GB": 1000**3,
    "T": 1000**4,
    "TB": 1000**4,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
    "TIB": 1024**4,
}


def parse_size(value: object) -> int | None:
    """``"10G"`` -> 10_000_000_000 (sccache's units); ``None`` when it is not a size."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if not isinstance(value, str):
        return None
    text = value.strip().upper()
    number = text.rstrip("KMGTIB")
    try:
        amount = float(number)
    except ValueError:
        return None
    unit = _UNITS.get(text[len(number) :].strip())
    # float() also reads "inf", "nan" and "1e400" (inf), which int() refuses with an
    # OverflowError or ValueError: none is a size.  NaN fails every comparison.
    if unit is None or not 0 <= amount * unit < float("inf"):
        return None
    return int(amount * unit)


def _unknown(key: str, source: str) -> ConfigError:
    import difflib

    close = difflib.get_close_matches(key, list(_FIELDS), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(_FIELDS)}"
    return ConfigError(f"unknown key {key!r} in {source}: {hint}")


def load_settings(
    project: Project,
    config_settings: ConfigSettings = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, ConfigSettings]:
    """Merge the three sources; return the settings and the inner backend's config_settings."""
    environ = os.environ if environ is None else environ
    table = project.tool.get("wheelmemo")
    source = "[tool.wheelmemo] of pyproject.toml"
    if table is None:
        raise ConfigError(
            "[tool.wheelmemo] backend is not set in pyproject.toml: add e.g. "
            '[tool.wheelmemo] backend = "maturin" (the build backend wheelmemo wraps)'
        )
    if not isinstance(table, dict):
        raise ConfigError(f"{source} must be a table")
    values = _user_settings(environ)
    for key, value in table.items():
        if key not in _FIELDS:
            raise _unknown(key, source)
        name, kind, _ = _FIELDS[key]
        _set(values, name, _convert(key, kind, value, source))
    for key, (name, kind, var) in _FIELDS.items():
        if var and var in environ:
            _set(values, name, _convert(key, kind, environ[var], f"environment variable {var}"))

    inner: ConfigSettings = config_settings
    if config_settings is not None:
        inner = {}
        for ckey, value in config_settings.items():
            if not ckey.startswith("wheelmemo."):
                inner[ckey] = value
                continue
            key = ckey[len("wheelmemo.") :]
            if key not in _FIELDS:
                raise _unknown(key, f"config_settings {ckey!r}")
            name, kind, _ = _FIELDS[key]
            _set(values, name, _convert(key, kind, value, f"config_settings {ckey!r}"))

    _validate(values)
    settings = Settings(**values)  # type: ignore[arg-type]
    return settings, inner


def user_config_path(environ: Mapping[str, str]) -> Path:
    """``WHEELMEMO_CONFIG``, else ``config.toml`` in the platform's user config directory."""
    if environ.get("WHEELMEMO_CONFIG"):
        return Path(environ["WHEELMEMO_CONFIG"]).expanduser()
    if sys.platform == "win32":
        base = environ.get("APPDATA") or str(Path.home() / "AppData" / "Roaming")
    else:
        base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "wheelmemo" / "config.toml"


def _user_settings(environ: Mapping[str, str]) -> dict[str, object]:
    """The settings of the user's configuration file (absent: none)."""
    path = user_config_path(environ)
    source = f"the user configuration {path}"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"{source} cannot be read ({e.strerror or e}): fix or remove it") from None
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as e:
        raise ConfigError(f"{source} is not valid TOML ({e}): fix the syntax") from None
    values: dict[str, object] = {}
    for key, value in table.items():
        if key not in USER_KEYS:
            hint = (
                "a project's settings belong in its pyproject.toml"
                if key in _FIELDS
                else f"known keys: {', '.join(USER_KEYS)}"
            )
            raise ConfigError(f"unknown key {key!r} in {source}: {hint}")
        name, kind, _ = _FIELDS[key]
        _set(values, name, _convert(key, kind, value, source))
    return values


def _validate(values: dict[str, object]) -> None:
    if "backend" not in values:
        raise ConfigError(
            "[tool.wheelmemo] backend is not set in pyproject.toml: add e.g. "
            'backend = "maturin" or backend = "setuptools.build_meta"'
        )
    if values.get("metadata", "hook") not in METADATA_MODES:
        raise ConfigError(f"metadata = {values['metadata']!r} is not valid: use one of {', '.join(METADATA_MODES)}")
    if values.get("editable", "redirect") not in EDITABLE_MODES:
        raise ConfigError(f"editable = {values['editable']!r} is not valid: use one of {', '.join(EDITABLE_MODES)}")
    remote = values.get("remote")
    if isinstance(remote, str) and not remote.startswith(("http://", "https://", "s3://", "file:///")):
        from ._urls import scheme_of

        scheme = scheme_of(remote)[0]  # what precedes '://' may be no scheme, but a secret
        shown = f"{scheme}://..." if scheme else "it"
        raise ConfigError(
            f"remote = {shown} is not a remote cache: use http(s)://host/prefix, s3://bucket/prefix "
            "or file:///shared/directory (WHEELMEMO_REMOTE or [tool.wheelmemo] remote)"
        )
    if values["backend"] == "wheelmemo":
        raise ConfigError("[tool.wheelmemo] backend = 'wheelmemo' would wrap itself: name the real backend")
