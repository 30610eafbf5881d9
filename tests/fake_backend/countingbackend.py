"""A fake PEP 517/660 backend that counts its hook calls.

Each call appends ``<hook> <pid>`` to the file named by ``FAKE_BACKEND_LOG``, so tests
can assert hits and misses exactly.  The wheel it builds contains the project's
``src/`` files, the config_settings it received and ``FAKE_BUILD_FLAG`` (a keyed
variable in the project's ``[tool.wheelmemo] env``), deterministically zipped.
``FAKE_BACKEND_SLEEP`` makes builds slow (for lock tests), ``FAKE_BACKEND_FAIL`` makes
them raise; ``FAKE_TARGET_BYTES`` makes a build write that many bytes into the
``CARGO_TARGET_DIR`` it is handed, as cargo would.  ``minimal`` is a backend object with only the mandatory hooks.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from pathlib import Path

try:
    import tomllib
except ImportError:  # pragma: no cover
    import tomli as tomllib

_DATE = (1980, 1, 1, 0, 0, 0)


def _log(hook, **extra):
    path = os.environ.get("FAKE_BACKEND_LOG")
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"hook": hook, "pid": os.getpid(), **extra}) + "\n")


def _project():
    with open("pyproject.toml", "rb") as f:
        project = tomllib.load(f).get("project")
    if project is None:  # metadata in setup.cfg, as setuptools reads it
        import configparser

        config = configparser.ConfigParser()
        config.read("setup.cfg")
        project = dict(config["metadata"])
    return project["name"].replace("-", "_"), project.get("version", "0.0.0")


def _metadata(name, version):
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n".encode()


def _write_dist_info(directory, name, version):
    dist_info = Path(directory) / f"{name}-{version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_bytes(_metadata(name, version))
    (dist_info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: countingbackend\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    return dist_info.name


def _build(hook, wheel_directory, config_settings, editable=False):
    _log(hook, config_settings=config_settings, cwd=os.getcwd())
    if os.environ.get("FAKE_BACKEND_SLEEP"):
        time.sleep(float(os.environ["FAKE_BACKEND_SLEEP"]))
    if os.environ.get("FAKE_BACKEND_FAIL"):
        raise RuntimeError("countingbackend: build failed on purpose")
    if os.environ.get("FAKE_TARGET_BYTES") and os.environ.get("CARGO_TARGET_DIR"):
        release = Path(os.environ["CARGO_TARGET_DIR"]) / "release"
        release.mkdir(parents=True, exist_ok=True)
        (release / f"artifact-{os.environ.get('FAKE_BUILD_FLAG')}").write_bytes(
            os.urandom(int(os.environ["FAKE_TARGET_BYTES"]))
        )
    name, version = _project()
    filename = f"{name}-{version}-py3-none-any.whl"
    members = {}
    if editable:
        # like maturin: the compiled module goes into the tree, the wheel holds a .pth
        members[f"{name}.pth"] = (os.path.abspath("src") + "\n").encode()
        for top in sorted(p for p in Path("src").iterdir() if p.is_dir()):
            (top / "_native.so").write_bytes(b"compiled " + str(os.environ.get("FAKE_BUILD_FLAG")).encode())
    else:
        for path in sorted(Path("src").rglob("*")):
            if path.is_file():
                members[path.relative_to("src").as_posix()] = path.read_bytes()
        for top in sorted(p.name for p in Path("src").iterdir() if p.is_dir()):
            # a build product: a module that is not in the tree
            members[f"{top}/_generated.py"] = f"FLAG = {os.environ.get('FAKE_BUILD_FLAG')!r}\n".encode()
    members[f"{name}/_build_info.json"] = json.dumps(
        {"config_settings": config_settings, "flag": os.environ.get("FAKE_BUILD_FLAG")},
        sort_keys=True,
    ).encode()
    dist_info = f"{name}-{version}.dist-info"
    members[f"{dist_info}/METADATA"] = _metadata(name, version)
    members[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(f"{m},,\n" for m in members) + f"{dist_info}/RECORD,,\n"
    members[f"{dist_info}/RECORD"] = record.encode()
    with zipfile.ZipFile(Path(wheel_directory) / filename, "w") as zf:
        for member, data in members.items():
            zf.writestr(zipfile.ZipInfo(member, _DATE), data)
    return filename


def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel", config_settings=config_settings)
    return ["fake-requirement>=1"]


def get_requires_for_build_sdist(config_settings=None):
    _log("get_requires_for_build_sdist", config_settings=config_settings)
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    _log("prepare_metadata_for_build_wheel", config_settings=config_settings)
    return _write_dist_info(metadata_directory, *_project())


def prepare_metadata_for_build_editable(metadata_directory, config_settings=None):
    _log("prepare_metadata_for_build_editable", config_settings=config_settings)
    return _write_dist_info(metadata_directory, *_project())


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build("build_wheel", wheel_directory, config_settings)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build("build_editable", wheel_directory, config_settings, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    _log("build_sdist", config_settings=config_settings)
    name, version = _project()
    filename = f"{name}-{version}.tar.gz"
    import tarfile

    pkg_info = Path(sdist_directory) / "PKG-INFO"
    pkg_info.write_bytes(_metadata(name, version))
    if os.environ.get("FAKE_SDIST_UNSEEN"):  # packed by another program, as maturin's are
        import subprocess
        import sys

        script = (
            "import sys, tarfile; from pathlib import Path\n"
            "top, out, info = sys.argv[1:]\n"
            "with tarfile.open(out, 'w:gz') as tf:\n"
            "    tf.add(info, top + '/PKG-INFO')\n"
            "    for p in sorted(Path('.').rglob('*')):\n"
            "        if p.is_file() and not str(p).startswith(('src/fakepkg/_native', '.')):\n"
            "            tf.add(p, top + '/' + p.as_posix())\n"
        )
        subprocess.run(
            [sys.executable, "-c", script, f"{name}-{version}", str(Path(sdist_directory) / filename), str(pkg_info)],
            check=True,
        )
        pkg_info.unlink()
        return filename
    with tarfile.open(Path(sdist_directory) / filename, "w:gz") as tf:
        tf.add(pkg_info, f"{name}-{version}/PKG-INFO")
        for path in sorted(Path(".").rglob("*")):
            if path.is_file() and not str(path).startswith(("src/fakepkg/_native", ".")):
                tf.add(path, f"{name}-{version}/{path.as_posix()}")
    pkg_info.unlink()
    return filename


class _Minimal:
    """A backend with the mandatory hooks only (no metadata, no editable hooks)."""

    build_wheel = staticmethod(build_wheel)
    build_sdist = staticmethod(build_sdist)


minimal = _Minimal()
