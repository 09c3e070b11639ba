"""How a period is cut for the rollups (`resolvers.stats.rolled`): whole months, read from
year-to-date and month rows, and the partial months at its ends."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from resolvers.stats.rolled import _edges, pieces, span

CHINA = dt.timezone(dt.timedelta(hours=8))
D = dt.date


M, C = "M", "C"


@pytest.mark.parametrize(
    ("whole_from", "whole_to", "expected"),
    [
        # December to November: December's month row, November's year to date.
        (D(2025, 12, 1), D(2026, 12, 1), [(M, D(2025, 12, 1), D(2026, 1, 1), 1),
                                          (C, D(2026, 11, 1), D(2026, 12, 1), 1)]),
        # A calendar year, or its first months: one year-to-date row.
        (D(2026, 1, 1), D(2027, 1, 1), [(C, D(2026, 12, 1), D(2027, 1, 1), 1)]),
        (D(2026, 1, 1), D(2026, 2, 1), [(C, D(2026, 1, 1), D(2026, 2, 1), 1)]),
        # Two months after January: their month rows.
        (D(2026, 5, 1), D(2026, 7, 1), [(M, D(2026, 5, 1), D(2026, 7, 1), 1)]),
        # Three or more after January: a year to date less the one before it.
        (D(2026, 3, 1), D(2026, 6, 1), [(C, D(2026, 5, 1), D(2026, 6, 1), 1),
                                        (C, D(2026, 2, 1), D(2026, 3, 1), -1)]),
        # Across years: each year's run on its own.
        (D(2024, 10, 1), D(2026, 3, 1), [(C, D(2024, 12, 1), D(2025, 1, 1), 1),
                                         (C, D(2024, 9, 1), D(2024, 10, 1), -1),
                                         (C, D(2025, 12, 1), D(2026, 1, 1), 1),
                                         (C, D(2026, 2, 1), D(2026, 3, 1), 1)]),
    ],
)  # fmt: skip
def test_whole_months_from_year_to_date_and_month_rows(
    whole_from: dt.date, whole_to: dt.date, expected: list[tuple[str, dt.date, dt.date, int]]
) -> None:
    assert [(p.grain, p.first, p.end, p.sign) for p in pieces(whole_from, whole_to)] == expected


@given(
    first=st.dates(D(2020, 1, 1), D(2030, 12, 1)).map(lambda d: d.replace(day=1)),
    months=st.integers(1, 40),
)
def test_the_pieces_count_each_month_once(first: dt.date, months: int) -> None:
    # What each piece adds: a month row its months, a year-to-date row every month of its
    # year up to its own; the sum over the pieces is each month of the period, once.
    def month_index(day: dt.date) -> int:
        return day.year * 12 + day.month - 1

    start = month_index(first)
    end = start + months
    last = D(end // 12, end % 12 + 1, 1)
    counted: Counter[int] = Counter()
    for piece in pieces(first, last):
        if piece.grain == "M":
            for m in range(month_index(piece.first), month_index(piece.end)):
                counted[m] += piece.sign
        else:
            to = month_index(piece.first)
            for m in range(to - to % 12, to + 1):
                counted[m] += piece.sign
    assert {m: n for m, n in counted.items() if n} == dict.fromkeys(range(start, end), 1)
    assert len(pieces(first, last)) <= 2 * (months // 12 + 2)


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


def test_a_partial_month_is_read_from_the_smaller_side() -> None:
    beijing = CHINA
    # A rolling year ending now: its first month from the 5th (the month's row less its
    # first four days), its last month up to now (the month's row less the days after now:
    # none have cases yet).
    now = dt.datetime.now(beijing)
    first = dt.datetime(2025, 12, 5, tzinfo=beijing)
    this_month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    cut = span(first, now, "month")
    added, taken, months = _edges(cut.edges, now)
    assert months[0] == D(2025, 12, 1)
    assert taken[0] == (dt.datetime(2025, 12, 1, tzinfo=beijing), first)
    if now - this_month > dt.timedelta(hours=1):  # (not in the first hour of a month)
        assert months[-1] == this_month.date()
        assert added == ()
    # A few days at a month's start: their own facts.
    early = span(
        dt.datetime(2026, 3, 1, tzinfo=beijing), dt.datetime(2026, 3, 4, tzinfo=beijing), "month"
    )
    assert _edges(early.edges, now) == (early.edges, (), ())
    # Across two months, with no whole month between: read as it is.
    across = span(
        dt.datetime(2026, 1, 15, tzinfo=beijing), dt.datetime(2026, 2, 10, tzinfo=beijing), "month"
    )
    assert _edges(across.edges, now) == (across.edges, (), ())
