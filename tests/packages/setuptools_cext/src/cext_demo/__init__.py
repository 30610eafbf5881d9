"""setuptools C-extension demo package used by wheelmemo's tests."""

from ._speed import add, greeting

__all__ = ["add", "greeting", "pure"]


def pure():
    return "pure v1"
