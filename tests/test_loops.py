"""No unbounded loop: every retry or wait of the cache has a bound and a back-off.

The Windows lock (``msvcrt.locking``) is taken on Linux here with the lock call
simulated: a fake that refuses N times, or for ever, and a fake ``sleep`` that only
notes the pauses (nothing sleeps for real).  The POSIX lock is a real ``flock`` held by
another process, waited for with the same fake ``sleep``.
"""

from __future__ import annotations

import errno
import functools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from wheelmemo import _fsdir, _store
from wheelmemo._errors import StoreError
from wheelmemo._fsdir import (
    LOCK_PAUSES,
    LOCK_WAIT,
    TEMP_ATTEMPTS,
    posix_lock,
    windows_lock,
)

from conftest import Hooks


class FakeLocking:
    """``msvcrt.locking`` of a file another process holds for ``busy`` tries (None: ever)."""

    def __init__(self, busy: int | None, error: int = errno.EACCES) -> None:
        self.busy = busy
        self.error = error
        self.calls: list[tuple[int, int, int]] = []

    def __call__(self, fd: int, mode: int, nbytes: int) -> None:
        self.calls.append((fd, mode, nbytes))
        if self.busy is None or len(self.calls) <= self.busy:
            raise OSError(self.error, "Permission denied")


def test_a_windows_lock_taken_after_a_few_refusals_backs_off_exponentially() -> None:
    locking, pauses = FakeLocking(busy=4), list[float]()
    assert windows_lock(7, wait=True, locking=locking, nonblocking=2, sleep=pauses.append)
    assert locking.calls == [(7, 2, 1)] * 5  # never the blocking mode: polled
    first = LOCK_PAUSES[0]
    assert pauses == [first, 2 * first, 4 * first, 8 * first]


def test_a_windows_lock_held_for_ever_is_given_up_after_the_bound() -> None:
    locking, pauses = FakeLocking(busy=None), list[float]()
    with pytest.raises(TimeoutError) as caught:
        windows_lock(7, wait=True, locking=locking, sleep=pauses.append)
    assert caught.value.errno == errno.ETIMEDOUT
    assert sum(pauses) == pytest.approx(LOCK_WAIT)  # the whole bound waited, not more
    assert len(locking.calls) == len(pauses) + 1  # a last try after the last pause
    # doubling, capped (the last one is what is left of the bound)
    assert pauses[:-1] == sorted(pauses[:-1]) and max(pauses) == LOCK_PAUSES[1]
    assert len(pauses) < LOCK_WAIT / LOCK_PAUSES[1] + 20  # not a busy loop


def test_a_windows_lock_without_waiting_is_one_try() -> None:
    locking, pauses = FakeLocking(busy=None), list[float]()
    assert not windows_lock(7, wait=False, locking=locking, sleep=pauses.append)
    assert len(locking.calls) == 1 and pauses == []


def test_a_windows_lock_error_other_than_busy_is_not_retried() -> None:
    locking, pauses = FakeLocking(busy=None, error=errno.EINVAL), list[float]()
    with pytest.raises(OSError) as caught:
        windows_lock(7, wait=True, locking=locking, sleep=pauses.append)
    assert caught.value.errno == errno.EINVAL
    assert len(locking.calls) == 1 and pauses == []


class Holder(NamedTuple):
    fd: int  #: a descriptor of the lock file, opened here
    release: Callable[[], object]  #: the other process lets go (and ends)


@pytest.fixture
def held_elsewhere(tmp_path: Path) -> Iterator[Holder]:
    """A lock file another process holds exclusively until ``release`` or the test's end."""
    path = tmp_path / "held.lock"
    path.touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, sys; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); "
                "print('held', flush=True); sys.stdin.read()"
            ),
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline() == "held\n"
    fd = os.open(path, os.O_RDWR)
    try:
        yield Holder(fd, lambda: holder.communicate(""))
    finally:
        os.close(fd)
        if holder.poll() is None:
            holder.communicate("")


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
@pytest.mark.parametrize("shared", [False, True])
def test_a_posix_lock_held_for_ever_is_given_up_after_the_bound(held_elsewhere: Holder, shared: bool) -> None:
    pauses: list[float] = []
    with pytest.raises(TimeoutError):
        posix_lock(held_elsewhere.fd, shared=shared, wait=True, sleep=pauses.append)
    assert sum(pauses) == pytest.approx(LOCK_WAIT)
    assert pauses[:3] == [LOCK_PAUSES[0], 2 * LOCK_PAUSES[0], 4 * LOCK_PAUSES[0]]
    assert max(pauses) == LOCK_PAUSES[1]
    assert not posix_lock(held_elsewhere.fd, shared=shared, wait=False, sleep=pauses.append)


@pytest.mark.skipif(sys.platform == "win32", reason="flock is POSIX")
def test_a_posix_lock_is_taken_once_its_holder_lets_go(held_elsewhere: Holder) -> None:
    pauses: list[float] = []

    def sleep(pause: float) -> None:  # the holder lets go during the third pause
        pauses.append(pause)
        if len(pauses) == 3:
            held_elsewhere.release()

    assert posix_lock(held_elsewhere.fd, shared=False, wait=True, sleep=sleep)
    assert len(pauses) == 3


@pytest.fixture
def windows_locks(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The store's locks go through the Windows path, every lock held by another process
    for ever; the pauses it would have slept."""
    pauses: list[float] = []
    monkeypatch.setattr(_fsdir, "WINDOWS", True)
    monkeypatch.setattr(
        _fsdir, "windows_lock", functools.partial(windows_lock, locking=FakeLocking(busy=None), sleep=pauses.append)
    )
    return pauses


def test_a_windows_lock_held_for_ever_is_a_store_error(tmp_path: Path, windows_locks: list[float]) -> None:
    store = _store.LocalStore(tmp_path / "cache")
    with pytest.raises(StoreError, match="cannot lock"), store.lock("ab" * 32):
        pass
    assert sum(windows_locks) == pytest.approx(LOCK_WAIT)
    with store.reading("ab" * 32) as locked:  # a reader goes on without the lock
        assert not locked


def test_a_build_whose_lock_is_held_for_ever_on_windows_warns_and_builds(
    hooks: Hooks, cache_dir: Path, windows_locks: list[float], capsys: pytest.CaptureFixture[str]
) -> None:
    first = hooks.build_wheel(subdir="a").read_bytes()
    assert hooks.calls()["build_wheel"] == 1
    err = capsys.readouterr().err
    assert "warning:" in err and "cannot lock" in err and "Traceback" not in err
    assert hooks.build_wheel(subdir="b").read_bytes() == first  # built again: no lock, no entry
    assert hooks.calls()["build_wheel"] == 2


# -- temporary names -----------------------------------------------------------------------
@pytest.fixture
def one_name(monkeypatch: pytest.MonkeyPatch) -> bytes:
    """``os.urandom`` always gives the same bytes: every new temporary name is taken."""
    drawn = b"\x01" * 6
    monkeypatch.setattr(os, "urandom", lambda n: drawn[:n])
    return drawn


def test_temporary_names_are_drawn_a_bounded_number_of_times(tmp_path: Path, one_name: bytes) -> None:
    taken = tmp_path / f".tmp-{os.getpid()}-{one_name.hex()}"
    taken.write_bytes(b"")
    with pytest.raises(FileExistsError):
        _store.temp_file(tmp_path)
    opened: list[str] = []

    def create(name: str) -> int:
        opened.append(name)
        raise FileExistsError(errno.EEXIST, "exists", name)

    with pytest.raises(FileExistsError):
        _fsdir.new_temp(create, ".tmp-")
    assert len(opened) == TEMP_ATTEMPTS


def test_a_store_whose_temporary_names_are_all_taken_is_a_store_error(tmp_path: Path, one_name: bytes) -> None:
    store = _store.LocalStore(tmp_path / "cache")
    source = tmp_path / "file"
    source.write_bytes(b"data")
    store.put("cd" * 32, "wheel", [("p-1.0-py3-none-any.whl", source)], build_seconds=1.0, parts={})  # makes tmp/
    (tmp_path / "cache" / "v1" / "tmp" / f"blob-{os.getpid()}-{one_name.hex()}").write_bytes(b"")
    source.write_bytes(b"other data")
    with pytest.raises(StoreError):
        store.put("ef" * 32, "wheel", [("p-1.0-py3-none-any.whl", source)], build_seconds=1.0, parts={})
