"""Webhooks: endpoints of partner systems that receive case events as signed HTTP calls, and
the deliveries made to them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

import schema.enums  # noqa: F401 - registers the domain's enums before any type uses them
from core import ids
from core import relations as rel
from db.models.enums import CaseEventKind, WebhookDeliveryStatus
from schema.errors import NotFound, PermissionDenied, ValidationFailed
from schema.live import CaseEventFilter
from schema.node import Connection, Node, connection_field, converter, node_field

if TYPE_CHECKING:
    from schema.cases import Case, CaseEvent
    from schema.partners import Partner
    from schema.places import Community, Street

CaseT = Annotated["Case", strawberry.lazy("schema.cases")]
CaseEventT = Annotated["CaseEvent", strawberry.lazy("schema.cases")]
CommunityT = Annotated["Community", strawberry.lazy("schema.places")]
PartnerT = Annotated["Partner", strawberry.lazy("schema.partners")]
StreetT = Annotated["Street", strawberry.lazy("schema.places")]

strawberry.enum(
    WebhookDeliveryStatus,
    description=(
        "Where a delivery stands: PENDING (waiting for its next attempt, or being attempted), "
        "DELIVERED (the endpoint answered 2xx), FAILED (every attempt failed until the retry "
        "horizon; `redeliverWebhook` sends it again)."
    ),
)


@strawberry.type(
    description=(
        "Which case events an endpoint receives: every field set must hold; unset fields "
        "match everything. The same fields as a `caseEvents` subscription's filter."
    )
)
class WebhookEventFilter:
    kinds: list[CaseEventKind] = strawberry.field(
        description="Only these kinds of event; empty: every kind."
    )
    community_id: strawberry.Private[int | None]
    street_id: strawberry.Private[int | None]
    assigned_partner_id: strawberry.Private[int | None]
    case_id: strawberry.Private[int | None]

    community = node_field(
        rel.WEBHOOK_FILTER_COMMUNITY, CommunityT | None, "Only the cases of this community."
    )
    street = node_field(
        rel.WEBHOOK_FILTER_STREET, StreetT | None, "Only the cases of this street's communities."
    )
    assigned_partner = node_field(
        rel.WEBHOOK_FILTER_PARTNER, PartnerT | None, "Only the cases this partner leads."
    )
    case = node_field(rel.WEBHOOK_FILTER_CASE, CaseT | None, "Only this case's events.")


@strawberry.type(
    description=(
        "A URL of a partner's (or the district's) system that receives the case events its "
        "owner may see, as signed HTTP POSTs (Standard Webhooks: headers `webhook-id`, "
        "`webhook-timestamp`, `webhook-signature`). It belongs to a partner or to the "
        "district, not to the person who created it: a partner's staff manage its endpoints, "
        "district administrators the district's (and see every endpoint of the district)."
    )
)
class WebhookEndpoint(Node):
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str = strawberry.field(description="What the endpoint is for, for people.")
    enabled: bool = strawberry.field(
        description=(
            "Whether events are sent. An endpoint whose attempts keep failing is disabled "
            "(`disabledAt`, `disabledReason`); enable it again with `updateWebhookEndpoint` "
            "and its backlog is delivered, in order."
        )
    )
    disabled_at: dt.datetime | None = strawberry.field(description="When it was disabled.")
    disabled_reason: str | None = strawberry.field(
        description="Why it was disabled: by whom, or which failures."
    )
    failing_since: dt.datetime | None = strawberry.field(
        description="First failed attempt since the last success; null while all is well."
    )
    previous_secret_expires_at: dt.datetime | None = strawberry.field(
        description=(
            "After a rotation: until when the previous secret still signs beside the new one."
        )
    )
    last_seq: int = strawberry.field(
        description=(
            "The endpoint's cursor in the district's event stream: every event up to this "
            "`seq` has been given a delivery (or was not for this endpoint)."
        )
    )
    created_at: dt.datetime = strawberry.field(description="When it was created.")
    updated_at: dt.datetime = strawberry.field(description="When it was last changed.")
    owner_partner_id: strawberry.Private[int | None]
    filter_: strawberry.Private[WebhookEventFilter | None] = None

    @classmethod
    def from_row(cls, row: Any) -> WebhookEndpoint:
        endpoint = super().from_row(row)
        endpoint.filter_ = WebhookEventFilter(
            kinds=[CaseEventKind(k) for k in row.filter_kinds or ()],
            community_id=row.filter_community_id,
            street_id=row.filter_street_id,
            assigned_partner_id=row.filter_assigned_partner_id,
            case_id=row.filter_case_id,
        )
        return endpoint

    @strawberry.field(description="Which case events it receives.")
    def filter(self) -> WebhookEventFilter:
        assert self.filter_ is not None
        return self.filter_

    partner = node_field(
        rel.WEBHOOK_ENDPOINT_PARTNER,
        PartnerT | None,
        "The partner that owns it; null when it belongs to the district.",
    )

    @connection_field(
        "Deliveries to this endpoint, newest first: attempts, the last answer, the next retry."
    )
    def deliveries(self) -> Connection[WebhookDelivery]:
        return Connection.of(rel.WEBHOOK_DELIVERIES, self.db_id, converter("WebhookDelivery"))


@strawberry.type(
    description=(
        "One case event sent (or to be sent) to one endpoint. Every attempt sends the same "
        "bytes with the same `webhook-id`, so a receiver drops duplicates by it."
    )
)
class WebhookDelivery(Node):
    event_seq: int = strawberry.field(description="The event's `seq` in the district's stream.")
    event_kind: CaseEventKind = strawberry.field(description="The event's kind (its `type`).")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: dt.datetime | None = strawberry.field(
        description="When the next attempt is due, while PENDING."
    )
    expires_at: dt.datetime = strawberry.field(
        description="After this no further retry is made: the delivery becomes FAILED."
    )
    last_attempt_at: dt.datetime | None = strawberry.field(
        description="When the latest attempt started."
    )
    last_status_code: int | None = strawberry.field(
        description="HTTP status of the latest answer; null when there was none."
    )
    last_latency_ms: int | None = strawberry.field(
        description="Milliseconds from sending the latest attempt to its answer."
    )
    last_response: str | None = strawberry.field(
        description="The first bytes of the latest answer's body (at most 1 KiB by default)."
    )
    last_error: str | None = strawberry.field(
        description="Why the latest attempt failed without an answer (timeout, refused, ...)."
    )
    delivered_at: dt.datetime | None = strawberry.field(description="When it was delivered.")
    created_at: dt.datetime = strawberry.field(description="When the delivery was written.")
    endpoint_id: strawberry.Private[int]
    event_id: strawberry.Private[int]
    case_id: strawberry.Private[int]

    @strawberry.field(
        description="The `webhook-id` header sent on every attempt: this delivery's id."
    )
    def webhook_id(self) -> str:
        return str(self.id)

    endpoint = node_field(
        rel.WEBHOOK_DELIVERY_ENDPOINT, WebhookEndpoint | None, "The endpoint it goes to."
    )
    event = node_field(rel.WEBHOOK_DELIVERY_EVENT, CaseEventT | None, "The case event it carries.")
    case = node_field(rel.WEBHOOK_DELIVERY_CASE, CaseT | None, "The case of the event.")


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description=(
            "Where to POST events: https:// in production; not a loopback, private, "
            "link-local or metadata address."
        )
    )
    description: str = strawberry.field(
        default="", description="What the endpoint is for, for people (at most 1,000 characters)."
    )
    filter: CaseEventFilter | None = strawberry.field(
        default=None, description="Which case events to send; default all its owner may see."
    )


@strawberry.input(description="Changes to a webhook endpoint; fields left out stay as they are.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="Id of the WebhookEndpoint to change.")
    url: str | None = strawberry.field(default=None, description="A new URL.")
    description: str | None = strawberry.field(default=None, description="A new description.")
    filter: CaseEventFilter | None = strawberry.field(
        default=None,
        description="A new filter (replaces the old one), for events from now on.",
    )
    enabled: bool | None = strawberry.field(
        default=None,
        description=(
            "false stops sending (events are kept); true sends again, starting with the "
            "backlog, in order per case."
        ),
    )


@strawberry.type(description="The endpoint was created. Keep `secret`: it is never shown again.")
class WebhookEndpointCreated:
    endpoint: WebhookEndpoint = strawberry.field(description="The new endpoint.")
    secret: str = strawberry.field(
        description=(
            "The signing secret (`whsec_…`), shown only now: verify `webhook-signature` with it."
        )
    )


@strawberry.type(description="The endpoint was changed.")
class WebhookEndpointUpdated:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint as it is now.")


@strawberry.type(description="The endpoint and its deliveries were deleted.")
class WebhookEndpointDeleted:
    deleted_id: strawberry.ID = strawberry.field(description="Id of the deleted endpoint.")


@strawberry.type(
    description=(
        "A new secret signs from now on; the previous one signs beside it until "
        "`previousSecretExpiresAt`. Keep `secret`: it is never shown again."
    )
)
class WebhookSecretRotated:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(description="The new signing secret, shown only now.")


@strawberry.type(description="The delivery will be attempted again shortly, with the same bytes.")
class WebhookRedeliveryScheduled:
    delivery: WebhookDelivery = strawberry.field(description="The delivery, PENDING again.")


def endpoint_of(row: Any) -> WebhookEndpoint:
    return WebhookEndpoint.from_row(row)


def endpoint_id(db_id: int) -> strawberry.ID:
    return strawberry.ID(ids.encode("WebhookEndpoint", db_id))


CreateWebhookEndpointResult = Annotated[
    WebhookEndpointCreated | PermissionDenied | ValidationFailed | NotFound,
    strawberry.union(
        "CreateWebhookEndpointResult", description="The new endpoint, or why none was made."
    ),
]
UpdateWebhookEndpointResult = Annotated[
    WebhookEndpointUpdated | PermissionDenied | ValidationFailed | NotFound,
    strawberry.union(
        "UpdateWebhookEndpointResult", description="The endpoint, or why nothing changed."
    ),
]
DeleteWebhookEndpointResult = Annotated[
    WebhookEndpointDeleted | PermissionDenied | ValidationFailed | NotFound,
    strawberry.union(
        "DeleteWebhookEndpointResult", description="What was deleted, or why nothing was."
    ),
]
RotateWebhookSecretResult = Annotated[
    WebhookSecretRotated | PermissionDenied | ValidationFailed | NotFound,
    strawberry.union(
        "RotateWebhookSecretResult", description="The new secret, or why nothing changed."
    ),
]
RedeliverWebhookResult = Annotated[
    WebhookRedeliveryScheduled | PermissionDenied | ValidationFailed | NotFound,
    strawberry.union(
        "RedeliverWebhookResult", description="The delivery scheduled again, or why not."
    ),
]
