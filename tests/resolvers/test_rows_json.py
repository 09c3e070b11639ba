"""Rows' answers written as JSON text at once (`resolvers.rows_json`): the same text orjson
writes for the answers built as objects."""

from __future__ import annotations

import enum
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from resolvers import rows_json
from resolvers.execution import GIVE_UP, LEAF, OBJECT, TYPENAME, Plan


class Colour(enum.Enum):
    RED = "r"
    GREEN = "g"


def _serialize(member: Colour) -> str:
    return member.name


LEAVES = {("name",): 0, ("figure", "value"): 1, ("figure", "sample_size"): 2}
ENUMS = {("name",): {"r": Colour.RED, "g": Colour.GREEN}}


def _plan(value_nullable: bool = True) -> Plan:
    figure: Plan = [
        ("__typename", TYPENAME, "Figure", None, False, None, False),
        ("value", LEAF, "value", None, value_nullable, None, False),
        ("n", LEAF, "sample_size", None, False, None, False),
    ]
    return [
        ("colour", LEAF, "name", _serialize, False, None, False),
        ("figure", OBJECT, "figure", None, False, figure, False),
        ("again", OBJECT, "figure", None, False, figure[1:2], False),
    ]


def _built(row: tuple[Any, ...]) -> dict[str, Any]:
    colour = {"r": "RED", "g": "GREEN"}[row[0]]
    figure = {"__typename": "Figure", "value": row[1], "n": row[2]}
    return {"colour": colour, "figure": figure, "again": {"value": row[1]}}


ROWS = st.lists(
    st.tuples(
        st.sampled_from(["r", "g"]),
        st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
        st.integers(-(2**31), 2**31 - 1),
    ),
    max_size=30,
)


@given(ROWS)
def test_each_row_is_written_as_orjson_writes_it_built(rows: list[tuple[Any, ...]]) -> None:
    chosen = rows_json.template(_plan(), LEAVES, ENUMS)
    assert chosen is not None
    answered = rows_json.answers(rows, chosen)
    assert answered == [orjson.dumps(_built(row)) for row in rows]
    assert orjson.dumps({"list": rows_json.json_list(answered)}) == orjson.dumps(
        {"list": [_built(row) for row in rows]}
    )


def test_a_null_in_a_non_null_field_leaves_the_rows_to_the_usual_path() -> None:
    chosen = rows_json.template(_plan(value_nullable=False), LEAVES, ENUMS)
    assert chosen is not None
    assert rows_json.answers([("r", 1.5, 2)], chosen) == [orjson.dumps(_built(("r", 1.5, 2)))]
    assert rows_json.answers([("r", 1.5, 2), ("g", None, 0)], chosen) is GIVE_UP


def test_values_it_cannot_write_leave_the_rows_to_the_usual_path() -> None:
    chosen = rows_json.template(_plan(), LEAVES, ENUMS)
    assert chosen is not None
    assert rows_json.answers([("b", 1.0, 2)], chosen) is GIVE_UP  # no such code
    assert rows_json.answers([("r", object(), 2)], chosen) is GIVE_UP  # not JSON
    assert rows_json.answers([("r", "a,b", 2)], chosen) is GIVE_UP  # text with a comma


def test_a_selection_of_anything_but_known_leaves_has_no_template() -> None:
    unknown: Plan = [("x", LEAF, "elsewhere", None, True, None, False)]
    assert rows_json.template(unknown, LEAVES) is None
    listed: Plan = [("x", 2, "name", None, True, _plan(), False)]  # a list
    assert rows_json.template(listed, LEAVES) is None


def test_one_leaf_and_no_rows() -> None:
    plan: Plan = [("v", LEAF, "name", None, False, None, False)]
    chosen = rows_json.template(plan, LEAVES)  # a text, as it is: no enum given
    assert chosen is not None
    assert rows_json.answers([("r", 1.0, 7)], chosen) == [b'{"v":"r"}']
    assert rows_json.answers([], chosen) == []
    assert orjson.dumps(rows_json.json_list([])) == b"[]"
