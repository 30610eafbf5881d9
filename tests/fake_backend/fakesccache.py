"""A fake ``sccache`` binary for the compiler cache's fast tests (``test_compcache.py``).

Installed as an executable script named ``sccache``.  Every call appends one JSON line
to ``FAKE_SCCACHE_LOG``: its arguments and the ``SCCACHE_*`` variables it was given.
``--start-server`` fails when ``FAKE_SCCACHE_FAIL`` is ``start``; a compile (any other
command line) counts a hit when its last argument's content was compiled before in
this server's life, a miss otherwise, in a state file beside the log; ``--show-stats
--stats-format=json`` prints them as sccache 0.16 does.
"""

import json
import os
import sys
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    log = Path(os.environ["FAKE_SCCACHE_LOG"])
    env = {k: v for k, v in os.environ.items() if k.startswith("SCCACHE_")}
    with log.open("a") as f:
        f.write(json.dumps({"args": args, "env": env}) + "\n")
    state_file = log.with_suffix(".state")
    state = json.loads(state_file.read_text()) if state_file.exists() else {"seen": [], "hits": 0, "misses": 0}
    if args == ["--version"]:
        print(os.environ.get("FAKE_SCCACHE_VERSION", "sccache 0.16.0"))
        return 0
    if args == ["--start-server"]:
        if os.environ.get("FAKE_SCCACHE_FAIL") == "start":
            print("sccache: error: Server startup failed: cache storage failed to read", file=sys.stderr)
            return 2
        state = {"seen": state["seen"], "hits": 0, "misses": 0}
    elif args == ["--stop-server"]:
        pass
    elif args[:1] == ["--show-stats"]:
        report = {
            "stats": {
                "compile_requests": state["hits"] + state["misses"],
                "requests_not_cacheable": 0,
                "cache_hits": {"counts": {"C/C++": state["hits"]} if state["hits"] else {}},
                "cache_misses": {"counts": {"C/C++": state["misses"]} if state["misses"] else {}},
                "cache_errors": {"counts": {}},
                "cache_read_errors": 0,
                "cache_write_errors": 0,
                "cache_timeouts": 0,
                "non_cacheable_compilations": 0,
            },
            "cache_size": 1234,
        }
        print(json.dumps(report))
    else:  # a compile: the source's content decides
        content = Path(args[-1]).read_text()
        if content in state["seen"]:
            state["hits"] += 1
        else:
            state["misses"] += 1
            state["seen"].append(content)
    state_file.write_text(json.dumps(state))
    return 0


if __name__ == "__main__":
    sys.exit(main())
