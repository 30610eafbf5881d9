"""Logging: one line per hook on stderr, more with ``WHEELMEMO_LOG=debug``.

Every line of a build hook starts with ``wheelmemo:`` so that it stands out in a
frontend's output (uv and pip show the backend's stderr on failure or with ``-v``), and
is never coloured: frontends capture it, and tools parse it.  The ``wheelmemo`` command
(``_cli``) writes its errors and warnings as uv does instead (:func:`message`:
``error: ...``, ``warning: ...``), coloured on a terminal only (:func:`use_colour`).

This is a dozen lines rather than the stdlib ``logging`` package on purpose: importing
``logging`` (and the ``traceback``, ``string`` and ``threading`` it pulls in) costs
~8 ms, a sixth of the time a cache hit may take.  Arguments are formatted lazily, only
for lines that are printed.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

__all__ = ["DEBUG", "configure", "logger", "message", "use_colour", "warn_once"]

DEBUG, INFO, WARNING, ERROR = 10, 20, 30, 40
_LEVELS = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR, "quiet": ERROR}
_warned: set[str] = set()
#: the labels of the command's messages, in uv's styles (bold red, bold yellow)
_STYLES = {"error": "1;31", "warning": "1;33"}


class _Logger:
    level = INFO
    #: the command line's style (``_cli``): warnings are :func:`message`'s ``warning: ...``
    command_line = False
    #: its ``--color``: auto (the environment, then whether the stream is a terminal), always, never
    colour = "auto"

    def enabled(self, level: int) -> bool:
        return level >= self.level

    def _emit(self, level: int, prefix: str, text: str, args: tuple[object, ...]) -> None:
        if level >= self.level:
            line = text % args if args else text
            if self.command_line and level >= WARNING:
                message("warning", line)
                return
            try:
                sys.stderr.write(f"wheelmemo: {prefix}{line}\n")
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


def use_colour(stream: TextIO) -> bool:
    """Whether the command colours what it writes to ``stream``, as uv decides: ``--color
    always/never``, else ``NO_COLOR`` (any non-empty value: no colour), else ``FORCE_COLOR``
    (any non-empty value: colour, even into a pipe), else only on a terminal."""
    if logger.colour != "auto":
        return logger.colour == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


def message(label: str, text: str, stream: TextIO | None = None) -> None:
    """One message of the command line, as uv writes it: ``error: ...`` or ``warning: ...``
    (on stderr unless ``stream`` says), its label coloured per :func:`use_colour`."""
    out = sys.stderr if stream is None else stream
    shown = f"\x1b[{_STYLES[label]}m{label}:\x1b[0m" if use_colour(out) else f"{label}:"
    try:
        out.write(f"{shown} {text}\n")
        out.flush()
    except (OSError, ValueError):
        pass
