"""The differential fuzzer in the suite: a bounded random run, and the step lists it found.

``test_fuzz_budget`` (markers ``real`` and ``fuzz``) runs every family for a budget
(``WHEELMEMO_FUZZ_BUDGET`` seconds, default 420) with a new seed each run, printed
(``WHEELMEMO_FUZZ_SEED`` replays one); ``nox -s stale-fuzz`` runs it in CI.  Each
failure the fuzzer found is a fixed step list replayed from a fresh project and a
fresh cache by ``test_found``: the build it ends with must equal a plain build of a
fresh copy of that state.
"""

from __future__ import annotations

import json
import os
import random
import zipfile
from pathlib import Path
from typing import Any

import pytest

from stalefuzz.engine import Clock, Oracle, Shared, fuzz, replay
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
    budget = float(os.environ.get("WHEELMEMO_FUZZ_BUDGET", "420"))
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
