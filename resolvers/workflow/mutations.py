"""The Mutation root of the case workflow: thin fields over its services (actions, reporting,
meetings, deadlines)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

import strawberry
from sqlalchemy.ext.asyncio import AsyncSession

from core.context import Info
from db.models.enums import CaseDeadline, CasePriority
from resolvers.mutation_kit import (
    Later,
    input_id,
    optional_input_id,
    read_upload,
    ref,
    run_service,
)
from resolvers.workflow import actions, deadlines, meetings, reporting, steps
from schema.cases import Case, CaseEvent, Meeting
from schema.workflow import (
    CaseMutationResult,
    CaseReported,
    CaseUpdated,
    DecisionInput,
    HandlerInput,
    MeetingChanged,
    MeetingResult,
    ReportCaseInput,
    ReportCaseResult,
    ScheduleMeetingInput,
)

CaseId = Annotated[strawberry.ID, strawberry.argument(description="Id of the Case.")]
Version = Annotated[
    int,
    strawberry.argument(
        description="The `version` of the case you acted on; a stale one changes nothing."
    ),
]
Reason = Annotated[str, strawberry.argument(description="Why; kept in the case's history.")]
OptionalNote = Annotated[
    str | None, strawberry.argument(description="A remark kept in the case's history.")
]


def _updated(change: steps.Change) -> CaseUpdated:
    return CaseUpdated(case=Case.from_row(change.case), event=CaseEvent.from_row(change.event))


async def act(
    info: Info,
    action: Callable[..., Awaitable[steps.Change]],
    case_id: str,
    version: int,
    *args: Any,
) -> CaseMutationResult:
    """Run `action(session, principal, case id, version, *args)` on the case named by
    `case_id`; `Later` arguments are worked out inside, so bad ids become payloads."""
    principal = info.context.principal

    async def run(session: AsyncSession) -> CaseUpdated:
        values = [a.compute() if isinstance(a, Later) else a for a in args]
        change = await action(session, principal, input_id(case_id, "Case", "id"), version, *values)
        return _updated(change)

    return cast(CaseMutationResult, await run_service(info, run))


@strawberry.type(description="Carrying a case along its path.")
class CaseMutation:
    @strawberry.mutation(
        description=(
            "Report a case (resident), or report it on a resident's behalf (committee member, "
            "community worker). Retrying with the same `idempotencyKey` returns the first case."
        )
    )
    async def report_case(self, info: Info, input: ReportCaseInput) -> ReportCaseResult:
        principal = info.context.principal

        async def run(session: AsyncSession) -> CaseReported:
            report = reporting.Report(
                community_id=input_id(input.community, "Community", "community"),
                category=input.category,
                title=input.title,
                description=input.description,
                compound_id=optional_input_id(input.compound, "Compound", "compound"),
                building_id=optional_input_id(input.building, "Building", "building"),
                facility_id=optional_input_id(input.facility, "Facility", "facility"),
                latitude=input.latitude,
                longitude=input.longitude,
                priority=input.priority,
                emergency=input.emergency,
                on_behalf_of_id=optional_input_id(input.on_behalf_of, "Person", "onBehalfOf"),
                photos=tuple(
                    [await read_upload(u, reporting.MAX_PHOTO_BYTES) for u in input.photos or []]
                ),
            )
            done = await reporting.report_case(session, principal, report, input.idempotency_key)
            return CaseReported(
                case=Case.from_row(done.case),
                likely_duplicates=[Case.from_row(c) for c in done.likely_duplicates],
                replayed=done.replayed,
            )

        return cast(ReportCaseResult, await run_service(info, run))

    @strawberry.mutation(
        description="Accept a REPORTED case (committee): its resolve deadline starts."
    )
    async def accept_case(
        self, info: Info, id: CaseId, expected_version: Version, note: OptionalNote = None
    ) -> CaseMutationResult:
        return await act(info, actions.accept, id, expected_version, note)

    @strawberry.mutation(description="Reject a REPORTED case with a reason (committee).")
    async def reject_case(
        self, info: Info, id: CaseId, expected_version: Version, reason: Reason
    ) -> CaseMutationResult:
        return await act(info, actions.reject, id, expected_version, reason)

    @strawberry.mutation(description="Mark a case as a duplicate of another case (committee).")
    async def mark_duplicate(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        duplicate_of: Annotated[
            strawberry.ID, strawberry.argument(description="Id of the Case it duplicates.")
        ],
    ) -> CaseMutationResult:
        return await act(
            info,
            actions.mark_duplicate,
            id,
            expected_version,
            ref(duplicate_of, "Case", "duplicateOf"),
        )

    @strawberry.mutation(
        description=(
            "Assign an ACCEPTED case to a lead partner (主办) serving its community, optionally "
            "with co-handling partners (协办), each with a task; on an ASSIGNED case this "
            "reassigns, ending the earlier assignments (kept in the history)."
        )
    )
    async def assign_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        lead: Annotated[HandlerInput, strawberry.argument(description="The lead partner.")],
        co_handlers: Annotated[
            list[HandlerInput] | None,
            strawberry.argument(description="Co-handling partners, each with a task."),
        ] = None,
    ) -> CaseMutationResult:
        def handler(value: HandlerInput, field: str) -> actions.Handler:
            return actions.Handler(
                input_id(value.partner, "Partner", field), value.task, value.due_at
            )

        return await act(
            info,
            actions.assign,
            id,
            expected_version,
            Later(lambda: handler(lead, "lead.partner")),
            Later(
                lambda: [
                    handler(h, f"coHandlers[{i}].partner") for i, h in enumerate(co_handlers or [])
                ]
            ),
        )

    @strawberry.mutation(
        description=(
            "Blow the whistle (吹哨): escalate to a government department, which must report in "
            "(报到) by `reportInDueAt` (default: the district's report-in deadline)."
        )
    )
    async def blow_whistle(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        department: Annotated[
            strawberry.ID, strawberry.argument(description="Id of a government-department Partner.")
        ],
        reason: Reason,
        report_in_due_at: Annotated[
            dt.datetime | None,
            strawberry.argument(description="When the department must have reported in."),
        ] = None,
    ) -> CaseMutationResult:
        return await act(
            info,
            actions.blow_whistle,
            id,
            expected_version,
            ref(department, "Partner", "department"),
            reason,
            report_in_due_at,
        )

    @strawberry.mutation(description="Report in (报到): the whistled department acknowledges.")
    async def report_in(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        response: Annotated[str, strawberry.argument(description="What the department will do.")],
    ) -> CaseMutationResult:
        return await act(info, actions.report_in, id, expected_version, response)

    @strawberry.mutation(
        description="Ask another partner of the community to send help (大手拉小手)."
    )
    async def request_helping_hand(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        helper: Annotated[strawberry.ID, strawberry.argument(description="Id of the Partner.")],
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(
            info,
            actions.request_helping_hand,
            id,
            expected_version,
            ref(helper, "Partner", "helper"),
            reason,
        )

    @strawberry.mutation(description="The asked partner agrees to send help.")
    async def accept_helping_hand(
        self, info: Info, id: CaseId, expected_version: Version, response: OptionalNote = None
    ) -> CaseMutationResult:
        return await act(info, actions.answer_helping_hand, id, expected_version, True, response)

    @strawberry.mutation(description="The asked partner declines, saying why.")
    async def decline_helping_hand(
        self, info: Info, id: CaseId, expected_version: Version, response: Reason
    ) -> CaseMutationResult:
        return await act(info, actions.answer_helping_hand, id, expected_version, False, response)

    @strawberry.mutation(
        description="Add a note to the case's history: internal (staff and partners) or public."
    )
    async def add_case_note(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        text: Annotated[str, strawberry.argument(description="The note, up to 5000 chars.")],
        internal: Annotated[
            bool, strawberry.argument(description="Hidden from residents when true.")
        ] = True,
    ) -> CaseMutationResult:
        return await act(info, actions.add_note, id, expected_version, text, internal)

    @strawberry.mutation(description="Change the priority of an open case (committee).")
    async def update_case_priority(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        priority: CasePriority,
        reason: OptionalNote = None,
    ) -> CaseMutationResult:
        return await act(info, actions.update_priority, id, expected_version, priority, reason)

    @strawberry.mutation(description="The assigned partner reports the case resolved.")
    async def resolve_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        summary: Annotated[str, strawberry.argument(description="What was done.")],
    ) -> CaseMutationResult:
        return await act(info, actions.resolve, id, expected_version, summary)

    @strawberry.mutation(description="The reporter confirms the resolution with a 1–5 rating.")
    async def confirm_resolution(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        rating: Annotated[int, strawberry.argument(description="1 (bad) to 5 (very good).")],
        comment: OptionalNote = None,
    ) -> CaseMutationResult:
        return await act(info, actions.confirm, id, expected_version, rating, comment)

    @strawberry.mutation(
        description=(
            "Reopen a resolved, confirmed or closed case within 30 days (reporter, committee)."
        )
    )
    async def reopen_case(
        self, info: Info, id: CaseId, expected_version: Version, reason: Reason
    ) -> CaseMutationResult:
        return await act(info, actions.reopen, id, expected_version, reason)

    @strawberry.mutation(description="Close a resolved or confirmed case (committee).")
    async def close_case(
        self, info: Info, id: CaseId, expected_version: Version, note: OptionalNote = None
    ) -> CaseMutationResult:
        return await act(info, actions.close, id, expected_version, note)


def _meeting_changed(change: meetings.MeetingChange) -> MeetingChanged:
    return MeetingChanged(
        meeting=Meeting.from_row(change.meeting),
        events=[CaseEvent.from_row(e) for e in change.events],
    )


@strawberry.type(description="Meetings and deadlines of cases.")
class MeetingAndDeadlineMutation:
    @strawberry.mutation(
        description=(
            "Convene a coordination meeting about one or more cases of a community (committee), "
            "inviting partners; each case's history records it."
        )
    )
    async def schedule_meeting(self, info: Info, input: ScheduleMeetingInput) -> MeetingResult:
        p = info.context.principal

        async def run(session: AsyncSession) -> MeetingChanged:
            plan = meetings.MeetingPlan(
                case_ids=tuple(
                    input_id(c, "Case", f"cases[{i}]") for i, c in enumerate(input.cases)
                ),
                title=input.title,
                scheduled_at=input.scheduled_at,
                location=input.location,
                partner_ids=tuple(
                    input_id(a, "Partner", f"attendees[{i}]") for i, a in enumerate(input.attendees)
                ),
                person_ids=tuple(
                    input_id(a, "Person", f"people[{i}]") for i, a in enumerate(input.people)
                ),
            )
            return _meeting_changed(await meetings.schedule_meeting(session, p, plan))

        return cast(MeetingResult, await run_service(info, run))

    @strawberry.mutation(
        description="Record that a meeting was held: its outcome, decisions and who came."
    )
    async def record_meeting_outcome(
        self,
        info: Info,
        meeting: Annotated[strawberry.ID, strawberry.argument(description="Id of the Meeting.")],
        outcome: Annotated[str, strawberry.argument(description="Summary of the outcome.")],
        decisions: Annotated[
            list[DecisionInput] | None,
            strawberry.argument(description="Decisions taken, in order."),
        ] = None,
        attended: Annotated[
            list[strawberry.ID] | None,
            strawberry.argument(description="Ids of the invited Partners that came."),
        ] = None,
    ) -> MeetingResult:
        p = info.context.principal

        async def run(session: AsyncSession) -> MeetingChanged:
            change = await meetings.record_meeting_outcome(
                session,
                p,
                input_id(meeting, "Meeting", "meeting"),
                outcome,
                [
                    meetings.Decision(
                        d.text,
                        optional_input_id(
                            d.responsible_partner, "Partner", f"decisions[{i}].responsiblePartner"
                        ),
                    )
                    for i, d in enumerate(decisions or [])
                ],
                tuple(
                    input_id(a, "Partner", f"attended[{i}]") for i, a in enumerate(attended or [])
                ),
            )
            return _meeting_changed(change)

        return cast(MeetingResult, await run_service(info, run))

    @strawberry.mutation(
        description="Move a deadline of an open case later, with a reason the history keeps."
    )
    async def extend_case_deadline(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        deadline: CaseDeadline,
        until: Annotated[dt.datetime, strawberry.argument(description="The new deadline.")],
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(
            info, deadlines.extend_deadline, id, expected_version, deadline, until, reason
        )

    @strawberry.mutation(
        description=(
            "Stop the clock of an open case (e.g. waiting for the maintenance fund); "
            "`resumeCaseDeadlines` moves every deadline by the time paused."
        )
    )
    async def pause_case_deadlines(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(info, deadlines.pause_deadlines, id, expected_version, reason)

    @strawberry.mutation(description="Restart the clock of a paused case.")
    async def resume_case_deadlines(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(info, deadlines.resume_deadlines, id, expected_version, reason)
