"""``countingbackend`` whose wheel takes its files from anywhere in the tree.

``[tool.countingbackend-layout] include`` maps a tree path (a directory or a file) to
its path in the wheel, the way setuptools' ``package-dir``, hatch's ``sources`` and
``force-include`` or maturin's ``python-source`` put a package directory of one name
into the wheel under another.  Each package gets a generated ``_generated.py`` (a build
product); calls are logged like ``countingbackend``'s, whose other hooks it reuses.
A separate module, so that ``countingbackend`` (which the other tests use) is untouched.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from countingbackend import (
    _DATE,
    _log,
    _metadata,
    _project,
    build_sdist,
    get_requires_for_build_sdist,
    get_requires_for_build_wheel,
    prepare_metadata_for_build_wheel,
    tomllib,
)

__all__ = [
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_wheel",
]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    _log("build_wheel", config_settings=config_settings)
    name, version = _project()
    with open("pyproject.toml", "rb") as f:
        include = tomllib.load(f)["tool"]["countingbackend-layout"]["include"]
    members = {}
    for source, target in sorted(include.items()):
        if Path(source).is_file():
            members[target] = Path(source).read_bytes()
            continue
        for path in sorted(Path(source).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                members[f"{target}/{path.relative_to(source).as_posix()}"] = path.read_bytes()
    for top in sorted({target.split("/")[0] for target in members if "/" in target}):
        members[f"{top}/_generated.py"] = b"GENERATED = True\n"
    dist_info = f"{name}-{version}.dist-info"
    members[f"{dist_info}/METADATA"] = _metadata(name, version)
    members[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    members[f"{dist_info}/RECORD"] = ("".join(f"{m},,\n" for m in members) + f"{dist_info}/RECORD,,\n").encode()
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w") as zf:
        for member, data in members.items():
            zf.writestr(zipfile.ZipInfo(member, _DATE), data)
    return filename
