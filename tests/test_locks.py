"""The lock files of the cache are bounded too: pruning removes those of what it evicts
and those of what is gone, holding each, and a process that locked a file removed
meanwhile (between its open and its lock) takes the new one instead of believing it
holds the key's lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import wheelmemo
from wheelmemo import _fsdir
from wheelmemo._errors import StoreError
from wheelmemo._store import LocalStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="flock; lock files are not removed on Windows")

KEYS = [c * 64 for c in "abcd"]
BUILDS = ["1" * 32, "2" * 32]
#: a lock file an older version left, of a build directory that is gone
GONE = f"build-{'3' * 32}.lock"


def _locks(cache: Path) -> set[str]:
    return {p.name for p in (cache / "v1" / "locks").iterdir()}


def _fill(store: LocalStore, tmp_path: Path) -> None:
    """Three entries, a key only looked up, two build directories, each locked once, and
    a lock file of a build directory that is not there."""
    wheel = tmp_path / "w.whl"
    wheel.write_bytes(b"wheel")
    for key in KEYS[:3]:
        with store.lock(key):
            store.put(key, "wheel", [("w.whl", wheel)], build_seconds=1.0, parts={})
    with store.reading(KEYS[3]):  # a miss: no entry
        pass
    for name in BUILDS:
        assert store.build_path(name) is not None
        with store.using_build_dir(name) as used:
            assert used
    (store.root / "locks" / GONE).touch()
    assert _locks(store.root.parent) == {f"{key}.lock" for key in KEYS} | {f"build-{n}.lock" for n in BUILDS} | {GONE}


def test_clean_removes_the_lock_files_of_what_it_removes_but_those_held(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = LocalStore(cache)
    _fill(store, tmp_path)
    with store.reading(KEYS[0]) as read, store.using_build_dir(BUILDS[0]) as used:
        assert read and used
        pruned = LocalStore(cache).prune(max_size=0)  # `wheelmemo clean`, in another process
        assert _locks(cache) == {f"{KEYS[0]}.lock", f"build-{BUILDS[0]}.lock"}
    assert (pruned.entries, pruned.build_dirs) == (2, 1)
    assert store.get(KEYS[0]) is not None and store.get(KEYS[1]) is None
    assert (cache / "v1" / "build" / BUILDS[0]).is_dir()
    assert not (cache / "v1" / "build" / BUILDS[1]).exists()
    assert LocalStore(cache).prune(max_size=0)[:2] == (1, 1)
    assert _locks(cache) == set()


def test_prune_keeps_the_lock_files_of_what_it_keeps(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    store = LocalStore(cache)
    _fill(store, tmp_path)
    old = time.time() - 7200
    os.utime(cache / "v1" / "entries" / KEYS[0][:2] / f"{KEYS[0]}.json", (old, old))
    os.utime(cache / "v1" / "build" / BUILDS[0], (old, old))
    assert LocalStore(cache).prune(older_than=3600)[:2] == (1, 1)
    assert _locks(cache) == {f"{KEYS[1]}.lock", f"{KEYS[2]}.lock", f"build-{BUILDS[1]}.lock"}


_HOLD = """
import sys
from collections.abc import Iterator
from pathlib import Path
from wheelmemo._store import LocalStore
held = LocalStore(Path(sys.argv[1])).lock(sys.argv[2])
assert held.__enter__()
print("held", flush=True)
sys.stdin.read()
"""


class Race:
    """The first lock taken (process A's, through the store) finds, between its open and
    its lock, that a pruner removed the key's lock file (holding it) and that process B
    made a new one, which B holds until A tries it."""

    def __init__(self, cache: Path, key: str) -> None:
        self.cache, self.key = cache, key
        self.path = cache / "v1" / "locks" / f"{key}.lock"
        self.holders: list[subprocess.Popen[str]] = []
        self.tries: list[bool] = []  #: A's tries of B's file while B holds it
        self.take = _fsdir.take_lock
        self.armed = False  #: set by the test once what comes before is done

    def __call__(self, fd: int, *, shared: bool, wait: bool, bound: float = _fsdir.LOCK_WAIT) -> bool:
        if not self.armed:
            return self.take(fd, shared=shared, wait=wait, bound=bound)
        if not self.holders:  # A is about to lock the file it opened
            pruner = os.open(self.path, os.O_RDWR)
            fcntl.flock(pruner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.path.unlink()
            os.close(pruner)
            env = {**os.environ, "PYTHONPATH": str(Path(wheelmemo.__file__).parents[1])}
            self.holders.append(
                subprocess.Popen(
                    [sys.executable, "-c", _HOLD, str(self.cache), self.key],
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            )
            assert self.holders[0].stdout is not None and self.holders[0].stdout.readline() == "held\n"
        elif self.b_holds():  # B's file: A cannot have it while B holds it
            self.tries.append(self.take(fd, shared=shared, wait=False))
            if wait:
                self.holders[0].communicate("")  # B lets go
        return self.take(fd, shared=shared, wait=wait)

    def b_holds(self) -> bool:
        return self.holders[0].poll() is None

    def end(self) -> None:
        for holder in self.holders:
            if holder.poll() is None:
                holder.communicate("")
        assert [holder.returncode for holder in self.holders if holder.returncode] == []


@pytest.fixture
def race(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Race]:
    found = Race(tmp_path / "cache", KEYS[0])
    monkeypatch.setattr(_fsdir, "take_lock", found)
    try:
        yield found
    finally:
        found.end()


def test_a_lock_file_removed_between_its_open_and_its_lock_is_not_taken_for_the_keys(race: Race) -> None:
    """A must take B's file instead of the one it opened, which nobody else will lock
    again, and hold it only once B lets go."""
    race.armed = True
    with LocalStore(race.cache).lock(race.key) as held:
        assert held
        assert not race.b_holds(), "A held the key's lock while B held it"
        assert race.tries == [False]
        fd = os.open(race.path, os.O_RDWR)  # and nobody else can take it now
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)


def test_a_pruner_that_locked_a_removed_lock_file_removes_nothing(race: Race, tmp_path: Path) -> None:
    """A pruner is process A: it must neither remove the entry B holds nor B's lock file."""
    wheel = tmp_path / "w.whl"
    wheel.write_bytes(b"wheel")
    store = LocalStore(race.cache)
    store.put(race.key, "wheel", [("w.whl", wheel)], build_seconds=1.0, parts={})
    with store.reading(race.key):
        pass  # the key's lock file
    race.armed = True
    assert not LocalStore(race.cache).remove(race.key)
    assert race.b_holds() and race.tries == [False]
    assert store.get(race.key) is not None and race.path.exists()


def test_a_lock_file_removed_at_every_try_is_given_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pruners removing the file between every open and lock: "cannot lock" after a few
    tries (a build without the cache), not a loop without a bound; a reader goes on."""
    cache = tmp_path / "cache"
    take = _fsdir.take_lock
    tries: list[int] = []

    def removed_each_time(fd: int, *, shared: bool, wait: bool, bound: float = _fsdir.LOCK_WAIT) -> bool:
        tries.append(fd)
        os.unlink(cache / "v1" / "locks" / f"{KEYS[0]}.lock")
        return take(fd, shared=shared, wait=wait, bound=bound)

    monkeypatch.setattr(_fsdir, "take_lock", removed_each_time)
    store = LocalStore(cache)
    with pytest.raises(StoreError, match="cannot lock"), store.lock(KEYS[0]):
        pass
    assert len(tries) == _fsdir.LOCK_ATTEMPTS
    with store.reading(KEYS[0]) as read:
        assert not read


def test_the_retries_of_a_removed_lock_file_share_one_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each try of a lock whose file a pruner removed waits what is left of one
    ``LOCK_WAIT``, not a ``LOCK_WAIT`` of its own."""
    cache = tmp_path / "cache"
    take = _fsdir.take_lock
    now = [1000.0]
    bounds: list[float] = []

    def slow_and_removed(fd: int, *, shared: bool, wait: bool, bound: float = _fsdir.LOCK_WAIT) -> bool:
        bounds.append(bound)
        now[0] += _fsdir.LOCK_WAIT / 3  # each try waits a third of the bound for its holder
        os.unlink(cache / "v1" / "locks" / f"{KEYS[0]}.lock")
        return take(fd, shared=shared, wait=wait, bound=0.0)

    monkeypatch.setattr(_fsdir, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    monkeypatch.setattr(_fsdir, "take_lock", slow_and_removed)
    with pytest.raises(StoreError, match="cannot lock"), LocalStore(cache).lock(KEYS[0]):
        pass
    third = _fsdir.LOCK_WAIT / 3
    assert bounds[:4] == pytest.approx([3 * third, 2 * third, third, 0.0])
    assert all(bound == 0.0 for bound in bounds[3:])
