"""Records are untrusted input, from any store: whoever can write to a cache (a shared
directory, a remote's bucket) can make a build return their wheel, as with ccache, but
never make it walk the file system, open a FIFO or a device, import code, crash, hang
past the remote's budget, or write outside the cache.

The regression tests below each forge one record as such a writer can (a checksum that
fits); the property test (hypothesis) forges many, in the local cache and on a
``file://`` remote, and checks every build against the plain one.  The suite runs a few
dozen examples; ``WHEELMEMO_HOSTILE_EXAMPLES=10000`` runs more.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from wheelmemo._builddir import BuildDir
from wheelmemo._records import checksum

from conftest import FakeSite, Hooks, use_learning_backend

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths, FIFOs and sockets")

# -- what the hook touched: audit events, recorded while a test's hook runs ---------------
#: the (event, path) lists of the recordings under way: opens, listings and writes
_RECORDING: list[list[tuple[str, str]]] = []
_WRITES = frozenset(
    {
        "os.utime",
        "os.remove",
        "os.rename",
        "os.mkdir",
        "os.rmdir",
        "os.chmod",
        "os.truncate",
        "os.symlink",
        "os.link",
        "os.chown",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
    }
)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _RECORDING:
        return
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
        )
        what = "write" if writing else "open"
    elif event in ("os.listdir", "os.scandir"):
        path, what = args[0], "list"
    elif event in _WRITES:
        path, what = args[0], "write"
    else:
        return
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if isinstance(path, str):  # (a descriptor: the file was named when it was opened)
        _RECORDING[-1].append((what, path))


sys.addaudithook(_audit)  # (cannot be removed: idle unless a test records)


class Recording:
    """The absolute paths a call opened, listed and wrote.

    Relative ones are left out: the store names its files relative to a directory it
    holds open (``openat``), and nothing a record names is used relative to the cwd.
    """

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __enter__(self) -> Recording:  # noqa: PYI034 - typing_extensions is no dependency
        _RECORDING.append(self.events)
        return self

    def __exit__(self, *exc: object) -> None:
        _RECORDING.remove(self.events)

    def paths(self, *whats: str) -> list[str]:
        return [os.path.normpath(path) for what, path in self.events if what in whats and os.path.isabs(path)]


def _under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _python_roots() -> list[str]:
    """Where an import or the interpreter may read: the interpreter's and this checkout's."""
    import wheelmemo

    roots = {
        sys.prefix,
        sys.base_prefix,
        sys.exec_prefix,
        sys.base_exec_prefix,
        str(Path(wheelmemo.__file__).parent.parent),
        str(Path(__file__).parent),
    }
    roots.update(p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p))
    return [os.path.realpath(r) for r in roots] + sorted(roots)


# -- forging records ------------------------------------------------------------------------
def _forge(path: Path, body: Any) -> None:
    """Write ``body`` as a record: a dict with the checksum that fits it, anything else as is."""
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if name != "checksum"}
        body = dict(body, checksum=checksum(body))
    path.write_bytes(body if isinstance(body, bytes) else json.dumps(body).encode())


def _records(directory: Path) -> dict[str, dict[str, Any]]:
    """key -> record of every entry record under ``directory`` (a local cache or a remote)."""
    found = {}
    entries = directory / "v1" / "entries"
    for path in entries.rglob("*.json") if entries.is_dir() else directory.iterdir():
        record = json.loads(path.read_bytes())
        if isinstance(record, dict) and "kind" in record:
            found[path.name.removesuffix(".json")] = record
    return found


def _manifest_of(records: dict[str, dict[str, Any]], kind: str) -> str:
    """The key of the manifest that lists the result of ``kind``."""
    return next(
        key
        for key, record in records.items()
        if record["kind"] == "manifest" and records[record["value"][0]["key"]]["kind"] == kind
    )


def _manifest(records: dict[str, dict[str, Any]], key: str, learned: dict[str, Any]) -> dict[str, Any]:
    """The manifest record ``key`` with one result, the real one, under ``learned``."""
    record = records[key]
    return dict(record, value=[dict(record["value"][0], learned=learned)])


class Shared:
    """Machine A built the project and uploaded it to a ``file://`` remote; B's
    checkout is a copy at another path, with its own, empty, cache."""

    def __init__(self, hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hooks = hooks
        self.tmp_path = tmp_path
        self.monkeypatch = monkeypatch
        self.remote_dir = tmp_path / "shared"
        self.remote_dir.mkdir()
        for var in (
            "WHEELMEMO_REMOTE_READ_ONLY",
            "WHEELMEMO_REMOTE_RESHARE",
            "WHEELMEMO_REMOTE_TOKEN",
            "WHEELMEMO_REMOTE_BUDGET",
        ):
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("WHEELMEMO_REMOTE", self.remote_dir.as_uri() + "/team")
        self.a = hooks.project
        self.b = tmp_path / "machine-B" / "checkout"
        shutil.copytree(self.a, self.b)
        self.wheel = hooks.build_wheel(subdir="a").read_bytes()
        self.ac = self.remote_dir / "team" / "v1" / "ac"
        self.remote = _records(self.ac)

    def on_b(self, cache: Path) -> Hooks:
        self.hooks.project = self.b
        self.monkeypatch.setenv("WHEELMEMO_CACHE_DIR", str(cache))
        return self.hooks


@pytest.fixture
def shared(hooks: Hooks, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shared:
    return Shared(hooks, tmp_path, monkeypatch)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("wheelmemo: warning:")]


# -- the table's row: a record naming a directory ------------------------------------------
@pytest.fixture
def listings(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The directories listed (os.scandir, os.listdir); listing one outside the test's
    directory and the interpreter's fails at once, so that the old code's walk of the
    whole file system ends quickly (and is seen)."""
    seen: list[str] = []
    allowed = [tempfile.gettempdir(), *_python_roots()]
    real_scandir, real_listdir = os.scandir, os.listdir

    def check(path: Any) -> None:
        if isinstance(path, (str, bytes, os.PathLike)):
            name = os.path.normpath(os.path.abspath(os.fsdecode(path)))
            seen.append(name)
            if not _under(name, allowed) or name == tempfile.gettempdir():
                raise PermissionError(13, "listing outside the test, refused by the test", name)

    def scandir(path: Any = ".") -> Any:
        check(path)
        return real_scandir(path)

    def listdir(path: Any = ".") -> Any:
        check(path)
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    yield seen


@pytest.mark.parametrize("label", ["/", "../.."])
def test_a_remote_record_naming_a_directory_is_never_walked(
    shared: Shared, label: str, listings: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's row: the next build walked the whole file system (killed after 60 s)."""
    manifest = _manifest_of(shared.remote, "wheel")
    _forge(shared.ac / manifest, _manifest(shared.remote, manifest, {"files": {label: ["dir:" + "0" * 64, "rustc"]}}))
    capsys.readouterr()
    listings.clear()
    hooks = shared.on_b(shared.tmp_path / "cache-B")
    assert hooks.build_wheel(subdir="b").read_bytes() == shared.wheel
    assert hooks.calls()["build_wheel"] == 2  # built on B: the record was not used
    project = str(shared.b)
    outside = [path for path in listings if not _under(path, [str(shared.tmp_path), *_python_roots()])]
    assert outside == [], outside[:5]
    assert os.path.normpath(os.path.join(project, label)) not in listings
    assert len(_warnings(capsys.readouterr().err)) == 1


@pytest.mark.parametrize("label", ["/", "../..", "/proc/self/fd/0", "/dev/zero"])
def test_a_local_record_naming_a_directory_or_a_device_is_discarded(
    hooks: Hooks, cache_dir: Path, label: str, listings: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = hooks.build_wheel(subdir="a").read_bytes()
    records = _records(cache_dir)
    manifest = _manifest_of(records, "wheel")
    (path,) = (cache_dir / "v1" / "entries").rglob(f"{manifest}.json")
    opened = Recording()
    _forge(path, _manifest(records, manifest, {"files": {label: ["dir:" + "0" * 64, "rustc"]}}))
    capsys.readouterr()
    listings.clear()
    with opened:
        assert hooks.build_wheel(subdir="b").read_bytes() == wheel
    assert hooks.calls()["build_wheel"] == 2
    assert [path for path in listings if not _under(path, [str(tmp_path), *_python_roots()])] == []
    assert not [path for path in opened.paths("open") if path.startswith(("/proc/", "/dev/"))]
    (warning,) = _warnings(capsys.readouterr().err)
    assert "was corrupt" in warning
    assert not path.exists() or "dir:" + "0" * 64 not in path.read_text()  # discarded
    hooks.build_wheel(subdir="c")
    assert hooks.calls()["build_wheel"] == 2  # the build's own result, stored in its place


@pytest.mark.parametrize("label", ["a\0b", "/tmp/a\0b", "\ud800"])
def test_a_remote_record_naming_no_possible_file_never_breaks_a_build(
    shared: Shared, label: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A NUL or a lone surrogate: os.stat raised ValueError (a traceback) on the old code."""
    manifest = _manifest_of(shared.remote, "wheel")
    _forge(shared.ac / manifest, _manifest(shared.remote, manifest, {"files": {label: ["x", "rustc"]}}))
    capsys.readouterr()
    hooks = shared.on_b(shared.tmp_path / "cache-B")
    assert hooks.build_wheel(subdir="b").read_bytes() == shared.wheel
    assert hooks.calls()["build_wheel"] == 2
    (warning,) = _warnings(capsys.readouterr().err)
    assert "remote cache" in warning and "damaged" in warning


def test_a_learned_module_with_a_dot_is_never_imported(
    shared: Shared, fake_site: FakeSite, capsys: pytest.CaptureFixture[str]
) -> None:
    """Looking ``trap.sub`` up imports ``trap``: a record must not run code."""
    marker = shared.tmp_path / "imported"
    (fake_site.path / "trap").mkdir()
    (fake_site.path / "trap" / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    manifest = _manifest_of(shared.remote, "wheel")
    _forge(shared.ac / manifest, _manifest(shared.remote, manifest, {"modules": {"trap.sub": ["absent", "x"]}}))
    hooks = shared.on_b(shared.tmp_path / "cache-B")
    assert hooks.build_wheel(subdir="b").read_bytes() == shared.wheel
    assert not marker.exists()
    assert hooks.calls()["build_wheel"] == 2


def test_an_entry_of_a_kind_wheelmemo_never_writes_is_discarded(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wheel = hooks.build_wheel(subdir="a").read_bytes()
    records = _records(cache_dir)
    key = next(key for key, record in records.items() if record["kind"] == "wheel")
    (path,) = (cache_dir / "v1" / "entries").rglob(f"{key}.json")
    _forge(path, dict(records[key], kind="wheel-of-another-kind"))
    capsys.readouterr()
    assert hooks.build_wheel(subdir="b").read_bytes() == wheel
    assert hooks.calls()["build_wheel"] == 2
    assert "was corrupt" in capsys.readouterr().err


def test_a_local_record_larger_than_any_wheelmemo_writes_is_not_read(
    hooks: Hooks, cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid record padded past 64 MiB (as a remote's past 16 MiB): never read whole."""
    wheel = hooks.build_wheel(subdir="a").read_bytes()
    records = _records(cache_dir)
    key = next(key for key, record in records.items() if record["kind"] == "wheel")
    (path,) = (cache_dir / "v1" / "entries").rglob(f"{key}.json")
    path.write_bytes(path.read_bytes() + b" " * (65 << 20))
    capsys.readouterr()
    assert hooks.build_wheel(subdir="b").read_bytes() == wheel
    assert hooks.calls()["build_wheel"] == 2
    (warning,) = _warnings(capsys.readouterr().err)
    assert "could not be read" in warning and "MiB" in warning, warning


def test_checking_a_remote_records_inputs_ends_with_the_budget(
    shared: Shared, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A valid record that names a huge file (here sparse: 16 GiB of holes): hashing it
    stops when the remote's budget ends, and the build goes on without the remote."""
    huge = shared.tmp_path / "huge"
    with open(huge, "wb") as f:
        f.truncate(16 << 30)
    manifest = _manifest_of(shared.remote, "wheel")
    _forge(shared.ac / manifest, _manifest(shared.remote, manifest, {"files": {str(huge): ["0" * 64, "rustc"]}}))
    monkeypatch.setenv("WHEELMEMO_REMOTE_BUDGET", "2")  # (hashing 16 GiB takes longer: > 8 GB/s)
    read = [0]
    real_read = os.read

    def counting_read(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        read[0] += len(data)
        return data

    monkeypatch.setattr(os, "read", counting_read)
    capsys.readouterr()
    hooks = shared.on_b(shared.tmp_path / "cache-B")
    assert hooks.build_wheel(subdir="b").read_bytes() == shared.wheel
    assert hooks.calls()["build_wheel"] == 2
    assert read[0] < 16 << 30, "the whole file was hashed"
    (warning,) = _warnings(capsys.readouterr().err)
    assert "time budget" in warning, warning


def test_a_build_that_read_no_regular_file_is_not_cached(
    hooks: Hooks, fake_site: FakeSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a build read through a link to a device (or a FIFO, a socket, a directory
    outside the project) has no content a key can hold: its result is not stored (it was
    stored keyed on "a char device", and hit whatever the device gave)."""
    os.symlink("/dev/null", tmp_path / "device")
    use_learning_backend(hooks, fake_site, read=["../device"])
    capsys.readouterr()
    first = hooks.build_wheel(subdir="a").read_bytes()
    assert "device, which is no regular file" in capsys.readouterr().err
    assert hooks.build_wheel(subdir="b").read_bytes() == first
    assert hooks.calls()["build_wheel"] == 2


def test_a_build_directory_record_names_only_files_it_may_stamp(tmp_path: Path) -> None:
    """A build directory's record names the files outside the key that earlier builds
    read: one naming a root, ``..``, a device or /proc is not asked about, and what is
    no regular file (a FIFO, a directory) is never given a new time."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "lib.rs").write_text("v1")
    fifo, directory = tmp_path / "fifo", tmp_path / "dir"
    os.mkfifo(fifo)
    directory.mkdir()
    old = 1_153_700_000 * 10**9
    for path in (fifo, directory):
        os.utime(path, ns=(old, old))
    build_dir = BuildDir(tmp_path / "build")
    build_dir.path.mkdir()
    hostile = ["/", "//", "..", "../..", "/proc/self/fd/0", "/dev/zero", "/sys/kernel", "a\0b", "/x/../y", 7]
    (build_dir.path / "inputs.json").write_text(
        json.dumps({"stamps": {}, "learned": [*hostile, str(fifo), str(directory)], "started_ns": 1})
    )
    asked: list[str] = []

    def state_of(label: str, path: str) -> str:
        asked.append(label)
        return "special"

    assert build_dir.prepare(root, {"lib.rs": "v1"}, state_of)
    assert sorted(asked) == sorted([str(fifo), str(directory)])
    assert fifo.stat().st_mtime_ns == old and directory.stat().st_mtime_ns == old


# -- the property test ---------------------------------------------------------------------
EXAMPLES = int(os.environ.get("WHEELMEMO_HOSTILE_EXAMPLES", "30"))
settings.register_profile(
    "hostile",
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=10),
    database=None,
    print_blob=True,
    # one project and remote for every example: each example copies what it changes
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)

#: labels no record may name, or that name what is no regular file
_HOSTILE_LABELS = [
    "/",
    "//",
    "///",
    ".",
    "..",
    "../..",
    "../../..",
    "a/../../..",
    "./x",
    "x/./y",
    "x//y",
    "",
    "/proc/self/fd/0",
    "/proc/self/mem",
    "/proc",
    "/dev/zero",
    "/dev/stdin",
    "/dev/fd/0",
    "/sys/kernel",
    "/sys",
    "/tmp/../",
    "/tmp/.",
    "x\0y",
    "/x\0",
    "\ud800",
    "\udcff",
    "~",
    "C:\\Windows",
    "\\\\server\\share",
    "a\\..\\..",
    "/" * 300,
    "é/ü/文件",
    "src",
    "src/fakepkg",
    ".git",
    "pyproject.toml",
]
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
#: a string longer than any path
_LONG = st.integers(4097, 10_000).map(lambda n: "x" * n)


class World:
    """A's build on the remote and in A's cache, B's checkout, and the hostile files."""

    def __init__(self, shared: Shared, cache_dir: Path) -> None:
        self.shared = shared
        self.local = _records(cache_dir)
        self.local_template = cache_dir
        self.remote_template = shared.remote_dir / "team"
        hostile = shared.tmp_path / "hostile"
        hostile.mkdir()
        os.mkfifo(hostile / "fifo")
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(hostile / "socket"))  # (the socket file stays)
        (hostile / "dir").mkdir()
        (hostile / "dir" / "inside").write_text("x")
        (hostile / "file").write_text("a regular file a record may name")
        for name, target in (
            ("to-root", "/"),
            ("to-zero", "/dev/zero"),
            ("to-stdin", "/proc/self/fd/0"),
            ("to-fifo", str(hostile / "fifo")),
            ("to-dir", str(hostile / "dir")),
        ):
            os.symlink(target, hostile / name)
        self.hostile = hostile
        self.labels = [
            *_HOSTILE_LABELS,
            *(str(path) for path in sorted(hostile.iterdir())),
            str(shared.b),
            str(shared.b / "src"),
            str(shared.tmp_path),
        ]
        self.snapshot = self._snapshot()
        self.examples = 0
        #: what a build with no forged record reads outside the project and the cache
        self.plain: set[str] = set()

    def _snapshot(self) -> dict[str, tuple[int, int, int]]:
        """What no build may change: the hostile files and B's checkout."""
        found = {}
        for top in (self.hostile, self.shared.b):
            for path in [top, *top.rglob("*")]:
                st_ = path.lstat()
                found[str(path)] = (st_.st_mode, st_.st_size, st_.st_mtime_ns)
        return found


@st.composite
def _learned(draw: st.DrawFn, labels: list[str]) -> Any:
    """A learned-inputs record: mostly the right shape, with hostile names and sizes."""
    label = st.sampled_from(labels) | st.text(max_size=30) | _LONG
    state = st.sampled_from(["dir:" + "0" * 64, "0" * 64, "missing", "special:fifo"]) | st.text(max_size=10)
    pair = st.tuples(state, st.text(max_size=10)).map(list)
    name = (
        st.sampled_from(["PATH", "os", "trap.sub", "a.b", "x\0", "=", "", "é", "a/b", ".."])
        | st.text(max_size=10)
        | _LONG
    )
    learned: dict[str, Any] = {}
    if draw(st.booleans()):
        learned["files"] = draw(st.dictionaries(label, pair, max_size=6))
    for part in ("env", "dists", "modules"):
        if draw(st.integers(0, 3)) == 0:
            learned[part] = draw(st.dictionaries(name, pair, max_size=3))
    if draw(st.integers(0, 3)) == 0:
        learned["read"] = draw(st.lists(label, max_size=4))
    if draw(st.integers(0, 5)) == 0:
        learned["sealed"] = draw(st.booleans() | _JSON)
    size = draw(st.sampled_from([0, 0, 0, 0, 0, 0, 0, 9, 150_000]))
    if size:  # a huge list: more than any build records
        part = draw(st.sampled_from(["files", "env", "read"]))
        if part == "read":
            learned["read"] = [f"f{i}" for i in range(size)]
        else:
            learned[part] = {f"f{i}": ["0" * 64, "x"] for i in range(size)}
    if draw(st.integers(0, 7)) == 0:  # a member of the wrong type
        learned[draw(st.sampled_from(["files", "env", "dists", "modules", "read", "sealed", "other"]))] = draw(_JSON)
    return learned


@st.composite
def _forgery(draw: st.DrawFn, world: World, where: str) -> tuple[str, Any]:
    """A record's key and what is written in its place (bytes, or a body whose checksum fits)."""
    records = world.shared.remote if where == "remote" else world.local
    how = draw(st.sampled_from(["learned", "learned", "learned", "manifest", "field", "json", "bytes"]))
    kind = draw(st.sampled_from(["wheel", "requires-wheel"]))
    manifest = _manifest_of(records, kind)
    entry = records[manifest]["value"][0]["key"]
    if how == "learned":  # the real result, listed under hostile learned inputs
        return manifest, _manifest(records, manifest, draw(_learned(world.labels)))
    if how == "manifest":  # a manifest of another shape
        candidate = st.fixed_dictionaries(
            {"key": st.sampled_from([entry, "0" * 64, "../" * 20]) | _JSON},
            optional={"learned": _learned(world.labels) | _JSON, "narrow": _JSON, "other": _JSON},
        )
        value: Any = draw(st.lists(candidate, max_size=12) | _JSON)
        return manifest, dict(records[manifest], value=value)
    key = draw(st.sampled_from([manifest, entry]))
    if how == "field":  # one member of a real record replaced
        field = draw(
            st.sampled_from(
                ["kind", "files", "size", "project", "value", "format", "key", "created", "build_seconds", "other"]
            )
        )
        replaced: Any = draw(
            st.sampled_from(
                [
                    "evil",
                    "manifest",
                    "wheel",
                    "sdist-alias",
                    "x" * 100_000,
                    "\ud800",
                    [["../../x.whl", "0" * 64, 1]],
                    [["a.whl", "0" * 64, 1]] * 20_000,
                    1 << 70,
                    -1,
                ]
            )
            | _JSON
        )
        return key, dict(records[key], **{field: replaced})
    if how == "json":
        return key, draw(_JSON)
    return key, draw(
        st.sampled_from([b"[" * 100_000 + b"]" * 100_000, b"\0" * 100, b"{", b"\xff\xfe", b'{"a": ' * 5000])
        | st.binary(max_size=50)
    )


def _place(world: World, where: str, key: str, forged: Any, example: Path) -> Path:
    """A copy of the remote (empty local cache: B asks the remote) or of A's cache, with
    the forged record in it; the cache directory B uses."""
    cache = example / "cache"
    if where == "remote":
        team = example / "team"
        shutil.copytree(world.remote_template, team)
        world.shared.monkeypatch.setenv("WHEELMEMO_REMOTE", team.parent.as_uri() + "/team")
        if forged is not None:
            _forge(team / "v1" / "ac" / key, forged)
    else:
        world.shared.monkeypatch.delenv("WHEELMEMO_REMOTE", raising=False)
        shutil.copytree(world.local_template, cache, ignore=shutil.ignore_patterns("*.lock"))
        if forged is not None:
            (path,) = (cache / "v1" / "entries").rglob(f"{key}.json")
            _forge(path, forged)
    return cache


def _check_example(world: World, where: str, key: str, forged: Any, capsys: pytest.CaptureFixture[str]) -> str:
    """Build on B with ``forged`` in place and check the build; what happened, in words."""
    shared = world.shared
    world.examples += 1
    example = Path(tempfile.mkdtemp(prefix="example-", dir=shared.tmp_path))
    try:
        cache = _place(world, where, key, forged, example)
        hooks = shared.on_b(cache)
        out = example / "out"
        out.mkdir()
        (example / "tmp").mkdir()
        capsys.readouterr()
        saved, tempfile.tempdir = tempfile.tempdir, str(example / "tmp")  # the remote's scratch too
        try:
            with Recording() as seen:
                name = hooks("build_wheel", str(out), None, None)
        finally:
            tempfile.tempdir = saved
        assert (out / name).read_bytes() == shared.wheel, "not the plain build's wheel"
        err = capsys.readouterr().err
        warnings = _warnings(err)
        assert len(warnings) <= 1, warnings
        summary = f"{where}: {'hit' if 'build_wheel hit' in err else 'miss'}, {len(warnings)} warning(s)"
        # reads: the project, the cache, the interpreter, or a regular file a valid record names
        inside = [str(example), str(shared.b), str(shared.tmp_path / "site"), *_python_roots()]
        outside = {path for path in seen.paths("open", "list") if not _under(path, inside)}
        if forged is None:  # what a build reads whatever the records say (the user's configuration)
            world.plain = outside
        for path in outside - world.plain:
            assert not path.startswith(("/proc/", "/dev/", "/sys/")), path
            assert path in world.labels and os.path.isfile(path) and not os.path.islink(path), path
        for path in seen.paths("list"):
            assert _under(path, inside), path
        # writes: the cache, the frontend's directory, the interpreter's byte code
        for path in seen.paths("write"):
            assert _under(path, [str(example), str(hooks.log), *_python_roots()]) and not _under(
                path, [str(world.hostile)]
            ), path
        assert world._snapshot() == world.snapshot
        return summary
    finally:
        shutil.rmtree(example, ignore_errors=True)


@pytest.fixture
def world(shared: Shared, cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> World:
    made = World(shared, cache_dir)
    _check_example(made, "remote", "", None, capsys)  # a plain hit: what any build reads
    made.examples = 0
    return made


@settings(settings.get_profile("hostile"))
@given(data=st.data())
def test_hostile_records_never_change_a_build(
    world: World, data: st.DataObject, capsys: pytest.CaptureFixture[str]
) -> None:
    where = data.draw(st.sampled_from(["local", "remote"]), label="where")
    key, forged = data.draw(_forgery(world, where), label="forged")
    event(_check_example(world, where, key, forged, capsys))


def test_the_property_test_ran(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    """The harness itself: a record the build must refuse is refused, and a valid one
    that names a readable file hits, within the checks the property test makes."""
    manifest = _manifest_of(world.shared.remote, "wheel")
    for where, label in (("remote", "/"), ("local", "../.."), ("remote", str(world.hostile / "file"))):
        records = world.shared.remote if where == "remote" else world.local
        _check_example(
            world, where, manifest, _manifest(records, manifest, {"files": {label: ["0" * 64, "x"]}}), capsys
        )
    assert world.examples == 3


def test_a_build_directory_record_is_neither_read_nor_written_through_a_symlink(tmp_path: Path) -> None:
    root = tmp_path / "project"
    root.mkdir()
    (root / "lib.rs").write_text("v1")
    build_dir = BuildDir(tmp_path / "build")
    build_dir.path.mkdir()
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text(json.dumps({"stamps": {}, "learned": [str(tmp_path / "named")], "started_ns": 1}))
    (build_dir.path / "inputs.json").symlink_to(elsewhere)
    kept = tmp_path / "kept"
    kept.write_text("not the cache's")
    (build_dir.path / f".inputs.json.{os.getpid()}").symlink_to(kept)  # where a record was written
    asked: list[str] = []
    assert build_dir.prepare(root, {"lib.rs": "v1"}, lambda label, path: asked.append(label) or "x")
    assert asked == []
    assert kept.read_text() == "not the cache's"
    assert json.loads((build_dir.path / "inputs.json").read_text())["stamps"]["lib.rs"][0] == "v1"
    assert elsewhere.read_text().startswith('{"stamps": {}')
