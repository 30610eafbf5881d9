"""A cold and a cached `uv build --wheel` of each example, with times and compile counts.

Run it as ``nox -s demo`` (README).  wheelmemo comes from this checkout (the examples'
``[tool.uv.sources]``); the cache, cargo's target dir and the compile log are private to
this run, so the first build is really cold.
"""

from __future__ import annotations

from _harness import EXAMPLES, HERE, Workspace


def main() -> None:
    work = Workspace()
    rows = []
    try:
        for name, needle in EXAMPLES.items():
            project = HERE / name
            work.clean(project)
            print(f"== {name}: uv build --wheel, cold", flush=True)
            cold = work.uv_build_wheel(project, needle)
            print(cold.stderr)
            print(f"== {name}: uv build --wheel, again", flush=True)
            hit = work.uv_build_wheel(project, needle)
            print(hit.stderr)
            rows.append((name, cold, hit))
            work.clean(project)
    finally:
        work.close()
    print()
    print(f"{'example':<18}{'cold build':>14}{'compiles':>10}{'cached build':>15}{'compiles':>10}{'speed-up':>10}")
    for name, cold, hit in rows:
        print(f"{name:<18}{cold.seconds:>13.2f}s{cold.compiles:>10}{hit.seconds:>14.2f}s{hit.compiles:>10}"
              f"{cold.seconds / hit.seconds:>9.1f}x")
    if any(hit.compiles for _, _, hit in rows):
        raise SystemExit("a cached build compiled something: that is a bug, please report it")


if __name__ == "__main__":
    main()
