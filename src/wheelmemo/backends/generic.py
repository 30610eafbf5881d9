"""Backends that wheelmemo calls as they are: hatchling, flit, pdm, and any it does not know.

They get no build directory of wheelmemo's: what they run is observed (the Python
files they read, the compilers they start, ``_recorder``) and learned (``_learned``).
Each known one is keyed on the variables it reads; a backend wheelmemo does not know
is keyed on every known family's, since what it reads cannot be told in advance.
"""

from __future__ import annotations

from . import COMPILERS, Adapter, all_env_patterns

__all__ = ["ENV_PATTERNS", "Generic", "adapter"]

#: The variables each backend of this module reads, by its top-level module.
KNOWN: dict[str, tuple[str, ...]] = {
    "hatchling": ("HATCH_BUILD_*", "HATCH_VCS_*", "SETUPTOOLS_SCM_*"),
    "flit_core": (),
    "pdm": ("PDM_BUILD_*", "SETUPTOOLS_SCM_*", *COMPILERS),
}
ENV_PATTERNS = frozenset(p for patterns in KNOWN.values() for p in patterns)


class Generic(Adapter):
    """A backend built as it is."""

    def env_patterns(self) -> frozenset[str]:
        if self.family in KNOWN:
            return frozenset(KNOWN[self.family])
        return all_env_patterns()


def adapter(family: str) -> Adapter:
    return Generic(family)
