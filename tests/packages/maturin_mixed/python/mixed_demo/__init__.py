"""Mixed Rust/Python demo package used by wheelmemo's tests."""

from ._native import add, greeting

__all__ = ["add", "greeting", "pure"]


def pure():
    return "pure v1"
