"""The small exception hierarchy of wheelmemo.

Only our own failures live here.  Exceptions raised by the inner backend are never
wrapped: they pass through to the frontend untouched, save the inner backend's
``UnsupportedOperation``, re-raised as ours (:class:`UnsupportedOperation`, which the
hooks module exports as PEP 517 asks).  A :class:`ConfigError` becomes
one ``wheelmemo: error: ...`` line at the hook boundary (``_hooks.py``); a
:class:`StoreError` becomes a warning and an uncached build.
"""

from __future__ import annotations

__all__ = ["BudgetSpent", "ConfigError", "CorruptEntryError", "StoreError", "UnsupportedOperation", "WheelmemoError"]


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


class UnsupportedOperation(Exception):
    """PEP 517: ``build_sdist`` raises this when it cannot build an sdist, and the frontend
    then builds the wheel from the tree instead.

    pyproject-hooks recognises ``getattr(backend, "UnsupportedOperation")`` of the backend
    it imported, which is wheelmemo: the inner backend's own ``UnsupportedOperation`` is
    re-raised as this one (chained to it, so that its traceback and message are shown).
    """
