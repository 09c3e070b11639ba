"""How the process's garbage collector is set once start-up is done.

Python's cyclic collector runs a young-generation pass every 700 new container objects, and a
full pass whenever the objects that survived since the last one outnumber a quarter of those
before. A large answer is built of hundreds of thousands of live objects (a year's community
comparison with every category breakdown: 13,000 groups of 16 figures), so building it ran
dozens of passes, each walking what had been built so far: 300 ms of a 1.35 s answer, measured
with `bench/stats.py` (`bench/README.md`).

What start-up allocated (modules, the schema, pools) lives as long as the process: it is
moved out of the collector's sight. And the young generation is collected every
`YOUNG_THRESHOLD` allocations instead of 700: the collector still frees cycles, a few
megabytes later.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000
"""New container objects between two passes over the young generation (Python's: 700)."""


def settle_after_start_up() -> None:
    """Freeze what start-up allocated and space the collector's passes out."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
