"""The per-type declarations (`core.declarations`) and the schema agree, field by field."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, get_named_type

from core import relations
from core.declarations import DECLARATIONS
from core.relation_kinds import Relation, ToOne
from resolvers.root import build_schema
from schema.node import NODE_TYPES

SCHEMA = build_schema()
TO_ONE = [v for v in vars(relations).values() if isinstance(v, ToOne)]
LISTS = [v for v in vars(relations).values() if isinstance(v, Relation)]


def _object(name: str) -> GraphQLObjectType:
    found = SCHEMA._schema.get_type(name)
    assert isinstance(found, GraphQLObjectType), f"{name} is not an object type"
    return found


def _name(field: Any) -> str:
    return str(field.graphql_name or SCHEMA.config.name_converter.get_graphql_name(field))


def _strawberry_field(owner: str, field: str) -> Any:
    definition = SCHEMA.get_type_by_name(owner)
    assert definition is not None, owner
    by_name = {_name(f): f for f in definition.fields}
    assert field in by_name, f"{owner}.{field} is declared but the schema has no such field"
    return by_name[field]


@pytest.mark.parametrize("relation", TO_ONE, ids=lambda r: r.name)
def test_each_to_one_relation_is_served_by_its_field(relation: ToOne) -> None:
    served = _strawberry_field(relation.owner, relation.field)
    assert served.metadata.get("relation") is relation
    graphql_type = _object(relation.owner).fields[relation.field].type
    assert get_named_type(graphql_type).name == relation.target
    nullable = graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type
    assert not isinstance(nullable, GraphQLList)


def test_every_to_one_field_of_the_schema_is_declared() -> None:
    served = {
        f"{definition.name}.{_name(field)}"
        for definition in (SCHEMA.get_type_by_name(name) for name in SCHEMA._schema.type_map)
        if definition is not None and hasattr(definition, "fields")
        for field in definition.fields
        if "relation" in (field.metadata or {})
    }
    assert served == {r.name for r in TO_ONE}


@pytest.mark.parametrize("relation", LISTS, ids=lambda r: r.name)
def test_each_list_is_a_connection_of_its_rows(relation: Relation) -> None:
    connection = _object(relation.owner).fields[relation.field].type
    assert isinstance(connection, GraphQLNonNull)
    nodes = get_named_type(_object(get_named_type(connection).name).fields["nodes"].type)
    assert DECLARATIONS[nodes.name].model is relation.model


def test_every_node_type_is_declared_with_its_table() -> None:
    for name, node_type in NODE_TYPES.items():
        assert name in DECLARATIONS, f"{name} has no declaration"
        assert DECLARATIONS[name].model is node_type.model


def test_declarations_gather_the_relations_by_type() -> None:
    case = DECLARATIONS["Case"]
    assert case.to_one["community"] is relations.CASE_COMMUNITY
    assert case.lists["events"] is relations.CASE_EVENTS
    assert sum(len(d.to_one) for d in DECLARATIONS.values()) == len(
        [r for r in TO_ONE if r.owner in DECLARATIONS]
    )
    assert sum(len(d.lists) for d in DECLARATIONS.values()) == len(LISTS)
