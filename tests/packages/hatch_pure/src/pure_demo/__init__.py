"""Pure-Python demo package used by wheelmemo's tests."""

__all__ = ["pure"]


def pure():
    return "pure v1"
