from ._speed import greeting

__all__ = ["greeting"]
