"""What each GraphQL object type reads, declared once, as data.

A declaration names the type's table (its SQLAlchemy model), who may see its rows (a rule of
`core.visibility`, as SQL), its to-one relations and its lists by GraphQL field name (from
`core.relations`). The loaders read it to fetch and filter rows; `schema` serves the fields it
names (`node_field`, `connection_field`), and a test checks the two agree. The SQL compiler of
reads is to read the same declarations.

Where a field's data comes from, in two hops: its type's declaration here, then the relation
or rule it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from core import relations, visibility
from core.principal import Principal
from core.relation_kinds import Relation, ToOne
from db import models

Rule = Callable[[Principal], ColumnElement[bool] | None]
"""Who may see a table's rows: a WHERE clause for a principal, None meaning all the district."""


@dataclass(frozen=True)
class Declaration:
    """One GraphQL object type backed by rows of one table."""

    name: str
    model: type[Any]
    rule: Rule | None = None
    to_one: Mapping[str, ToOne] = field(default_factory=dict)
    lists: Mapping[str, Relation] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[InstrumentedAttribute[Any], ...]:
        """The columns a read selects (all mapped ones but deferred bytes)."""
        return columns(self.model)

    def visible(self, p: Principal) -> ColumnElement[bool] | None:
        """The clause that keeps only the rows `p` may see; None when all of them."""
        return None if self.rule is None else self.rule(p)


_COLUMNS: dict[type[Any], tuple[InstrumentedAttribute[Any], ...]] = {}


def columns(model: type[Any]) -> tuple[InstrumentedAttribute[Any], ...]:
    """The mapped columns of `model`: selected as plain rows, not ORM objects (faster)."""
    found = _COLUMNS.get(model)
    if found is None:
        mapper = model.__mapper__
        # Deferred columns (photo bytes) are left out: lists never need them.
        found = _COLUMNS[model] = tuple(
            getattr(model, a.key) for a in mapper.column_attrs if not a.deferred
        )
    return found


def _of_visible_cases(column: Any) -> Rule:
    return lambda p: visibility.of_visible_cases(column, p)


# Each type backed by a table, with its table and the rule for its rows. A type without a rule
# shows every row of the principal's district (row-level security keeps other districts out).
_TABLES: tuple[tuple[str, type[Any], Rule | None], ...] = (
    ("District", models.District, None),
    ("Street", models.Street, None),
    ("Community", models.Community, None),
    ("Compound", models.Compound, None),
    ("Building", models.Building, None),
    ("Facility", models.Facility, None),
    ("Committee", models.Committee, None),
    ("CommitteeMember", models.CommitteeMember, None),
    ("Partner", models.Partner, None),
    ("Partnership", models.Partnership, None),
    ("Person", models.Person, visibility.people),
    ("RoleBinding", models.RoleBinding, None),
    ("Notice", models.Notice, None),
    ("Case", models.Case, visibility.cases),
    ("CaseEvent", models.CaseEvent, visibility.case_events),
    ("CaseAssignment", models.CaseAssignment, _of_visible_cases(models.CaseAssignment.case_id)),
    ("CaseWhistle", models.CaseWhistle, _of_visible_cases(models.CaseWhistle.case_id)),
    ("HelpingHand", models.HelpingHand, _of_visible_cases(models.HelpingHand.case_id)),
    ("CaseReturn", models.CaseReturn, _of_visible_cases(models.CaseReturn.case_id)),
    ("CaseFollowUp", models.CaseFollowUp, _of_visible_cases(models.CaseFollowUp.case_id)),
    ("CasePhoto", models.CasePhoto, _of_visible_cases(models.CasePhoto.case_id)),
    ("Meeting", models.Meeting, visibility.meetings),
    ("MeetingAttendee", models.MeetingAttendee, None),
    ("WebhookEndpoint", models.WebhookEndpoint, visibility.webhook_endpoints),
    ("WebhookDelivery", models.WebhookDelivery, visibility.webhook_deliveries),
)


def _declare() -> dict[str, Declaration]:
    found = [v for v in vars(relations).values() if isinstance(v, ToOne | Relation)]
    declared = {}
    for name, model, rule in _TABLES:
        declared[name] = Declaration(
            name=name,
            model=model,
            rule=rule,
            to_one={r.field: r for r in found if isinstance(r, ToOne) and r.owner == name},
            lists={r.field: r for r in found if isinstance(r, Relation) and r.owner == name},
        )
    return declared


DECLARATIONS: Mapping[str, Declaration] = _declare()
"""Every type backed by a table, by GraphQL name."""

BY_MODEL: Mapping[type[Any], Declaration] = {d.model: d for d in DECLARATIONS.values()}


def visible(model: type[Any], p: Principal) -> ColumnElement[bool] | None:
    """The visibility clause of `model`'s rows for `p`; None when everything in the district is."""
    declaration = BY_MODEL.get(model)
    return None if declaration is None else declaration.visible(p)
