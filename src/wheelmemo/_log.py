"""Logging: one line per hook on stderr, more with ``WHEELMEMO_LOG=debug``.

Every line starts with ``wheelmemo:`` so it stands out in a frontend's piped output
(uv and pip show the backend's stderr only on failure or with ``-v``).  No colour is
ever emitted, which honours ``NO_COLOR`` and non-TTY logs trivially.
"""

from __future__ import annotations

import logging
import os
import sys

__all__ = ["configure", "logger", "warn_once"]

logger = logging.getLogger("wheelmemo")

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR, "quiet": logging.ERROR}
_warned: set[str] = set()


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prefix = "wheelmemo: "
        if record.levelno >= logging.ERROR:
            prefix += "error: "
        elif record.levelno >= logging.WARNING:
            prefix += "warning: "
        return prefix + record.getMessage()


class _StderrHandler(logging.Handler):
    """Writes to whatever ``sys.stderr`` is at the time (frontends and tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - logging must never break a build
            self.handleError(record)


def configure(level: str | None = None) -> None:
    """Attach the stderr handler once; the level comes from ``WHEELMEMO_LOG``."""
    name = (level or os.environ.get("WHEELMEMO_LOG") or "info").lower()
    logger.setLevel(_LEVELS.get(name, logging.INFO))
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        handler = _StderrHandler()
        handler.setFormatter(_Formatter())
        logger.addHandler(handler)
        logger.propagate = False


def warn_once(message: str) -> None:
    """Warn about a cache problem once per process: the build goes on without it."""
    if message not in _warned:
        _warned.add(message)
        logger.warning("%s", message)
