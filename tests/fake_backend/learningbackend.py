"""A fake backend that reads what nobody declared, as setup.py and build hooks do.

It wraps ``countingbackend`` (same wheel, same call log) and, in ``build_wheel``, reads
the environment variable ``LEARN_FLAVOR``, the files listed in ``[tool.learning] read``
(relative to the project; they may be gitignored or outside it), imports the modules in
``[tool.learning] import``, writes then reads the files in ``[tool.learning] scratch``,
rewrites the files in ``[tool.learning] rewrite``, reads then deletes the files in
``[tool.learning] remove``, and runs ``python -c CODE`` for each
CODE in ``[tool.learning] run`` (another process: what it reads is not seen).  It reads the files
in ``os_open`` through ``os.open`` with their relative names, those in ``dir_fd`` relative
to a descriptor of the project directory, and reads those in ``append_read`` through
``open(name, "a+")``; the sizes of those in ``sizes`` (through
``os.stat``) and ``scandir_sizes`` (through ``os.scandir``); reads ``LEARN_FLAVOR`` through ``os.environb`` in
each way named in ``environb``; asks importlib.metadata for the version of each distribution in ``dist_version``;
imports the modules in ``optional_import`` (by importlib) and ``import_statement`` (by
an import statement) if it can; and starts ``python -c CODE`` for
each CODE in ``spawnv`` as multiprocessing does (no audit event).  What it saw goes to the log
line of the call, so a test can tell which state a returned wheel was built from.
``get_requires_for_build_wheel`` answers ``[tool.learning] requires``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import subprocess
import sys

from countingbackend import (
    _build,
    _log,
    build_sdist,
    prepare_metadata_for_build_wheel,
    tomllib,
)

__all__ = ["build_sdist", "build_wheel", "get_requires_for_build_wheel", "prepare_metadata_for_build_wheel"]


def _read_fd(fd):
    try:
        return os.read(fd, 1 << 16).decode()
    finally:
        os.close(fd)


def _table():
    with open("pyproject.toml", "rb") as f:
        return tomllib.load(f).get("tool", {}).get("learning", {})


def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel")
    return list(_table().get("requires", []))


def _read_unusually(table, seen):
    """The reads of ``os_open``, ``dir_fd``, ``append_read``, ``sizes``, ``scandir_sizes``
    and ``environb``."""
    for rel in table.get("os_open", []):
        seen[rel] = _read_fd(os.open(rel, os.O_RDONLY))
    if table.get("dir_fd"):
        top = os.open(os.getcwd(), os.O_RDONLY)
        for rel in table["dir_fd"]:
            seen[rel] = _read_fd(os.open(rel, os.O_RDONLY, dir_fd=top))
        os.close(top)
    for rel in table.get("append_read", []):  # "a+": the old content stays readable
        with open(rel, "a+", encoding="utf-8") as f:
            f.seek(0)
            seen[rel] = f.read()
    for rel in table.get("sizes", []):
        seen[rel] = os.path.getsize(rel)
    for rel in table.get("scandir_sizes", []):  # DirEntry.stat(): C, nothing sees it
        parent, _, name = rel.rpartition("/")
        with os.scandir(parent or ".") as entries:
            seen[rel] = next(e.stat().st_size for e in entries if e.name == name)
    for way in table.get("environb", []):
        if way == "item":
            seen[way] = os.environb[b"LEARN_FLAVOR"].decode() if b"LEARN_FLAVOR" in os.environb else None
        elif way == "getenvb":
            seen[way] = (os.getenvb(b"LEARN_FLAVOR") or b"").decode() or None
        elif way == "get":
            seen[way] = (os.environb.get(b"LEARN_FLAVOR") or b"").decode() or None
    _look_up(table, seen)


def _look_up(table, seen):
    """``dist_version``, ``import_statement`` and ``optional_import``."""
    for name in table.get("dist_version", []):
        try:
            seen[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            seen[name] = None
    for name in table.get("import_statement", []):  # as setup.py does: try: import x
        try:
            seen[name] = getattr(__import__(name), "VALUE", None)
        except ImportError:
            seen[name] = None
    for name in table.get("optional_import", []):
        try:
            seen[name] = getattr(importlib.import_module(name), "VALUE", None)
        except ImportError:
            seen[name] = None


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    table = _table()
    # only_environb: LEARN_FLAVOR is read through os.environb alone
    seen = {} if table.get("only_environb") else {"flavor": os.environ.get("LEARN_FLAVOR")}
    for rel in table.get("read", []):
        try:
            with open(rel, encoding="utf-8") as f:
                seen[rel] = f.read()
        except FileNotFoundError:
            seen[rel] = None
    for name in table.get("import", []):
        seen[name] = getattr(importlib.import_module(name), "VALUE", None)
    for rel in table.get("scratch", []):
        with open(rel, "w", encoding="utf-8") as f:
            f.write("written by the build\n")
        with open(rel, encoding="utf-8") as f:
            f.read()
    for rel in table.get("rewrite", []):
        with open(rel, "a", encoding="utf-8") as f:
            f.write("# the build was here\n")
    for rel in table.get("remove", []):
        with open(rel, encoding="utf-8") as f:
            seen[rel] = f.read()
        os.remove(rel)
    _read_unusually(table, seen)
    for code in table.get("spawnv", []):  # multiprocessing's way to start "spawn" children
        from multiprocessing.util import spawnv_passfds

        pid = spawnv_passfds(os.fsencode(sys.executable), [sys.executable, "-c", code], ())
        os.waitpid(pid, 0)
    for code in table.get("run", []):
        subprocess.run([sys.executable, "-c", code], check=True)
    _log("saw", **seen)
    return _build("build_wheel", wheel_directory, config_settings)
