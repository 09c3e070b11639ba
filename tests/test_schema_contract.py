"""`schema.graphql` is the published contract: it must be what the code serves."""

from __future__ import annotations

from pathlib import Path

from graphql import (
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
)

from resolvers.root import build_schema

CONTRACT = Path(__file__).resolve().parent.parent / "schema.graphql"


def test_schema_graphql_matches_the_code() -> None:
    schema = build_schema()
    assert CONTRACT.read_text() == schema.as_str() + "\n", (
        "schema.graphql is stale: run `scripts/dev schema > schema.graphql` and review the diff"
    )


def _own_types() -> list[GraphQLNamedType]:
    return [
        t
        for name, t in build_schema()._schema.type_map.items()
        if not name.startswith("__") and name not in {"String", "Int", "Float", "Boolean", "ID"}
    ]


def test_every_type_and_field_has_a_description() -> None:
    missing = []
    for named in _own_types():
        if not named.description:
            missing.append(named.name)
        if isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            missing += [
                f"{named.name}.{field}"
                for field, definition in named.fields.items()
                if not definition.description
            ]
    assert missing == [], f"add descriptions: {missing}"
