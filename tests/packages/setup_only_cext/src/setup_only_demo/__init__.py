"""A setuptools C extension whose metadata lives in setup.py only."""

from ._speed import add, greeting

__all__ = ["add", "greeting"]
