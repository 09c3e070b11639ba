"""接诉即办: sign-for, returns and rulings, urgency tiers, follow-ups, exclusions, work orders.

- cases: `urgency` (set from the category for existing cases), the earliest open sign-for
  deadline of its dispatched partners (`sign_for_due_at`), the hotline's
  `external_order_no` (unique in the district), and the exclusion from assessments;
  status RETURNED; categories WATER_SUPPLY, POWER_SUPPLY, GAS_SUPPLY.
- case_assignments: the sign-for deadline and when (and by whom) the partner signed for it.
- deadline_policies: `sign_for_hours` (default 2).
- people: an index by phone (hotline reporters are matched by it).
- case_returns, case_follow_ups: new, under row-level security like every tenant table.
- case_events: the new kinds.

Enumerations are VARCHAR with a CHECK constraint (`db.models.base.str_enum`): a new member is
the constraint dropped and made again.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from db import rls

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels = None
depends_on = None

CATEGORIES_BEFORE = [
    "ELEVATOR",
    "SANITATION",
    "HEATING",
    "DRAINAGE",
    "PARKING",
    "GREENING",
    "NOISE",
    "SECURITY",
    "PROPERTY_SERVICE",
    "FACILITY_REPAIR",
    "MAINTENANCE_FUND",
    "OTHER",
]
CATEGORIES = [*CATEGORIES_BEFORE[:-1], "WATER_SUPPLY", "POWER_SUPPLY", "GAS_SUPPLY", "OTHER"]
STATUSES_BEFORE = [
    "REPORTED",
    "ACCEPTED",
    "ASSIGNED",
    "RESOLVED",
    "CONFIRMED",
    "CLOSED",
    "REJECTED",
    "DUPLICATE",
]
STATUSES = [*STATUSES_BEFORE, "RETURNED"]
KINDS_BEFORE = [
    "REPORTED",
    "ACCEPTED",
    "REJECTED",
    "MARKED_DUPLICATE",
    "ASSIGNED",
    "REASSIGNED",
    "MEETING_SCHEDULED",
    "MEETING_HELD",
    "WHISTLE_BLOWN",
    "REPORTED_IN",
    "HELPING_HAND_REQUESTED",
    "HELPING_HAND_ACCEPTED",
    "HELPING_HAND_DECLINED",
    "NOTE_ADDED",
    "PRIORITY_CHANGED",
    "FEE_WAIVED",
    "DEADLINE_EXTENDED",
    "DEADLINE_PAUSED",
    "DEADLINE_RESUMED",
    "DEADLINE_APPROACHING",
    "DEADLINE_MISSED",
    "RESOLVED",
    "CONFIRMED",
    "REOPENED",
    "CLOSED",
]
KINDS = [
    *KINDS_BEFORE,
    "SIGNED_FOR",
    "RETURNED",
    "RETURN_ESCALATED",
    "RETURN_RULED",
    "URGENCY_CHANGED",
    "FOLLOW_UP_RECORDED",
    "EXCLUDED_FROM_ASSESSMENT",
    "EXCLUSION_REVERSED",
]
NEW_TABLES = ("case_returns", "case_follow_ups")


def _members(table: str, column: str, name: str, members: list[str]) -> None:
    """Limit `column` to `members` (the CHECK constraint of a `str_enum`, made again)."""
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT ck_{table}_{name}")
    listed = ", ".join(f"'{m}'" for m in members)
    op.execute(
        f"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_{name} CHECK ({column} IN ({listed}))"
    )


def _enum(name: str, *members: str) -> sa.Enum:
    return sa.Enum(*members, name=name, native_enum=False, create_constraint=True, length=32)


def _fk(owner: str, column: str, table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["district_id", column],
        [f"{table}.district_id", f"{table}.id"],
        name=op.f(f"fk_{owner}_district_id_{column}_{table}"),
    )


def _district_fk(owner: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["district_id"],
        ["districts.id"],
        name=op.f(f"fk_{owner}_district_id_districts"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    _members("cases", "category", "casecategory", CATEGORIES)
    _members("deadline_policies", "category", "casecategory", CATEGORIES)
    _members("cases", "status", "casestatus", STATUSES)
    _members("case_events", "kind", "caseeventkind", KINDS)

    op.add_column(
        "cases",
        sa.Column(
            "urgency",
            _enum("caseurgency", "EMERGENCY", "UTILITIES", "GENERAL", "COMPLEX"),
            server_default="GENERAL",
            nullable=False,
        ),
    )
    # Existing cases take their category's tier (db.models.enums.URGENCY_OF_CATEGORY).
    op.execute("UPDATE cases SET urgency = 'UTILITIES' WHERE category = 'HEATING'")
    op.execute("UPDATE cases SET urgency = 'COMPLEX' WHERE category = 'MAINTENANCE_FUND'")
    op.add_column("cases", sa.Column("sign_for_due_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("cases", sa.Column("external_order_no", sa.String(length=64), nullable=True))
    op.add_column("cases", sa.Column("excluded_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "cases",
        sa.Column(
            "exclusion_reason",
            _enum(
                "exclusionreason",
                "UNREASONABLE_DEMAND",
                "OUTSIDE_REMIT",
                "REPEATED_REQUEST",
                "OTHER",
            ),
            nullable=True,
        ),
    )
    op.create_check_constraint(
        "exclusion_has_reason", "cases", "(excluded_at IS NULL) = (exclusion_reason IS NULL)"
    )
    op.create_index(
        "uq_cases_external_order_no",
        "cases",
        ["district_id", "external_order_no"],
        unique=True,
        postgresql_where=sa.text("external_order_no IS NOT NULL"),
    )

    op.create_index("ix_people_phone", "people", ["district_id", "phone"])

    op.add_column(
        "case_assignments",
        sa.Column("sign_for_due_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "case_assignments", sa.Column("signed_for_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("case_assignments", sa.Column("signed_for_by_id", sa.BigInteger(), nullable=True))
    op.create_foreign_key(
        op.f("fk_case_assignments_district_id_signed_for_by_id_people"),
        "case_assignments",
        "people",
        ["district_id", "signed_for_by_id"],
        ["district_id", "id"],
    )

    op.add_column(
        "deadline_policies",
        sa.Column("sign_for_hours", sa.Integer(), server_default="2", nullable=False),
    )
    op.execute("ALTER TABLE deadline_policies DROP CONSTRAINT ck_deadline_policies_positive_hours")
    op.create_check_constraint(
        "positive_hours",
        "deadline_policies",
        "accept_hours > 0 AND resolve_hours > 0 AND report_in_hours > 0 "
        "AND approaching_hours >= 0 AND sign_for_hours > 0",
    )

    op.create_table(
        "case_returns",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("partner_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "reason",
            _enum(
                "returnreason",
                "NOT_OUR_AREA",
                "UNCLEAR_OWNERSHIP",
                "OVERLAPPING_DUTIES",
                "OUTSIDE_REMIT",
                "OTHER",
            ),
            nullable=False,
        ),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("returned_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "returned_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "outcome",
            _enum("returnoutcome", "PENDING", "REDISPATCHED", "UPHELD", "REFUSED"),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_by_id", sa.BigInteger(), nullable=True),
        sa.Column("escalation_note", sa.Text(), nullable=True),
        sa.Column("ruled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ruled_by_id", sa.BigInteger(), nullable=True),
        sa.Column("ruling_reason", sa.Text(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        _fk("case_returns", "case_id", "cases"),
        _fk("case_returns", "partner_id", "partners"),
        _fk("case_returns", "returned_by_id", "people"),
        _fk("case_returns", "escalated_by_id", "people"),
        _fk("case_returns", "ruled_by_id", "people"),
        _district_fk("case_returns"),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_returns")),
    )
    op.create_index("ix_case_returns_case", "case_returns", ["district_id", "case_id"])
    op.create_index(
        "ix_case_returns_partner", "case_returns", ["district_id", "partner_id", "returned_at"]
    )
    op.create_index(
        "uq_case_returns_one_pending",
        "case_returns",
        ["district_id", "case_id"],
        unique=True,
        postgresql_where=sa.text("outcome = 'PENDING'"),
    )

    op.create_table(
        "case_follow_ups",
        sa.Column("district_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "channel", _enum("followupchannel", "PHONE", "SMS", "VISIT", "ONLINE"), nullable=False
        ),
        sa.Column("reached", sa.Boolean(), nullable=False),
        sa.Column("resolved", sa.Boolean(), nullable=True),
        sa.Column(
            "satisfaction",
            _enum("satisfaction", "SATISFIED", "BASICALLY_SATISFIED", "UNSATISFIED"),
            nullable=True,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        _fk("case_follow_ups", "case_id", "cases"),
        _fk("case_follow_ups", "recorded_by_id", "people"),
        _district_fk("case_follow_ups"),
        sa.CheckConstraint(
            "reached OR (resolved IS NULL AND satisfaction IS NULL)",
            name=op.f("ck_case_follow_ups_answers_only_when_reached"),
        ),
        sa.PrimaryKeyConstraint("district_id", "id", name=op.f("pk_case_follow_ups")),
    )
    op.create_index(
        "ix_case_follow_ups_case", "case_follow_ups", ["district_id", "case_id", "recorded_at"]
    )
    for table in NEW_TABLES:
        for statement in rls.protect_tenant_table(table):
            op.execute(statement)
    for statement in rls.grant_sequences():
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("case_follow_ups")
    op.drop_table("case_returns")
    op.execute("ALTER TABLE deadline_policies DROP CONSTRAINT ck_deadline_policies_positive_hours")
    op.create_check_constraint(
        "positive_hours",
        "deadline_policies",
        "accept_hours > 0 AND resolve_hours > 0 AND report_in_hours > 0 AND approaching_hours >= 0",
    )
    op.drop_column("deadline_policies", "sign_for_hours")
    op.drop_constraint(
        op.f("fk_case_assignments_district_id_signed_for_by_id_people"), "case_assignments"
    )
    for column in ("signed_for_by_id", "signed_for_at", "sign_for_due_at"):
        op.drop_column("case_assignments", column)
    op.drop_index("ix_people_phone", table_name="people")
    op.drop_index("uq_cases_external_order_no", table_name="cases")
    op.drop_constraint("ck_cases_exclusion_has_reason", "cases")
    for column in (
        "exclusion_reason",
        "excluded_at",
        "external_order_no",
        "sign_for_due_at",
        "urgency",
    ):
        op.drop_column("cases", column)
    # Rows using the new members go back to what existed before them.
    kinds = ", ".join(f"'{k}'" for k in KINDS_BEFORE)  # constants of this file
    op.execute(f"DELETE FROM case_events WHERE kind NOT IN ({kinds})")  # noqa: S608
    op.execute("UPDATE cases SET status = 'ASSIGNED' WHERE status = 'RETURNED'")
    op.execute(
        "UPDATE cases SET category = 'OTHER' WHERE category IN "
        "('WATER_SUPPLY', 'POWER_SUPPLY', 'GAS_SUPPLY')"
    )
    op.execute(
        "DELETE FROM deadline_policies WHERE category IN "
        "('WATER_SUPPLY', 'POWER_SUPPLY', 'GAS_SUPPLY')"
    )
    _members("case_events", "kind", "caseeventkind", KINDS_BEFORE)
    _members("cases", "status", "casestatus", STATUSES_BEFORE)
    _members("deadline_policies", "category", "casecategory", CATEGORIES_BEFORE)
    _members("cases", "category", "casecategory", CATEGORIES_BEFORE)
