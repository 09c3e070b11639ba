"""The Subscription root: `caseEvents`, live and resumable by cursor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Annotated

import strawberry
from graphql import GraphQLSchema

from core.context import Context, Info
from core.error_codes import ErrorCode
from core.loaders import Loaders
from core.user_errors import UserError
from resolvers.live.feed import EventFilter
from resolvers.live.groups import ExecutionGroups, group_key
from resolvers.live.outlet import CLIENT_GONE_SECONDS, OUTLET, ClientGone, Outlet
from resolvers.mutation_kit import InputIdError, optional_input_id
from schema.cases import CaseEvent
from schema.live import CaseEventFilter


def event_filter(filter: CaseEventFilter) -> EventFilter:
    """The live feed's filter for a subscription's `filter` input; a bad id is a `UserError`."""
    try:
        return EventFilter(
            community_id=optional_input_id(filter.community, "Community", "community"),
            street_id=optional_input_id(filter.street, "Street", "street"),
            assigned_partner_id=optional_input_id(
                filter.assigned_partner, "Partner", "assignedPartner"
            ),
            case_id=optional_input_id(filter.case, "Case", "case"),
            kinds=frozenset(filter.kinds or ()),
        )
    except InputIdError as exc:
        raise UserError(f"`{exc.field}`: {exc.error}") from None


def _cursor(after: str | None) -> int | None:
    if after is None:
        return None
    if not after.isdigit() or len(after) > 19:
        raise UserError(f"`after` must be the cursor of an event (its seq), got {after!r}")
    return int(after)


async def _serve_shared(
    schema: GraphQLSchema, context: Context, outlet: Outlet, flt: EventFilter, after: int | None
) -> None:
    """Send each event the subscriber may see and asked for to `outlet`: the message its
    group's one execution made. Returns when the client has gone."""
    assert context.bus is not None
    assert context.district_id is not None
    groups: ExecutionGroups = context.bus.groups
    key = group_key(schema, outlet.query, outlet.operation_name, outlet.variables, context)
    group = groups.join(key, schema, context)
    del key
    try:
        await context.bus.serve(
            context.district_id, context.principal, flt, after, group, outlet.send_next
        )
    except ClientGone:
        # The end of the connection cancels this subscription; it ends itself if not.
        await asyncio.sleep(CLIENT_GONE_SECONDS)
    finally:
        groups.leave(group)


@strawberry.type(description="Live updates.")
class Subscription:
    @strawberry.subscription(
        description=(
            "Case events of your district that you may see, as they are committed, in order. "
            "With `after` (an event's `cursor`), first every event after it that you missed, "
            "then live ones: no gap, no duplicate. A partner unit receives the events of cases "
            "it leads, co-handles, was whistled for or was asked to help with. If you fall "
            "more than 1,000 events behind, the subscription ends with an error (code "
            "`SUBSCRIBER_TOO_SLOW`) naming your cursor: subscribe again with it."
        )
    )
    async def case_events(
        self,
        info: Info,
        filter: Annotated[
            CaseEventFilter | None,
            strawberry.argument(description="Which events; default all you may see."),
        ] = None,
        after: Annotated[
            str | None,
            strawberry.argument(
                description="Cursor of the last event you received; omit for live events only."
            ),
        ] = None,
    ) -> AsyncGenerator[CaseEvent, None]:
        context = info.context
        if context.district_id is None or context.principal.is_anonymous:
            raise UserError(
                "subscribe with a token of a district (in connection_init)",
                code=ErrorCode.UNAUTHENTICATED,
            )
        if context.bus is None:
            raise UserError("live events are not available on this server")
        flt = event_filter(filter) if filter else EventFilter()
        cursor = _cursor(after)
        outlet = OUTLET.get()
        if outlet is not None:
            # Executed once per group of subscribers who see the same, sent as it is, by the
            # outlet's own task: this execution ends here.
            outlet.detach(_serve_shared(info.schema._schema, context, outlet, flt, cursor))
            return
        stream = context.bus.subscribe(context.district_id, context.principal, flt, cursor)
        try:
            async for row in stream:
                # Each event is resolved with loaders of its own (what an earlier event loaded
                # may have changed since) in a transaction of its own, which ends as soon as
                # the event's message is out: an idle subscription holds no connection.
                context.loaders = Loaders(context.db, context.principal)
                yield CaseEvent.from_row(row)
                await context.db.finish(commit=False)
        finally:
            await asyncio.shield(context.db.finish(commit=False))
