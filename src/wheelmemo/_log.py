"""Logging: one line per hook on stderr, more with ``WHEELMEMO_LOG=debug``.

Every line starts with ``wheelmemo:`` so that it stands out in a frontend's output (uv
and pip show the backend's stderr on failure or with ``-v``).  No colour is ever
emitted, which honours ``NO_COLOR`` and non-TTY logs trivially.

This is a dozen lines rather than the stdlib ``logging`` package on purpose: importing
``logging`` (and the ``traceback``, ``string`` and ``threading`` it pulls in) costs
~8 ms, a sixth of the time a cache hit may take.  Arguments are formatted lazily, only
for lines that are printed.
"""

from __future__ import annotations

import os
import sys

__all__ = ["DEBUG", "configure", "logger", "warn_once"]

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR, "quiet": ERROR}
_warned: set[str] = set()


class _Logger:
    level = INFO

    def enabled(self, level: int) -> bool:
        return level >= self.level

    def _emit(self, level: int, prefix: str, message: str, args: tuple[object, ...]) -> None:
        if level >= self.level:
            try:
                sys.stderr.write(f"wheelmemo: {prefix}{message % args if args else message}\n")
                sys.stderr.flush()
            except (OSError, ValueError):  # a closed stderr must never break a build
                pass

    def debug(self, message: str, *args: object) -> None:
        self._emit(DEBUG, "", message, args)

    def info(self, message: str, *args: object) -> None:
        self._emit(INFO, "", message, args)

    def warning(self, message: str, *args: object) -> None:
        self._emit(WARNING, "warning: ", message, args)


logger = _Logger()


def configure(level: str | None = None) -> None:
    """Set the level from ``WHEELMEMO_LOG`` (debug, info, warning, error, quiet)."""
    name = (level or os.environ.get("WHEELMEMO_LOG") or "info").lower()
    logger.level = _LEVELS.get(name, INFO)


def warn_once(message: str) -> None:
    """Warn about a cache problem once per process: the build goes on without it."""
    if message not in _warned:
        _warned.add(message)
        logger.warning("%s", message)
