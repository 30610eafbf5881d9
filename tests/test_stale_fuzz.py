"""The differential fuzzer in the suite: a bounded random run, and the step lists it found.

``test_fuzz_budget`` (markers ``real`` and ``fuzz``) runs every family for a budget
(``WHEELMEMO_FUZZ_BUDGET`` seconds, default 300) with a new seed each run, printed
(``WHEELMEMO_FUZZ_SEED`` replays one); ``nox -s stale-fuzz`` runs it in CI.  Each
failure the fuzzer found is a fixed step list replayed from a fresh project and a
fresh cache by ``test_found``: the build it ends with must equal a plain build of a
fresh copy of that state.  ``test_compiler_cache`` replays directed step lists with
``compiler-cache = "sccache"`` (issue 21) the same way, and ``test_compiler_cache_ops``
checks, without building, what the compiler cache's operations do to a world.
"""

from __future__ import annotations

import json
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stalefuzz.engine import SCCACHE_DIR, Clock, Oracle, Runner, Shared, World, fuzz, generate, replay, state_files
from stalefuzz.templates import TEMPLATES

pytestmark = pytest.mark.real


# (family, steps, why it failed; None once fixed)
FOUND: dict[str, tuple[str, list[dict[str, Any]], str | None]] = {
    "maturin-sdist-ships-an-ignored-file": (
        "maturin",
        [
            {"op": "build", "frontend": "build"},
            {"op": "edit", "path": "proj/gen/gen.txt", "token": "c"},
            {"op": "build", "frontend": "build"},
        ],
        None,
    ),  # found on 1a1f73a (seed 19004): maturin's sdist ships the gitignored gen/gen.txt its
    # Cargo.toml includes; its reads are a Rust program's, unseen, so the sdist hit after an edit
    "setuptools-environb": (
        "setuptools",
        [
            {"op": "build", "frontend": "build-wheel"},
            {"op": "env", "var": "FZ_ENVB", "value": "a"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # issue 18 row (os.environb), found on a4fee9a; fixed on main by the narrow merge (55d3eb1)
    "setuptools-environb-editable": (
        "setuptools",
        [
            {"op": "build", "frontend": "pip-e"},
            {"op": "env", "var": "FZ_ENVB", "value": "a"},
            {"op": "build", "frontend": "pip-e"},
        ],
        None,
    ),  # issue 18 row (os.environb), found on a4fee9a; fixed on main by the narrow merge (55d3eb1)
    "hatchling-environb": (
        "hatchling",
        [
            {"op": "build", "frontend": "build-wheel"},
            {"op": "env", "var": "FZ_ENVB", "value": "a"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # issue 18 row (os.environb), found on a4fee9a; fixed on main by the narrow merge (55d3eb1)
    "hatchling-environb-editable": (
        "hatchling",
        [
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "env", "var": "FZ_ENVB", "value": "a"},
            {"op": "build", "frontend": "pip-e"},
        ],
        None,
    ),  # issue 18 row (os.environb), found on a4fee9a; fixed on main by the narrow merge (55d3eb1)
    "setuptools-noiso-accel-uninstalled": (
        "setuptools",
        [
            {"op": "accel", "value": "a"},
            {"op": "build", "frontend": "pip-noiso"},
            {"op": "accel", "value": None},
            {"op": "build", "frontend": "pip-noiso"},
        ],
        None,
    ),  # issue 18 row (--no-build-isolation, an optional module uninstalled): stale on a4fee9a;
    # written from the row (random runs on a4fee9a had not met it within 20 such builds)
    "hatchling-narrow-relative-os-open": (
        "hatchling",
        [
            {"op": "narrow", "value": "1"},
            {"op": "build", "frontend": "pip-wheel"},
            {"op": "edit", "path": "proj/opened.txt", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # issue 18 row (a hook's relative os.open: a narrow hit), found on a4fee9a (seed 16); fixed by
    # the narrow merge (ecb35aa: such a read unseals the build; 91ac71d: narrow off by default)
    "skbuild-outside-header": (
        "skbuild",
        [
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "edit", "path": "shared/fz_shared.h", "token": "c"},
            {"op": "build", "frontend": "build-wheel"},
        ],
        None,
    ),  # issue 18 row, fixed on main by 3d2a0b0 (a header outside the tree CMake's compile read)
    "skbuild-ignored-source": (
        "skbuild",
        [
            {"op": "build", "frontend": "uv-sync"},
            {"op": "edit", "path": "proj/gen/gen.c", "token": "b"},
            {"op": "build", "frontend": "uv-sync"},
        ],
        None,
    ),  # issue 18 row, fixed on main by 3d2a0b0 (a gitignored source CMake compiles)
    "maturin-features-back-under-python-m-build": (
        "maturin",
        [
            {"op": "build", "frontend": "build"},
            {"op": "edit", "path": "proj/pyproject.toml", "token": ', "extra"'},
            {"op": "build", "frontend": "build"},
            {"op": "edit", "path": "proj/inner/src/lib.rs", "token": "b"},
            {"op": "build", "frontend": "build"},
            {"op": "edit", "path": "proj/pyproject.toml", "token": ""},
            {"op": "build", "frontend": "build"},
        ],
        None,
    ),  # issue 18 row 4: stale on a4fee9a (a directed replay, not a random find); fixed by ea60c5e
    "maturin-editable-pth-breaks-pip": (
        "maturin",
        [
            {"op": "build", "frontend": "pip-e"},
            {"op": "edit", "path": "proj/src/lib.rs", "token": "c"},
            {"op": "build", "frontend": "pip-e"},
        ],
        None,
    ),  # NEW, found on a4fee9a (seed 10); fixed on main by 52182ce: pip's build environment runs the
    # target venv's .pth files with sys.path emptied, in the interpreter maturin runs, and
    # the editable's .pth imported its finder, which needs the stdlib
    "skbuild-shadowing-header-ninja": (
        "skbuild",
        [
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "shadow", "path": "proj/csrc/fz_shared.h", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # found on 3f24e44 (seed 102, --compiler-cache sccache, which the shrinker dropped): a new
    # header earlier on the include path is in no object's deps, so Ninja keeps the old object
    "meson-shadowing-header-ninja": (
        "meson",
        [
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "shadow", "path": "proj/csrc/fz_shared.h", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # the same in meson-python's persistent build directory (directed, after the skbuild find); both
    # fixed on main by 099094e (a new file empties a persistent CMake/meson build directory)
    "skbuild-incbin-ninja": (
        "skbuild",
        [
            {"op": "embed", "path": "proj/csrc/embed.h", "on": True},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "edit", "path": "proj/csrc/blob.txt", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # directed (the templates' blob.txt, added for the compiler cache): a file read by the
    # assembler is in no depfile, so Ninja keeps the old object
    "meson-incbin-ninja": (
        "meson",
        [
            {"op": "embed", "path": "proj/csrc/embed.h", "on": True},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "edit", "path": "proj/csrc/blob.txt", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # directed: the same in meson-python's persistent build directory
    "setuptools-incbin-sccache": (
        "setuptools",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "embed", "path": "proj/csrc/embed.h", "on": True},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "edit", "path": "proj/csrc/blob.txt", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
        None,
    ),  # directed, on 58b46c0 with sccache 0.16.0: wheelmemo misses (blob.txt is in its key) and
    # setuptools compiles core.c again, but sccache answers from its cache; without the compiler
    # cache the same steps pass.  sccache checks for .incbin only to turn its preprocessor cache
    # mode off (off here anyway), never for the object's key; ccache refuses such sources.
    "setuptools-incbin-sccache-editable": (
        "setuptools",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "embed", "path": "proj/csrc/embed.h", "on": True},
            {"op": "build", "frontend": "uv-build"},
            {"op": "edit", "path": "proj/csrc/blob.txt", "token": "b"},
            {"op": "build", "frontend": "pip-e"},
        ],
        None,
    ),  # found on 8a6b203 (seed 2103, --compiler-cache sccache; shrunk by hand from the 6 steps the
    # shrinker left, which also set a remote and touched inner.h): the same, through an editable install.
    # The four .incbin rows fixed on main by 79edb77: a project whose sources have the assembler read
    # a file gets no persistent build directory and no compiler cache
}


# directed step lists with the compiler cache on (issue 21): each ends with a build that must
# equal a plain build of a fresh copy of its state (sccache's objects made by earlier steps)
COMPILER_CACHE: dict[str, tuple[str, list[dict[str, Any]]]] = {
    # sccache's preprocessor cache mode (docs/Local.md): "a header file would have been
    # included if it existed, but it did not exist at the time" -> a stale object (setuptools:
    # no persistent Ninja directory, whose own stale object, FOUND above, would hide it)
    "setuptools-shadowing-header": (
        "setuptools",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "shadow", "path": "proj/csrc/fz_shared.h", "token": "a"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
    ),
    # a fresh runner (objects kept, nothing else) at another path, then a header edit
    "setuptools-fresh-runner-moved": (
        "setuptools",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "move", "to": 1},
            {"op": "objects", "action": "fresh-runner"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "edit", "path": "shared/fz_shared.h", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
    ),
    # two local caches sharing a file:// remote; a read-only one then builds an edit
    "setuptools-remote-two-runners": (
        "setuptools",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "remote", "value": "rw"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "runner", "to": 1},
            {"op": "edit", "path": "proj/src/fzs/__init__.py", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "remote", "value": "ro"},
            {"op": "runner", "to": 0},
            {"op": "edit", "path": "proj/csrc/inner.h", "token": "c"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
    ),
    # cargo: two runners sharing a file:// remote (objects through the gateway), the second at
    # another path with a .rs edit; then a read-only runner with an edit of a path dependency
    "maturin-remote-two-runners": (
        "maturin",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "remote", "value": "rw"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "runner", "to": 1},
            {"op": "move", "to": 1},
            {"op": "edit", "path": "proj/src/lib.rs", "token": "b"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "remote", "value": "ro"},
            {"op": "runner", "to": 0},
            {"op": "objects", "action": "fresh-runner"},
            {"op": "edit", "path": "shared/fzdep/src/lib.rs", "token": "c"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
    ),
    # cargo: a fresh runner at another path, a .rs edit and a variable build.rs bakes in (env!)
    "maturin-fresh-runner-moved": (
        "maturin",
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "build", "frontend": "uv-wheel"},
            {"op": "move", "to": 1},
            {"op": "objects", "action": "fresh-runner"},
            {"op": "edit", "path": "proj/inner/src/lib.rs", "token": "b"},
            {"op": "env", "var": "FZ_ENV", "value": "a"},
            {"op": "build", "frontend": "uv-wheel"},
        ],
    ),
}


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, uv_cache: Path) -> Shared:
    return Shared.make(tmp_path_factory.mktemp("stalefuzz"), wheelhouse, uv_cache)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=[pytest.mark.xfail(strict=True, raises=AssertionError, reason=why)] if why else [])
        for name, (_, _, why) in FOUND.items()
    ],
)
def test_found(name: str, shared: Shared) -> None:
    family, steps, _ = FOUND[name]
    failure = replay(shared, Oracle(shared), family, steps, Clock(None))
    assert failure is None, f"{failure.kind} ({failure.fields}): {failure.detail}"


@pytest.mark.parametrize("name", sorted(COMPILER_CACHE))
def test_compiler_cache(name: str, shared: Shared) -> None:
    family, steps = COMPILER_CACHE[name]
    failure = replay(shared, Oracle(shared), family, steps, Clock(None))
    assert failure is None, f"{failure.kind} ({failure.fields}): {failure.detail}"


def test_compiler_cache_remote_counts(shared: Shared) -> None:
    """``setuptools-remote-two-runners`` with sccache's counts after each build: the objects
    the first runner compiled reach the second through the ``file://`` remote (its
    ``runner`` and ``remote`` operations do reach sccache's remote level), a read-only
    remote takes no object, and each build equals the plain one."""
    family, steps = COMPILER_CACHE["setuptools-remote-two-runners"]
    root = shared.work / "remote-counts"
    runner = Runner(World(shared, TEMPLATES[family], root, Clock(None)), Oracle(shared), log=lambda s: None)
    counts = []
    for i, step in enumerate(steps):
        failure = runner.apply(i, step)
        assert failure is None, f"{failure.kind} ({failure.fields}): {failure.detail}"
        if step["op"] == "build":
            counts.append(
                (runner.last_counts, {k: runner.last_sccache[k] for k in ("hits", "remote_hits", "misses", "uploads")})
            )
    assert counts == [
        ((0, 1), {"hits": 0, "remote_hits": 0, "misses": 1, "uploads": 1}),  # core.c compiled, uploaded
        ((0, 1), {"hits": 1, "remote_hits": 1, "misses": 0, "uploads": 0}),  # another runner: from the remote
        ((0, 1), {"hits": 0, "remote_hits": 0, "misses": 1, "uploads": 0}),  # inner.h edited, read-only
    ]


def test_compiler_cache_ops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiler cache's operations, applied without a build: only wheelmemo's builds
    get it (a caller's ``RUSTC_WRAPPER`` reaches no build); a move keeps the state; a
    fresh runner keeps sccache's objects and nothing else; a shadowing header comes and
    goes; a remote is shared by two local caches; a run without ``--compiler-cache``
    draws none of these operations."""
    monkeypatch.setenv("RUSTC_WRAPPER", "sccache")
    monkeypatch.setenv("CMAKE_C_COMPILER_LAUNCHER", "sccache")
    shared = Shared(tmp_path, tmp_path / "wheelhouse", tmp_path / "uv-cache", tmp_path / "oracle")
    world = World(shared, TEMPLATES["setuptools"], tmp_path / "w", Clock(None))
    runner = Runner(world, Oracle(shared), log=lambda s: None)
    before = state_files(world.tree)
    for i, step in enumerate(
        [
            {"op": "ccache", "value": "sccache"},
            {"op": "remote", "value": "ro"},
            {"op": "move", "to": 1},
            {"op": "shadow", "path": "proj/csrc/fz_shared.h", "token": "b"},
        ]
    ):
        assert runner.apply(i, step) is None
    assert world.tree == tmp_path / "w" / "tree-1" and not (tmp_path / "w" / "tree").exists()
    assert world.proj == world.tree / "proj"
    after = state_files(world.tree)
    assert after.pop("proj/csrc/fz_shared.h") == b'-#define SHARED_VALUE "shadow-b"\n'
    assert after == before
    env = world.build_env(world.tree / "shared", plain=False)
    assert env["WHEELMEMO_COMPILER_CACHE"] == "sccache"
    assert env["WHEELMEMO_REMOTE"] == (tmp_path / "w" / "remote").as_uri()
    assert env["WHEELMEMO_REMOTE_READ_ONLY"] == "1"
    plain = world.build_env(world.tree / "shared", plain=True)
    assert plain["WHEELMEMO_DISABLE"] == "1"
    assert not {"WHEELMEMO_COMPILER_CACHE", "WHEELMEMO_REMOTE", "RUSTC_WRAPPER", "CMAKE_C_COMPILER_LAUNCHER"} & set(
        plain
    )
    assert "RUSTC_WRAPPER" not in env
    runner.apply(4, {"op": "undo"})  # the shadowing header goes
    assert state_files(world.tree) == before

    # a fresh runner: sccache's objects stay; entries, build directories and the tree's outputs go
    objects = world.cache / SCCACHE_DIR / "a" / "b"
    objects.mkdir(parents=True)
    (objects / "obj").write_bytes(b"object")
    for made in (
        world.cache / "v1" / "compiler" / "bin" / "sccache",
        world.cache / "v1" / "entries" / "x.json",
        world.cache / "builds" / "d" / "f",
        world.proj / "build" / "o",
    ):
        made.parent.mkdir(parents=True, exist_ok=True)
        made.write_text("x")
    runner.apply(5, {"op": "objects", "action": "fresh-runner"})
    assert sorted(p.relative_to(world.cache).as_posix() for p in world.cache.rglob("*")) == [
        "v1",
        "v1/compiler",
        "v1/compiler/objects",
        "v1/compiler/objects/a",
        "v1/compiler/objects/a/b",
        "v1/compiler/objects/a/b/obj",
    ]
    assert not (world.proj / "build").exists()
    runner.apply(6, {"op": "objects", "action": "truncate"})
    assert (objects / "obj").read_bytes() == b"obj"
    runner.apply(7, {"op": "objects", "action": "drop"})
    assert not (world.cache / SCCACHE_DIR).exists()
    runner.apply(8, {"op": "runner", "to": 1})
    assert world.cache == tmp_path / "w" / "cache-1"
    assert world.build_env(world.tree / "shared", plain=False)["WHEELMEMO_CACHE_DIR"] == str(world.cache)

    ops = {"ccache", "objects", "move", "shadow", "remote", "runner"}
    rng = random.Random(5)
    drawn = {s["op"] for _ in range(300) for s in generate(rng, world.t, ["uv-wheel"], compiler_cache=True)}
    assert ops <= drawn
    rng = random.Random(5)
    assert not ops & {s["op"] for _ in range(300) for s in generate(rng, world.t, ["uv-wheel"])}


def _wheel_with_sbom(path: Path, build_dir: str) -> Path:
    bom = {
        "bomFormat": "CycloneDX",
        "serialNumber": f"urn:uuid:{build_dir}",
        "metadata": {"timestamp": build_dir},
        "components": [
            {
                "name": "dep",
                "version": "1.0",
                "bom-ref": f"path+file://{build_dir}/dep#1.0",
                "purl": f"pkg:cargo/dep@1.0?download_url=file://{build_dir}/dep",
            }
        ],
    }
    path.mkdir()
    wheel = path / "p-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("p-1.0.dist-info/sboms/p.cyclonedx.json", json.dumps(bom))
    return wheel


def test_sbom_path_dependency_download_url_is_a_build_stamp(tmp_path: Path) -> None:
    """Two plain maturin builds of one state from two directories (the tree and an unpacked
    sdist) differ in a path dependency's ``download_url``: no difference.  Found by the
    fuzzer (maturin through uv build); fixed on main by 059547b."""
    from wheelmemo._verify import compare_wheels

    one = _wheel_with_sbom(tmp_path / "a", "/tmp/build-one")
    two = _wheel_with_sbom(tmp_path / "b", "/tmp/build-two")
    assert compare_wheels(one, two).same


@pytest.mark.fuzz
def test_fuzz_budget(tmp_path: Path, wheelhouse: Path, uv_cache: Path) -> None:
    seed = int(os.environ.get("WHEELMEMO_FUZZ_SEED") or random.SystemRandom().randrange(10**9))
    budget = float(os.environ.get("WHEELMEMO_FUZZ_BUDGET", "300"))
    record = os.environ.get("WHEELMEMO_FUZZ_RECORD")
    print(f"WHEELMEMO_FUZZ_SEED={seed}")
    _, found = fuzz(
        seed=seed,
        budget=budget,
        steps=None,
        families=sorted(TEMPLATES),
        work=tmp_path,
        shrink_budget=120.0,
        record=Path(record) if record else None,
        shared=Shared.make(tmp_path, wheelhouse, uv_cache),
    )
    assert not found, f"seed {seed}:\n" + "\n".join(
        f"{f['family']}: {f['kind']}: {f['detail'][:1500]}\n  steps: {json.dumps(f['steps'])}" for f in found
    )
