"""Histograms of durations (`db.histograms`): packed by PostgreSQL, read back in Python."""

from __future__ import annotations

import random
import struct

import numpy as np
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
    # (None: a histogram of nothing, as a row without cases reads.)
    counts = np.array(
        [[0] * histograms.BUCKETS if row is None else row for row in rows], np.int64
    ).reshape(-1, histograms.BUCKETS)
    for dtype in (np.int64, np.int32):
        # (A copy: the function overwrites what it is given.)
        at_once = histograms.counts_percentiles(np.array(counts.T, dtype=dtype), fractions)
        for i, row in enumerate(rows):
            each = (
                [None] * len(fractions) if row is None else histograms.percentiles(row, fractions)
            )
            # Equal, not close: the same operations on the same doubles.
            assert [column[i] for column in at_once] == each


async def test_dense_histograms_written_by_postgresql_read_back(database: Database) -> None:
    rng = random.Random(11)
    counts = [rng.choice((0, 1, 7, 70_000, -3)) for _ in range(histograms.BUCKETS)]
    values = ", ".join(f"{c} AS b{i}" for i, c in enumerate(counts))
    dense = histograms.dense_sql([f"x.b{i}" for i in range(histograms.BUCKETS)])
    bucket = histograms.bucket_list_sql("x.b")
    async with database.platform_session() as session:
        (row,) = (await session.execute(text(f"SELECT {dense} FROM (SELECT {values}) AS x"))).one()
        listed = await session.scalar(
            text(f"SELECT string_agg({bucket}, ''::bytea) FROM (VALUES (3), (0), (63), (3)) x(b)")
        )
    assert len(row) == histograms.DENSE
    assert histograms.summed(1, [row], [None], [None], [None]).tolist() == [counts]
    expected = [0] * histograms.BUCKETS
    for b in (3, 0, 63, 3):
        expected[b] += 1
    assert histograms.summed(1, [None], [None], [listed], [None]).tolist() == [expected]


_HISTOGRAM = st.lists(
    st.integers(0, 50_000), min_size=histograms.BUCKETS, max_size=histograms.BUCKETS
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.lists(_HISTOGRAM, max_size=7),  # dense histograms added (a row or more)
            st.lists(_HISTOGRAM, max_size=2),  # dense histograms taken away
            st.lists(st.integers(0, histograms.BUCKETS - 1), max_size=20),  # buckets added
            st.lists(st.integers(0, histograms.BUCKETS - 1), max_size=5),  # buckets taken
        ),
        max_size=15,
    )
)
def test_summed_adds_up_every_part(
    rows: list[tuple[list[list[int]], list[list[int]], list[int], list[int]]],
) -> None:
    def dense(histograms_of_row: list[list[int]]) -> bytes | None:
        joined = b"".join(struct.pack(">64i", *h) for h in histograms_of_row)
        return joined or None

    def listed(buckets: list[int]) -> bytes | None:
        return b"".join(struct.pack(">h", b) for b in buckets) or None

    parts = (
        [dense(added) for added, _, _, _ in rows],
        [dense(taken) for _, taken, _, _ in rows],
        [listed(buckets) for _, _, buckets, _ in rows],
        [listed(buckets) for _, _, _, buckets in rows],
    )
    got = histograms.summed(len(rows), *parts)
    # Into a work array that held something else, the same; a part absent (None) is none.
    out = histograms.scratch("test", (len(rows), histograms.BUCKETS))
    out[...] = 7
    assert histograms.summed(len(rows), *parts, out=out).tolist() == got.tolist()
    absent = histograms.summed(len(rows), parts[0], None, parts[2], None)
    nothing = [None] * len(rows)
    present = histograms.summed(len(rows), parts[0], nothing, parts[2], nothing)
    assert absent.tolist() == present.tolist()
    for i, (added, taken, buckets_added, buckets_taken) in enumerate(rows):
        expected = [0] * histograms.BUCKETS
        for h in added:
            expected = [e + c for e, c in zip(expected, h, strict=True)]
        for h in taken:
            expected = [e - c for e, c in zip(expected, h, strict=True)]
        for b in buckets_added:
            expected[b] += 1
        for b in buckets_taken:
            expected[b] -= 1
        assert got[i].tolist() == expected


def test_work_arrays_are_kept_when_small() -> None:
    small = histograms.scratch("kept", (3, 4))
    again = histograms.scratch("kept", (2, 4))
    assert again.shape == (2, 4)
    assert np.shares_memory(small, again)
    other = histograms.scratch("kept", (3,), np.int64)  # another type: another array
    assert not np.shares_memory(small, other)
    big = histograms.scratch("kept", (histograms._SCRATCH_LIMIT // 4 + 1,))
    assert not np.shares_memory(big, histograms.scratch("kept", (big.size,)))
