"""A query's selection compiled to one SQL statement that builds its JSON.

PostgreSQL answers a compiled root field with the field's whole JSON value: each object a
`json_build_object` over its selected fields (keys in selection order, aliases as keys), each
to-one relation a correlated subquery, each connection a page of rows numbered in the
relation's order and aggregated with `json_agg`. The executor never visits those fields: the
text is spliced into the answer (`resolvers.execution`).

The compiler reads what the layers beneath declare: the type's table and visibility rule and
its relations by field (`core.declarations`), the orderings and cursors of each list
(`core.relations`, `core.pagination`), the case filter (`core.case_filter`). Every value is a
bind parameter. The statement carries the district predicate itself, besides row-level
security, at every level.

Anything it does not know (a field with logic of its own in Python, an argument it cannot
validate exactly as the executor would) raises `NotCompilable`, and that root field is left to
the executor, whose answer is the reference: the differential tests compare the two.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
)
from graphql.execution.collect_fields import FieldDetails, collect_subfields
from graphql.execution.values import VariableValues, get_argument_values
from graphql.language import OperationDefinitionNode
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    DateTime,
    FromClause,
    Select,
    Text,
    bindparam,
    case,
    cast,
    func,
    literal,
    null,
    select,
)
from sqlalchemy.dialects.postgresql import JSON
from sqlalchemy.sql.util import ClauseAdapter
from strawberry.types.arguments import convert_arguments

from core import ids, sql_json
from core.case_filter import CaseQuery
from core.computed_fields import SPECIAL
from core.declarations import BY_MODEL, DECLARATIONS, Declaration
from core.not_compilable import NotCompilable
from core.pagination import PageArgs, decode_cursor
from core.principal import Principal
from core.relation_kinds import NO_FILTER, Filter, Relation, ToOne

MAX_NODES = 100
"""`nodes(ids:)` takes at most this many ids (`resolvers.root` refuses more)."""

PLAIN = "gongzhi-plain"
"""Key of a plain field's marker in its GraphQL `extensions` (set by `resolvers.execution`)."""

Source = FromClause
"""Where a level's columns come from: a table alias or a page of rows (`source.c.name`)."""


@dataclass(frozen=True)
class Request:
    """What a compiled statement is for: whose visibility, which district, which document."""

    schema: GraphQLSchema
    fragments: Mapping[str, Any]
    variables: VariableValues
    operation: OperationDefinitionNode
    principal: Principal
    district_id: int | None
    memo: dict[int, Any] = field(default_factory=dict, compare=False)
    """What getters worked out once for this request (a connection's arguments)."""


@dataclass(frozen=True)
class FieldDetailsGroup:
    """One response key of a selection: its field definition and the nodes merged into it."""

    name: str
    definition: GraphQLField
    details: list[FieldDetails]

    @property
    def python_name(self) -> str | None:
        found = (self.definition.extensions or {}).get("strawberry-definition")
        return getattr(found, "python_name", None)


def _nullable(output: GraphQLOutputType) -> tuple[GraphQLOutputType, bool]:
    if isinstance(output, GraphQLNonNull):
        return output.of_type, False
    return output, True


_SCOPE_IDS = ("person_id", "street_id", "community_id", "partner_id")

Getter = Callable[["Request"], Any]
"""Finds a parameter's value in a request (may raise `NotCompilable`)."""


def role_class(p: Principal, district_id: int | None) -> tuple[Any, ...]:
    """What decides the shape of a principal's visibility rules (not their values)."""
    return (
        p.role,
        p.district_code is None,
        tuple(
            getattr(p, n) is None for n in ("person_id", "street_id", "community_id", "partner_id")
        ),
        district_id is None,
    )


class Compiler:
    """Builds the SQL of compilable root fields for one request (one principal, one district)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.refused_values = False
        """Set when a field was left to the executor for its arguments' values (not their
        shape): the plan then holds for this request only."""
        self.getters: dict[str, Getter] = {}
        """The parameters whose values come from the request, by name: how to get them."""
        self.district: ColumnElement[int] = self.param(
            request.district_id or 0, lambda r: r.district_id or 0
        )
        self.principal = self._symbolic(request.principal)

    def param(self, value: Any, getter: Getter, *, expanding: bool = False) -> Any:
        """A bind parameter standing for a value of this request; `getter` finds the same
        value in another request of the same shape, so the statement serves both."""
        name = f"gongzhi_p{len(self.getters)}"
        self.getters[name] = getter
        # Typed for every request, not this one's value: ids grow past 32 bits, and times
        # compare with `timestamptz` columns.
        kind: Any = None
        if isinstance(value, int) and not isinstance(value, bool):
            kind = BigInteger()
        elif isinstance(value, dt.datetime):
            kind = DateTime(timezone=True)
        return bindparam(name, value, type_=kind, expanding=expanding)

    def _symbolic(self, p: Principal) -> Principal:
        """The principal with its scope ids as parameters: visibility rules built from it
        serve every principal of the same role class."""

        def scoped(name: str) -> Any:
            value = getattr(p, name)
            if value is None:
                return None
            return self.param(value, lambda r: getattr(r.principal, name))

        return Principal(
            role=p.role,
            subject=None,
            district_code=p.district_code,
            person_id=scoped("person_id"),
            street_id=scoped("street_id"),
            community_id=scoped("community_id"),
            partner_id=scoped("partner_id"),
        )

    # Selections ------------------------------------------------------------------------------

    def subfields(
        self, owner: GraphQLObjectType, group: FieldDetailsGroup
    ) -> list[FieldDetailsGroup]:
        r = self.request
        collected = collect_subfields(
            r.schema, dict(r.fragments), r.variables, r.operation, owner, group.details
        )
        found = []
        for name, details in collected.grouped_field_set.items():
            field_name = details[0].node.name.value
            if field_name == "__typename":
                found.append(FieldDetailsGroup(name, _TYPENAME, details))
                continue
            definition = owner.fields.get(field_name)
            if definition is None:
                raise NotCompilable(f"{owner.name}.{field_name}")
            found.append(FieldDetailsGroup(name, definition, details))
        return found

    def arguments(self, group: FieldDetailsGroup, request: Request | None = None) -> dict[str, Any]:
        """The field's arguments as its resolver would receive them (Python names, input
        objects as their Strawberry types), in this request or in `request`."""
        if group.definition is _TYPENAME:
            return {}
        raw = get_argument_values(
            group.definition,
            group.details[0].node,
            (request or self.request).variables,
            group.details[0].fragment_variable_values,
        )
        field = (group.definition.extensions or {}).get("strawberry-definition")
        strawberry_schema = getattr(self.request.schema, "_strawberry_schema", None)
        if not raw or field is None or strawberry_schema is None:
            return raw
        return convert_arguments(
            raw,
            field.arguments,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            config=strawberry_schema.config,
        )

    # Root fields -----------------------------------------------------------------------------

    def root(self, query: GraphQLObjectType, group: FieldDetailsGroup) -> ColumnElement[Any]:
        """The JSON of one root field of a query; `NotCompilable` leaves it to the executor."""
        name = group.details[0].node.name.value
        output, _ = _nullable(group.definition.type)
        if name == "district":
            assert isinstance(output, GraphQLObjectType)
            if self.request.district_id is None:
                return null()
            return self.row_object(output, self.district, group)
        if name == "cases":
            relation = DECLARATIONS["District"].lists["cases"]
            return self.connection(relation, self.district, group, NO_FILTER, None)
        if name == "districts":
            return self._districts(group)
        if name == "viewer":
            assert isinstance(output, GraphQLObjectType)
            return self._viewer(output, group)
        if name == "node":
            return self._node(
                self.arguments(group)["id"], group, lambda r: self.arguments(group, r)["id"]
            )
        if name == "nodes":
            wanted = self.arguments(group)["ids"]
            if len(wanted) > MAX_NODES:
                self.refused_values = True
                raise NotCompilable("too many ids")
            if not wanted:
                return literal_json("[]")
            return func.json_build_array(
                *(self._node(i, group, partial(self._id, group, n=n)) for n, i in enumerate(wanted))
            )
        raise NotCompilable(name)

    def _id(self, group: FieldDetailsGroup, r: Request, n: int | None = None) -> str:
        """`node(id:)`'s id, or `nodes(ids:)`'s `n`-th, in request `r`."""
        arguments = self.arguments(group, r)
        return str(arguments["id"] if n is None else arguments["ids"][n])

    def _node(
        self, global_id: str, group: FieldDetailsGroup, again: Callable[[Request], str]
    ) -> ColumnElement[Any]:
        try:
            type_name, db_id = decode_node_id(global_id)
        except NotCompilable:
            self.refused_values = True
            raise
        output = self.request.schema.get_type(type_name)
        if not isinstance(output, GraphQLObjectType) or type_name not in DECLARATIONS:
            raise NotCompilable(type_name)
        if not any(i.name == "Node" for i in output.interfaces):
            raise NotCompilable(type_name)

        def db_id_of(r: Request) -> int:
            found_type, found_id = decode_node_id(again(r))
            if found_type != type_name:
                raise NotCompilable("another type")
            return found_id

        key = self.param(db_id, db_id_of)
        found = self.row_object(output, key, group)
        if type_name == "District":
            # Another district does not exist for you.
            return case((key == self.district, found), else_=null())
        return found

    def _viewer(self, output: GraphQLObjectType, group: FieldDetailsGroup) -> ColumnElement[Any]:
        """`Query.viewer`: the principal itself, its scope's objects looked up."""
        p, r = self.principal, self.request
        keys: dict[str, Any] = {
            "district": self.district if r.district_id is not None else None,
            "person": p.person_id,
            "street": p.street_id,
            "community": p.community_id,
            "partner": p.partner_id,
        }
        plain = {
            "anonymous": p.is_anonymous,
            "role": p.role.name if p.role is not None else None,
        }
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        for sub in self.subfields(output, group):
            name = sub.details[0].node.name.value
            if name == "__typename":
                pairs.append((sub.name, sql_json.typename(output.name)))
            elif name in plain:
                value = plain[name]
                text = "null" if value is None else json.dumps(value, ensure_ascii=False)
                pairs.append((sub.name, literal_json(text)))
            elif name == "districtCode":
                code = self.param(p.district_code, lambda r: r.principal.district_code)
                pairs.append((sub.name, sql_json.to_json(cast(code, Text))))
            elif name in keys:
                key = keys[name]
                target, _ = _nullable(sub.definition.type)
                assert isinstance(target, GraphQLObjectType)
                pairs.append(
                    (
                        sub.name,
                        null() if key is None else self.row_object(target, key, sub),
                    )
                )
            else:
                raise NotCompilable(f"Viewer.{name}")
        return sql_json.json_object(pairs)

    def _districts(self, group: FieldDetailsGroup) -> ColumnElement[Any]:
        output, _ = _nullable(group.definition.type)
        assert isinstance(output, GraphQLList)
        item, _ = _nullable(output.of_type)
        assert isinstance(item, GraphQLObjectType)
        table = DECLARATIONS["District"].model.__table__.alias()
        aggregated = func.json_agg(
            sql_json.aggregate_in_order(self.object(item, table, group), table.c.code)
        )
        return (
            select(func.coalesce(aggregated, literal_json("[]")))
            .select_from(table)
            .correlate_except(table)
            .scalar_subquery()
        )

    # Objects ---------------------------------------------------------------------------------

    def object(
        self, owner: GraphQLObjectType, source: Source, group: FieldDetailsGroup
    ) -> ColumnElement[Any]:
        """The JSON object of a row of `owner`'s table, with `group`'s selection."""
        declaration = DECLARATIONS.get(owner.name)
        if declaration is None:
            raise NotCompilable(owner.name)
        pairs = [
            (sub.name, self.field(owner, declaration, source, sub))
            for sub in self.subfields(owner, group)
        ]
        return sql_json.json_object(pairs)

    def field(
        self,
        owner: GraphQLObjectType,
        declaration: Declaration,
        source: Source,
        group: FieldDetailsGroup,
    ) -> ColumnElement[Any]:
        field_name = group.details[0].node.name.value
        if field_name == "__typename":
            return sql_json.typename(owner.name)
        special = SPECIAL.get((owner.name, field_name))
        if special is not None:
            return special(self, source, group)
        if field_name == "id" and "id" in source.c:
            return sql_json.to_json(sql_json.global_id(owner.name, source.c.id))
        plain = (group.definition.extensions or {}).get(PLAIN)
        if plain is not None and plain[0] in source.c:
            return self.leaf(group.definition.type, source.c[plain[0]])
        relation = declaration.to_one.get(field_name)
        if relation is not None:
            return self.to_one(relation, source, group)
        listed = declaration.lists.get(field_name)
        if listed is not None:
            return self.connection(listed, source.c.id, group, NO_FILTER, None)
        raise NotCompilable(f"{owner.name}.{field_name}")

    def leaf(self, output: GraphQLOutputType, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """A scalar or enum column as the executor serialises it."""
        kind, _ = _nullable(output)
        if isinstance(kind, GraphQLEnumType):
            return sql_json.to_json(sql_json.enum_name(kind, column))
        if not isinstance(kind, GraphQLScalarType):
            raise NotCompilable(str(kind))
        if kind.name in ("String", "Boolean", "Float"):
            return sql_json.to_json(column)
        if kind.name == "Int":
            return sql_json.int32(column)
        if kind.name == "DateTime":
            return sql_json.to_json(sql_json.iso_datetime(column))
        if kind.name == "Date":
            return sql_json.to_json(sql_json.iso_date(column))
        if kind.name == "JSON":
            return cast(column, JSON)
        raise NotCompilable(kind.name)

    def to_one(
        self, relation: ToOne, source: Source, group: FieldDetailsGroup
    ) -> ColumnElement[Any]:
        """The related object, or null when the key is null or the row is not visible."""
        output, nullable = _nullable(group.definition.type)
        assert isinstance(output, GraphQLObjectType)
        key = source.c[relation.key]
        found = self.row_object(output, key, group)
        if nullable:
            return found
        # A non-null field whose row is hidden: the executor answers with an error.
        return func.coalesce(found, sql_json.FALLBACK)

    def row_object(
        self, output: GraphQLObjectType, key: ColumnElement[Any], group: FieldDetailsGroup
    ) -> ColumnElement[Any]:
        declaration = DECLARATIONS.get(output.name)
        if declaration is None:
            raise NotCompilable(output.name)
        target = declaration.model.__table__.alias()
        conditions = [target.c.id == key]
        if "district_id" in target.c:
            conditions.append(target.c.district_id == self.district)
        visible = declaration.visible(self.principal)
        if visible is not None:
            conditions.append(ClauseAdapter(target).traverse(visible))
        return (
            select(self.object(output, target, group))
            .select_from(target)
            .where(*conditions)
            .correlate_except(target)
            .scalar_subquery()
        )

    # Connections -----------------------------------------------------------------------------

    def connection(
        self,
        relation: Relation,
        parent: ColumnElement[Any],
        group: FieldDetailsGroup,
        flt: Filter,
        ordering_name: str | None,
    ) -> ColumnElement[Any]:
        def read(r: Request) -> tuple[PageArgs, Filter, Any, Any, Any]:
            """This connection's page, filter, ordering and cursor values in request `r`."""
            found = r.memo.get(id(group))
            if found is None:
                found = r.memo[id(group)] = work(r)
            return found

        def work(r: Request) -> tuple[PageArgs, Filter, Any, Any, Any]:
            arguments = self.arguments(group, r)
            flt_, ordering_name_ = flt, ordering_name
            try:
                if "filter" in arguments or "order_by" in arguments:
                    flt_, ordering_name_ = self._case_arguments(arguments)
                page = PageArgs.of(
                    arguments.get("first"),
                    arguments.get("after"),
                    arguments.get("last"),
                    arguments.get("before"),
                )
                ordering = relation.ordering(ordering_name_)
                after = decode_cursor(ordering, page.after) if page.after is not None else None
                before = decode_cursor(ordering, page.before) if page.before is not None else None
            except NotCompilable:
                self.refused_values = True
                raise
            except Exception as exc:  # the executor words the error
                self.refused_values = True
                raise NotCompilable(str(exc)) from exc
            return page, flt_, ordering, after, before

        page, flt, ordering, after_values, before_values = read(self.request)
        after = self._cursor_params(after_values, lambda r: read(r)[3])
        before = self._cursor_params(before_values, lambda r: read(r)[4])
        flt_params = self._filter_params(flt, lambda r: read(r)[1])
        size = self.param(page.size, lambda r: read(r)[0].size)
        connection_type, _ = _nullable(group.definition.type)
        assert isinstance(connection_type, GraphQLObjectType)

        def rows(with_cursor: bool) -> tuple[FromClause, ClauseAdapter, list[ColumnElement[bool]]]:
            table = relation.model.__table__.alias()
            adapter = ClauseAdapter(table)
            from_: FromClause = table
            for join_model, onclause in relation.joins:
                joined = join_model.__table__.alias()
                link = ClauseAdapter(joined).chain(adapter)
                from_ = from_.join(joined, link.traverse(onclause))
                adapter = ClauseAdapter(joined).chain(adapter)
            conditions = [adapter.traverse(_clause(relation.parent)) == parent]
            if "district_id" in table.c:
                conditions.append(table.c.district_id == self.district)
            visible = BY_MODEL[relation.model].visible(self.principal)
            if visible is not None:
                conditions.append(adapter.traverse(visible))
            conditions.extend(adapter.traverse(c) for c in flt_params)
            if with_cursor and after is not None:
                conditions.append(adapter.traverse(ordering.after(after)))
            if with_cursor and before is not None:
                conditions.append(adapter.traverse(ordering.after(before, reverse=True)))
            return from_, adapter, conditions

        node_type = self._node_type(connection_type)
        pairs: list[tuple[str, ColumnElement[Any]]] = []
        subs = self.subfields(connection_type, group)
        names = {sub.details[0].node.name.value for sub in subs}
        needs_page = page.size > 0 and bool(names & {"nodes", "edges", "pageInfo"})
        paged = self._page(relation, rows, ordering, page, size) if needs_page else None
        for sub in subs:
            name = sub.details[0].node.name.value
            if name == "__typename":
                value = sql_json.typename(connection_type.name)
            elif name == "totalCount":
                from_, _, conditions = rows(False)
                count = select(func.count()).select_from(from_).where(*conditions)
                value = sql_json.int32(count.correlate_except(from_).scalar_subquery())
            elif paged is None:
                value = self._empty_part(name, connection_type, sub)
            else:
                value = paged.part(self, name, node_type, sub)
            pairs.append((sub.name, value))
        if paged is None:
            return sql_json.json_object(pairs)
        parts = select(sql_json.json_object(pairs)).select_from(paged.page)
        return parts.correlate_except(paged.page).scalar_subquery()

    def _cursor_params(self, values: Any, again: Callable[[Request], Any]) -> Any:
        """A cursor's sort-key values as parameters, or None when there is no cursor."""
        if values is None:
            return None

        def nth(i: int) -> Getter:
            return lambda r: again(r)[i]

        return [self.param(value, nth(i)) for i, value in enumerate(values)]

    def _filter_params(
        self, flt: Filter, again: Callable[[Request], Filter]
    ) -> list[ColumnElement[bool]]:
        """The filter's clauses with each value a parameter."""
        if not isinstance(flt, CaseQuery):
            return list(flt.clauses())

        def value(name: str, given: Any) -> Any:
            def get(r: Request) -> Any:
                other = again(r)
                assert isinstance(other, CaseQuery)
                return other.search_pattern if name == "search" else getattr(other, name)

            listed = isinstance(given, list)
            if listed:
                return self.param(given, lambda r: list(get(r)), expanding=True)
            return self.param(given, get)

        return flt.clauses(value)

    def _case_arguments(self, arguments: dict[str, Any]) -> tuple[Filter, str | None]:
        flt: Filter = NO_FILTER
        given = arguments.get("filter")
        try:
            if given is not None:
                flt = given.to_query()
                assert isinstance(flt, CaseQuery)
        except Exception as exc:
            raise NotCompilable(str(exc)) from exc
        order = arguments.get("order_by")
        return flt, (order.ordering() if order is not None else None)

    def _node_type(self, connection_type: GraphQLObjectType) -> GraphQLObjectType:
        nodes, _ = _nullable(connection_type.fields["nodes"].type)
        assert isinstance(nodes, GraphQLList)
        item, _ = _nullable(nodes.of_type)
        assert isinstance(item, GraphQLObjectType)
        return item

    def _empty_part(
        self, name: str, connection_type: GraphQLObjectType, group: FieldDetailsGroup
    ) -> ColumnElement[Any]:
        """A part of a connection asked for zero items: nothing, and no page either way."""
        if name in ("edges", "nodes"):
            return literal_json("[]")
        if name == "pageInfo":
            info_type, _ = _nullable(connection_type.fields["pageInfo"].type)
            assert isinstance(info_type, GraphQLObjectType)
            pairs = []
            for sub in self.subfields(info_type, group):
                field_name = sub.details[0].node.name.value
                if field_name == "__typename":
                    pairs.append((sub.name, sql_json.typename("PageInfo")))
                elif field_name in ("hasNextPage", "hasPreviousPage"):
                    pairs.append((sub.name, literal_json("false")))
                else:
                    pairs.append((sub.name, null()))
            return sql_json.json_object(pairs)
        raise NotCompilable(name)

    def _page(
        self,
        relation: Relation,
        rows: Callable[[bool], tuple[FromClause, ClauseAdapter, list[ColumnElement[bool]]]],
        ordering: Any,
        page: PageArgs,
        size: Any,
    ) -> Paged:
        from_, adapter, conditions = rows(True)
        table = from_
        while hasattr(table, "left"):
            table = table.left
        columns = [table.c[c.expression.name] for c in BY_MODEL[relation.model].columns]
        keys = [
            adapter.traverse(_clause(key.expr)).label(f"gongzhi_k{i}")
            for i, key in enumerate(ordering.keys)
        ]
        order_by = [adapter.traverse(o) for o in ordering.order_by(page.backward)]
        numbered = (
            select(
                *columns,
                *keys,
                func.row_number().over(order_by=order_by).label("gongzhi_rn"),
            )
            .select_from(from_)
            .where(*conditions)
            .correlate_except(from_)
            .order_by(*order_by)
            .limit(size + 1)
            .subquery()
        )
        return Paged(numbered, ordering, page, size)


@dataclass
class Paged:
    """The rows of one page (at most `size + 1`, numbered in fetch order) and its parts."""

    page: Any
    ordering: Any
    args: PageArgs
    size: Any
    """The page size as a parameter (`args.size` in this request)."""

    @property
    def in_page(self) -> ColumnElement[bool]:
        rn: ColumnElement[int] = self.page.c.gongzhi_rn
        within: ColumnElement[bool] = rn <= self.size
        return within

    def _in_order(self, value: ColumnElement[Any], *, last: bool = False) -> Any:
        rn = self.page.c.gongzhi_rn
        # Rows are numbered in fetch order; `last` pages are fetched backwards.
        descending = self.args.backward != last
        return sql_json.aggregate_in_order(value, rn.desc() if descending else rn.asc())

    def cursor(self) -> ColumnElement[str]:
        keys = [self.page.c[f"gongzhi_k{i}"] for i in range(len(self.ordering.keys))]
        return sql_json.cursor(self.ordering, keys)

    def items(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        aggregated = func.json_agg(self._in_order(value)).filter(self.in_page)
        return func.coalesce(aggregated, literal_json("[]"))

    def part(
        self, compiler: Compiler, name: str, node_type: GraphQLObjectType, group: FieldDetailsGroup
    ) -> ColumnElement[Any]:
        connection_type = _nullable(group.definition.type)[0]
        assert isinstance(connection_type, GraphQLObjectType | GraphQLList)
        if name == "nodes":
            return self.items(compiler.object(node_type, self.page, group))
        if name == "edges":
            edge_list, _ = _nullable(group.definition.type)
            assert isinstance(edge_list, GraphQLList)
            edge_type, _ = _nullable(edge_list.of_type)
            assert isinstance(edge_type, GraphQLObjectType)
            pairs = []
            for sub in compiler.subfields(edge_type, group):
                field_name = sub.details[0].node.name.value
                if field_name == "cursor":
                    pairs.append((sub.name, sql_json.to_json(self.cursor())))
                elif field_name == "node":
                    pairs.append((sub.name, compiler.object(node_type, self.page, sub)))
                elif field_name == "__typename":
                    pairs.append((sub.name, sql_json.typename(edge_type.name)))
                else:
                    raise NotCompilable(field_name)
            return self.items(sql_json.json_object(pairs))
        if name == "pageInfo":
            info_type, _ = _nullable(group.definition.type)
            assert isinstance(info_type, GraphQLObjectType)
            more = func.count() > self.size
            given = literal_json("true"), literal_json("false")
            pairs = []
            for sub in compiler.subfields(info_type, group):
                field_name = sub.details[0].node.name.value
                if field_name == "hasNextPage":
                    if self.args.backward:
                        value = given[0] if self.args.before is not None else given[1]
                    else:
                        value = sql_json.boolean(more)
                elif field_name == "hasPreviousPage":
                    if self.args.backward:
                        value = sql_json.boolean(more)
                    else:
                        value = given[0] if self.args.after is not None else given[1]
                elif field_name == "startCursor":
                    value = self._first_cursor(last=False)
                elif field_name == "endCursor":
                    value = self._first_cursor(last=True)
                elif field_name == "__typename":
                    value = sql_json.typename("PageInfo")
                else:
                    raise NotCompilable(field_name)
                pairs.append((sub.name, value))
            return sql_json.json_object(pairs)
        raise NotCompilable(name)

    def _first_cursor(self, *, last: bool) -> ColumnElement[Any]:
        cursors = func.array_agg(self._in_order(self.cursor(), last=last)).filter(self.in_page)
        return sql_json.to_json(cursors[1])


def _clause(expr: Any) -> Any:
    """The SQL expression of an ORM attribute (which a ClauseAdapter does not see into)."""
    found = getattr(expr, "__clause_element__", None)
    return found() if found is not None else expr


def literal_json(text: str) -> ColumnElement[Any]:
    return cast(literal(text), JSON)


_TYPENAME = GraphQLField(GraphQLNonNull(GraphQLString))
"""Stands for `__typename`, which no type declares."""


def decode_node_id(global_id: str) -> tuple[str, int]:
    """`core.ids.decode`; the executor words its errors."""
    try:
        return ids.decode(global_id)
    except Exception as exc:
        raise NotCompilable(str(exc)) from exc


def as_text(value: ColumnElement[Any]) -> ColumnElement[str]:
    return cast(value, Text)


__all__ = [
    "Compiler",
    "FieldDetailsGroup",
    "NotCompilable",
    "Request",
    "Select",
    "as_text",
    "decode_node_id",
    "literal_json",
]
