"""Cursor pagination (Relay connections) computed by PostgreSQL, batched across parents.

A page of children for many parents is one statement: the rows are numbered per parent with
`row_number() OVER (PARTITION BY parent ORDER BY keys)` and cut at `first + 1` (or `last + 1`,
in reverse order), so a list of 200 communities with their first 50 cases costs one query,
not 200. Cursors are keyset cursors: the sort-key values of a row, so pages stay stable while
rows are added.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import QueryableAttribute

from core.user_errors import UserError

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

KeyKind = Literal["int", "str", "datetime"]


@dataclass(frozen=True, eq=False)
class SortKey:
    """One sort expression; it must never be NULL (wrap nullable columns in COALESCE)."""

    expr: ColumnElement[Any] | QueryableAttribute[Any]
    kind: KeyKind
    descending: bool = False

    def flipped(self) -> SortKey:
        return SortKey(self.expr, self.kind, not self.descending)

    def order_clause(self, reverse: bool = False) -> ColumnElement[Any]:
        return self.expr.desc() if self.descending != reverse else self.expr.asc()


@dataclass(frozen=True, eq=False)
class Ordering:
    """A named total order: its last key is unique (the row's id)."""

    name: str
    keys: tuple[SortKey, ...]

    def reversed(self, name: str) -> Ordering:
        return Ordering(name, tuple(key.flipped() for key in self.keys))

    def order_by(self, reverse: bool = False) -> list[ColumnElement[Any]]:
        return [key.order_clause(reverse) for key in self.keys]

    def after(self, values: Sequence[Any], *, reverse: bool = False) -> ColumnElement[bool]:
        """Rows strictly after `values` in this order (before them when `reverse`)."""
        clauses = []
        for i, key in enumerate(self.keys):
            descending = key.descending != reverse
            beyond = key.expr < values[i] if descending else key.expr > values[i]
            equal = [self.keys[j].expr == values[j] for j in range(i)]
            clauses.append(and_(*equal, beyond))
        return or_(false(), *clauses)


def encode_cursor(ordering: Ordering, values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, dt.datetime) else v for v in values]
    raw = json.dumps([ordering.name, plain], separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(ordering: Ordering, cursor: str) -> list[Any]:
    """Sort-key values of a cursor made by `encode_cursor` for the same ordering."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        name, values = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if name != ordering.name:
            raise UserError(
                f"cursor {cursor!r} belongs to ordering {name}, not {ordering.name}; "
                "start again without a cursor when you change the order"
            )
        if not isinstance(values, list) or len(values) != len(ordering.keys):
            raise ValueError("wrong arity")
        return [_typed(key.kind, value) for key, value in zip(ordering.keys, values, strict=True)]
    except UserError:
        raise
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        raise UserError(f"{cursor!r} is not a valid cursor") from None


def _typed(kind: KeyKind, value: Any) -> Any:
    if kind == "datetime":
        return dt.datetime.fromisoformat(value)
    if kind == "int":
        if not isinstance(value, int):
            raise TypeError("not an int")
        return value
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


@dataclass(frozen=True)
class PageArgs:
    """Validated `first/after/last/before` of a connection field."""

    first: int | None = None
    after: str | None = None
    last: int | None = None
    before: str | None = None

    @classmethod
    def of(
        cls,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> PageArgs:
        if first is not None and last is not None:
            raise UserError("give either `first` or `last`, not both")
        for name, value in (("first", first), ("last", last)):
            if value is not None and not 0 <= value <= MAX_PAGE_SIZE:
                raise UserError(
                    f"`{name}` must be between 0 and {MAX_PAGE_SIZE} (got {value}); "
                    "page through larger lists with cursors"
                )
        if first is None and last is None:
            first = DEFAULT_PAGE_SIZE
        return cls(first, after, last, before)

    @property
    def backward(self) -> bool:
        return self.last is not None

    @property
    def size(self) -> int:
        size = self.last if self.backward else self.first
        assert size is not None
        return size


@dataclass
class Page:
    """One page of rows of one parent, in the connection's order."""

    rows: list[Any]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool

    @classmethod
    def cut(cls, rows: list[Any], args: PageArgs, cursors: list[str]) -> Page:
        """Build a page from up to `size + 1` rows fetched in fetch order."""
        more = len(rows) > args.size
        rows, cursors = rows[: args.size], cursors[: args.size]
        if args.backward:
            rows.reverse()
            cursors.reverse()
            return cls(rows, cursors, has_next_page=args.before is not None, has_previous_page=more)
        return cls(rows, cursors, has_next_page=more, has_previous_page=args.after is not None)


EMPTY_PAGE = Page([], [], has_next_page=False, has_previous_page=False)
