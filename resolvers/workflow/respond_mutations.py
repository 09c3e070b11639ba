"""The Mutation fields of 接诉即办: sign-for, return and ruling, urgency, follow-up, and the
exclusion from assessments. Thin fields over `dispatch`, `urgency`, `follow_ups` and
`exclusions`; each answers the usual case payload union."""

from __future__ import annotations

from typing import Annotated

import strawberry

from core.context import Info
from db.models.enums import (
    CaseUrgency,
    ExclusionReason,
    FollowUpChannel,
    ReturnReason,
    Satisfaction,
)
from resolvers.workflow import dispatch, exclusions, follow_ups
from resolvers.workflow import urgency as urgency_service
from resolvers.workflow.mutations import CaseId, Reason, Version, act
from schema.workflow import CaseMutationResult


@strawberry.type(description="接诉即办 on a case: sign-for, returns, urgency, follow-ups.")
class RespondMutation:
    @strawberry.mutation(
        description=(
            "Sign for a dispatched case (签收): by the lead partner, or by a co-handler for its "
            "own task, within the sign-for deadline (`signForDueAt`; the district's policy, "
            "default 2 h). Signing late is recorded as late (`onTime: false` in the event)."
        )
    )
    async def sign_for_case(
        self, info: Info, id: CaseId, expected_version: Version
    ) -> CaseMutationResult:
        return await act(info, dispatch.sign_for, id, expected_version)

    @strawberry.mutation(
        description=(
            "Return an ASSIGNED case (退单), by its lead partner, with a reason: it becomes "
            "RETURNED and stays the partner's (首接负责: its deadlines run on) until the "
            "committee or street re-dispatches it with `assignCase` (the return is accepted "
            "and not counted) or disputes it with `escalateReturn`."
        )
    )
    async def return_case(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        reason: Annotated[ReturnReason, strawberry.argument(description="Why.")],
        explanation: Annotated[
            str, strawberry.argument(description="What the committee needs to know.")
        ],
    ) -> CaseMutationResult:
        return await act(info, dispatch.return_case, id, expected_version, reason, explanation)

    @strawberry.mutation(
        description=(
            "Dispute a RETURNED case's return before the district (committee or street); "
            "a district administrator then rules with `ruleOnReturn`."
        )
    )
    async def escalate_return(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        note: Annotated[str, strawberry.argument(description="Why the return is disputed.")],
    ) -> CaseMutationResult:
        return await act(info, dispatch.escalate_return, id, expected_version, note)

    @strawberry.mutation(
        description=(
            "Rule on a disputed return (审定), by a district administrator. Upheld: the return "
            "does not count and the case stays RETURNED for re-dispatch (`assignCase`). "
            "Refused: the case goes back to the partner that returned it (ASSIGNED) and the "
            "return counts against it."
        )
    )
    async def rule_on_return(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        upheld: Annotated[
            bool, strawberry.argument(description="true: the return stands; false: refused.")
        ],
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(info, dispatch.rule_on_return, id, expected_version, upheld, reason)

    @strawberry.mutation(
        description=(
            "Change an open case's urgency tier (committee, street or district), with a "
            "reason. An accepted case's resolve deadline moves to the tier's (from its "
            "acceptance) unless the district set one for the category."
        )
    )
    async def set_case_urgency(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        urgency: Annotated[CaseUrgency, strawberry.argument(description="The new tier.")],
        reason: Reason,
    ) -> CaseMutationResult:
        return await act(info, urgency_service.set_urgency, id, expected_version, urgency, reason)

    @strawberry.mutation(
        description=(
            "Record a follow-up with the reporter after resolution (回访), by a committee "
            "member or community worker. Not reached: record it and try again later (leave "
            "`resolved` and `satisfaction` out). Reached: whether it is resolved and how "
            "satisfied they are, kept apart. With `reopen: true`, an unsatisfied or "
            "unresolved answer reopens the case (ASSIGNED, a new resolve deadline)."
        )
    )
    async def record_follow_up(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        channel: Annotated[FollowUpChannel, strawberry.argument(description="How.")],
        reached: Annotated[bool, strawberry.argument(description="Whether they were reached.")],
        resolved: Annotated[
            bool | None,
            strawberry.argument(description="Whether they consider it resolved (if reached)."),
        ] = None,
        satisfaction: Annotated[
            Satisfaction | None,
            strawberry.argument(description="How satisfied they are (if reached)."),
        ] = None,
        comment: Annotated[str | None, strawberry.argument(description="What they said.")] = None,
        reopen: Annotated[
            bool,
            strawberry.argument(description="Reopen the case on an unsatisfied answer."),
        ] = False,
    ) -> CaseMutationResult:
        return await act(
            info,
            follow_ups.record_follow_up,
            id,
            expected_version,
            channel,
            reached,
            resolved,
            satisfaction,
            comment,
            reopen,
        )

    @strawberry.mutation(
        description=(
            "Leave a case out of assessments (分级分类), by a district administrator, with a "
            "reason kept in its history; `reverseExclusion` counts it again."
        )
    )
    async def exclude_from_assessment(
        self,
        info: Info,
        id: CaseId,
        expected_version: Version,
        reason: Annotated[ExclusionReason, strawberry.argument(description="Why.")],
        explanation: Annotated[str, strawberry.argument(description="The particulars.")],
    ) -> CaseMutationResult:
        return await act(info, exclusions.exclude, id, expected_version, reason, explanation)

    @strawberry.mutation(
        description="Count an excluded case in assessments again (district administrator)."
    )
    async def reverse_exclusion(
        self, info: Info, id: CaseId, expected_version: Version, reason: Reason
    ) -> CaseMutationResult:
        return await act(info, exclusions.reverse_exclusion, id, expected_version, reason)
