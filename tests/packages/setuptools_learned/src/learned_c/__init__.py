"""setuptools C test package whose build reads inputs wheelmemo must learn."""

from ._values import values

__all__ = ["values"]
