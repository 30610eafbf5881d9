"""wheelmemo: a PEP 517/660 build backend that wraps another backend and memoizes it.

Declare ``build-backend = "wheelmemo"`` and name the real backend under
``[tool.wheelmemo] backend``.  This module only re-exports the hooks and ``UnsupportedOperation``.
"""

from __future__ import annotations

from ._hooks import (
    UnsupportedOperation,
    build_editable,
    build_sdist,
    build_wheel,
    get_requires_for_build_editable,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_editable,
    prepare_metadata_for_build_wheel,
)
from ._version import __version__

__all__ = [
    "UnsupportedOperation",
    "__version__",
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]


def __dir__() -> list[str]:
    return __all__
