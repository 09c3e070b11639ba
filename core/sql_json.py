"""SQL forms of the values the API prints, byte for byte as the executor prints them.

The compiled read path (`core.compiler`) has PostgreSQL build the answer's JSON. Each function
here is the SQL twin of a Python serialisation the executor uses, and the differential tests
hold them equal:
- global ids: `core.ids.encode` (base64url of `Type:id`, no padding);
- date-times: `datetime.isoformat()` of a UTC value (`…T08:00:00+00:00`, microseconds only
  when there are some);
- cursors: `core.pagination.encode_cursor` (compact JSON, then base64url);
- objects: `json_build_object`, whose keys stay in the order given (`jsonb` would sort them).

`FALLBACK` marks a value the executor would refuse or turn into an error (an `Int` beyond 32
bits, a null in a non-null field): the caller finds the marker in the text and lets the
executor answer instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLEnumType
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Integer,
    SmallInteger,
    Text,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    true,
)
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by

from core.pagination import KeyKind, Ordering

FALLBACK_TOKEN = "-0.0e-7777"  # noqa: S105 - a marker, not a password
"""A JSON number no column ever prints (PostgreSQL writes minus zero as `-0`): where it appears
outside a string, the answer needs the executor. Inside a user's string it only causes a
needless fallback, never a wrong answer."""

FALLBACK: ColumnElement[Any] = literal_column(f"'{FALLBACK_TOKEN}'::json", JSON)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def text_literal(value: str) -> ColumnElement[str]:
    """An SQL string literal of a GraphQL name (letters, digits, underscores: nothing to escape)."""
    assert value.replace("_", "").isalnum(), value
    return literal_column(f"'{value}'", Text)


def typename(name: str) -> ColumnElement[Any]:
    """`__typename` as JSON."""
    assert name.replace("_", "").isalnum(), name
    return literal_column(f"to_json('{name}'::text)", JSON)


def to_json(value: Any) -> ColumnElement[Any]:
    return func.to_json(value)


def json_object(pairs: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
    """`json_build_object` of (key, value) pairs, in order. PostgreSQL takes at most 100
    arguments, so a longer object is built in chunks and joined as text."""
    chunks = [pairs[i : i + 50] for i in range(0, len(pairs), 50)] or [[]]
    built = [
        func.json_build_object(
            *(part for key, value in chunk for part in (text_literal(key), value))
        )
        for chunk in chunks
    ]
    if len(built) == 1:
        return built[0]
    joined: ColumnElement[Any] = func.left(cast(built[0], Text), -1)
    for chunk in built[1:-1]:
        joined = joined + "," + func.substr(func.left(cast(chunk, Text), -1), 2)
    joined = joined + "," + func.substr(cast(built[-1], Text), 2)
    return cast(joined, JSON)


def _base64url(raw: ColumnElement[Any]) -> ColumnElement[str]:
    """Unpadded base64url of UTF-8 text; `encode` breaks lines every 76 characters: drop them."""
    encoded = func.encode(func.convert_to(raw, "UTF8"), "base64")
    return func.rtrim(func.translate(encoded, "+/\n", "-_"), "=")


def global_id(type_name: str, id_column: ColumnElement[Any]) -> ColumnElement[str]:
    return _base64url(literal(f"{type_name}:") + cast(id_column, Text))


def iso_datetime(column: ColumnElement[Any]) -> ColumnElement[str]:
    """`datetime.isoformat()` of a `timestamptz` read as UTC."""
    utc = func.timezone("UTC", column)
    seconds = func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
    fraction = case((func.date_trunc("second", utc) == utc, ""), else_=func.to_char(utc, ".US"))
    return seconds + fraction + "+00:00"


def iso_date(column: ColumnElement[Any]) -> ColumnElement[str]:
    return func.to_char(column, "YYYY-MM-DD")


def int32(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """An `Int` as JSON, or `FALLBACK` beyond 32 bits (graphql-core refuses such values).
    Columns of 32 bits or fewer need no check."""
    if isinstance(column.type, Integer | SmallInteger) and not isinstance(column.type, BigInteger):
        return to_json(column)
    low: ColumnElement[int] = literal_column(str(INT_MIN))
    high: ColumnElement[int] = literal_column(str(INT_MAX))
    return case((or_(column.is_(None), column.between(low, high)), to_json(column)), else_=FALLBACK)


def _cursor_value(kind: KeyKind, expr: ColumnElement[Any]) -> ColumnElement[str]:
    if kind == "datetime":
        return cast(to_json(iso_datetime(expr)), Text)
    if kind == "str":
        return cast(to_json(expr), Text)
    return cast(expr, Text)


def cursor(ordering: Ordering, exprs: Sequence[ColumnElement[Any]]) -> ColumnElement[str]:
    """`encode_cursor(ordering, values)`: `["NAME",[v1,v2]]` in compact JSON, base64url."""
    parts: ColumnElement[Any] = literal(f'["{ordering.name}",[')
    for i, (key, expr) in enumerate(zip(ordering.keys, exprs, strict=True)):
        if i:
            parts = parts + ","
        parts = parts + _cursor_value(key.kind, expr)
    return _base64url(parts + "]]")


def aggregate_in_order(value: Any, order: Any) -> Any:
    """`value ORDER BY order`, inside an aggregate such as `json_agg`."""
    return aggregate_order_by(value, order)


def enum_name(kind: GraphQLEnumType, column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The GraphQL name of a stored enum value (most are stored as their names)."""
    stored = {
        name: getattr(value.value, "value", value.value) for name, value in kind.values.items()
    }
    renamed = {value: name for name, value in stored.items() if value != name}
    if not renamed:
        return column
    return case(renamed, value=column, else_=column)


def boolean(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return to_json(case((condition, true()), else_=literal(False)))
