"""Inputs and payloads of the case workflow's mutations."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import strawberry
from strawberry.file_uploads import Upload

from db.models.enums import CaseCategory, CasePriority
from db.models.workflow import DEFAULT_POLICY
from schema.cases import Case, CaseEvent, Meeting
from schema.errors import (
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)


@strawberry.type(description="The action was taken: the case as it now is, and its new event.")
class CaseUpdated:
    case: Case = strawberry.field(description="The case after the action (its new `version`).")
    event: CaseEvent = strawberry.field(description="The step appended to the case's history.")


@strawberry.type(description="The case was reported (or, for a retried request, found again).")
class CaseReported:
    case: Case = strawberry.field(description="The new case.")
    likely_duplicates: list[Case] = strawberry.field(
        description=(
            "Open cases of the same category at the same facility or within 200 m that you may "
            "see: offer to follow one of them instead."
        )
    )
    replayed: bool = strawberry.field(
        description="True when this idempotency key was used before: the first case is returned."
    )


CaseMutationResult = Annotated[
    CaseUpdated
    | NotFound
    | PermissionDenied
    | InvalidTransition
    | VersionConflict
    | ValidationFailed,
    strawberry.union(
        "CaseMutationResult",
        description="What a case action did: `CaseUpdated`, or why nothing changed.",
    ),
]

ReportCaseResult = Annotated[
    CaseReported | PermissionDenied | ValidationFailed,
    strawberry.union(
        "ReportCaseResult", description="The reported case, or why nothing was stored."
    ),
]


@strawberry.input(description="A resident's problem, where it is, and a key against retries.")
class ReportCaseInput:
    idempotency_key: str = strawberry.field(
        description=(
            "8–100 characters chosen by the client per report (e.g. a UUID). Retrying with the "
            "same key returns the first case; the same key with other input is refused."
        )
    )
    community: strawberry.ID = strawberry.field(description="Id of the Community.")
    category: CaseCategory = strawberry.field(description="What it is about.")
    title: str = strawberry.field(description="Short summary, up to 200 characters.")
    description: str = strawberry.field(
        default="", description="The account in the reporter's words, up to 5000 characters."
    )
    compound: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the Compound, if known; must be in the community."
    )
    building: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the Building, if known; must be in the community."
    )
    facility: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the Facility concerned, if any."
    )
    latitude: float | None = strawberry.field(default=None, description="Where (WGS84).")
    longitude: float | None = strawberry.field(default=None, description="Where (WGS84).")
    priority: CasePriority = strawberry.field(
        default=CasePriority.NORMAL, description="Urgency as the reporter sees it."
    )
    emergency: bool = strawberry.field(
        default=False,
        description=(
            "A risk to life or property (urgency EMERGENCY: to be resolved within 2 hours); "
            "otherwise the urgency follows the category."
        ),
    )
    photos: list[Upload] | None = strawberry.field(
        default=None,
        description=(
            "Photos of the problem (GraphQL multipart request): at most 6 JPEG, PNG or WebP "
            "images of at most 5 MB each."
        ),
    )
    on_behalf_of: strawberry.ID | None = strawberry.field(
        default=None,
        description=(
            "Committee members and community workers: id of the resident (Person) whose "
            "problem this is, heard in conversation."
        ),
    )


@strawberry.input(description="A partner to handle a case, with its own task and deadline.")
class HandlerInput:
    partner: strawberry.ID = strawberry.field(
        description="Id of a Partner serving the case's community."
    )
    task: str | None = strawberry.field(
        default=None, description="What this partner must do (required for co-handlers)."
    )
    due_at: dt.datetime | None = strawberry.field(
        default=None, description="Deadline of this partner's task, if any."
    )


@strawberry.type(description="The meeting as it now is, and the event appended to each case.")
class MeetingChanged:
    meeting: Meeting = strawberry.field(description="The meeting.")
    events: list[CaseEvent] = strawberry.field(description="One new event per case discussed.")


MeetingResult = Annotated[
    MeetingChanged | NotFound | PermissionDenied | InvalidTransition | ValidationFailed,
    strawberry.union("MeetingResult", description="The meeting, or why nothing changed."),
]


@strawberry.input(description="A coordination meeting for one or more cases of one community.")
class ScheduleMeetingInput:
    cases: list[strawberry.ID] = strawberry.field(
        description="Ids of the Cases to discuss (1–20, all of one community)."
    )
    title: str = strawberry.field(description="What the meeting is about.")
    scheduled_at: dt.datetime = strawberry.field(description="When (with a time zone offset).")
    location: str | None = strawberry.field(default=None, description="Where.")
    attendees: list[strawberry.ID] = strawberry.field(
        default_factory=list,
        description="Ids of the Partners invited (owners, property company, departments).",
    )
    people: list[strawberry.ID] = strawberry.field(
        default_factory=list, description="Ids of People invited in person (e.g. owners)."
    )


@strawberry.input(description="A decision taken at a meeting.")
class DecisionInput:
    text: str = strawberry.field(description="What was decided, up to 1000 characters.")
    responsible_partner: strawberry.ID | None = strawberry.field(
        default=None, description="Id of the Partner who must carry it out."
    )


@strawberry.type(
    description=(
        "How long a district gives for each step of a case of one category (or, with "
        "`category` null, of every category without its own policy)."
    )
)
class DeadlinePolicy:
    category: CaseCategory | None = strawberry.field(
        description="The category it applies to; null: the district's default."
    )
    accept_hours: int = strawberry.field(description="Hours to accept a reported case.")
    resolve_hours: int = strawberry.field(description="Hours to resolve an accepted case.")
    report_in_hours: int = strawberry.field(description="Hours for a department to report in.")
    approaching_hours: int = strawberry.field(
        description="DEADLINE_APPROACHING is appended this many hours before a deadline."
    )
    sign_for_hours: int = strawberry.field(
        description="Hours for a dispatched partner to sign for the case (签收)."
    )

    @classmethod
    def from_row(cls, row: Any) -> DeadlinePolicy:
        return cls(
            category=row.category,
            accept_hours=row.accept_hours,
            resolve_hours=row.resolve_hours,
            report_in_hours=row.report_in_hours,
            approaching_hours=row.approaching_hours,
            sign_for_hours=row.sign_for_hours,
        )

    @classmethod
    def in_force(cls, rows: list[Any]) -> list[DeadlinePolicy]:
        """The stored policies, with the built-in default first when none is stored."""
        found = [cls.from_row(r) for r in rows]
        if not any(p.category is None for p in found):
            d = DEFAULT_POLICY
            found.insert(
                0,
                cls(
                    category=None,
                    accept_hours=d.accept_hours,
                    resolve_hours=d.resolve_hours,
                    report_in_hours=d.report_in_hours,
                    approaching_hours=d.approaching_hours,
                    sign_for_hours=d.sign_for_hours,
                ),
            )
        return found


@strawberry.type(description="The policy now in force.")
class DeadlinePolicySet:
    policy: DeadlinePolicy = strawberry.field(description="The policy.")


DeadlinePolicyResult = Annotated[
    DeadlinePolicySet | PermissionDenied | ValidationFailed,
    strawberry.union("DeadlinePolicyResult", description="The policy, or why nothing changed."),
]
