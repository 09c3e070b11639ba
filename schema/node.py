"""Relay building blocks: the `Node` interface, global ids, connections and page info."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import fields
from typing import Any, ClassVar, Generic, Self, TypeVar

import strawberry
from strawberry.annotation import StrawberryAnnotation
from strawberry.extensions import FieldExtension
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.field import StrawberryField

import schema.enums  # noqa: F401 - registers the domain's enums before any type uses them
from core import ids
from core.context import Info
from core.declarations import DECLARATIONS
from core.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageArgs
from core.relation_kinds import NO_FILTER, Filter, Relation, ToOne

T = TypeVar("T")


@strawberry.interface(
    description="An object with a global id: fetch any of them again with `node(id:)`."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id; stable, and only meaningful within your district."
    )
    db_id: strawberry.Private[int]

    # The model whose rows this type shows, from the type's declaration.
    model: ClassVar[type[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.model = DECLARATIONS[cls.__name__].model
        NODE_TYPES[cls.__name__] = cls

    @classmethod
    def from_row(cls, row: Any) -> Self:
        """Build the object from a database row with the same column names."""
        values = {name: getattr(row, name) for name in _column_fields(cls)}
        return cls(id=strawberry.ID(ids.encode(cls.__name__, row.id)), db_id=row.id, **values)

    @classmethod
    def from_optional(cls, row: Any | None) -> Self | None:
        return None if row is None else cls.from_row(row)


NODE_TYPES: dict[str, type[Node]] = {}
"""Every concrete Node type by GraphQL name; `node(id)` resolves through it."""


async def load_node(info: Info, type_name: str, db_id: int | None) -> Any:
    """The `type_name` object with `db_id`, or None if absent or not visible to the viewer."""
    if db_id is None:
        return None
    node_type = NODE_TYPES[type_name]
    row = await info.context.loaders.by_id(node_type.model).load(db_id)
    return node_type.from_optional(row)


def node_field(
    relation: ToOne,
    graphql_type: Any,
    description: str,
    *,
    when: Callable[[Any, Info], bool] | None = None,
) -> Any:
    """A to-one field as `core.relations` declares it: the `relation.target` object whose id
    the source's `relation.key` holds. Null when that id is null, when the row is not visible
    to the viewer, or when `when` (a field-level rule) says no.

    `graphql_type` is the field's type as it would be annotated (`CommunityT | None`).
    """

    async def resolve(root: Any, info: Info) -> Any:
        if when is not None and not when(root, info):
            return None
        return await load_node(info, relation.target, getattr(root, relation.key))

    return strawberry.field(
        resolver=resolve,
        graphql_type=graphql_type,
        description=description,
        metadata={"relation": relation},
    )


def converter(type_name: str) -> Callable[[Any], Any]:
    """Row-to-object function of a Node type, looked up late (types refer to each other)."""

    def convert(row: Any) -> Any:
        return NODE_TYPES[type_name].from_row(row)

    return convert


_COLUMN_FIELDS: dict[type[Node], tuple[str, ...]] = {}


def _column_fields(cls: type[Node]) -> tuple[str, ...]:
    """Fields of `cls` filled straight from the row: those named like a column of its model."""
    found = _COLUMN_FIELDS.get(cls)
    if found is None:
        columns = set(cls.model.__table__.columns.keys()) - {"id"}
        found = tuple(f.name for f in fields(cls) if f.init and f.name in columns)
        _COLUMN_FIELDS[cls] = found
    return found


@strawberry.type(description="Where a page sits in the whole list (Relay).")
class PageInfo:
    has_next_page: bool = strawberry.field(description="More items follow this page.")
    has_previous_page: bool = strawberry.field(
        description="Items precede this page (known when paging with `after` or `last`)."
    )
    start_cursor: str | None = strawberry.field(description="Cursor of the first item.")
    end_cursor: str | None = strawberry.field(description="Cursor of the last item.")


@strawberry.type(description="An item of a connection with its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Pass as `after` or `before` to page from here.")
    node: T = strawberry.field(description="The item.")


PAGE_ARGUMENTS = (
    (
        "first",
        int,
        f"Items from the start (or after `after`); default {DEFAULT_PAGE_SIZE}, "
        f"at most {MAX_PAGE_SIZE}.",
    ),
    ("after", str, "Cursor of an item: return items after it."),
    ("last", int, f"Items from the end (or before `before`); at most {MAX_PAGE_SIZE}."),
    ("before", str, "Cursor of an item: return items before it."),
)


class Paginated(FieldExtension):
    """Adds `first/after/last/before` to a connection field and hands them to its result.

    The field's resolver returns an unpaged `Connection` (which list, of which parent); this
    extension validates the page arguments once and attaches them, so no resolver repeats
    the four arguments.
    """

    def apply(self, field: StrawberryField) -> None:
        field.arguments = [
            *field.arguments,
            *(
                StrawberryArgument(
                    python_name=name,
                    graphql_name=None,
                    type_annotation=StrawberryAnnotation(kind | None),
                    description=description,
                    default=None,
                )
                for name, kind, description in PAGE_ARGUMENTS
            ),
        ]

    @staticmethod
    def _split(kwargs: dict[str, Any]) -> PageArgs:
        return PageArgs.of(*(kwargs.pop(name, None) for name, _, _ in PAGE_ARGUMENTS))

    def resolve(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        args = self._split(kwargs)
        return next_(source, info, **kwargs).with_args(args)

    async def resolve_async(self, next_: Any, source: Any, info: Any, **kwargs: Any) -> Any:
        args = self._split(kwargs)
        result = next_(source, info, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result.with_args(args)


@strawberry.type(
    description=(
        "A page of a list (Relay connection). Ask `first` (default 20, at most 100) items after "
        "a cursor, or `last` items before one; `totalCount` counts what you may see."
    )
)
class Connection(Generic[T]):
    relation: strawberry.Private[Relation]
    parent_id: strawberry.Private[int]
    convert: strawberry.Private[Callable[[Any], T]]
    ordering: strawberry.Private[str | None] = None
    filter: strawberry.Private[Filter] = NO_FILTER
    args: strawberry.Private[PageArgs | None] = None

    @classmethod
    def of(
        cls,
        relation: Relation,
        parent_id: int,
        convert: Callable[[Any], T],
        *,
        ordering: str | None = None,
        filter: Filter = NO_FILTER,
    ) -> Connection[T]:
        """An unpaged connection: the `Paginated` extension attaches the page arguments."""
        return cls(
            relation=relation,
            parent_id=parent_id,
            convert=convert,
            ordering=ordering,
            filter=filter,
        )

    def with_args(self, args: PageArgs) -> Self:
        self.args = args
        return self

    async def _page(self, info: Info) -> Page:
        assert self.args is not None, "connection fields need the Paginated extension"
        return await info.context.loaders.page(
            self.relation, self.parent_id, self.args, ordering=self.ordering, filter=self.filter
        )

    @strawberry.field(description="The items of this page with their cursors.")
    async def edges(self, info: Info) -> list[Edge[T]]:
        page = await self._page(info)
        return [
            Edge(cursor=cursor, node=self.convert(row))
            for cursor, row in zip(page.cursors, page.rows, strict=True)
        ]

    @strawberry.field(description="The items of this page, without cursors.")
    async def nodes(self, info: Info) -> list[T]:
        page = await self._page(info)
        return [self.convert(row) for row in page.rows]

    @strawberry.field(description="Whether there is more before or after this page.")
    async def page_info(self, info: Info) -> PageInfo:
        page = await self._page(info)
        return PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )

    @strawberry.field(description="How many items the whole list has that you may see.")
    async def total_count(self, info: Info) -> int:
        return await info.context.loaders.count(self.relation, self.parent_id, self.filter)


def connection_field(description: str) -> Any:
    """A connection field: `first/after/last/before` are added and validated for it."""
    return strawberry.field(description=description, extensions=[Paginated()])
