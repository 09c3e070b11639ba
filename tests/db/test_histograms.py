"""Histograms of durations (`db.histograms`): packed by PostgreSQL, read back in Python."""

from __future__ import annotations

import random

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
    # Sums over no row: null, as an array of sums over no row was.
    assert empty is None
    for fractions in ((0.5,), (0.5, 0.9), (0.0, 1.0)):
        assert histograms.percentiles(row[0], fractions) == histograms.percentiles(
            counts, fractions
        )


def test_percentiles_of_an_empty_histogram_are_none() -> None:
    assert histograms.percentiles([0] * histograms.BUCKETS, (0.5, 0.9)) == [None, None]
    assert histograms.percentile(bytes(4 * histograms.BUCKETS), 0.5) is None
