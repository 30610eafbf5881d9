from .core import hello
