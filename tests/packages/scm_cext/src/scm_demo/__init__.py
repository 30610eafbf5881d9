"""A VCS-versioned setuptools C extension used by wheelmemo's tests."""

from ._speed import add, greeting

__all__ = ["add", "greeting"]
