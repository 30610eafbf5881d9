"""The memoization engine: find a result, else compute it under a lock and store it.

Every memoized hook goes through :meth:`Engine.memoized`.  A result is found in two
steps: the declared key (``_keys``) names a manifest of at most ``MAX_CANDIDATES``
results, each with the inputs its build was seen reading beyond the key (``_learned``);
the first whose learned inputs still match is the hit.  The local cache is asked first,
then the remote: a remote hit is verified, written to the local cache and served from
there.  A miss builds under the key's lock (concurrent builds of one state run the inner
backend once), stores the result locally and uploads it.

Storage problems are warnings, never failures: the local cache is then left alone for the
rest of the call, the remote skipped, and the build goes on uncached.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, TypeVar

from . import _key, _learned
from ._errors import BudgetSpent, CorruptEntryError, StoreError, WheelmemoError
from ._keys import Keys, Lookup
from ._log import logger, warn_once
from ._records import MAX_CANDIDATES
from ._store import FAILED, READ_WRITE, Entry, LocalStore, Store
from ._tiers import RemoteStore

if TYPE_CHECKING:
    from ._builddir import BuildDir
    from ._buildsys import BuildSystemFindings
    from ._recorder import Recorder

__all__ = ["MAX_CANDIDATES", "Engine", "Outcome"]

T = TypeVar("T")

#: A remote that failed is skipped by the hook calls of the next seconds: the other
#: processes of the same frontend run (get_requires, then build_wheel) do not wait again.
#: So long, too, a remote that refused a write is not written to, and the line saying that
#: nothing is uploaded is not said again (each hook that would upload renews it).
REMOTE_DOWN_SECONDS = 60.0
#: the notes of a remote kept beside its "failed" one: the line was said; a write was refused
SAID_NOTE, REFUSED_NOTE = "\0said read-only", "\0refused a write"


def elapsed(start: float) -> str:
    seconds = time.monotonic() - start
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"


class Outcome(Generic[T]):
    """What computing a memoized hook gave: its result, and what to store for it.

    ``via`` is set when the result came from another cache entry, not the inner backend.
    """

    def __init__(
        self,
        result: T,
        files: list[tuple[str, Path]] | None = None,
        value: Any = None,
        via: str | None = None,
        learned: dict[str, Any] | None = None,
    ) -> None:
        self.result = result
        self.files = files or []
        self.value = value
        self.via = via
        #: the learned inputs, when the result is another entry's (else the build's own)
        self.learned = learned


#: what a hook makes of an entry found for it: its result, or None to build after all
Fetch = Callable[[Store, Entry], "T | None"]


class Engine:
    """The stores of one hook call, and the one memoization pattern every hook uses."""

    def __init__(
        self, keys: Keys, local: LocalStore | None, remote: RemoteStore | None, start: float, inner_name: str
    ) -> None:
        self.keys = keys
        self.local = local
        self.remote = remote if local is not None else None
        if remote is not None and local is not None:
            if local.remote_down(remote.name, REMOTE_DOWN_SECONDS):
                remote.skip()
            remote.on_failure = lambda: local.mark_remote_down(remote.name)
            if local.remote_down(remote.name + REFUSED_NOTE, REMOTE_DOWN_SECONDS):
                remote.refused = "by an earlier hook"
            remote.said_read_only = local.remote_down(remote.name + SAID_NOTE, REMOTE_DOWN_SECONDS)

            def said(refused: bool) -> None:
                local.mark_remote_down(remote.name + SAID_NOTE)
                if refused:
                    local.mark_remote_down(remote.name + REFUSED_NOTE)

            remote.on_read_only = said
        self.start = start
        self.inner_name = inner_name
        #: the learned inputs of the newest wheel this call built or found
        self.last_learned: dict[str, Any] = {}
        #: the newest hit was found by a narrow match (here or by an earlier call)
        self._narrow_hit = False
        self._build_dir: BuildDir | None = None
        #: where the inner backend builds a miss: the project's root, or its stable copy
        self._build_root = keys.project.root
        #: the persistent ``build-dir`` of CMake or meson of the miss running (``_ninja_builddir``)
        self.ninja_dir: Path | None = None
        #: the running miss's reads were remembered by its build directory
        self._remembered = False
        #: config settings the inner backend gets on top of the frontend's while a miss
        #: builds (a build directory to read afterwards: ``_buildsys``); not in any key
        self.build_config: dict[str, str] = {}
        #: ``_assembler_include`` of the trees this call built, by their inputs' digest
        self._assembler: dict[str, str | None] = {}

    def storage_failed(self, error: StoreError) -> None:
        """A problem of the local cache: a damaged entry is built again; anything else
        leaves the cache alone for the rest of this call."""
        if isinstance(error, CorruptEntryError):
            warn_once(f"{error}; building it again")
            return
        warn_once(f"{error}; building without the cache")
        self.local = None

    def _remote(self) -> RemoteStore | None:
        remote = self.remote
        return remote if remote is not None and remote.mode != FAILED else None

    # -- finding a result: the declared key, then the learned inputs --------------------
    def _installed(self) -> Mapping[str, tuple[str, str]]:
        import sys

        return _key._installed(sys.path)

    def _mismatch(self, learned: Mapping[str, Any], lookup: Lookup, deadline: float | None = None) -> str | None:
        """Why a candidate result does not fit this build, or None when it does
        (``deadline``: see ``_learned.check_learned``)."""
        lacking = lookup.differs.intersection(learned.get("read") or ())
        if lacking:
            return f"the sdist lacks or changes {min(lacking)}, which the tree's build read"
        return _learned.check_learned(
            learned,
            self.keys.project.root,
            self.keys.stat_cache,
            self.keys.environ,
            self._installed,
            same=lookup.equivalent,
            in_build_environment=not self.keys.offline,
            deadline=deadline,
        )

    def _candidates(
        self,
        store: Store,
        lookup: Lookup,
        declared: set[str],
        deadline: float | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The results recorded under a declared key that fit this build, newest first,
        and why the newest one that does not fit does not.  ``declared``: the keys of
        this build's lookups, under which no result is stored (a result's key is a digest
        of its declared key and more): a manifest naming one is forged, and reading that
        result would wait on the lock this very call takes on the key for a miss.
        ``deadline``: a remote's budget, which checking the learned inputs its records
        name spends too."""
        manifest = store.get(_learned.manifest_key(lookup.key))
        value = manifest.value if manifest is not None else None
        if not isinstance(value, list):
            return [], None
        fitting: list[dict[str, Any]] = []
        reason: str | None = None
        for candidate in value[:MAX_CANDIDATES]:
            if (
                not (
                    isinstance(candidate, dict)
                    and isinstance(candidate.get("key"), str)
                    and isinstance(candidate.get("learned"), dict)
                )
                or candidate["key"] in declared
            ):
                continue
            if candidate.get("narrow") is True and not self.keys.settings.narrow:
                continue  # listed here by a narrow match: it stands for this key only while narrow
            why = self._mismatch(candidate["learned"], lookup, deadline)
            if why is None:
                fitting.append(candidate)
            elif reason is None:
                reason = why
        return fitting, reason

    def find(self, kind: str, use: Callable[[Store, Entry], None] | None = None) -> tuple[Entry | None, str | None]:
        """The entry in the local cache that fits this build (its learned inputs become
        ``last_learned``), or why none does; ``use`` is called with it while it is read,
        so that pruning leaves it alone meanwhile."""
        if self.local is None:
            return None, None

        def fetch(store: Store, entry: Entry) -> Entry:
            if use is not None:
                use(store, entry)
            return entry

        lookups = self.keys.lookups(kind)
        hit, reason = self._fetch(self.local, lookups, fetch)
        if hit is None:
            hit = self._fetch_unread(self.local, kind, lookups[-1], fetch)
        return (hit[0] if hit is not None else None), reason

    def _fetch(
        self,
        store: LocalStore,
        lookups: list[Lookup],
        fetch: Fetch[T],
    ) -> tuple[tuple[T, float, str] | None, str | None]:
        """The fetched result, the build time it saves and its key (or None), and why not.

        A reader holds the result's lock shared, so that pruning leaves it alone.
        """
        reason: str | None = None
        declared = {lookup.key for lookup in lookups}
        try:
            for lookup in lookups:
                fitting, why = self._candidates(store, lookup, declared)
                reason = reason or why
                for candidate in fitting:
                    with store.reading(candidate["key"]):
                        entry = store.get(candidate["key"])
                        result = None if entry is None else fetch(store, entry)
                    if result is not None and entry is not None:
                        if entry.kind in ("wheel", "editable"):
                            self.last_learned = candidate["learned"]
                        self._narrow_hit = candidate.get("narrow") is True
                        return (result, entry.build_seconds, entry.key), None
        except CorruptEntryError as e:
            self.storage_failed(e)
        return None, reason

    def _fetch_unread(
        self,
        store: LocalStore,
        kind: str,
        lookup: Lookup,
        fetch: Fetch[T],
    ) -> tuple[T, float, str] | None:
        """A recent result of this project whose build read none of the files changed since
        (``_learned.unread_changes``), recorded under this key too; or None."""
        if not self.keys.settings.narrow or len(self.keys.lookups(kind)) > 1:
            return None  # (an unpacked sdist lacks the tree's files: never only edits)
        for key in store.recent_keys(self.keys.project_id, kind):
            old = None if key == lookup.key else store.parts(key)  # forged: as in ``_candidates``
            if old is None:
                continue
            changed = _learned.unread_changes(old, lookup.parts)
            if changed is None or self._mismatch(old["learned"], lookup) is not None:
                continue
            with store.reading(key):
                entry = store.get(key)
                result = None if entry is None else fetch(store, entry)
            if result is None or entry is None:
                continue
            learned = old["learned"]
            if entry.kind in ("wheel", "editable"):
                self.last_learned = learned
            self._narrow_hit = True
            if store.mode == READ_WRITE:
                with contextlib.suppress(StoreError):  # found directly next time, or again so
                    self._list_under(store, lookup.key, key, learned, narrow=True)
            logger.debug("%s: %s changed, which its build did not read", key[:8], ", ".join(changed[:3]))
            return result, entry.build_seconds, entry.key
        return None

    def _list_under(
        self, store: Store, declared_key: str, result_key: str, learned: dict[str, Any], *, narrow: bool = False
    ) -> None:
        """List a result first in the manifest of a declared key (which keeps ``MAX_CANDIDATES``);
        ``narrow``: a result of another key, found by a narrow match (returned while narrow is on)."""
        manifest_key = _learned.manifest_key(declared_key)
        try:
            old = store.get(manifest_key)
        except CorruptEntryError:
            old = None
        older = [
            c
            for c in (old.value if old is not None and isinstance(old.value, list) else [])
            if isinstance(c, dict) and c.get("key") != result_key
        ]
        store.put(
            manifest_key,
            "manifest",
            [],
            build_seconds=0.0,
            parts={"hook": "manifest"},
            value=[
                {"key": result_key, "learned": learned, **({"narrow": True} if narrow else {})},
                *older[: MAX_CANDIDATES - 1],
            ],
        )

    def _fetch_remote(
        self,
        remote: RemoteStore,
        lookups: list[Lookup],
        fetch: Fetch[T],
    ) -> tuple[T, float, str] | None:
        """A result from the remote, written to the local cache first and served from
        there (or straight from the remote when the local cache takes no writes), held
        as read from its import to its use so that pruning leaves it alone meanwhile."""
        declared = {lookup.key for lookup in lookups}
        for lookup in lookups:
            fitting = self._remote_candidates(remote, lookup, declared)
            if fitting is None:
                return None
            for candidate in fitting:
                if self.local is not None and self.local.rejected(candidate["key"]):
                    continue  # verification found it wrong here (``_verify``)
                entry = remote.get(candidate["key"])
                if entry is None:
                    continue
                source: tuple[Store, Entry] = (remote, entry)
                local = self.local
                with contextlib.ExitStack() as held:
                    if local is not None and local.mode == READ_WRITE:
                        held.enter_context(local.reading(entry.key))
                        try:
                            source = (
                                local,
                                self._import(
                                    remote, entry, lookup, candidate["learned"], narrow=candidate.get("narrow") is True
                                ),
                            )
                        except StoreError:
                            if remote.mode == FAILED:
                                return None  # the remote's problem, said once
                            raise  # the local cache's own
                    try:
                        result = fetch(*source)
                    except StoreError as e:
                        if source[0] is not remote:
                            raise
                        remote.fail(e)  # a damaged or hostile remote entry: one warning
                        return None
                if result is not None:
                    if entry.kind in ("wheel", "editable"):
                        self.last_learned = candidate["learned"]
                    return result, entry.build_seconds, entry.key
        return None

    def _remote_candidates(
        self, remote: RemoteStore, lookup: Lookup, declared: set[str]
    ) -> list[dict[str, Any]] | None:
        """``_candidates`` of the remote: its records name the files checked here, so that
        work is the remote's too, and ends with its budget (None: it ended, said once)."""
        try:
            return self._candidates(remote, lookup, declared, remote.deadline)[0]
        except BudgetSpent as e:
            from ._remote import RemoteTimeout

            remote.fail(RemoteTimeout(f"{e} (remote-budget)"))
            return None

    def _import(
        self, remote: RemoteStore, entry: Entry, lookup: Lookup, learned: dict[str, Any], *, narrow: bool = False
    ) -> Entry:
        """Download ``entry``'s blobs (verified) into the local cache and record it there,
        in the manifest of its declared key too, as if this machine had built it."""
        import tempfile

        assert self.local is not None
        with tempfile.TemporaryDirectory(prefix="wheelmemo-remote-") as scratch:
            files = []
            for number, stored in enumerate(entry.files):
                path = Path(scratch) / str(number)
                remote.materialize_file(stored._replace(name=str(number)), path)
                files.append((stored.name, path))
            local = self._record(
                self.local,
                lookup,
                entry.kind,
                files,
                learned,
                entry.build_seconds,
                entry.value,
                key=entry.key,
                narrow=narrow,
            )
        logger.debug("imported %s from %s", entry.key[:8], remote.name)
        return local

    # -- the one memoization pattern every cached hook uses -----------------------
    def memoized(
        self,
        kind: str,
        hook: str,
        fetch: Fetch[T],
        compute: Callable[[], Outcome[T]],
        *,
        frontend_call: bool = True,
    ) -> T:
        """``fetch`` a hit; else ``compute`` under the key's lock and store the outcome.

        ``frontend_call`` is off for answers this call needs for its own key (the
        ``get_requires`` answer in a build hook): they get no log line and no statistics.
        """
        target: Lookup | None = None
        reason = "cache disabled"
        tier = "local"
        with contextlib.ExitStack() as stack:
            local = self.local
            if local is not None:
                try:
                    lookups = self.keys.lookups(kind)
                    hit, mismatch = self._fetch(local, lookups, fetch)
                    target = lookups[0] if lookups[0].target else lookups[-1]
                    if hit is None:
                        stack.enter_context(local.lock(target.key))
                        # another process may have built it while we waited
                        hit, mismatch = self._fetch(local, lookups, fetch)
                    if hit is None:
                        hit = self._fetch_unread(local, kind, lookups[-1], fetch)
                    remote = self._remote()
                    if hit is None and remote is not None:
                        hit = self._fetch_remote(remote, lookups, fetch)
                        tier = "remote"
                    if hit is not None:
                        result, saved, found = hit
                        self.keys.stat_cache.save()
                        # verify-rate: the entry was found wrong, removed, and the fresh wheel is returned
                        if frontend_call and (fresh := self._verify_sample(kind, found, compute)) is not None:
                            return fresh.result
                        if frontend_call:
                            self._count(kind, "hit", saved, tier)
                            self._reshare(kind, found, target, tier)
                            logger.info(
                                "%s hit %s%s (%s)",
                                hook,
                                found[:8],
                                " from the remote" if tier == "remote" else "",
                                elapsed(self.start),
                            )
                        return result
                    reason = self.keys.why(kind, target, mismatch)
                except StoreError as e:
                    self.storage_failed(e)
                    reason = "cache unavailable"
            outcome = self._said_miss(kind, hook, reason, target, compute, stack, frontend_call=frontend_call)
            self.keys.stat_cache.save()
        return outcome.result

    def _said_miss(  # noqa: PLR0917
        self,
        kind: str,
        hook: str,
        reason: str,
        target: Lookup | None,
        compute: Callable[[], Outcome[T]],
        stack: contextlib.ExitStack,
        *,
        frontend_call: bool,
    ) -> Outcome[T]:
        """``_miss``, and the hook's line saying why it built (a frontend's call only)."""
        try:
            outcome = self._miss(kind, target, compute, stack, count=frontend_call)
        except WheelmemoError:
            raise  # ours: one error line (_hooks), nothing before it
        except BaseException:
            if frontend_call:  # the inner backend's error passes on untouched, after the line
                logger.info("%s miss (%s) → %s failed (%s)", hook, reason, self.inner_name, elapsed(self.start))
            raise
        if frontend_call and outcome.via:
            logger.info("%s hit %s (%s)", hook, outcome.via, elapsed(self.start))
        elif frontend_call:
            logger.info("%s miss (%s) → %s (%s)", hook, reason, self.inner_name, elapsed(self.start))
        return outcome

    def _miss(
        self,
        kind: str,
        target: Lookup | None,
        compute: Callable[[], Outcome[T]],
        stack: contextlib.ExitStack,
        *,
        count: bool,
    ) -> Outcome[T]:
        """Build as a miss (``_buildenv``), learn what the build read and store the outcome."""
        # shutil comes with it: a miss's cost, not a hit's
        from ._buildenv import observed_build
        from ._buildsys import build_dir_plan, build_dirs, read_build_dirs
        from ._srccopy import working_in

        keys = self.keys
        build_env = self._build_dir_env(kind, target, stack)
        root = self._build_root  # the project's, or its stable copy (``_srccopy``)
        known = None if target is None else _declared_paths(root, target.parts["inputs"])
        began = time.monotonic()
        records: BuildSystemFindings | None = None
        compiling = contextlib.ExitStack()
        if keys.settings.compiler_cache == "sccache":  # its server, for this build only
            from ._compcache import compiler_cache

            build_env = {
                **build_env,
                **compiling.enter_context(
                    compiler_cache(
                        keys.settings,
                        keys.adapter,
                        keys.environ,
                        self.local,
                        self._remote(),
                        project=keys.project_id,
                        kind=kind,
                        build_env=build_env,
                        assembler_reads=self._assembler_include(target),
                    )
                ),
            }
        with compiling, observed_build(keys.adapter, build_env, known) as (recorder, scratch):
            self.build_config, patterns = build_dir_plan(
                keys.adapter,
                kind,
                root,
                pyproject=keys.project.pyproject,
                config=keys.inner_config,
                environ=keys.environ,
                scratch=scratch,
                persistent=self.ninja_dir,
            )
            # the build directory is ours and made by this build (a persistent one keeps
            # the records of earlier builds)
            fresh = bool(self.build_config) and self.ninja_dir is None
            try:
                with working_in(root) if root != keys.project.root else contextlib.nullcontext():
                    outcome = compute()
            finally:
                self.build_config = {}
            if patterns and target is not None and self.local is not None:
                # before the scratch directory goes
                records = read_build_dirs(build_dirs(patterns, root), fresh=fresh)
        seconds = time.monotonic() - began
        if target is not None and self.local is not None:
            learned = outcome.learned
            if learned is None:
                learned = self._learn(
                    kind, recorder, scratch, target.parts, build_env=build_env, records=records, files=outcome.files
                )
            if learned is not None:
                self._store_outcome(target, kind, outcome, learned, seconds, count=count)
        return outcome

    def _verify_sample(self, kind: str, found: str, compute: Callable[[], Outcome[T]]) -> Outcome[T] | None:
        """With ``verify-rate``: check a ``build_wheel`` hit against a fresh build
        (``_verify.verify_hit``); the fresh outcome when the entry was wrong, else None."""
        rate = self.keys.settings.verify_rate
        if kind != "wheel" or rate <= 0:
            return None
        import random

        if rate < 1 and random.random() >= rate:
            return None
        from ._verify import verify_hit

        return verify_hit(self, kind, found, compute)

    def _build_dir_env(self, kind: str, target: Lookup | None, stack: contextlib.ExitStack) -> dict[str, str]:
        """The persistent build directory of this project and build environment, made
        safe for the build to come (``_builddir``) and held in ``stack`` (pruning leaves
        it alone), as variables for the inner backend (cargo's), or as ``ninja_dir`` (the
        ``build-dir`` of CMake or meson: ``_ninja_builddir``); none when there is none to use."""
        from ._builddir import BuildDir, build_dir_name, identity_label
        from ._ninja_builddir import identity_extra

        self._build_dir = self.ninja_dir = None
        local, keys = self.local, self.keys
        self._build_root = keys.project.root
        subdir = keys.adapter.ninja_dir_for(kind)
        ninja = subdir is not None and self._ours_to_name(kind)
        if not (
            (keys.adapter.takes_build_dir or ninja)
            and kind in ("wheel", "editable")
            and target is not None
            and local is not None
            and local.mode == READ_WRITE
        ):
            return {}
        parts = target.parts
        asm = self._assembler_include(target)
        if asm is not None:  # what its assembler reads, no tool that keeps objects sees
            logger.info("%s has the assembler read a file (.incbin): a fresh build directory", asm)
            return {}
        identity = {
            name: parts.get(name)
            for name in ("interpreter", "versions", "build_requires", "toolchain", "env", "backend")
        }
        if ninja:
            identity.update(identity_extra(parts.get("config_settings"), keys.environ))
            # a CMake or meson build directory belongs to one source directory: builds
            # from the tree and from the stable copy of sdists (``_srccopy``) alternating
            # in one would each configure anew and recompile everything
            identity["source"] = "copy" if self._in_stable_copy(kind) else "tree"
        name = build_dir_name(keys.project_id, identity)
        path = local.build_path(name)
        if path is None:
            return {}
        build_dir = BuildDir(path)
        env = keys.adapter.build_dir_env(build_dir.path, keys.environ) if keys.adapter.takes_build_dir else {}
        if not (env or ninja):
            return {}
        if not stack.enter_context(local.using_build_dir(name)):
            return {}
        root = self._stable_source(kind, build_dir)
        if not build_dir.prepare(root, parts["inputs"], _learned_state_of(keys.stat_cache), new_files_clear=ninja):
            return {}
        if subdir is not None and ninja and not self._prepare_ninja_dir(path / subdir, stack):
            return env
        self._build_root = root
        # its size, for max-size: measured after the build (before the store that
        # enforces the limit, or at the end if nothing is stored), the lock still held
        build_dir.note_use(keys.project_id, identity_label(identity))
        stack.callback(build_dir.note_size)
        self._build_dir = build_dir
        return env

    def _assembler_include(self, target: Lookup | None) -> str | None:
        """``_buildsys.assembler_include`` of the tree, read once per call (the persistent
        build directory and the compiler cache both ask, on a miss only)."""
        if target is None:
            return None
        digest = str(target.parts.get("inputs_digest"))
        if digest not in self._assembler:
            from ._buildsys import assembler_include

            self._assembler[digest] = assembler_include(self.keys.project.root, target.parts["inputs"])
        return self._assembler[digest]

    def _in_stable_copy(self, kind: str) -> bool:
        """Whether a miss of ``kind`` builds in the stable copy (``_stable_source``): a
        wheel built in a frontend's copy of an unpacked sdist, whose backend is not in
        the tree (an in-tree backend would be imported from the frontend's copy, and may
        read it)."""
        keys = self.keys
        return kind == "wheel" and keys.unpacked_sdist and not keys.settings.backend_path

    def _stable_source(self, kind: str, build_dir: BuildDir) -> Path:
        """Where a miss with a persistent build directory builds: the project, or for a
        wheel built in a frontend's temporary copy of an unpacked sdist, a copy of it that
        stays in the build directory (``_srccopy``), synced with it now."""
        keys = self.keys
        if not self._in_stable_copy(kind) or self.local is None:
            return keys.project.root
        from ._srccopy import SOURCE, stable_copy

        pyproject = keys.project.pyproject
        return stable_copy(
            keys.project.root,
            build_dir.path / SOURCE,
            skip=[*keys.outputs, str(self.local.root.parent)],
            outside=lambda root: keys.adapter.outside_copy(root, pyproject),
        )

    def _ours_to_name(self, kind: str) -> bool:
        """Whether the build directory of CMake or meson is wheelmemo's to name (the user named none)."""
        from ._buildsys import build_dir_plan

        keys = self.keys
        config, _ = build_dir_plan(
            keys.adapter,
            kind,
            keys.project.root,
            pyproject=keys.project.pyproject,
            config=keys.inner_config,
            environ=keys.environ,
            scratch=Path(),
        )
        return bool(config)

    def _prepare_ninja_dir(self, directory: Path, stack: contextlib.ExitStack) -> bool:
        """Configure from scratch in ``directory`` (Ninja's state kept), and remove it after
        a build whose reads were not all remembered (``_ninja_builddir``); False when it
        cannot be used."""
        from ._ninja_builddir import discard

        try:
            self.keys.adapter.fresh_configure(directory)
        except OSError as e:
            logger.debug("build directory %s unusable (%s): a fresh one", directory, e)
            return False
        self.ninja_dir = directory
        self._remembered = False

        def settle() -> None:
            if not self._remembered:
                discard(directory)
            self.ninja_dir = None

        stack.callback(settle)
        return True

    def _learn(
        self,
        kind: str,
        recorder: Recorder,
        scratch: Path,
        parts: Mapping[str, Any],
        *,
        build_env: Mapping[str, str],
        records: BuildSystemFindings | None,
        files: list[tuple[str, Path]],
    ) -> dict[str, Any] | None:
        """The learned inputs of the build just made; None (with a warning) when one of its
        inputs changed while it ran, or it ran a compiler whose reads nothing reported,
        since what it read is then unknown."""
        from ._buildenv import SCRATCH_DIRS
        from ._inputs import DEFAULT_EXCLUDE, UNKEYABLE, compile_glob

        keys = self.keys
        root = self._build_root  # labels relative to it are the project's (``_srccopy``)
        declared = parts["inputs"]
        closure = {
            name.partition(":")[2] or name for name in (*parts.get("versions", {}), *parts.get("build_requires", {}))
        }
        # what the build tool recorded of its own reads (cargo's dep-info)
        tool = None
        if kind in ("wheel", "editable"):
            tool = keys.adapter.learned_inputs(root, keys.project.pyproject, {**keys.environ, **build_env}, declared)
        outputs = [
            str(scratch),
            *SCRATCH_DIRS,
            *keys.outputs,
            *(tool.target_dirs if tool else ()),
            *(records.build_dirs if records else ()),
        ]
        if self.local is not None:
            outputs.append(str(self.local.root))
        context = _learned.BuildContext(
            root,
            declared,
            skip=outputs,
            is_output=lambda label: compile_glob(*DEFAULT_EXCLUDE).match(label) is not None,
            declared_env=lambda name: bool(_key.env_part(keys.adapter.env_patterns(), keys.settings.env, {name: ""})),
            closure=closure,
        )
        shipped = _sdist_files(kind, root, files)
        if shipped is None:
            return None
        # what the sdist build wrote into the tree and shipped (setuptools-scm's and
        # hatch-vcs's version files) is its output, made from what it read
        shipped = {path: source for path, source in shipped.items() if not _written_since(path, recorder.start_ns)}
        learned, changed = _learned.learn(
            recorder,
            context,
            keys.stat_cache,
            tool,
            self._installed,
            build_system={**(records.files if records else {}), **shipped},
        )
        after = keys.collect_inputs(root)
        tree_changes = _key.diff_parts({"inputs": declared}, {"inputs": after})  # "Cargo.lock added"
        changed = [c for c in changed if not any(t.startswith(f"{c} ") for t in tree_changes)] + tree_changes
        if changed:
            warn_once(
                f"the build changed its own inputs ({', '.join(changed[:3])}), so what it read is "
                "not known and its result is not cached: commit generated files the build needs "
                "(a Cargo.lock) or list them in .gitignore"
            )
            return None
        unkeyable = sorted(
            label for label, (state, _) in (learned.get("files") or {}).items() if state.startswith(UNKEYABLE)
        )
        if unkeyable:
            warn_once(
                f"the build read {unkeyable[0]}, which is no regular file (a directory outside the project, "
                "a FIFO, a socket, a device, or a link into /proc, /dev or /sys): its result is not cached"
            )
            return None
        if kind in ("wheel", "editable") and not keys.settings.inputs:
            member = _unseen_compile(
                learned,
                files,
                records,
                reported=bool(
                    recorder.compiler_dep_paths or (tool and tool.files) or (records and records.compiler_reported)
                ),
            )
            if member is not None:
                warn_once(
                    f"{self.inner_name} built {member} with a compiler whose reads wheelmemo cannot see "
                    "(no compiler dependency output, cargo dep-info or whole Ninja deps log), so its "
                    "result is not cached: list the files it reads in [tool.wheelmemo] inputs = [...] "
                    "to cache it"
                )
                return None
        if kind in ("wheel", "editable"):
            self.last_learned = learned
        if self._build_dir is not None:
            self._build_dir.remember_learned(learned.get("files") or {})
            self._remembered = True
        return learned

    def _record(  # noqa: PLR0917
        self,
        store: Store,
        target: Lookup,
        kind: str,
        files: list[tuple[str, Path]],
        learned: dict[str, Any],
        seconds: float,
        value: Any,
        *,
        key: str | None = None,
        narrow: bool = False,
    ) -> Entry:
        """Store a result under its learned key and list it first in the manifest of its
        declared key (which keeps ``MAX_CANDIDATES``; ``narrow``: see ``_list_under``)."""
        result_key = key or _learned.learned_key(target.key, learned)
        entry = store.put(
            result_key, kind, files, build_seconds=seconds, parts=dict(target.parts, learned=learned), value=value
        )
        self._list_under(store, target.key, result_key, learned, narrow=narrow)
        return entry

    def _store_outcome(
        self, target: Lookup, kind: str, outcome: Outcome[Any], learned: dict[str, Any], seconds: float, *, count: bool
    ) -> None:
        """Store a computed result locally and upload it; ``count`` it in the statistics
        (a frontend's call, not our own)."""
        # a sealed build opened every file it shipped (the bytes came from somewhere it
        # was seen reading): its wheel need not be searched for them
        shipped = [] if learned.get("sealed") is True else outcome.files
        read = set(learned.get("read") or ()) | _read_by_nature(
            target.parts["inputs"], shipped, self.keys.project.root, self.keys.stat_cache.size_and_crc
        )
        learned = dict(learned, read=sorted(read))
        local = self.local
        assert local is not None
        # verification found a result under this key wrong: the key does not determine
        # the result, so nothing is cached under it, here or on the remote (``_verify``)
        rejected = local.rejected(_learned.learned_key(target.key, learned))
        try:
            if not rejected:
                self._record(local, target, kind, outcome.files, learned, seconds, outcome.value)
            if count:
                self._count(kind, "hit" if outcome.via else "miss", 0.0, "local")
            if outcome.files:  # a value-only entry (get_requires) adds no blob
                if self._build_dir is not None:
                    self._build_dir.note_size()
                local.enforce_limit(self.keys.settings.max_size)
        except StoreError as e:
            self.storage_failed(e)
        remote = self._remote()
        if remote is not None and not outcome.via and not rejected:
            if remote.mode == READ_WRITE:
                self._record(remote, target, kind, outcome.files, learned, seconds, outcome.value)
                self._flush_remote(kind)
            else:
                remote.not_uploaded()

    def _reshare(self, kind: str, found: str, target: Lookup, tier: str) -> None:
        """With ``remote-reshare``: upload a local hit that the remote lacks."""
        remote, local = self._remote(), self.local
        if not (tier == "local" and self.keys.settings.remote_reshare and local is not None and remote is not None):
            return
        if remote.mode != READ_WRITE:
            remote.not_uploaded()
            return
        if remote.get(found) is not None:
            return
        entry = local.get(found)
        parts = local.parts(found)
        if entry is None or parts is None or not isinstance(parts.get("learned"), dict):
            return
        files = [(stored.name, local.blob_path(stored.blob)) for stored in entry.files]
        self._record(
            remote,
            target,
            entry.kind,
            files,
            parts["learned"],
            entry.build_seconds,
            entry.value,
            key=found,
            narrow=self._narrow_hit,
        )
        self._flush_remote(kind)

    # -- statistics ------------------------------------------------------------------------
    def _count(self, kind: str, event: str, saved: float, tier: str) -> None:
        """One line of statistics for the local cache and one for the remote's part."""
        local = self.local
        if local is None:
            return
        remote = self.remote
        local.record_event(self.keys.project_id, kind, event if tier == "local" else "miss", saved)
        if remote is not None:
            if tier == "remote":
                remote.stats.counts["hit"] += 1
            elif event == "miss" and remote.mode != FAILED:
                remote.stats.counts["miss"] += 1
            self._flush_remote(kind, saved if tier == "remote" else 0.0)

    def _flush_remote(self, kind: str, saved: float = 0.0) -> None:
        remote, local = self.remote, self.local
        if remote is None or local is None or not remote.stats.used:
            return
        stats = remote.stats
        local.record_remote(
            self.keys.project_id,
            kind,
            stats.counts,
            saved=saved,
            seconds=stats.seconds,
            bytes_down=stats.bytes_down,
            bytes_up=stats.bytes_up,
        )
        remote.stats = type(stats)()


def _learned_state_of(digests: _learned.DigestSource) -> Callable[[str, str], str]:
    """The state of a build directory's learned input, as ``_learned.learn`` gives it."""
    return lambda label, path: digests.learned_state(label, path, walk=not os.path.isabs(label))


def _sdist_files(kind: str, root: Path, files: list[tuple[str, Path]]) -> dict[str, str] | None:
    """For an sdist just made, the files of the tree it holds (``_sdist.tree_files``);
    None, with a warning, when it cannot be read: then what it was made of is unknown."""
    if kind != "sdist" or len(files) != 1:
        return {}
    import tarfile

    from ._sdist import tree_files

    try:
        return tree_files(files[0][1], root)
    except (OSError, EOFError, tarfile.TarError) as e:
        warn_once(f"cannot read {files[0][0]} ({e}): what it was made of is unknown, so it is not cached")
        return None


def _written_since(path: str, start_ns: int) -> bool:
    try:
        return os.stat(path).st_mtime_ns >= start_ns
    except OSError:
        return True


def _declared_paths(root: Path, inputs: Mapping[str, str]) -> dict[str, str]:
    """The declared inputs by absolute path (an absolute label, outside the tree, makes a
    path no file is opened by).  A label leaving the tree (``../shared/src/lib.rs``, a
    path dependency) by its normal path, as opens and cargo's dep-info name it: else its
    reads are learned again under an absolute label, and the entry's key holds where the
    checkout is (another checkout's hits then miss)."""
    prefix = str(root) + os.sep
    if os.sep == "/":
        paths = {prefix + label: label for label in inputs}
    else:
        paths = {prefix + label.replace("/", os.sep): label for label in inputs}
    for label in [label for label in inputs if label.startswith("../")]:
        path = prefix + label.replace("/", os.sep)
        del paths[path]
        paths[os.path.normpath(path)] = label
    return paths


def _unseen_compile(
    learned: Mapping[str, Any], files: list[tuple[str, Path]], records: BuildSystemFindings | None, *, reported: bool
) -> str | None:
    """The compiled wheel member of an uncertain build, else None.

    A build is uncertain when its wheel holds a compiled module or library, it ran other
    processes (not sealed: the bytes may come from a compiler), and no compiler's reads
    were reported (``DEPENDENCIES_OUTPUT``, cargo's dep-info, a build system's deps log or
    depfiles), or a build system's records were damaged.  What such a build read is
    unknown; its result is not stored.
    """
    if learned.get("sealed") is True:
        return None
    if reported and (records is None or records.complete):
        return None
    return _compiled_member(files)


def _compiled_member(files: list[tuple[str, Path]]) -> str | None:
    """The first compiled module or library a built wheel holds, or None."""
    import zipfile

    from ._inputs import EXTENSION_SUFFIXES

    for name, path in files:
        if not name.endswith(".whl"):
            continue
        try:
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
        except (OSError, zipfile.BadZipFile):
            return name  # unreadable: as uncertain as it gets
        for member in names:
            if member.endswith(EXTENSION_SUFFIXES) or ".so." in member.rpartition("/")[2]:
                return member
    return None


def _read_by_nature(
    inputs: Mapping[str, str],
    files: list[tuple[str, Path]],
    root: Path,
    size_and_crc: Callable[[str], tuple[int, int] | None],
) -> set[str]:
    """Project files a build reads whoever runs it (sources and build files of compiled
    parts) and the files it shipped (wheel members with the bytes of a project file):
    the files an unpacked sdist must hold unchanged to share the tree's result.

    A member is matched to the project files of its name (else of its size) by the
    CRC-32 the wheel's directory holds, without decompressing it: a false match (2^-32)
    only takes a file for shipped, which makes sdists miss more, never hit wrongly.
    """
    from ._inputs import builds_compiled_parts

    read = {label for label in inputs if builds_compiled_parts(label) and not os.path.isabs(label)}
    wheels = [path for name, path in files if name.endswith(".whl")]
    if not wheels:
        return read
    import zipfile

    by_name: dict[str, list[str]] = {}
    for label in inputs:
        if not os.path.isabs(label):
            by_name.setdefault(label.rpartition("/")[2], []).append(label)
    for path in wheels:
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.infolist()
        except (OSError, zipfile.BadZipFile):
            continue
        read |= _shipped(members, by_name, root, size_and_crc)
    return read


def _shipped(
    members: list[Any],
    by_name: Mapping[str, list[str]],
    root: Path,
    size_and_crc: Callable[[str], tuple[int, int] | None],
) -> set[str]:
    """The project files (labels by file name) that ``members`` hold, byte for byte:
    by the size and CRC-32 the stat cache took while hashing them (else read again,
    regular files only: a FIFO's open would wait for ever)."""
    from ._inputs import file_digest_crc

    def known(label: str) -> tuple[int, int] | None:
        found = size_and_crc(label)
        if found is not None:
            return found
        try:
            size = os.stat(root / label).st_size
            return size, file_digest_crc(root / label)[1]
        except OSError:
            return None

    shipped: set[str] = set()
    by_size: dict[int, list[str]] | None = None
    for info in members:
        candidates = by_name.get(info.filename.rpartition("/")[2])
        if candidates is None:  # shipped under another name (data files, renames)
            if by_size is None:
                by_size = {}
                for label in (label for labels in by_name.values() for label in labels):
                    state = known(label)
                    if state is not None:
                        by_size.setdefault(state[0], []).append(label)
            candidates = by_size.get(info.file_size, [])
        shipped.update(label for label in candidates if known(label) == (info.file_size, info.CRC))
    return shipped
