"""``python -m stalefuzz``: run the fuzzer, or replay a step list (see the package docstring)."""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
from pathlib import Path

from .engine import Clock, Oracle, Shared, fuzz, replay
from .templates import TEMPLATES


def _terminated(signum: int, frame: object) -> None:
    raise SystemExit(143)  # unwinds through the running build, which kills its process group


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGTERM, _terminated)
    parser = argparse.ArgumentParser(prog="stalefuzz", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="default: a new one, printed")
    parser.add_argument("--steps", type=int, default=None, help="stop after this many builds")
    parser.add_argument("--budget", type=float, default=None, help="stop after this many seconds")
    parser.add_argument(
        "--family", action="append", choices=sorted(TEMPLATES), help="repeatable; default: every family"
    )
    parser.add_argument("--work", type=Path, default=None, help="default: a new temporary directory")
    parser.add_argument("--record", type=Path, default=None, help="append the run's summary here (JSON lines)")
    parser.add_argument("--replay", default=None, help="a JSON step list (or @file) to replay on --family")
    parser.add_argument("--shrink-budget", type=float, default=600.0)
    parser.add_argument(
        "--wheelmemo-source",
        type=Path,
        default=None,
        help="build the frontends' wheelmemo from this source tree (default: this checkout)",
    )
    parser.add_argument(
        "--frontend",
        action="append",
        default=None,
        help="build only through these frontends (repeatable; default: each family's all)",
    )
    parser.add_argument(
        "--ignore-field",
        action="append",
        default=[],
        help="count a failure that differs only in these probe() fields as known (repeatable)",
    )
    parser.add_argument(
        "--compiler-cache",
        choices=["sccache"],
        default=None,
        help="wheelmemo's builds compile through it (WHEELMEMO_COMPILER_CACHE; never the plain builds), "
        "and its operations join: on/off, its objects dropped or kept by a fresh runner, moves, a remote",
    )
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="stalefuzz-"))
    if args.replay is not None:
        text = Path(args.replay[1:]).read_text() if args.replay.startswith("@") else args.replay
        (family,) = args.family or [""]
        shared = Shared.make(work, source=args.wheelmemo_source)
        failure = replay(shared, Oracle(shared), family, json.loads(text), Clock(args.budget), log=print)
        print(f"replay: {'FAIL ' + failure.kind + ': ' + failure.detail if failure else 'ok'}")
        return 1 if failure else 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**9)
    if args.steps is None and args.budget is None:
        args.steps = 20
    _, found = fuzz(
        seed=seed,
        budget=args.budget,
        steps=args.steps,
        families=args.family or sorted(TEMPLATES),
        work=work,
        shrink_budget=args.shrink_budget,
        record=args.record,
        source=args.wheelmemo_source,
        ignore=frozenset(args.ignore_field),
        only_frontends=args.frontend,
        compiler_cache=args.compiler_cache,
    )
    print(f"seed {seed}: {len(found)} failure(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
