"""The PEP 517 and PEP 660 hooks: thin functions that hand the work to ``_memo``.

Heavy imports happen inside the hooks.  This is the one boundary where wheelmemo's own
configuration errors become a single ``wheelmemo: error: ...`` line and exit status 1
with no traceback (as meson-python does); the inner backend's exceptions pass through.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Callable, TypeVar

from ._errors import ConfigError, UnsupportedOperation

if TYPE_CHECKING:
    from ._memo import Memo
    from ._settings import ConfigSettings

__all__ = [
    "UnsupportedOperation",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]

T = TypeVar("T")


def _run(config_settings: ConfigSettings, action: Callable[[Memo], T]) -> T:
    import os

    from ._log import configure
    from ._settings import default_cache_dir, load_project, load_settings

    configure()
    try:
        environ = dict(os.environ)
        project = load_project()
        settings, inner_config = load_settings(project, config_settings, environ)
        if not settings.disable:
            from ._bytecode import install

            install(str(settings.cache_dir or default_cache_dir()), writable=not settings.cache_read_only)
        from ._memo import Memo

        memo = Memo(config_settings, environ=environ, loaded=(project, settings, inner_config))
        try:
            return action(memo)
        finally:
            memo.close()
    except ConfigError as e:
        print(f"wheelmemo: error: {e}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> list[str]:
    return _run(config_settings, lambda m: m.requires("wheel"))


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> list[str]:
    return _run(config_settings, lambda m: m.requires("sdist"))


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> list[str]:
    return _run(config_settings, lambda m: m.requires("editable"))


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _run(config_settings, lambda m: m.prepare_metadata("wheel", metadata_directory))


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: ConfigSettings = None) -> str:
    return _run(config_settings, lambda m: m.prepare_metadata("editable", metadata_directory))


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _run(config_settings, lambda m: m.build("wheel", wheel_directory, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: str | None = None,
) -> str:
    return _run(config_settings, lambda m: m.build("editable", wheel_directory, metadata_directory))


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    return _run(config_settings, lambda m: m.build_sdist(sdist_directory))
