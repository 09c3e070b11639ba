"""How the process's garbage collector is set once start-up is done.

Python's cyclic collector runs a young-generation pass every 700 new container objects, and a
full pass whenever the objects that survived since the last one outnumber a quarter of those
before. A large answer is built of hundreds of thousands of live objects (a year's community
comparison with every category breakdown: 13,000 groups of 16 figures), so building it ran
dozens of passes, each walking what had been built so far: 300 ms of a 1.35 s answer, measured
with `bench/stats.py` (`bench/README.md`).

What start-up allocated (modules, the schema, pools) lives as long as the process: it is
moved out of the collector's sight. And the young generation is collected every
`YOUNG_THRESHOLD` allocations instead of 700: the collector still frees cycles, a few tens
of megabytes later. (The count is of container objects allocated less those freed, so an
answer built and freed within a request adds nothing to it once sent.)
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 500_000
"""New container objects between two passes over the young generation (Python's: 700). A
comparison with its category breakdown builds ~300,000 (13,000 rows of 17 objects): at
50,000 its request ran ~25 young passes and a few older ones, each walking what it had
built so far (512 against 451 ms a request, alternated in one process; `bench/README.md`)."""


def settle_after_start_up() -> None:
    """Freeze what start-up allocated and space the collector's passes out."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
