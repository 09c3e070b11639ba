"""How a period is cut for the rollups (`resolvers.stats.rolled`): whole months, whole
calendar quarters among them, and the partial months at its ends."""

from __future__ import annotations

import datetime as dt

import pytest

from resolvers.stats.rolled import quarters, span

CHINA = dt.timezone(dt.timedelta(hours=8))
D = dt.date


@pytest.mark.parametrize(
    ("whole_from", "whole_to", "expected"),
    [
        # December to November: the three quarters between, a month before, two after.
        (D(2025, 12, 1), D(2026, 12, 1), (D(2026, 1, 1), D(2026, 10, 1))),
        (D(2026, 1, 1), D(2027, 1, 1), (D(2026, 1, 1), D(2027, 1, 1))),
        (D(2026, 1, 1), D(2026, 4, 1), (D(2026, 1, 1), D(2026, 4, 1))),
        (D(2026, 10, 1), D(2027, 4, 1), (D(2026, 10, 1), D(2027, 4, 1))),
        # No whole quarter: two months of one, or months of two quarters.
        (D(2026, 1, 1), D(2026, 3, 1), None),
        (D(2026, 2, 1), D(2026, 4, 1), None),
        (D(2025, 11, 1), D(2026, 2, 1), None),
        (D(2026, 5, 1), D(2026, 6, 1), None),
    ],
)
def test_whole_quarters_within_whole_months(
    whole_from: dt.date, whole_to: dt.date, expected: tuple[dt.date, dt.date] | None
) -> None:
    assert quarters(whole_from, whole_to) == expected


def test_a_period_is_cut_at_beijing_month_boundaries() -> None:
    cut = span(
        dt.datetime(2026, 1, 15, 12, tzinfo=CHINA),
        dt.datetime(2026, 5, 1, tzinfo=dt.UTC),  # 08:00 on 1 May in Beijing
        "month",
    )
    assert (cut.whole_from, cut.whole_to) == (D(2026, 2, 1), D(2026, 5, 1))
    assert cut.edges == (
        (dt.datetime(2026, 1, 15, 12, tzinfo=CHINA), dt.datetime(2026, 2, 1, tzinfo=CHINA)),
        (dt.datetime(2026, 5, 1, tzinfo=CHINA), dt.datetime(2026, 5, 1, tzinfo=dt.UTC)),
    )
