"""The small exception hierarchy of wheelmemo.

Only our own failures live here.  Exceptions raised by the inner backend are never
wrapped: they pass through to the frontend untouched.  A :class:`ConfigError` becomes
one ``wheelmemo: error: ...`` line at the hook boundary (``_hooks.py``); a
:class:`StoreError` becomes a warning and an uncached build.
"""

from __future__ import annotations

__all__ = ["BudgetSpent", "ConfigError", "CorruptEntryError", "StoreError", "WheelmemoError"]


class WheelmemoError(Exception):
    """Base class of wheelmemo's own errors."""


class ConfigError(WheelmemoError):
    """The project's configuration is wrong; the message names the key and the fix."""


class StoreError(WheelmemoError):
    """The cache storage cannot be used (unreadable, corrupt, full, read-only...)."""


class CorruptEntryError(StoreError):
    """A cache entry or blob failed verification; it has been discarded."""


class BudgetSpent(StoreError):
    """The time allowed for checking what a record names (a remote's ``remote-budget``)
    ended before the check did."""
