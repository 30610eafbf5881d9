"""A differential fuzzer, the judge of "never stale" (issue 18).

Random sequences of operations (edits, reverts with old times, touches, added,
removed and renamed files, ignored and outside files, variables, config settings and
features, ``narrow``, an optional module installed and removed without isolation,
commits and tags, ``prune`` (to nothing and to half), ``clean``, a small ``max-size``
that evicts after every store, damage of the cache, two builds at once; with
``--compiler-cache sccache``: the compiler cache on and off, its objects removed,
damaged or kept by a fresh runner, the project moved to another path, a header that
shadows another, a ``file://`` remote shared by two local caches)
over small real projects of each backend family (``templates``), built through each
real frontend; after every build the result must equal a plain build of a fresh copy
of the same state (``engine``: the oracle, the shrinker, the report).

Run it as ``nox -s stale-fuzz -- --steps N --seed S [--family F] [--budget SECONDS]``
or ``python -m stalefuzz`` from ``tests/``; ``tests/test_stale_fuzz.py`` runs a
bounded budget in the suite and replays the step lists it found.
"""
