"""The version of wheelmemo: its one source (pyproject.toml reads it through ``[tool.hatch.version]``)."""

__version__ = "0.1.0"
