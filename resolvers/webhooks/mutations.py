"""The webhook fields of the root Query and Mutation: endpoints and their deliveries."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry
from sqlalchemy import select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.context import Info
from db.models import WebhookEndpoint as EndpointRow
from resolvers.mutation_kit import input_id, optional_input_id, run_service
from resolvers.webhooks import endpoints as service
from schema.live import CaseEventFilter
from schema.webhooks import (
    CreateWebhookEndpointInput,
    CreateWebhookEndpointResult,
    DeleteWebhookEndpointResult,
    RedeliverWebhookResult,
    RotateWebhookSecretResult,
    UpdateWebhookEndpointInput,
    UpdateWebhookEndpointResult,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointDeleted,
    WebhookEndpointUpdated,
    WebhookRedeliveryScheduled,
    WebhookSecretRotated,
    endpoint_id,
)


def filter_spec(flt: CaseEventFilter | None) -> service.FilterSpec:
    """The filter of an input; a bad id is a ValidationFailed naming `filter.<field>`."""
    if flt is None:
        return service.FilterSpec()
    return service.FilterSpec(
        community_id=optional_input_id(flt.community, "Community", "filter.community"),
        street_id=optional_input_id(flt.street, "Street", "filter.street"),
        assigned_partner_id=optional_input_id(
            flt.assigned_partner, "Partner", "filter.assignedPartner"
        ),
        case_id=optional_input_id(flt.case, "Case", "filter.case"),
        kinds=tuple(flt.kinds or ()),
    )


@strawberry.type(description="Reading webhook endpoints.")
class WebhookQuery:
    @strawberry.field(
        description=(
            "Webhook endpoints you may see, oldest first: partner staff their partner's, "
            "district administrators every endpoint of the district. Others: none."
        )
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        p = info.context.principal
        if info.context.district_id is None or p.is_anonymous:
            return []
        visible = visibility.webhook_endpoints(p)
        rows = await info.context.db.execute(
            select(EndpointRow)
            .where(true() if visible is None else visible)
            .order_by(EndpointRow.id)
        )
        return [WebhookEndpoint.from_row(row) for row in rows.scalars()]


OverlapSeconds = Annotated[
    int | None,
    strawberry.argument(
        description=(
            "How long the previous secret keeps signing beside the new one, in seconds "
            "(0 to 604800); default the server's (24 h unless configured)."
        )
    ),
]


@strawberry.type(description="Managing webhook endpoints.")
class WebhookMutation:
    @strawberry.mutation(
        description=(
            "Create a webhook endpoint owned by your partner (partner staff) or by the "
            "district (district administrators). It receives the case events committed from "
            "now on that its owner may see and its filter wants. The answer holds the "
            "signing secret, shown only this once."
        )
    )
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> CreateWebhookEndpointResult:
        p, rules = info.context.principal, info.context.webhooks

        async def run(session: AsyncSession) -> WebhookEndpointCreated:
            row, secret = await service.create_endpoint(
                session,
                p,
                rules,
                url=input.url,
                description=input.description,
                spec=filter_spec(input.filter),
            )
            return WebhookEndpointCreated(endpoint=WebhookEndpoint.from_row(row), secret=secret)

        return cast(CreateWebhookEndpointResult, await run_service(info, run))

    @strawberry.mutation(
        description=(
            "Change a webhook endpoint's URL, description or filter, or disable it and enable "
            "it again (its backlog is then delivered, in order per case)."
        )
    )
    async def update_webhook_endpoint(
        self, info: Info, input: UpdateWebhookEndpointInput
    ) -> UpdateWebhookEndpointResult:
        p, rules = info.context.principal, info.context.webhooks

        async def run(session: AsyncSession) -> WebhookEndpointUpdated:
            row = await service.update_endpoint(
                session,
                p,
                rules,
                input_id(input.id, "WebhookEndpoint", "id"),
                url=input.url,
                description=input.description,
                spec=None if input.filter is None else filter_spec(input.filter),
                enabled=input.enabled,
            )
            return WebhookEndpointUpdated(endpoint=WebhookEndpoint.from_row(row))

        return cast(UpdateWebhookEndpointResult, await run_service(info, run))

    @strawberry.mutation(description="Delete a webhook endpoint and its deliveries.")
    async def delete_webhook_endpoint(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="Id of the WebhookEndpoint to delete.")
        ],
    ) -> DeleteWebhookEndpointResult:
        p = info.context.principal

        async def run(session: AsyncSession) -> WebhookEndpointDeleted:
            db_id = input_id(id, "WebhookEndpoint", "id")
            await service.delete_endpoint(session, p, db_id)
            return WebhookEndpointDeleted(deleted_id=endpoint_id(db_id))

        return cast(DeleteWebhookEndpointResult, await run_service(info, run))

    @strawberry.mutation(
        description=(
            "Give a webhook endpoint a new signing secret (shown only in the answer). The "
            "previous secret keeps signing beside it for `overlapSeconds`, so receivers can "
            "switch without losing an event."
        )
    )
    async def rotate_webhook_secret(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the WebhookEndpoint whose secret to rotate."),
        ],
        overlap_seconds: OverlapSeconds = None,
    ) -> RotateWebhookSecretResult:
        p, rules = info.context.principal, info.context.webhooks

        async def run(session: AsyncSession) -> WebhookSecretRotated:
            row, secret = await service.rotate_secret(
                session, p, rules, input_id(id, "WebhookEndpoint", "id"), overlap_seconds
            )
            return WebhookSecretRotated(endpoint=WebhookEndpoint.from_row(row), secret=secret)

        return cast(RotateWebhookSecretResult, await run_service(info, run))

    @strawberry.mutation(
        description=(
            "Send a delivered or failed delivery again, with the same bytes and `webhook-id`, "
            "after any earlier pending delivery of the same case to the same endpoint."
        )
    )
    async def redeliver_webhook(
        self,
        info: Info,
        delivery: Annotated[
            strawberry.ID,
            strawberry.argument(description="Id of the WebhookDelivery to send again."),
        ],
    ) -> RedeliverWebhookResult:
        p, rules = info.context.principal, info.context.webhooks

        async def run(session: AsyncSession) -> WebhookRedeliveryScheduled:
            row = await service.redeliver(
                session, p, rules, input_id(delivery, "WebhookDelivery", "delivery")
            )
            return WebhookRedeliveryScheduled(delivery=WebhookDelivery.from_row(row))

        return cast(RedeliverWebhookResult, await run_service(info, run))
