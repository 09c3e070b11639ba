"""Webhooks: endpoints of partner systems, the bodies sent to them, and each delivery.

The committed case events are the outbox: nothing here is written by a mutation. A
dispatcher follows each district's event stream with a durable cursor per endpoint
(`webhook_endpoints.last_seq`), writes a delivery per event the endpoint wants, and renders
each body once per event and audience (`webhook_bodies`), so every attempt sends the same
bytes.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from db.models.base import Base, DistrictScoped, TenantEntity, created_at_column, str_enum
from db.models.enums import WebhookDeliveryStatus

DISTRICT_AUDIENCE = "district"
"""Audience of the bodies a district's endpoints receive (what an administrator sees)."""


def partner_audience(partner_id: int) -> str:
    """Audience of the bodies a partner's endpoints receive (what its staff see)."""
    return f"partner:{int(partner_id)}"


class WebhookEndpoint(TenantEntity, Base):
    """A URL of a partner's (or the district's) system that receives case events."""

    __tablename__ = "webhook_endpoints"

    # The owner: a partner, or (null) the district itself. Never the person who created it.
    owner_partner_id: Mapped[int | None] = mapped_column(BigInteger)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The same filter as a `caseEvents` subscription's; empty or null: everything.
    filter_kinds: Mapped[list[str]] = mapped_column(
        ARRAY(String(32)), default=list, server_default=text("'{}'")
    )
    filter_community_id: Mapped[int | None] = mapped_column(BigInteger)
    filter_street_id: Mapped[int | None] = mapped_column(BigInteger)
    filter_assigned_partner_id: Mapped[int | None] = mapped_column(BigInteger)
    filter_case_id: Mapped[int | None] = mapped_column(BigInteger)
    # `whsec_…` (Standard Webhooks). After a rotation the previous one signs too, until
    # `previous_secret_expires_at`.
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    disabled_at: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # Set by the first failed attempt after a success; cleared by a success.
    failing_since: Mapped[dt.datetime | None]
    # The durable cursor: every event up to this seq has its delivery row (or was not wanted).
    last_seq: Mapped[int] = mapped_column(BigInteger)
    created_by_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "owner_partner_id"],
            ["partners.district_id", "partners.id"],
            ondelete="CASCADE",
        ),
        Index("ix_webhook_endpoints_owner", "district_id", "owner_partner_id"),
        CheckConstraint("length(url) <= 2000", name="url_length"),
        CheckConstraint("length(description) <= 1000", name="description_length"),
    )


class WebhookBody(DistrictScoped, Base):
    """The JSON body of one event for one audience, rendered once and sent as these bytes on
    every attempt to every endpoint of that audience."""

    __tablename__ = "webhook_bodies"

    event_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    audience: Mapped[str] = mapped_column(String(40), primary_key=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = created_at_column()


class WebhookDelivery(TenantEntity, Base):
    """One event to one endpoint: its attempts so far and the next one."""

    __tablename__ = "webhook_deliveries"

    endpoint_id: Mapped[int] = mapped_column(BigInteger)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    event_id: Mapped[int] = mapped_column(BigInteger)
    event_kind: Mapped[str] = mapped_column(String(32))
    case_id: Mapped[int] = mapped_column(BigInteger)
    audience: Mapped[str] = mapped_column(String(40))
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        str_enum(WebhookDeliveryStatus, 16),
        default=WebhookDeliveryStatus.PENDING,
        server_default=WebhookDeliveryStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # While PENDING: when it may be attempted. A claimed delivery's is moved past the attempt's
    # longest duration (a lease), so a process killed mid-attempt leaves it to be retried.
    next_attempt_at: Mapped[dt.datetime | None]
    expires_at: Mapped[dt.datetime]
    last_attempt_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(SmallInteger)
    last_latency_ms: Mapped[int | None] = mapped_column(Integer)
    last_response: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(
            ["district_id", "endpoint_id"],
            ["webhook_endpoints.district_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["district_id", "event_seq", "audience"],
            ["webhook_bodies.district_id", "webhook_bodies.event_seq", "webhook_bodies.audience"],
        ),
        UniqueConstraint("district_id", "endpoint_id", "event_seq"),
        # Due deliveries, the dispatcher's claim.
        Index(
            "ix_webhook_deliveries_due",
            "district_id",
            "next_attempt_at",
            postgresql_where=text("status = 'PENDING'"),
        ),
        # A case's earlier pending delivery holds its later ones (in order per case).
        Index(
            "ix_webhook_deliveries_case_pending",
            "district_id",
            "endpoint_id",
            "case_id",
            "event_seq",
            postgresql_where=text("status = 'PENDING'"),
        ),
        # An endpoint's deliveries, newest first.
        Index("ix_webhook_deliveries_endpoint", "district_id", "endpoint_id", "id"),
        Index("ix_webhook_deliveries_event", "district_id", "event_seq"),
        # Finished deliveries by age: the retention sweep's.
        Index(
            "ix_webhook_deliveries_finished",
            "district_id",
            "created_at",
            "id",
            postgresql_where=text("status <> 'PENDING'"),
        ),
    )
