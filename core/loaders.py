"""DataLoaders of one operation: rows by id, pages of children and their counts, batched.

Created per request (and per subscription event), never shared: each carries the principal
and its district. Every query adds the visibility rule its table is declared with
(`core.declarations`).
Loaders return database rows; `schema` turns them into GraphQL objects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable, Select, func, select
from sqlalchemy.orm import InstrumentedAttribute
from strawberry.dataloader import DataLoader

from core.declarations import columns, visible
from core.pagination import (
    EMPTY_PAGE,
    Page,
    PageArgs,
    decode_cursor,
    encode_cursor,
)
from core.principal import Principal
from core.relation_kinds import NO_FILTER, Filter, Relation
from core.request_db import RequestDatabase
from db.models import Building, CasePhoto, DeadlinePolicy

# A photo as `/photos/{id}` serves it; `columns(CasePhoto)` leaves the bytes out.
_PHOTO_FILE: tuple[InstrumentedAttribute[Any], ...] = (
    CasePhoto.id,
    CasePhoto.content_type,
    CasePhoto.data,
)


@dataclass(frozen=True)
class PageKey:
    relation: Relation
    parent_id: int
    args: PageArgs
    ordering: str
    filter: Hashable = NO_FILTER


@dataclass(frozen=True)
class CountKey:
    relation: Relation
    parent_id: int
    filter: Hashable = NO_FILTER


def _group(keys: Sequence[Any], spec: Callable[[Any], Hashable]) -> dict[Hashable, list[Any]]:
    groups: dict[Hashable, list[Any]] = defaultdict(list)
    for key in keys:
        groups[spec(key)].append(key)
    return groups


@dataclass
class Loaders:
    db: RequestDatabase
    principal: Principal
    _by_id: dict[type[Any], DataLoader[int, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything loaded: after a mutation, reads must see its changes."""
        self._by_id.clear()
        self.pages: DataLoader[PageKey, Page] = DataLoader(self._load_pages)
        self.counts: DataLoader[CountKey, int] = DataLoader(self._load_counts)
        self.households: DataLoader[int, int] = DataLoader(self._load_households)
        self.deadline_policies: DataLoader[int, list[Any]] = DataLoader(self._load_policies)
        self.photo_files: DataLoader[int, Any] = DataLoader(self._load_photo_files)

    # Rows by id -----------------------------------------------------------------------------

    def by_id(self, model: type[Any]) -> DataLoader[int, Any]:
        """Loader of `model` rows by id; `None` for ids that do not exist or are not visible."""
        loader = self._by_id.get(model)
        if loader is None:

            async def load(ids: list[int]) -> list[Any]:
                statement = select(*columns(model)).where(model.id.in_(ids))
                statement = self._visible(statement, model)
                found = {row.id: row for row in await self.db.execute(statement)}
                return [found.get(i) for i in ids]

            loader = self._by_id[model] = DataLoader(load)
        return loader

    async def _load_photo_files(self, photo_ids: list[int]) -> list[Any]:
        """Case photos' `content_type` and `data` (the bytes) by id; `None` for ids that do
        not exist or are not visible. The bytes column is deferred, so `by_id` leaves it out."""
        statement = select(*_PHOTO_FILE).where(CasePhoto.id.in_(photo_ids))
        statement = self._visible(statement, CasePhoto)
        found = {row.id: row for row in await self.db.execute(statement)}
        return [found.get(i) for i in photo_ids]

    def _visible(self, statement: Select[Any], model: type[Any]) -> Select[Any]:
        condition = visible(model, self.principal)
        return statement if condition is None else statement.where(condition)

    def _base(self, relation: Relation, flt: Any) -> Select[Any]:
        statement: Select[Any] = select(*columns(relation.model))
        for target, onclause in relation.joins:
            statement = statement.join(target, onclause)
        statement = self._visible(statement, relation.model)
        return statement.where(*flt.clauses())

    async def _load_households(self, community_ids: list[int]) -> list[int]:
        statement = (
            select(Building.community_id.label("key"), func.sum(Building.households).label("n"))
            .where(Building.community_id.in_(community_ids))
            .group_by(Building.community_id)
        )
        found = await self._counted(statement)
        return [int(found.get(i) or 0) for i in community_ids]

    async def _load_policies(self, district_ids: list[int]) -> list[list[Any]]:
        """Stored deadline policies by district: the default (category null) first."""
        statement = (
            select(*columns(DeadlinePolicy))
            .where(DeadlinePolicy.district_id.in_(district_ids))
            .order_by(DeadlinePolicy.category.nulls_first())
        )
        found: dict[int, list[Any]] = defaultdict(list)
        for row in await self.db.execute(statement):
            found[row.district_id].append(row)
        return [found.get(i, []) for i in district_ids]

    async def _counted(self, statement: Executable) -> dict[int, int]:
        """`{key: n}` of a statement selecting `key` and `n` columns."""
        result = await self.db.execute(statement)
        return {row["key"]: int(row["n"] or 0) for row in result.mappings()}

    # Pages of children ----------------------------------------------------------------------

    async def page(
        self,
        relation: Relation,
        parent_id: int,
        args: PageArgs,
        *,
        ordering: str | None = None,
        filter: Filter = NO_FILTER,
    ) -> Page:
        return await self.pages.load(
            PageKey(relation, parent_id, args, ordering or relation.default, filter)
        )

    async def count(self, relation: Relation, parent_id: int, filter: Filter = NO_FILTER) -> int:
        return await self.counts.load(CountKey(relation, parent_id, filter))

    async def _load_pages(self, keys: list[PageKey]) -> list[Page]:
        pages: dict[PageKey, Page] = {}
        groups = _group(keys, lambda k: (k.relation, k.args, k.ordering, k.filter))
        for group in groups.values():
            pages.update(await self._load_page_group(group))
        return [pages.get(key, EMPTY_PAGE) for key in keys]

    async def _load_page_group(self, keys: list[PageKey]) -> dict[PageKey, Page]:
        first = keys[0]
        relation, args = first.relation, first.args
        ordering = relation.ordering(first.ordering)
        parent_ids = sorted({k.parent_id for k in keys})
        statement = self._base(relation, first.filter).where(relation.parent.in_(parent_ids))
        if args.after is not None:
            statement = statement.where(ordering.after(decode_cursor(ordering, args.after)))
        if args.before is not None:
            statement = statement.where(
                ordering.after(decode_cursor(ordering, args.before), reverse=True)
            )
        if args.size == 0:
            return {key: Page([], [], False, False) for key in keys}
        width = len(ordering.keys)
        sort_labels = [f"sort_key_{i}" for i in range(width)]
        numbered = (
            statement.add_columns(
                relation.parent.label("parent_key"),
                func.row_number()
                .over(partition_by=relation.parent, order_by=ordering.order_by(args.backward))
                .label("row_no"),
                *(
                    key.expr.label(label)
                    for key, label in zip(ordering.keys, sort_labels, strict=True)
                ),
            )
        ).subquery()
        rows = await self.db.execute(
            select(numbered)
            .where(numbered.c["row_no"] <= args.size + 1)
            .order_by(numbered.c["parent_key"], numbered.c["row_no"])
        )
        by_parent: dict[int, list[Any]] = defaultdict(list)
        for row in rows:
            by_parent[row.parent_key].append(row)
        result = {}
        for key in keys:
            found = by_parent.get(key.parent_id, [])
            cursors = [
                encode_cursor(ordering, [getattr(r, label) for label in sort_labels]) for r in found
            ]
            result[key] = Page.cut(found, args, cursors)
        return result

    async def _load_counts(self, keys: list[CountKey]) -> list[int]:
        counts: dict[CountKey, int] = {}
        for group in _group(keys, lambda k: (k.relation, k.filter)).values():
            relation = group[0].relation
            parent_ids = sorted({k.parent_id for k in group})
            statement = (
                self._base(relation, group[0].filter)
                .with_only_columns(relation.parent.label("key"), func.count().label("n"))
                .where(relation.parent.in_(parent_ids))
                .group_by(relation.parent)
            )
            found = await self._counted(statement)
            counts.update({k: int(found.get(k.parent_id, 0)) for k in group})
        return [counts[k] for k in keys]
