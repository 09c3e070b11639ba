"""Histograms of durations (`db.histograms`): packed by PostgreSQL, read back in Python."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from db import histograms
from db.session import Database


async def test_a_histogram_packed_in_postgresql_unpacks_to_its_counts(database: Database) -> None:
    rng = random.Random(7)
    counts = [
        rng.choice((0, 0, 1, 3, 250, 70_000, 2_000_000_000)) for _ in range(histograms.BUCKETS)
    ]
    values = ", ".join(f"{c} AS b{i}" for i, c in enumerate(counts))
    packed = histograms.packed_sql([f"x.b{i}" for i in range(histograms.BUCKETS)])
    async with database.platform_session() as session:
        row = (await session.execute(text(f"SELECT {packed} FROM (SELECT {values}) AS x"))).one()
        empty = await session.scalar(
            text(f"SELECT {histograms.packed_sql(['sum(n)'] * histograms.BUCKETS)} "
                 "FROM (SELECT 1 AS n WHERE false) AS x")
        )  # fmt: skip
    assert list(histograms.unpack(row[0])) == counts
    assert row[0] == histograms.pack(counts)
    # Sums over no row: null, as an array of sums over no row was.
    assert empty is None
    for fractions in ((0.5,), (0.5, 0.9), (0.0, 1.0)):
        assert histograms.percentiles(row[0], fractions) == histograms.percentiles(
            counts, fractions
        )


def test_percentiles_of_an_empty_histogram_are_none() -> None:
    assert histograms.percentiles([0] * histograms.BUCKETS, (0.5, 0.9)) == [None, None]
    assert histograms.percentile(histograms.pack([0] * histograms.BUCKETS), 0.5) is None


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.one_of(
            st.none(),
            # Sparse histograms (a cell of a month holds a few cases), dense ones and empty.
            st.lists(
                st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 2_000_000)),
                min_size=histograms.BUCKETS,
                max_size=histograms.BUCKETS,
            ),
        ),
        max_size=12,
    ),
    fractions=st.lists(st.floats(0, 1), min_size=1, max_size=3),
)
def test_percentiles_of_many_equal_those_of_each(
    rows: list[list[int] | None], fractions: list[float]
) -> None:
    packed = [None if counts is None else histograms.pack(counts) for counts in rows]
    at_once = histograms.percentiles_of(packed, fractions)
    for i, counts in enumerate(packed):
        each = (
            [None] * len(fractions) if counts is None else histograms.percentiles(counts, fractions)
        )
        # Equal, not close: the same operations on the same doubles.
        assert [column[i] for column in at_once] == each
