"""Percentiles of durations from histograms that add up, with a stated error bound.

A comparison over a year reads rollups by month (`db.comparison_rollups`), so it cannot sort
the year's cases to take an exact median. Each rollup row instead counts its cases' durations
in fixed buckets; the buckets of any group of rows add up, and a percentile is read off the
sum.

**Buckets.** Bucket 0 holds durations below `SMALLEST` hours (and any negative one); bucket
`i` ≥ 1 holds `[SMALLEST·γ^(i-1), SMALLEST·γ^i)`, γ = `GROWTH`; the last bucket holds
everything from `SMALLEST·γ^(BUCKETS-2)` (about 8,100 hours, eleven months) on. A bucket
stands for one value (`representative`): for bucket i ≥ 1, `2·lo·hi / (lo + hi)`, which is
within α = (γ − 1)/(γ + 1) (9.09 %) of every duration in the bucket; for bucket 0,
`SMALLEST / 2`, within 0.05 hours of every duration in it.

**Estimate.** Like PostgreSQL's `percentile_cont`, the percentile p of n durations is taken
at position p·(n − 1) of their sorted order: between the durations at positions k and k + 1,
at fraction f. The estimate interpolates the same way between the representatives of the
buckets those two durations fall in, so it is within `RELATIVE_ERROR` of the exact value plus
`ABSOLUTE_ERROR` hours (each representative is within that of its duration, and the
interpolation keeps the bound). Durations of eleven months or more (the last bucket) are
outside the bound: they are all taken as the bucket's lower edge.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

import numpy as np

SMALLEST = 0.1
"""Hours: bucket 0 holds durations below this."""
GROWTH = 1.2
"""γ: each bucket's upper edge over its lower edge."""
BUCKETS = 64
"""Buckets per histogram (0 … 63)."""

RELATIVE_ERROR = (GROWTH - 1) / (GROWTH + 1)
"""α: an estimate is within this fraction of the exact value (plus `ABSOLUTE_ERROR`)."""
ABSOLUTE_ERROR = SMALLEST / 2
"""Hours: an estimate is within this of the exact value (plus α of it)."""
LAST_EDGE = SMALLEST * GROWTH ** (BUCKETS - 2)
"""Hours: durations from here on share the last bucket and are outside the bound."""

_LOG_GROWTH = math.log(GROWTH)


def bucket_sql(duration: str) -> str:
    """The bucket of a duration in hours, in SQL (NULL for NULL)."""
    return (
        f"CASE WHEN {duration} IS NULL THEN NULL WHEN {duration} < {SMALLEST} THEN 0 "
        f"ELSE least({BUCKETS - 1}, 1 + floor(ln({duration} / {SMALLEST}) / {_LOG_GROWTH!r}))"
        "::int END"
    )


def _representative(index: int) -> float:
    if index == 0:
        return SMALLEST / 2
    low = SMALLEST * GROWTH ** (index - 1)
    if index == BUCKETS - 1:
        return low
    high = low * GROWTH
    return 2 * low * high / (low + high)


REPRESENTATIVES = tuple(_representative(i) for i in range(BUCKETS))
"""The value each bucket stands for."""


_INT4 = 23
"""The type oid of int4 in PostgreSQL's binary array format."""
_HEADER = (1, 0, _INT4, BUCKETS, 1)
"""`array_send`'s header of a one-dimensional int4 array of `BUCKETS` counts without nulls:
dimensions, has-nulls flag, element type, length, lower bound."""
_PACKED = struct.Struct(">" + "i" * len(_HEADER) + "ii" * BUCKETS)
_WORDS = len(_HEADER) + 2 * BUCKETS
"""4-byte words of a packed histogram: the header, then each count's length (4) and value."""


def packed_sql(counts: Sequence[str]) -> str:
    """A histogram's `BUCKETS` counts (SQL expressions of integers) as one `bytea`: an int4
    array in PostgreSQL's binary format (`array_send`); null when the first count is (the
    sums over no row: all null together). A time series answers its buckets' histograms in
    this form rather than as arrays the driver decodes (a comparison's are read dense:
    `dense_sql`, `summed`)."""
    assert len(counts) == BUCKETS
    array = ", ".join(f"CAST({count} AS int)" for count in counts)
    return f"CASE WHEN {counts[0]} IS NOT NULL THEN array_send(ARRAY[{array}]) END"


DENSE = 4 * BUCKETS
"""Bytes of a histogram stored dense (`dense_sql`)."""


def dense_sql(counts: Sequence[str]) -> str:
    """A histogram's `BUCKETS` counts (SQL expressions of non-null int4s) as one `bytea` of
    big-endian int4s, bucket 0 first: what a rollup row stores beside its bucket columns
    (`int4send` is immutable, so a stored generated column can hold it). A read concatenates
    these (`string_agg`) instead of summing 64 columns a histogram, and numpy adds them up
    (`summed`)."""
    assert len(counts) == BUCKETS
    return " || ".join(f"int4send({count})" for count in counts)


def bucket_list_sql(bucket: str) -> str:
    """A bucket (an SQL expression of a smallint) as 2 bytes, to be concatenated into a list
    of the buckets of several durations (`string_agg`; `summed` counts them)."""
    return f"int2send(CAST({bucket} AS smallint))"


_SCRATCH_LIMIT = 64 * 1024 * 1024
"""Bytes up to which work arrays are kept between calls (`scratch`)."""

_scratch: dict[tuple[str, Any], Any] = {}


def scratch(name: str, shape: tuple[int, ...], dtype: Any = np.int32) -> Any:
    """A work array of `shape` (contents undefined), kept between calls when it is small
    enough: a breakdown's arrays are megabytes each, and memory freshly mapped for each of
    them cost more page faults than the work done in it. For work that finishes before it
    returns (no `await` while it is in use), and whose results are not views of it."""
    size = math.prod(shape)
    kind = np.dtype(dtype)
    if size * kind.itemsize > _SCRATCH_LIMIT:
        return np.empty(shape, kind)
    kept = _scratch.get((name, kind))
    if kept is None or kept.size < size:
        kept = _scratch[(name, kind)] = np.empty(max(size, 1), kind)
    return kept[:size].reshape(shape)


def _dense_sums(parts: Sequence[bytes | None], rows: int, out: Any, sign: int) -> None:
    """Adds to `out` (rows × `BUCKETS` int32) the sum of each row's dense histograms
    (`parts[row]`: some concatenated, or None for none), or (`sign` -1) takes it away."""
    lengths = np.fromiter((len(part) if part else 0 for part in parts), np.int64, rows) // DENSE
    if not lengths.any():
        return
    # Copied one after the other into memory kept for them (rather than joined: a new
    # buffer of megabytes), then turned from big-endian, with a histogram of zeros last.
    given = int(lengths.sum())
    joined = scratch("dense_bytes", (given * DENSE,), np.uint8)
    into, at = memoryview(joined), 0
    for part in parts:
        if part:
            into[at : at + len(part)] = part
            at += len(part)
    counts = scratch("dense", (given + 1, BUCKETS))
    np.copyto(counts[:given], joined.view(">i4").reshape(-1, BUCKETS))
    counts[given] = 0
    starts = np.cumsum(lengths) - lengths
    gathered = scratch("gathered", (rows, BUCKETS))
    # Each row's k-th histogram (the zeros where it has none) added to every row: a cell
    # sums a row or two (a month and a year to date), so this is a few gathers (numpy's
    # reduceat along rows and running sums both took several times as long).
    for k in range(int(lengths.max())):
        # (Each place is within the array: "clip" checks nothing, and copies nothing first.)
        chosen = np.where(lengths > k, starts + k, given)
        np.take(counts, chosen, axis=0, out=gathered, mode="clip")
        if sign > 0:
            out += gathered
        else:
            out -= gathered


def _count_buckets(parts: Sequence[bytes | None], rows: int, out: Any, sign: int) -> None:
    """Adds to `out` (rows × `BUCKETS` int32) `sign` for each of each row's listed buckets
    (`parts[row]`: buckets as `bucket_list_sql` concatenated, or None for none), in place
    (a count array of every row's buckets would be megabytes of fresh memory)."""
    lengths = np.fromiter((len(part) if part else 0 for part in parts), np.int64, rows) // 2
    if not lengths.any():
        return
    buckets = np.frombuffer(b"".join([part for part in parts if part]), ">i2")
    at = np.repeat(np.arange(rows, dtype=np.int64) * BUCKETS, lengths) + buckets
    np.add.at(out.reshape(-1), at, sign)


def summed(
    rows: int,
    added: Sequence[bytes | None] | None,
    taken: Sequence[bytes | None] | None,
    buckets_added: Sequence[bytes | None] | None,
    buckets_taken: Sequence[bytes | None] | None,
    out: Any = None,
) -> Any:
    """Each of `rows` histograms as its parts add up: dense histograms added and taken away
    (`dense_sql`, concatenated), and durations' buckets added and taken away
    (`bucket_list_sql`, concatenated); a rows × `BUCKETS` int32 array (a count of cases
    fits), `out` if given. A part given as None is none in every row."""
    if out is None:
        out = np.zeros((rows, BUCKETS), np.int32)
    else:
        out[...] = 0
    if added:
        _dense_sums(added, rows, out, 1)
    if taken:
        _dense_sums(taken, rows, out, -1)
    if buckets_added:
        _count_buckets(buckets_added, rows, out, 1)
    if buckets_taken:
        _count_buckets(buckets_taken, rows, out, -1)
    return out


def pack(counts: Sequence[int]) -> bytes:
    """What `packed_sql` makes of these counts (for tests)."""
    assert len(counts) == BUCKETS
    return _PACKED.pack(*_HEADER, *(word for count in counts for word in (4, count)))


def unpack(packed: bytes) -> tuple[int, ...]:
    """The counts of a histogram `packed_sql` packed."""
    words = _PACKED.unpack(packed)
    assert words[: len(_HEADER)] == _HEADER, "a packed histogram of int4 counts"
    return words[len(_HEADER) + 1 :: 2]


def percentile(counts: Sequence[int] | bytes, fraction: float) -> float | None:
    """The estimated `percentile_cont(fraction)` of the durations counted in `counts` (a
    histogram of `BUCKETS` counts, or those packed by `packed_sql`; all null: the sums over
    no row); None when it counts nothing."""
    return percentiles(counts, (fraction,))[0]


def percentiles(counts: Sequence[int] | bytes, fractions: Sequence[float]) -> list[float | None]:
    """`percentile` of each of `fractions`, adding the counts up once (`counts` as they are,
    or as `packed_sql` packed them)."""
    if isinstance(counts, bytes):
        counts = unpack(counts)
    if not counts or counts[0] is None:
        return [None] * len(fractions)
    cumulative = list(accumulate(counts))
    n = cumulative[-1]
    if n <= 0:
        return [None] * len(fractions)
    estimates: list[float | None] = []
    for fraction in fractions:
        position = fraction * (n - 1)
        k = math.floor(position)
        at_k = REPRESENTATIVES[bisect_right(cumulative, k)]
        share = position - k
        if share == 0:
            estimates.append(at_k)
            continue
        at_next = REPRESENTATIVES[bisect_right(cumulative, k + 1)]
        estimates.append(at_k + share * (at_next - at_k))
    return estimates


def counts_percentiles(cumulative: Any, fractions: Sequence[float]) -> list[list[float | None]]:
    """`percentiles` of many histograms at once, given as a `BUCKETS` × histograms array of
    integer counts (bucket by bucket, each histogram a column; this array is overwritten):
    for each of `fractions`, the estimates in the order of the columns, equal to what
    `percentiles` gives one by one (the same operations on the same doubles)."""
    # Bucket by bucket, all histograms side by side: the running counts are 64 additions of
    # rows (numpy's cumsum along short rows took several times as long).
    for bucket in range(1, BUCKETS):
        np.add(cumulative[bucket], cumulative[bucket - 1], out=cumulative[bucket])
    n = cumulative[-1]
    nothing = np.flatnonzero(n <= 0).tolist()
    last = BUCKETS - 1
    representatives = np.array(REPRESENTATIVES)

    def at(k: Any) -> Any:
        # `bisect_right(cumulative, k)` of every histogram: how many running counts are at
        # most k. Past the last bucket only where nothing is counted, or for the next
        # position where it is not used.
        found = np.count_nonzero(cumulative <= k, axis=0)
        return representatives[np.minimum(found, last)]

    estimates: list[list[float | None]] = []
    for fraction in fractions:
        position = fraction * (n - 1).astype(np.float64)
        k = np.floor(position)
        # k is a whole number below the count: compared as an integer, not each running
        # count turned into a double.
        whole = k.astype(cumulative.dtype)
        at_k = at(whole)
        # A share of 0 adds 0.0 to at_k: at_k itself, as `percentiles` answers it.
        values: list[float | None] = (at_k + (position - k) * (at(whole + 1) - at_k)).tolist()
        for i in nothing:
            values[i] = None
        estimates.append(values)
    return estimates


def within_bound(estimate: float | None, exact: float | None) -> bool:
    """Whether an estimate keeps the stated bound (for tests and checks)."""
    if estimate is None or exact is None:
        return estimate is None and exact is None
    if exact >= LAST_EDGE:
        return True
    return abs(estimate - exact) <= RELATIVE_ERROR * abs(exact) + ABSOLUTE_ERROR + 1e-9
