"""The short path for plain fields answers exactly as graphql-core's own execution does."""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions import SchemaExtension

from resolvers.execution import PLAIN, PLAIN_OBJECT, ExecutionContext, mark_plain_fields
from resolvers.root import build_schema


@strawberry.enum
class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@strawberry.type
class Part:
    label: str
    size: float | None = None


@strawberry.type
class Whole:
    part: Part
    maybe: Part | None
    parts: list[Part]
    holes: list[Part | None]


@strawberry.type
class Item:
    name: str
    count: int
    share: float | None
    colour: Colour
    flag: bool
    note: str | None = None

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item]:
        return [
            Item(name="a", count=1, share=0.5, colour=Colour.RED, flag=True),
            Item(name="b", count=2, share=None, colour=Colour.GREEN, flag=False, note="n"),
        ]

    @strawberry.field
    def wholes(self) -> list[Whole | None]:
        good = Part(label="p", size=1.5)
        return [
            Whole(part=good, maybe=None, parts=[good, Part(label="q")], holes=[None, good]),
            # Refused below the top: a null label, a part list that is not a list.
            Whole(part=Part(label=None), maybe=good, parts=[], holes=[]),  # type: ignore[arg-type]
            Whole(part=good, maybe=good, parts="pq", holes=[]),  # type: ignore[arg-type]
            Whole(part=good, maybe=good, parts=[good], holes=[None]),
        ]

    @strawberry.field
    def broken(self) -> list[Item | None]:
        # Values the declared types refuse: a null in a non-null field, a string for an Int.
        return [
            Item(name=None, count=1, share=1.0, colour=Colour.RED, flag=True),  # type: ignore[arg-type]
            Item(name="x", count="many", share=1.0, colour=Colour.RED, flag=True),  # type: ignore[arg-type]
        ]


class Counting(SchemaExtension):
    """Counts every field resolved (a `resolve` hook wraps every resolver)."""

    calls = 0

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any
    ) -> Any:
        Counting.calls += 1
        return _next(root, info, *args, **kwargs)


def _schemas(**kwargs: Any) -> tuple[strawberry.Schema, strawberry.Schema]:
    plain = strawberry.Schema(query=Query, **kwargs)
    fast = strawberry.Schema(query=Query, execution_context_class=ExecutionContext, **kwargs)
    mark_plain_fields(fast._schema)
    return plain, fast


QUERY = """{
  items { name count share colour flag note shout alias: count __typename }
  wholes { part { label size } maybe { ... on Part { label } } parts { label __typename }
           holes { size } again: part { size } }
  broken { name }
  again: broken { count }
}"""


def _answer(schema: strawberry.Schema) -> tuple[Any, list[tuple[str, Any]]]:
    result = schema.execute_sync(QUERY)
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors


def test_plain_fields_answer_as_graphql_core_does() -> None:
    plain, fast = _schemas()
    marked = {
        name
        for name, field in fast._schema.type_map["Item"].fields.items()  # type: ignore[union-attr]
        if PLAIN in field.extensions
    }
    # Every attribute field; not `shout`, which has a resolver of its own.
    assert marked == {"name", "count", "share", "colour", "flag", "note"}
    data, errors = _answer(fast)
    assert (data, errors) == _answer(plain)
    assert data["items"][0] == {
        "name": "a",
        "count": 1,
        "share": 0.5,
        "colour": "RED",
        "flag": True,
        "note": None,
        "shout": "A",
        "alias": 1,
        "__typename": "Item",
    }
    assert data["wholes"][0] == {
        "part": {"label": "p", "size": 1.5},
        "maybe": None,
        "parts": [{"label": "p", "__typename": "Part"}, {"label": "q", "__typename": "Part"}],
        "holes": [None, {"size": 1.5}],
        "again": {"size": 1.5},
    }
    # The refused values get the executor's own errors, at their paths.
    assert sorted(str(path) for _, path in errors) == sorted(
        str(p)
        for p in (
            ["again", 1, "count"],
            ["broken", 0, "name"],
            ["wholes", 1, "part", "label"],
            ["wholes", 2, "parts"],
        )
    )


def test_a_resolve_hook_still_sees_every_field() -> None:
    plain, fast = _schemas(extensions=[Counting])
    Counting.calls = 0
    plain.execute_sync("{ items { name count } }")
    expected, Counting.calls = Counting.calls, 0
    fast.execute_sync("{ items { name count } }")
    assert Counting.calls == expected > 4


def test_plain_subtrees_are_built_from_a_plan() -> None:
    _, fast = _schemas()
    whole = fast._schema.type_map["Whole"]
    assert {name for name, f in whole.fields.items() if PLAIN_OBJECT in f.extensions} == {  # type: ignore[union-attr]
        "part",
        "maybe",
        "parts",
        "holes",
    }
    runs = 0
    original = ExecutionContext.collect_and_execute_subfields

    def counting(self: ExecutionContext, *args: Any) -> Any:
        nonlocal runs
        runs += 1
        return original(self, *args)

    ExecutionContext.collect_and_execute_subfields = counting  # type: ignore[method-assign]
    try:
        result = fast.execute_sync("{ wholes { maybe { label } holes { size } } }")
    finally:
        ExecutionContext.collect_and_execute_subfields = original  # type: ignore[method-assign]
    assert result.errors is None
    # Each whole is built from its plan: no executor completion below it.
    assert runs == 4


def test_the_served_schema_uses_the_short_path() -> None:
    gongzhi_schema = build_schema()
    figure = gongzhi_schema._schema.type_map["Figure"]
    assert {name for name, f in figure.fields.items() if PLAIN in f.extensions} == {  # type: ignore[union-attr]
        "value",
        "sampleSize",
    }
    assert gongzhi_schema.execution_context_class is ExecutionContext


@strawberry.type
class Swatch:
    colour: Colour
    maybe: Colour | None = None


@strawberry.type
class Card:
    swatches: list[Swatch]


@strawberry.type
class Palette:
    @strawberry.field
    def cards(self) -> list[Card | None]:
        return [
            Card(
                swatches=[Swatch(colour=Colour.RED), Swatch(colour=Colour.GREEN, maybe=Colour.RED)]
            ),
            # Refused: a value that is no member of the enum.
            Card(swatches=[Swatch(colour="purple")]),  # type: ignore[arg-type]
            Card(swatches=[Swatch(colour=Colour.GREEN)]),
        ]


def test_enums_in_plain_subtrees_answer_as_graphql_core_does() -> None:
    plain = strawberry.Schema(query=Palette)
    fast = strawberry.Schema(query=Palette, execution_context_class=ExecutionContext)
    mark_plain_fields(fast._schema)
    query = "{ cards { swatches { colour maybe } } }"
    mine, theirs = fast.execute_sync(query), plain.execute_sync(query)
    assert mine.data == theirs.data
    assert mine.data is not None
    assert mine.data["cards"][0] == {
        "swatches": [{"colour": "RED", "maybe": None}, {"colour": "GREEN", "maybe": "RED"}]
    }
    assert mine.data["cards"][1] is None
    assert [(e.message, e.path) for e in mine.errors or []] == [
        (e.message, e.path) for e in theirs.errors or []
    ]
    assert mine.errors is not None
    assert mine.errors[0].path == ["cards", 1, "swatches", 0, "colour"]
