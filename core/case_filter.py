"""Case queries: the filter of case lists, as SQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from core.user_errors import UserError, unstorable
from db.models import Case, CaseEvent, CaseWhistle, Community
from db.models.enums import AWAITING_RESOLUTION, CaseCategory, CaseEventKind, CaseStatus

MAX_SEARCH_LENGTH = 100


def overdue_clause() -> ColumnElement[bool]:
    """An open case past its current deadline: to accept while REPORTED, to resolve after."""
    now = func.now()
    return or_(
        and_(Case.status == CaseStatus.REPORTED, Case.accept_due_at < now),
        and_(
            Case.status.in_(AWAITING_RESOLUTION),
            Case.resolve_due_at < now,
        ),
    )


def sign_for_overdue_clause() -> ColumnElement[bool]:
    """A dispatched case some partner has not signed for (签收) by its deadline."""
    return and_(
        Case.status.in_((CaseStatus.ASSIGNED, CaseStatus.RETURNED)),
        Case.sign_for_due_at < func.now(),
    )


def whistle_blown_clause() -> ColumnElement[bool]:
    return exists().where(
        CaseEvent.district_id == Case.district_id,
        CaseEvent.case_id == Case.id,
        CaseEvent.kind == CaseEventKind.WHISTLE_BLOWN,
    )


def report_in_overdue_clause() -> ColumnElement[bool]:
    """A whistle of the case is still waiting for its department past the deadline."""
    return exists().where(
        CaseWhistle.district_id == Case.district_id,
        CaseWhistle.case_id == Case.id,
        CaseWhistle.reported_in_at.is_(None),
        CaseWhistle.report_in_due_at < func.now(),
    )


def _as_is(name: str, value: Any) -> Any:
    return value


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class CaseQuery:
    """A validated case filter; equal filters batch into one statement."""

    statuses: tuple[CaseStatus, ...] = ()
    categories: tuple[CaseCategory, ...] = ()
    community_id: int | None = None
    street_id: int | None = None
    assigned_partner_id: int | None = None
    created_after: dt.datetime | None = None
    created_before: dt.datetime | None = None
    updated_after: dt.datetime | None = None
    updated_before: dt.datetime | None = None
    overdue: bool | None = None
    whistle_blown: bool | None = None
    report_in_overdue: bool | None = None
    sign_for_overdue: bool | None = None
    search: str | None = None
    case_ids: tuple[int, ...] | None = None
    """Only these cases (a figure's cases, `statistics.assessmentCases`)."""

    def __post_init__(self) -> None:
        if self.search is not None and len(self.search) > MAX_SEARCH_LENGTH:
            raise UserError(f"`search` is limited to {MAX_SEARCH_LENGTH} characters")
        if self.search is not None and (reason := unstorable(self.search)):
            raise UserError(f"`search` {reason}")
        for name in ("created", "updated"):
            after, before = getattr(self, f"{name}_after"), getattr(self, f"{name}_before")
            for value in (after, before):
                if value is not None and value.tzinfo is None:
                    raise UserError(f"`{name}After`/`{name}Before` need a time zone offset")
            if after is not None and before is not None and after >= before:
                raise UserError(f"`{name}After` must be earlier than `{name}Before`")

    def clauses(self, value: Callable[[str, Any], Any] = _as_is) -> list[ColumnElement[bool]]:
        """The filter as WHERE clauses. `value(name, v)` stands for each value the clauses
        compare with (by default the value itself; the compiled read path makes each a
        parameter of a statement it reuses)."""
        clauses: list[ColumnElement[bool]] = []
        if self.statuses:
            clauses.append(Case.status.in_(value("statuses", list(self.statuses))))
        if self.categories:
            clauses.append(Case.category.in_(value("categories", list(self.categories))))
        if self.community_id is not None:
            clauses.append(Case.community_id == value("community_id", self.community_id))
        if self.street_id is not None:
            street = value("street_id", self.street_id)
            clauses.append(
                Case.community_id.in_(select(Community.id).where(Community.street_id == street))
            )
        if self.assigned_partner_id is not None:
            partner = value("assigned_partner_id", self.assigned_partner_id)
            clauses.append(Case.assigned_partner_id == partner)
        for column, name in ((Case.created_at, "created"), (Case.updated_at, "updated")):
            after, before = getattr(self, f"{name}_after"), getattr(self, f"{name}_before")
            if after is not None:
                clauses.append(column >= value(f"{name}_after", after))
            if before is not None:
                clauses.append(column < value(f"{name}_before", before))
        for flag, clause in (
            (self.overdue, overdue_clause()),
            (self.whistle_blown, whistle_blown_clause()),
            (self.report_in_overdue, report_in_overdue_clause()),
            (self.sign_for_overdue, sign_for_overdue_clause()),
        ):
            if flag is not None:
                clauses.append(clause if flag else ~clause)
        if self.case_ids is not None:
            clauses.append(Case.id.in_(value("case_ids", list(self.case_ids))))
        if self.search:
            pattern = value("search", self.search_pattern)
            clauses.append(Case.title.ilike(pattern, escape="\\"))
        return clauses

    @property
    def search_pattern(self) -> str | None:
        """The ILIKE pattern of `search`, its wildcards escaped."""
        return None if self.search is None else f"%{_escape_like(self.search)}%"
