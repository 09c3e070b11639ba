"""Managing webhook endpoints: the services behind the mutations (they flush, never commit).

An endpoint belongs to a partner or to the district. Partner staff manage their partner's;
district administrators manage the district's (and may see, not change, the partners').
Nobody else manages any. A mutation wakes the dispatchers (`pg_notify` at commit) so that a
re-enabled endpoint or a redelivery goes out at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import visibility
from core.principal import Principal
from core.webhook_rules import WebhookRules
from db.events import NOTIFY_CHANNEL
from db.models import (
    Case,
    Community,
    DistrictCounter,
    Partner,
    Street,
    WebhookDelivery,
    WebhookEndpoint,
)
from db.models.enums import CaseEventKind, Role, WebhookDeliveryStatus
from db.tenancy import current_district
from resolvers.refusals import ForbiddenError, NotFoundError, ValidationError
from resolvers.validators import storable
from resolvers.webhooks import signing, urls

MAX_ENDPOINTS_PER_OWNER = 20
MAX_DESCRIPTION = 1000
MAX_OVERLAP_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class FilterSpec:
    """An endpoint's filter as decoded from the input (ids within the district)."""

    community_id: int | None = None
    street_id: int | None = None
    assigned_partner_id: int | None = None
    case_id: int | None = None
    kinds: tuple[CaseEventKind, ...] = ()


def owner_of(p: Principal) -> int | None:
    """The owner an endpoint `p` creates belongs to: its partner, or (None) the district."""
    if p.role is Role.PARTNER_STAFF and p.partner_id is not None:
        return p.partner_id
    if p.role is Role.DISTRICT_ADMIN:
        return None
    raise ForbiddenError(
        "partner staff manage their partner's webhook endpoints, district administrators "
        "the district's"
    )


async def _check_url(url: str, rules: WebhookRules) -> str:
    url = url.strip()
    storable(url, "url")
    try:
        await urls.check(url, allow_private=rules.allow_private_urls, https_only=rules.https_only)
    except urls.UrlRefused as exc:
        raise ValidationError(f"`url` {exc}", "url") from None
    return url


def _description(text: str) -> str:
    text = storable(text.strip(), "description")
    if len(text) > MAX_DESCRIPTION:
        raise ValidationError(
            f"`description` must be at most {MAX_DESCRIPTION} characters", "description"
        )
    return text


async def _check_filter(session: AsyncSession, p: Principal, spec: FilterSpec) -> None:
    """Every id of the filter names a row of the district the owner may see."""
    checks: list[tuple[int | None, type, ColumnElement[bool] | None, str]] = [
        (spec.community_id, Community, None, "filter.community"),
        (spec.street_id, Street, None, "filter.street"),
        (spec.assigned_partner_id, Partner, None, "filter.assignedPartner"),
        (spec.case_id, Case, visibility.cases(p), "filter.case"),
    ]
    for db_id, model, visible, field in checks:
        if db_id is None:
            continue
        found = await session.scalar(
            select(model.id).where(model.id == db_id, true() if visible is None else visible)  # type: ignore[attr-defined]
        )
        if found is None:
            raise NotFoundError(f"`{field}` names nothing you may see", field)


def _apply_filter(row: WebhookEndpoint, spec: FilterSpec) -> None:
    row.filter_kinds = sorted({k.value for k in spec.kinds})
    row.filter_community_id = spec.community_id
    row.filter_street_id = spec.street_id
    row.filter_assigned_partner_id = spec.assigned_partner_id
    row.filter_case_id = spec.case_id


async def _wake_dispatchers(session: AsyncSession) -> None:
    """Tell every server's dispatcher, at commit, to look at this district now (seq 0: no
    event, which live subscriptions ignore)."""
    district_id = current_district(session)
    await session.execute(select(func.pg_notify(NOTIFY_CHANNEL, f"{district_id}:0")))


async def create_endpoint(
    session: AsyncSession,
    p: Principal,
    rules: WebhookRules,
    *,
    url: str,
    description: str,
    spec: FilterSpec,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, receiving events committed from now on, and its secret."""
    owner = owner_of(p)
    await _check_filter(session, p, spec)
    url = await _check_url(url, rules)
    owned = await session.scalar(
        select(func.count())
        .select_from(WebhookEndpoint)
        .where(
            WebhookEndpoint.owner_partner_id.is_(None)
            if owner is None
            else WebhookEndpoint.owner_partner_id == owner
        )
    )
    if (owned or 0) >= MAX_ENDPOINTS_PER_OWNER:
        raise ValidationError(
            f"an owner may have at most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints", "url"
        )
    head = await session.scalar(select(DistrictCounter.last_event_seq))
    secret = signing.new_secret()
    row = WebhookEndpoint(
        owner_partner_id=owner,
        url=url,
        description=_description(description),
        secret=secret,
        enabled=True,
        last_seq=int(head or 0),
        created_by_id=p.person_id,
    )
    _apply_filter(row, spec)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row, secret


async def managed_endpoint(
    session: AsyncSession, p: Principal, endpoint_id: int
) -> WebhookEndpoint:
    """The endpoint `p` manages, locked for the change; NotFound when it sees none such."""
    owner_of(p)
    visible = visibility.webhook_endpoints(p)
    row = await session.scalar(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id, true() if visible is None else visible)
        .with_for_update()
    )
    if row is None:
        raise NotFoundError("no such webhook endpoint", "id")
    if row.owner_partner_id != (p.partner_id if p.role is Role.PARTNER_STAFF else None):
        raise ForbiddenError("this endpoint belongs to a partner: its staff manage it", "id")
    return row


async def update_endpoint(
    session: AsyncSession,
    p: Principal,
    rules: WebhookRules,
    endpoint_id: int,
    *,
    url: str | None,
    description: str | None,
    spec: FilterSpec | None,
    enabled: bool | None,
) -> WebhookEndpoint:
    row = await managed_endpoint(session, p, endpoint_id)
    if spec is not None:
        await _check_filter(session, p, spec)
        _apply_filter(row, spec)
    if url is not None:
        row.url = await _check_url(url, rules)
    if description is not None:
        row.description = _description(description)
    now = await session.scalar(select(func.now()))
    assert now is not None
    if enabled is True and not row.enabled:
        row.enabled = True
        row.disabled_at = row.disabled_reason = row.failing_since = None
        # The held backlog gets a whole retry horizon again, from now.
        await session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.endpoint_id == row.id,
                WebhookDelivery.status == WebhookDeliveryStatus.PENDING,
            )
            .values(
                next_attempt_at=now,
                expires_at=now + dt.timedelta(seconds=rules.retry_horizon_seconds),
            )
        )
    elif enabled is False and row.enabled:
        row.enabled = False
        row.disabled_at = now
        row.disabled_reason = (
            f"disabled by {'partner staff' if p.partner_id else 'an administrator'}"
        )
    await session.flush()
    await _wake_dispatchers(session)
    await session.refresh(row)
    return row


async def delete_endpoint(session: AsyncSession, p: Principal, endpoint_id: int) -> None:
    row = await managed_endpoint(session, p, endpoint_id)
    await session.delete(row)
    await session.flush()


async def rotate_secret(
    session: AsyncSession,
    p: Principal,
    rules: WebhookRules,
    endpoint_id: int,
    overlap_seconds: int | None,
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for the overlap."""
    overlap = rules.secret_overlap_seconds if overlap_seconds is None else overlap_seconds
    if not 0 <= overlap <= MAX_OVERLAP_SECONDS:
        raise ValidationError(
            f"`overlapSeconds` must be between 0 and {MAX_OVERLAP_SECONDS}", "overlapSeconds"
        )
    row = await managed_endpoint(session, p, endpoint_id)
    now = await session.scalar(select(func.now()))
    assert now is not None
    secret = signing.new_secret()
    row.previous_secret = row.secret
    row.previous_secret_expires_at = now + dt.timedelta(seconds=overlap)
    row.secret = secret
    await session.flush()
    await session.refresh(row)
    return row, secret


async def redeliver(
    session: AsyncSession, p: Principal, rules: WebhookRules, delivery_id: int
) -> WebhookDelivery:
    """Send a delivered or failed delivery again (same bytes, same `webhook-id`)."""
    owner_of(p)
    visible = visibility.webhook_deliveries(p)
    delivery = await session.scalar(
        select(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, true() if visible is None else visible)
        .with_for_update()
    )
    if delivery is None:
        raise NotFoundError("no such webhook delivery", "delivery")
    await managed_endpoint(session, p, delivery.endpoint_id)
    if delivery.status is WebhookDeliveryStatus.PENDING:
        raise ValidationError(
            "the delivery is still pending: it will be attempted again by itself", "delivery"
        )
    now = await session.scalar(select(func.now()))
    assert now is not None
    delivery.status = WebhookDeliveryStatus.PENDING
    delivery.next_attempt_at = now
    delivery.expires_at = now + dt.timedelta(seconds=rules.retry_horizon_seconds)
    await session.flush()
    await _wake_dispatchers(session)
    await session.refresh(delivery)
    return delivery
