"""The garbage collector's settings once start-up is done (`server.collector`)."""

from __future__ import annotations

import gc

from server.collector import YOUNG_THRESHOLD, settle_after_start_up


def test_start_up_objects_are_frozen_and_young_passes_spaced_out() -> None:
    before = gc.get_threshold()
    try:
        settle_after_start_up()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (YOUNG_THRESHOLD, before[1], before[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
