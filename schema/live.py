"""Inputs of the live updates: which case events a `caseEvents` subscription receives."""

from __future__ import annotations

import strawberry

import schema.enums  # noqa: F401 - registers the domain's enums before any type uses them
from db.models.enums import CaseEventKind


@strawberry.input(description="Which case events to receive; every field given must hold.")
class CaseEventFilter:
    community: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Community: events of its cases only."
    )
    street: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Street: events of its communities' cases only."
    )
    assigned_partner: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Partner: events of cases it leads only."
    )
    case: strawberry.ID | None = strawberry.field(
        default=None, description="Id of a Case: its events only."
    )
    kinds: list[CaseEventKind] | None = strawberry.field(
        default=None, description="Only these kinds of event."
    )
