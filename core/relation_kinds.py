"""The two kinds of relation the API serves, as data: lists (`Relation`) and to-one (`ToOne`).

Both are named `Type.field` after the GraphQL field that serves them; `core.relations` holds
every one, and `core.declarations` gathers them by type.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from core.pagination import Ordering


class Filter(Protocol, Hashable):
    """Extra conditions of a connection, from its arguments; hashable to batch equal ones."""

    def clauses(self) -> Sequence[ColumnElement[bool]]: ...


@dataclass(frozen=True)
class NoFilter:
    def clauses(self) -> Sequence[ColumnElement[bool]]:
        return ()


NO_FILTER = NoFilter()


def _owner_and_field(name: str) -> tuple[str, str]:
    owner, _, field = name.partition(".")
    return owner, field


class Named:
    """Named `Type.field` after the GraphQL field that serves it (a mixin of the two kinds)."""

    name: str

    @property
    def owner(self) -> str:
        return _owner_and_field(self.name)[0]

    @property
    def field(self) -> str:
        return _owner_and_field(self.name)[1]


@dataclass(frozen=True)
class ToOne(Named):
    """`Type.field` is the `target` object whose id the row's `key` column holds (or None)."""

    name: str
    target: str
    key: str


@dataclass(frozen=True, eq=False)
class Relation(Named):
    """A list of `model` rows grouped by `parent` (an id column of the rows, or of a join).

    `joins` reach link tables: e.g. a meeting's cases join `meeting_cases` and group by its
    `meeting_id`. A top-level list groups by `district_id` with the district as the parent.
    """

    name: str
    model: type[Any]
    parent: InstrumentedAttribute[Any]
    orderings: Mapping[str, Ordering]
    default: str
    joins: tuple[tuple[type[Any], ColumnElement[bool]], ...] = ()

    def ordering(self, name: str | None) -> Ordering:
        return self.orderings[name or self.default]
