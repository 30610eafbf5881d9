"""The stat cache: digests remembered by stat, and the hit path that checks them all at once.

A hit at 20,000 files must not hash, list or look anything up file by file when nothing
changed (``StatCache.digest_all`` compares one string of every signature; the walk and
the exclusions are remembered), and must still see every change.  The never-stale
matrix (``test_never_stale``, ``test_inputs_tree``, ``test_learned``) runs every case
with settled timestamps too, through these paths; here are the paths themselves.
"""

from __future__ import annotations

import hashlib
import marshal
import os
import sys
import zlib
from pathlib import Path
from typing import Any

import pytest

from wheelmemo import _inputs, _walk
from wheelmemo._inputs import KEPT_MEMO_KEY, StatCache, collect_inputs, file_digest
from wheelmemo.backends import adapter_for

from conftest import Hooks, settle_timestamps


def _tree(root: Path, n: int = 5) -> dict[str, str]:
    """label -> path of n small files."""
    found = {}
    for i in range(n):
        path = root / "pkg" / f"m{i}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"VALUE = {i}\n")
        found[f"pkg/m{i}.py"] = str(path)
    return found


def _no_hashing(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the files hashed from now on."""
    hashed: list[str] = []
    real = _inputs.file_digest_crc

    def counting(path: str | Path, deadline: float | None = None) -> tuple[str, int]:
        hashed.append(str(path))
        return real(path, deadline)

    monkeypatch.setattr(_inputs, "file_digest_crc", counting)
    return hashed


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_inputs, "_RACY_NS", -(10**12))
    monkeypatch.setattr(_walk, "_RACY_NS", -(10**12))


@pytest.mark.usefixtures("settled")
def test_nothing_changed_is_answered_without_a_lookup_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found = _tree(tmp_path)
    saved = tmp_path / "stat.m"
    first = StatCache(saved)
    digests = first.digest_all(found)
    assert digests == {label: file_digest(path) for label, path in found.items()}
    first.save()
    hashed = _no_hashing(monkeypatch)
    again = StatCache(saved)
    assert again.digest_all(found) == digests
    assert hashed == []
    assert again._old is None  # the label-by-label view was never built
    # what a miss needs of it: size and CRC-32 of shipped files, without reading them
    assert again.size_and_crc("pkg/m3.py") == (len(b"VALUE = 3\n"), zlib.crc32(b"VALUE = 3\n"))
    mtime = os.stat(saved).st_mtime_ns
    again.save()
    assert os.stat(saved).st_mtime_ns == mtime  # nothing new: not written


@pytest.mark.usefixtures("settled")
@pytest.mark.parametrize(
    "change",
    [
        "same size, old mtime",
        pytest.param(
            "chmod +x", marks=pytest.mark.skipif(sys.platform == "win32", reason="no executable bit on Windows")
        ),
        "replaced",
        "removed",
        "added",
    ],
)
def test_one_change_hashes_that_file_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: str) -> None:
    found = _tree(tmp_path)
    saved = tmp_path / "stat.m"
    cache = StatCache(saved)
    before = cache.digest_all(found)
    cache.save()
    target = Path(found["pkg/m2.py"])
    if change == "same size, old mtime":
        st = target.stat()
        target.write_text("VALUE = 9\n")
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    elif change == "chmod +x":
        target.chmod(0o755)
    elif change == "replaced":
        target.with_suffix(".new").write_text("VALUE = 2\n# replaced\n")
        os.replace(target.with_suffix(".new"), target)
    elif change == "removed":
        target.unlink()
        del found["pkg/m2.py"]
    else:
        (tmp_path / "pkg" / "m9.py").write_text("VALUE = 99\n")
        found["pkg/m9.py"] = str(tmp_path / "pkg" / "m9.py")
    hashed = _no_hashing(monkeypatch)
    after = StatCache(saved).digest_all(found)
    hashed = list(hashed)  # (the expectation below hashes every file)
    expected = {label: ("x:" if os.access(path, os.X_OK) else "") + file_digest(path) for label, path in found.items()}
    assert after == expected
    changed = {"removed": [], "added": [found.get("pkg/m9.py", "")]}.get(change, [str(target)])
    assert hashed == changed
    assert after != before


def test_racy_files_are_hashed_again_in_the_next_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # just written: a same-size rewrite within the file system's tick would keep the
    # stat, so no digest of these files is kept
    found = _tree(tmp_path, 3)
    saved = tmp_path / "stat.m"
    cache = StatCache(saved)
    cache.digest_all(found)
    cache.save()
    expected = {label: file_digest(path) for label, path in found.items()}
    hashed = _no_hashing(monkeypatch)
    assert StatCache(saved).digest_all(found) == expected
    assert sorted(hashed) == sorted(found.values())


@pytest.mark.usefixtures("settled")
@pytest.mark.parametrize(
    "damaged",
    [
        None,
        5,
        ("a", "b", "c"),
        ("pkg/m0.py", "1:2:3:4", "d", 5),
        ("pkg/m0.py\0pkg/m1.py", "1:2:3:4", "d", "00000000"),
        ("pkg/m0.py", "garbage", "planted", "00000000"),
        ("pkg/m0.py", "1:2:3:4", "planted", "zzzzzzzz"),
    ],
)
def test_a_damaged_stat_cache_means_hashing_again(tmp_path: Path, damaged: Any) -> None:
    found = _tree(tmp_path, 2)
    saved = tmp_path / "stat.m"
    saved.write_bytes(marshal.dumps({"inputs": damaged, "files": {}, "memo": {}}))
    assert StatCache(saved).digest_all(found) == {label: file_digest(path) for label, path in found.items()}


@pytest.mark.usefixtures("settled")
def test_a_planted_digest_under_the_right_signature_is_what_a_cache_is(tmp_path: Path) -> None:
    """The control of the test above: the stat cache is trusted by signature, so a test
    that plants a digest under the file's real signature sees it (this is why the stat
    cache lives in the user's private cache directory, never in a shared one)."""
    found = _tree(tmp_path, 1)
    st = os.stat(found["pkg/m0.py"])
    sig = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}"
    saved = tmp_path / "stat.m"
    saved.write_bytes(marshal.dumps({"inputs": ("pkg/m0.py", sig, "planted", "00000000"), "files": {}, "memo": {}}))
    assert StatCache(saved).digest_all(found) == {"pkg/m0.py": "planted"}


@pytest.mark.usefixtures("settled")
def test_exclusions_are_remembered_by_listing_and_patterns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _tree(tmp_path, 3)
    (tmp_path / "pkg" / "native.so").write_bytes(b"\0")
    memo: dict[str, Any] = {}
    cache = StatCache(None)
    cache.memo = memo
    assert sorted(collect_inputs(tmp_path, {}, adapter=adapter_for("x", []), stat_cache=cache)) == [
        "pkg/m0.py",
        "pkg/m1.py",
        "pkg/m2.py",
    ]
    assert KEPT_MEMO_KEY in memo

    def no_matching(*patterns: str) -> None:
        raise AssertionError("matched again")

    with monkeypatch.context() as m:
        m.setattr(_inputs, "compile_glob", no_matching)
        assert sorted(collect_inputs(tmp_path, {}, adapter=adapter_for("x", []), stat_cache=cache)) == [
            "pkg/m0.py",
            "pkg/m1.py",
            "pkg/m2.py",
        ]
    # other patterns, or another listing: matched again
    assert sorted(collect_inputs(tmp_path, {}, adapter=adapter_for("x", []), exclude=["m1.py"], stat_cache=cache)) == [
        "pkg/m0.py",
        "pkg/m2.py",
    ]
    (tmp_path / "pkg" / "m7.py").write_text("")
    assert "pkg/m7.py" in collect_inputs(
        tmp_path, {}, adapter=adapter_for("x", []), exclude=["m1.py"], stat_cache=cache
    )


def test_a_settled_hit_lists_no_directory_and_hashes_no_file(hooks: Hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    settle_timestamps(monkeypatch)
    hooks.build_wheel()
    hooks.build_wheel()  # the stat cache and the walk are remembered from here on
    hashed = _no_hashing(monkeypatch)
    listed: list[str] = []
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        listed.append(str(path))
        return real_scandir(path)

    monkeypatch.setattr(_walk.os, "scandir", scandir)
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 1
    assert hashed == []
    assert [p for p in listed if str(hooks.project) in p] == []
    # and a new file in a nested directory is seen by the next call
    (hooks.project / "src" / "fakepkg" / "extra.py").write_text("X = 1\n")
    hooks.build_wheel()
    assert hooks.calls()["build_wheel"] == 2
    assert any(p.endswith(os.path.join("src", "fakepkg")) for p in listed)


@pytest.mark.parametrize("short_reads", [False, True], ids=["whole-reads", "short-reads"])
def test_file_digests_cover_every_byte_whatever_the_reads_return(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    short_reads: bool,
) -> None:
    """A small file is hashed in one read, asked for one byte more than its size; a file
    system whose reads stop short (FUSE, network) is read on to its end all the same."""
    chunk = _inputs._CHUNK
    if short_reads:
        real_read = os.read
        monkeypatch.setattr(os, "read", lambda fd, n: real_read(fd, min(n, 1000)))
    for size in (0, 1, 999, 1000, 1001, chunk - 1, chunk, chunk + 1, 2 * chunk + 7):
        data = bytes((i * 7 + size) % 251 for i in range(size))
        path = tmp_path / f"f{size}"
        path.write_bytes(data)
        assert _inputs.file_digest_crc(path) == (hashlib.sha256(data).hexdigest(), zlib.crc32(data)), size
