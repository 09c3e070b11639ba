"""Comparisons: every figure of a small world computed by hand, ranking, time series, roles."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from core import ids
from db import histograms
from db import models as m
from db.metrics import CASE_METRICS, DEFINITIONS
from db.models.enums import (
    CaseCategory,
    CaseStatus,
    HelpingHandStatus,
    PartnerKind,
    PartnershipRole,
    Role,
)
from db.session import Database
from db.tenancy import use_district
from resolvers import execution
from resolvers.stats import service
from schema.stats import CaseMetrics
from tests.conftest import MakeDistrict
from tests.http import SHADOW, graphql, post_graphql, token

CST = dt.timezone(dt.timedelta(hours=8))
H = dt.timedelta(hours=1)
PERIOD = {"from": "2026-01-01T00:00:00+08:00", "to": "2026-04-01T00:00:00+08:00"}

METRICS = """
  cases { value sampleSize } open { value sampleSize }
  acceptedWithinDeadline { value sampleSize }
  medianHoursToAccept { value sampleSize } p90HoursToAccept { value sampleSize }
  resolvedWithinDeadline { value sampleSize }
  medianHoursToResolve { value sampleSize } p90HoursToResolve { value sampleSize }
  whistlesBlown { value sampleSize } overdueReportIns { value sampleSize }
  helpingHandRequests { value sampleSize } helpingHandsReceived { value sampleSize }
  reopenRate { value sampleSize } meanSatisfaction { value sampleSize }
  casesPerThousandHouseholds { value sampleSize }
"""

COMMUNITIES = f"""
query ($period: PeriodInput!, $order: MetricOrder, $min: Int, $street: ID,
       $below: Boolean! = true, $exact: Boolean! = false) {{
  statistics {{
    communities(period: $period, orderBy: $order, minimumSample: $min, street: $street,
                includeBelowMinimum: $below, exact: $exact) {{
      orderBy minimumSample exactPercentiles period {{ from to }}
      entries {{ rank belowMinimumSample entryId name households community {{ name }}
                metrics {{ {METRICS} }}
                byCategory {{ category metrics {{ cases {{ value }} open {{ value }} }} }} }}
      totals {{ households metrics {{ {METRICS} }}
                byCategory {{ category metrics {{ cases {{ value }} }} }} }}
    }}
  }}
}}"""

STREETS = """
query ($period: PeriodInput!) {
  statistics { streets(period: $period, minimumSample: 0) {
    entries { rank name households metrics { cases { value sampleSize }
              casesPerThousandHouseholds { value } } }
    totals { households metrics { cases { value } } } } }
}"""

PARTNERS = """
query ($period: PeriodInput!, $order: MetricOrder, $kind: PartnerKind) {
  statistics { partners(period: $period, orderBy: $order, minimumSample: 1, kind: $kind) {
    entries { rank belowMinimumSample name kind partner { name }
              helpingHandsGiven { value sampleSize }
              metrics { cases { value } resolvedWithinDeadline { value sampleSize }
                        medianHoursToResolve { value } casesPerThousandHouseholds { value } } }
    totals { metrics { cases { value } } } } }
}"""

SERIES = """
query ($metric: CaseMetric!, $interval: Interval!, $period: PeriodInput!, $community: ID,
       $partner: ID, $category: CaseCategory) {
  statistics { timeSeries(metric: $metric, interval: $interval, period: $period,
                          community: $community, partner: $partner, category: $category) {
    metric interval exactPercentiles points { start value sampleSize } } }
}"""


@dataclass
class StatsWorld:
    district: m.District
    street1: int
    street2: int
    sigma: int  # street 1: four cases
    shanghe: int  # street 1: one case
    anhe: int  # street 2: no case (named to sort first)
    p1: int
    p2: int
    department: int

    def token(self, role: Role, **scope: Any) -> str:
        return token(role, self.district.code, **scope)


async def build_stats_world(database: Database, district: m.District) -> StatsWorld:
    async with database.platform_transaction() as s:
        await use_district(s, district.id)
        street1, street2 = m.Street(name="中关村街道"), m.Street(name="曙光街道")
        s.add_all([street1, street2])
        await s.flush()
        sigma = m.Community(street_id=street1.id, name="Sigma")
        shanghe = m.Community(street_id=street1.id, name="Shanghe")
        anhe = m.Community(street_id=street2.id, name="Anhe")
        p1 = m.Partner(name="物业一", kind=PartnerKind.PROPERTY_COMPANY)
        p2 = m.Partner(name="物业二", kind=PartnerKind.PROPERTY_COMPANY)
        department = m.Partner(name="住建委", kind=PartnerKind.GOVERNMENT_DEPARTMENT)
        s.add_all([sigma, shanghe, anhe, p1, p2, department])
        await s.flush()
        for community, households in ((sigma, (100, 200)), (shanghe, (500,)), (anhe, (1000,))):
            compound = m.Compound(community_id=community.id, name="院")
            s.add(compound)
            await s.flush()
            for n, count in enumerate(households):
                s.add(
                    m.Building(
                        community_id=community.id,
                        compound_id=compound.id,
                        name=f"{n}号楼",
                        households=count,
                    )
                )
        for partner, community in ((p1, sigma), (p2, shanghe), (p1, anhe)):
            s.add(
                m.Partnership(
                    partner_id=partner.id,
                    community_id=community.id,
                    role=PartnershipRole.PROPERTY_COMPANY,
                )
            )

        def case(
            community: m.Community,
            category: CaseCategory,
            created: dt.datetime,
            status: CaseStatus,
            *,
            accepted: float | None = None,
            resolved: float | None = None,
            partner: m.Partner | None = None,
            satisfaction: int | None = None,
            reopened: int = 0,
        ) -> m.Case:
            row = m.Case(
                community_id=community.id,
                category=category,
                title="case",
                status=status,
                created_at=created,
                accept_due_at=created + 24 * H,
                resolve_due_at=created + 72 * H,
                accepted_at=created + accepted * H if accepted is not None else None,
                resolved_at=created + resolved * H if resolved is not None else None,
                assigned_partner_id=partner.id if partner else None,
                satisfaction=satisfaction,
                reopen_count=reopened,
            )
            s.add(row)
            return row

        t = dt.datetime
        a1 = case(
            sigma, CaseCategory.ELEVATOR, t(2026, 1, 5, 10, tzinfo=CST), CaseStatus.CONFIRMED,
            accepted=2, resolved=50, partner=p1, satisfaction=5,
        )  # fmt: skip
        a2 = case(
            sigma, CaseCategory.ELEVATOR, t(2026, 1, 20, 9, tzinfo=CST), CaseStatus.RESOLVED,
            accepted=30, resolved=100, partner=p1, reopened=1,
        )  # fmt: skip
        # 2026-02-01 01:00 in Beijing: February, though still January in UTC.
        a3 = case(
            sigma, CaseCategory.SANITATION, t(2026, 1, 31, 17, tzinfo=dt.UTC),
            CaseStatus.REPORTED,
        )  # fmt: skip
        case(sigma, CaseCategory.SANITATION, t(2026, 2, 11, 8, tzinfo=CST), CaseStatus.REJECTED)
        b1 = case(
            shanghe, CaseCategory.HEATING, t(2026, 3, 1, 12, tzinfo=CST), CaseStatus.CLOSED,
            accepted=4, resolved=40, partner=p2, satisfaction=3,
        )  # fmt: skip
        # Outside the period: before it, and at its (excluded) end.
        case(sigma, CaseCategory.ELEVATOR, t(2025, 12, 31, 23, tzinfo=CST), CaseStatus.REPORTED)
        case(shanghe, CaseCategory.HEATING, t(2026, 4, 1, tzinfo=CST), CaseStatus.REPORTED)
        await s.flush()
        s.add_all(
            [
                m.CaseWhistle(
                    case_id=a1.id, department_id=department.id, reason="r",
                    blown_at=a1.created_at + H, report_in_due_at=a1.created_at + 30 * H,
                    reported_in_at=a1.created_at + 20 * H,
                ),
                m.CaseWhistle(
                    case_id=a3.id, department_id=department.id, reason="r",
                    blown_at=a3.created_at + H, report_in_due_at=a3.created_at + 30 * H,
                ),
                m.HelpingHand(
                    case_id=a2.id, helper_id=p2.id, reason="r",
                    status=HelpingHandStatus.ACCEPTED,
                ),
                m.HelpingHand(
                    case_id=b1.id, helper_id=p1.id, reason="r",
                    status=HelpingHandStatus.DECLINED,
                ),
            ]
        )  # fmt: skip
    return StatsWorld(
        district, street1.id, street2.id, sigma.id, shanghe.id, anhe.id, p1.id, p2.id,
        department.id,
    )  # fmt: skip


@pytest.fixture
async def world(database: Database, district: m.District) -> StatsWorld:
    return await build_stats_world(database, district)


def figures(metrics: dict[str, Any]) -> dict[str, tuple[float | None, int]]:
    return {
        name: (None if f["value"] is None else round(f["value"], 3), f["sampleSize"])
        for name, f in metrics.items()
    }


PERCENTILE_FIELDS = {"medianHoursToAccept", "p90HoursToAccept", "medianHoursToResolve",
                     "p90HoursToResolve"}  # fmt: skip


def assert_figures(
    metrics: dict[str, Any], expected: dict[str, tuple[float | None, int]], exact: bool
) -> None:
    """The figures equal the hand count; estimated percentiles (not `exact`) within the bound
    of `db.histograms`, with the exact sample."""
    got = figures(metrics)
    if exact:
        assert got == expected
        return
    for name, (value, sample) in expected.items():
        if name in PERCENTILE_FIELDS:
            assert got[name][1] == sample, name
            assert histograms.within_bound(got[name][0], value), (name, got[name], value)
        else:
            assert got[name] == (value, sample), name


SIGMA = {
    "cases": (4, 4),
    "open": (1, 4),
    "acceptedWithinDeadline": (33.333, 3),
    "medianHoursToAccept": (16, 2),
    "p90HoursToAccept": (27.2, 2),
    "resolvedWithinDeadline": (33.333, 3),
    "medianHoursToResolve": (75, 2),
    "p90HoursToResolve": (95, 2),
    "whistlesBlown": (2, 4),
    "overdueReportIns": (1, 2),
    "helpingHandRequests": (1, 4),
    "helpingHandsReceived": (1, 1),
    "reopenRate": (50, 2),
    "meanSatisfaction": (5, 1),
    "casesPerThousandHouseholds": (13.333, 4),
}
SHANGHE = {
    "cases": (1, 1),
    "open": (0, 1),
    "acceptedWithinDeadline": (100, 1),
    "medianHoursToAccept": (4, 1),
    "p90HoursToAccept": (4, 1),
    "resolvedWithinDeadline": (100, 1),
    "medianHoursToResolve": (40, 1),
    "p90HoursToResolve": (40, 1),
    "whistlesBlown": (0, 1),
    "overdueReportIns": (0, 0),
    "helpingHandRequests": (1, 1),
    "helpingHandsReceived": (0, 1),
    "reopenRate": (0, 1),
    "meanSatisfaction": (3, 1),
    "casesPerThousandHouseholds": (2, 1),
}
ANHE = {
    "cases": (0, 0),
    "open": (0, 0),
    "acceptedWithinDeadline": (None, 0),
    "medianHoursToAccept": (None, 0),
    "p90HoursToAccept": (None, 0),
    "resolvedWithinDeadline": (None, 0),
    "medianHoursToResolve": (None, 0),
    "p90HoursToResolve": (None, 0),
    "whistlesBlown": (0, 0),
    "overdueReportIns": (0, 0),
    "helpingHandRequests": (0, 0),
    "helpingHandsReceived": (0, 0),
    "reopenRate": (None, 0),
    "meanSatisfaction": (None, 0),
    "casesPerThousandHouseholds": (0, 0),
}
DISTRICT = {
    "cases": (5, 5),
    "open": (1, 5),
    "acceptedWithinDeadline": (50, 4),
    "medianHoursToAccept": (4, 3),
    "p90HoursToAccept": (24.8, 3),
    "resolvedWithinDeadline": (50, 4),
    "medianHoursToResolve": (50, 3),
    "p90HoursToResolve": (90, 3),
    "whistlesBlown": (2, 5),
    "overdueReportIns": (1, 2),
    "helpingHandRequests": (2, 5),
    "helpingHandsReceived": (1, 2),
    "reopenRate": (33.333, 3),
    "meanSatisfaction": (4, 2),
    "casesPerThousandHouseholds": (2.778, 5),
}


@pytest.mark.parametrize("exact", [False, True], ids=["estimated", "exact"])
async def test_every_community_figure_matches_the_hand_count(
    client: httpx.AsyncClient, world: StatsWorld, exact: bool
) -> None:
    data = await graphql(
        client, COMMUNITIES, {"period": PERIOD, "min": 1, "exact": exact},
        bearer=world.token(Role.DISTRICT_ADMIN),
    )  # fmt: skip
    comparison = data["statistics"]["communities"]
    assert comparison["exactPercentiles"] is exact
    assert comparison["orderBy"] == "CASES"
    assert comparison["minimumSample"] == 1
    entries = comparison["entries"]
    assert [e["name"] for e in entries] == ["Sigma", "Shanghe", "Anhe"]
    assert [e["rank"] for e in entries] == [1, 2, None]
    assert [e["belowMinimumSample"] for e in entries] == [False, False, True]
    assert [e["households"] for e in entries] == [300, 500, 1000]
    assert entries[0]["entryId"] == ids.encode("Community", world.sigma)
    assert entries[0]["community"] == {"name": "Sigma"}
    assert_figures(entries[0]["metrics"], SIGMA, exact)
    assert_figures(entries[1]["metrics"], SHANGHE, exact)
    assert_figures(entries[2]["metrics"], ANHE, exact)
    assert entries[0]["byCategory"] == [
        {"category": "ELEVATOR", "metrics": {"cases": {"value": 2}, "open": {"value": 0}}},
        {"category": "SANITATION", "metrics": {"cases": {"value": 2}, "open": {"value": 1}}},
    ]
    assert entries[2]["byCategory"] == []
    totals = comparison["totals"]
    assert totals["households"] == 1800
    assert_figures(totals["metrics"], DISTRICT, exact)
    assert totals["byCategory"] == [
        {"category": category, "metrics": {"cases": {"value": n}}}
        for category, n in (("ELEVATOR", 2), ("HEATING", 1), ("SANITATION", 2))
    ]


async def test_ranking_minimum_sample_and_stable_ties(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    admin = world.token(Role.DISTRICT_ADMIN)

    async def order(metric: str, direction: str, minimum: int, below: bool = True) -> list[Any]:
        data = await graphql(
            client,
            COMMUNITIES,
            {
                "period": PERIOD,
                "order": {"metric": metric, "direction": direction},
                "min": minimum,
                "below": below,
            },
            bearer=admin,
        )
        return [(e["name"], e["rank"]) for e in data["statistics"]["communities"]["entries"]]

    # One case at 100 % does not top a league that asks for 2: it is listed, unranked, after.
    assert await order("ACCEPTED_WITHIN_DEADLINE", "DESC", 2) == [
        ("Sigma", 1), ("Shanghe", None), ("Anhe", None),
    ]  # fmt: skip
    assert await order("ACCEPTED_WITHIN_DEADLINE", "DESC", 2, below=False) == [("Sigma", 1)]
    assert await order("ACCEPTED_WITHIN_DEADLINE", "DESC", 1) == [
        ("Shanghe", 1), ("Sigma", 2), ("Anhe", None),
    ]  # fmt: skip
    # A tie (no whistle in Anhe and Shanghe) is broken by name, not by id or chance.
    assert await order("WHISTLES_BLOWN", "ASC", 0) == [("Anhe", 1), ("Shanghe", 2), ("Sigma", 3)]
    # Entries without a value come last in either direction.
    assert await order("MEDIAN_HOURS_TO_RESOLVE", "ASC", 0) == [
        ("Shanghe", 1), ("Sigma", 2), ("Anhe", 3),
    ]  # fmt: skip


async def test_streets_roll_up_their_communities(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    data = await graphql(
        client, STREETS, {"period": PERIOD}, bearer=world.token(Role.DISTRICT_ADMIN)
    )
    comparison = data["statistics"]["streets"]
    assert comparison["entries"] == [
        {
            "rank": 1, "name": "中关村街道", "households": 800,
            "metrics": {"cases": {"value": 5, "sampleSize": 5},
                        "casesPerThousandHouseholds": {"value": 6.25}},
        },
        {
            "rank": 2, "name": "曙光街道", "households": 1000,
            "metrics": {"cases": {"value": 0, "sampleSize": 0},
                        "casesPerThousandHouseholds": {"value": 0}},
        },
    ]  # fmt: skip
    assert comparison["totals"] == {"households": 1800, "metrics": {"cases": {"value": 5}}}


async def test_partners_over_the_cases_they_lead(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    data = await graphql(
        client,
        PARTNERS,
        {"period": PERIOD, "order": {"metric": "RESOLVED_WITHIN_DEADLINE"}},
        bearer=world.token(Role.DISTRICT_ADMIN),
    )
    comparison = data["statistics"]["partners"]
    rows = {e["name"]: e for e in comparison["entries"]}
    assert [e["name"] for e in comparison["entries"]] == ["物业二", "物业一", "住建委"]
    assert rows["物业一"]["rank"] == 2
    assert rows["住建委"]["rank"] is None
    median = rows["物业一"]["metrics"].pop("medianHoursToResolve")["value"]
    assert histograms.within_bound(median, 75)  # estimated from the month's histogram
    assert rows["物业一"]["metrics"] == {
        "cases": {"value": 2},
        "resolvedWithinDeadline": {"value": 50, "sampleSize": 2},
        "casesPerThousandHouseholds": {"value": None},
    }
    # P2 accepted the helping hand on a Sigma case; P1 declined the one on a Shanghe case.
    assert rows["物业二"]["helpingHandsGiven"] == {"value": 1, "sampleSize": 1}
    assert rows["物业一"]["helpingHandsGiven"] == {"value": 0, "sampleSize": 1}
    assert rows["物业一"]["partner"] == {"name": "物业一"}
    assert comparison["totals"]["metrics"]["cases"] == {"value": 5}

    only = await graphql(
        client,
        PARTNERS,
        {"period": PERIOD, "kind": "GOVERNMENT_DEPARTMENT"},
        bearer=world.token(Role.DISTRICT_ADMIN),
    )
    assert [e["name"] for e in only["statistics"]["partners"]["entries"]] == ["住建委"]

    given = await graphql(
        client,
        PARTNERS,
        {"period": PERIOD, "order": {"metric": "HELPING_HANDS_GIVEN"}},
        bearer=world.token(Role.DISTRICT_ADMIN),
    )
    assert [e["name"] for e in given["statistics"]["partners"]["entries"]][:2] == [
        "物业二",
        "物业一",
    ]


async def test_time_series_by_month_and_week_in_beijing_time(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    admin = world.token(Role.DISTRICT_ADMIN)
    data = await graphql(
        client,
        SERIES,
        {"metric": "CASES", "interval": "MONTH", "period": PERIOD},
        bearer=admin,
    )
    series = data["statistics"]["timeSeries"]
    assert series["metric"] == "CASES"
    assert series["interval"] == "MONTH"
    points = [(p["start"], p["value"], p["sampleSize"]) for p in series["points"]]
    starts = [dt.datetime.fromisoformat(p[0]).astimezone(CST).date().isoformat() for p in points]
    assert starts == ["2026-01-01", "2026-02-01", "2026-03-01"]
    assert [p[1:] for p in points] == [(2, 2), (2, 2), (1, 1)]

    weekly_median = {
        "metric": "MEDIAN_HOURS_TO_ACCEPT",
        "interval": "WEEK",
        "period": {"from": "2026-01-01T00:00:00+08:00", "to": "2026-01-22T00:00:00+08:00"},
        "community": ids.encode("Community", world.sigma),
    }
    weeks = await graphql(client, SERIES, weekly_median, bearer=admin)
    assert weeks["statistics"]["timeSeries"]["exactPercentiles"] is False
    points = weeks["statistics"]["timeSeries"]["points"]
    starts = [dt.datetime.fromisoformat(p["start"]).astimezone(CST).date() for p in points]
    assert [d.isoformat() for d in starts] == [
        "2025-12-29",
        "2026-01-05",
        "2026-01-12",
        "2026-01-19",
    ]
    assert all(d.weekday() == 0 for d in starts)
    expected = [(None, 0), (2, 1), (None, 0), (30, 1)]
    assert [p["sampleSize"] for p in points] == [sample for _, sample in expected]
    assert all(
        histograms.within_bound(p["value"], value)
        for p, (value, _) in zip(points, expected, strict=True)
    )
    exact = await graphql(
        client,
        SERIES.replace("category: $category)", "category: $category, exact: true)"),
        weekly_median,
        bearer=admin,
    )
    assert exact["statistics"]["timeSeries"]["exactPercentiles"] is True
    assert [
        (p["value"], p["sampleSize"]) for p in exact["statistics"]["timeSeries"]["points"]
    ] == expected

    given = await graphql(
        client,
        SERIES,
        {
            "metric": "HELPING_HANDS_GIVEN",
            "interval": "MONTH",
            "period": PERIOD,
            "partner": ids.encode("Partner", world.p2),
        },
        bearer=admin,
    )
    assert [(p["value"], p["sampleSize"]) for p in given["statistics"]["timeSeries"]["points"]] == [
        (1, 1),
        (0, 0),
        (0, 0),
    ]

    overdue = await graphql(
        client,
        SERIES,
        {"metric": "OVERDUE_REPORT_INS", "interval": "MONTH", "period": PERIOD},
        bearer=admin,
    )
    assert [
        (p["value"], p["sampleSize"]) for p in overdue["statistics"]["timeSeries"]["points"]
    ] == [(0, 1), (1, 1), (0, 0)]

    # The same figure as the comparison's: Sigma's per-thousand-households by month.
    per = await graphql(
        client,
        SERIES,
        {
            "metric": "CASES_PER_THOUSAND_HOUSEHOLDS",
            "interval": "MONTH",
            "period": PERIOD,
            "community": ids.encode("Community", world.sigma),
            "category": "ELEVATOR",
        },
        bearer=admin,
    )
    assert [
        (round(p["value"], 3), p["sampleSize"]) for p in per["statistics"]["timeSeries"]["points"]
    ] == [(6.667, 2), (0, 0), (0, 0)]


async def errors_of(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], bearer: str | None
) -> list[str]:
    response = await post_graphql(client, query, variables, bearer=bearer)
    body = response.json()
    return [e["message"] for e in body.get("errors") or []]


async def test_a_community_worker_sees_only_its_own_community(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    worker = world.token(Role.COMMUNITY_WORKER, community_id=world.shanghe)
    data = await graphql(client, COMMUNITIES, {"period": PERIOD, "min": 0}, bearer=worker)
    comparison = data["statistics"]["communities"]
    assert [e["name"] for e in comparison["entries"]] == ["Shanghe"]
    assert_figures(comparison["totals"]["metrics"], SHANGHE, exact=False)
    street = ids.encode("Street", world.street1)
    messages = await errors_of(client, COMMUNITIES, {"period": PERIOD, "street": street}, worker)
    assert messages
    assert "outside what you may compare" in messages[0]
    messages = await errors_of(client, STREETS, {"period": PERIOD}, worker)
    assert messages == [
        "your statistics cover your own community: comparing streets needs a wider role"
    ]
    sigma = ids.encode("Community", world.sigma)
    messages = await errors_of(
        client,
        SERIES,
        {"metric": "CASES", "interval": "MONTH", "period": PERIOD, "community": sigma},
        worker,
    )
    assert messages == [f"community {sigma!r} is outside what you may compare"]


async def test_a_street_officer_compares_its_street(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    officer = world.token(Role.STREET_OFFICER, street_id=world.street1)
    data = await graphql(client, COMMUNITIES, {"period": PERIOD, "min": 0}, bearer=officer)
    comparison = data["statistics"]["communities"]
    assert [e["name"] for e in comparison["entries"]] == ["Sigma", "Shanghe"]
    assert comparison["totals"]["metrics"]["cases"]["value"] == 5
    assert comparison["totals"]["households"] == 800
    partners = await graphql(client, PARTNERS, {"period": PERIOD}, bearer=officer)
    # Partners serving a community of the street; the department serves none.
    assert [e["name"] for e in partners["statistics"]["partners"]["entries"]] == [
        "物业一",
        "物业二",
    ]


async def test_partner_staff_compare_only_their_partner(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    staff = world.token(Role.PARTNER_STAFF, partner_id=world.p2)
    data = await graphql(client, PARTNERS, {"period": PERIOD}, bearer=staff)
    entries = data["statistics"]["partners"]["entries"]
    assert [e["name"] for e in entries] == ["物业二"]
    # Its help on a case another partner leads still counts for it.
    assert entries[0]["helpingHandsGiven"] == {"value": 1, "sampleSize": 1}
    assert data["statistics"]["partners"]["totals"]["metrics"]["cases"] == {"value": 1}
    messages = await errors_of(client, COMMUNITIES, {"period": PERIOD}, staff)
    assert messages == [
        "your statistics cover your own partner: comparing communities needs a wider role"
    ]


async def test_residents_and_anonymous_visitors_get_no_statistics(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    for bearer in (world.token(Role.RESIDENT), None):
        messages = await errors_of(client, COMMUNITIES, {"period": PERIOD}, bearer)
        assert len(messages) == 1
        assert messages[0].startswith("statistics are for")


async def test_another_districts_admin_sees_nothing_of_this_one(
    client: httpx.AsyncClient, world: StatsWorld, make_district: MakeDistrict
) -> None:
    other = await make_district("西城区")
    admin = token(Role.DISTRICT_ADMIN, other.code)
    data = await graphql(client, COMMUNITIES, {"period": PERIOD}, bearer=admin)
    comparison = data["statistics"]["communities"]
    assert comparison["entries"] == []
    assert comparison["totals"]["metrics"]["cases"] == {"value": 0, "sampleSize": 0}
    sigma = ids.encode("Community", world.sigma)
    messages = await errors_of(
        client,
        SERIES,
        {"metric": "CASES", "interval": "MONTH", "period": PERIOD, "community": sigma},
        admin,
    )
    # Refused with the same words as a community of its own district it may not see.
    assert messages == [f"{sigma!r} is outside what you may compare"]
    messages = await errors_of(client, "{ platformStatistics { __typename } }", {}, admin)
    assert messages == ["platform-wide statistics are for platform operators only"]


DISTRICTS = """
query ($period: PeriodInput!) {
  platformStatistics {
    districts(period: $period, minimumSample: 0) {
      entries { entryId name households metrics { cases { value } meanSatisfaction { value } } }
      totals { metrics { cases { value } } }
    }
    communities(period: $period, minimumSample: 0) { entries { entryId name community { name } } }
  }
}"""


async def test_platform_operators_compare_across_districts(
    client: httpx.AsyncClient, world: StatsWorld, database: Database, make_district: MakeDistrict
) -> None:
    second = await build_stats_world(database, await make_district("西城区"))
    operator = token(Role.PLATFORM_OPERATOR, world.district.code)
    data = await graphql(client, DISTRICTS, {"period": PERIOD}, bearer=operator)
    stats = data["platformStatistics"]
    rows = {e["entryId"]: e for e in stats["districts"]["entries"]}
    for d in (world.district, second.district):
        assert rows[ids.encode("District", d.id)]["metrics"] == {
            "cases": {"value": 5},
            "meanSatisfaction": {"value": 4},
        }
        assert rows[ids.encode("District", d.id)]["households"] == 1800
    assert stats["districts"]["totals"]["metrics"]["cases"]["value"] >= 10
    communities = {e["entryId"]: e for e in stats["communities"]["entries"]}
    # Communities of both districts; only those of the token's district load as nodes.
    assert communities[ids.encode("Community", world.sigma)]["community"] == {"name": "Sigma"}
    assert communities[ids.encode("Community", second.sigma)]["community"] is None
    assert communities[ids.encode("Community", second.sigma)]["name"] == "Sigma"


async def test_bad_arguments_get_clear_errors(client: httpx.AsyncClient, world: StatsWorld) -> None:
    admin = world.token(Role.DISTRICT_ADMIN)
    backwards = {"from": PERIOD["to"], "to": PERIOD["from"]}
    assert await errors_of(client, COMMUNITIES, {"period": backwards}, admin) == [
        "`period.to` must be after `period.from`"
    ]
    long = {"from": "2020-01-01T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00"}
    assert await errors_of(client, COMMUNITIES, {"period": long}, admin) == [
        "a period spans at most 5 years"
    ]
    assert await errors_of(client, COMMUNITIES, {"period": PERIOD, "min": -1}, admin) == [
        "`minimumSample` must be between 0 and 1000000"
    ]
    assert await errors_of(
        client, COMMUNITIES, {"period": PERIOD, "order": {"metric": "HELPING_HANDS_GIVEN"}}, admin
    ) == ["HELPING_HANDS_GIVEN ranks partners only"]
    assert await errors_of(
        client,
        PARTNERS,
        {"period": PERIOD, "order": {"metric": "CASES_PER_THOUSAND_HOUSEHOLDS"}},
        admin,
    ) == ["CASES_PER_THOUSAND_HOUSEHOLDS is not defined for partners (they have no households)"]
    assert await errors_of(
        client, SERIES, {"metric": "HELPING_HANDS_GIVEN", "interval": "WEEK", "period": PERIOD},
        admin,
    ) == ["HELPING_HANDS_GIVEN is a partner's figure: name the `partner`"]  # fmt: skip
    years = {"from": "2021-01-01T00:00:00+08:00", "to": "2026-01-01T00:00:00+08:00"}
    assert await errors_of(
        client, SERIES, {"metric": "CASES", "interval": "WEEK", "period": years}, admin
    ) == ["a time series has at most 260 weeks: shorten the period or use a wider interval"]
    assert await errors_of(
        client, SERIES,
        {"metric": "CASES", "interval": "WEEK", "period": PERIOD, "community": "nope"}, admin,
    ) == ["'nope' is not a valid id"]  # fmt: skip


def test_every_metric_is_a_field_with_its_definition() -> None:
    """One definition per metric: the GraphQL field of each says what the registry says."""
    from resolvers.root import build_schema

    schema = build_schema()
    fields = {
        f.python_name: f
        for f in CaseMetrics.__strawberry_definition__.fields  # type: ignore[attr-defined]
    }
    assert set(fields) == {d.column for d in CASE_METRICS}
    for d in CASE_METRICS:
        assert fields[d.column].description == d.description
    assert set(DEFINITIONS) == {m for m in DEFINITIONS}
    assert "CaseMetrics" in schema.as_str()


async def test_category_breakdown_asked_through_a_fragment(
    client: httpx.AsyncClient, world: StatsWorld
) -> None:
    """The breakdown costs a second pass, so it is computed only when asked: a fragment
    counts as asking, and leaving it out changes no other figure."""
    query = """
    fragment Breakdown on CommunityStanding { byCategory { category } }
    query ($period: PeriodInput!, $with: Boolean!) { statistics {
      communities(period: $period, minimumSample: 0) {
        entries { name metrics { cases { value } medianHoursToResolve { value } }
                  ...Breakdown @include(if: $with) }
        totals { metrics { p90HoursToAccept { value } } } } } }"""
    admin = world.token(Role.DISTRICT_ADMIN)
    with_ = await graphql(client, query, {"period": PERIOD, "with": True}, bearer=admin)
    without = await graphql(client, query, {"period": PERIOD, "with": False}, bearer=admin)
    entries = with_["statistics"]["communities"]["entries"]
    assert [c["category"] for c in entries[0]["byCategory"]] == ["ELEVATOR", "SANITATION"]
    for entry in entries:
        entry.pop("byCategory")
    assert with_ == without


def _series_and_totals(root: str) -> tuple[str, str]:
    series = f"""
    query ($metric: CaseMetric!, $period: PeriodInput!) {{
      {root} {{ timeSeries(metric: $metric, interval: MONTH, period: $period) {{
        points {{ value sampleSize }} }} }}
    }}"""
    totals = f"""
    query ($period: PeriodInput!) {{
      {root} {{ communities(period: $period) {{ totals {{ metrics {{ {METRICS} }} }} }} }}
    }}"""
    return series, totals


def _camel(column: str) -> str:
    first, *rest = column.split("_")
    return first + "".join(word.title() for word in rest)


async def test_a_month_of_a_series_is_the_comparison_of_that_month(
    client: httpx.AsyncClient, world: StatsWorld, database: Database, make_district: MakeDistrict
) -> None:
    """Every metric is the same number in a time series and in a comparison: each month of
    a series equals the totals of a comparison over that month, in a district and across
    districts (where percentiles must be taken over both districts' cases together)."""
    await build_stats_world(database, await make_district("西城区"))
    months = ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
    callers = [
        ("statistics", world.token(Role.DISTRICT_ADMIN)),
        ("platformStatistics", token(Role.PLATFORM_OPERATOR, world.district.code)),
    ]
    for root, bearer in callers:
        series_query, totals_query = _series_and_totals(root)
        series = {}
        for d in CASE_METRICS:
            variables = {"metric": d.metric.value, "period": PERIOD}
            data = await graphql(client, series_query, variables, bearer=bearer)
            series[d.column] = data[root]["timeSeries"]["points"]
        compared = 0
        for i, (start, end) in enumerate(itertools.pairwise(months)):
            period = {"from": f"{start}T00:00:00+08:00", "to": f"{end}T00:00:00+08:00"}
            data = await graphql(client, totals_query, {"period": period}, bearer=bearer)
            totals = data[root]["communities"]["totals"]["metrics"]
            for d in CASE_METRICS:
                point, total = series[d.column][i], totals[_camel(d.column)]
                assert point["sampleSize"] == total["sampleSize"], (root, start, d.column)
                expected = None if total["value"] is None else pytest.approx(total["value"])
                assert point["value"] == expected, (root, start, d.column)
                compared += total["sampleSize"] > 0
        assert compared > 20  # the months hold cases: most figures are about some


TYPED = COMMUNITIES.replace(  # every figure, with type names, in the breakdown too
    "byCategory { category metrics { cases { value } open { value } } }",
    f"byCategory {{ category metrics {{ __typename {METRICS} cases {{ __typename value }} }} }}",
)
assert "__typename" in TYPED


@pytest.mark.parametrize("exact", [False, True])
async def test_figures_answered_off_their_rows_equal_those_read_as_attributes(
    client: httpx.AsyncClient, world: StatsWorld, exact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A comparison's figures are answered straight from the statement's rows: the entries'
    category rows all at once as JSON text (`service._Breakdown`, `resolvers.rows_json`),
    other figures row by row (`service._RowMetrics`, and `service._CategoryRow` for a
    category with its figures); the executor's own path reads them as attributes. All three
    answer the same, percentiles, nulls, type names and the order of keys included."""
    variables = {"period": PERIOD, "min": 0, "exact": exact}
    bearer = world.token(Role.DISTRICT_ADMIN)
    answers: list[Any] = []
    rows: list[tuple[Any, Any]] = []
    at_once: list[Any] = []
    row_backed = (service._RowMetrics, service._CategoryRow)

    def all_at_once(self: Any, plan: Any, answer: Any = service._Breakdown._answer_all) -> Any:
        at_once.append(answer(self, plan))
        return at_once[-1]

    monkeypatch.setattr(service._Breakdown, "_answer_all", all_at_once)
    in_bulk = await graphql(client, TYPED, variables, bearer=bearer)
    # Each request answered its entries' categories once, as JSON text (the tests' client
    # may send a query twice, `tests.http.SHADOW`).
    requests = 2 if getattr(client, SHADOW, None) is not None else 1
    assert len(at_once) == requests
    assert execution.GIVE_UP not in at_once
    assert all(isinstance(one, orjson.Fragment) for answered in at_once for one in answered)
    for kind in row_backed:

        def counting(self: Any, plan: Any, answer: Any = kind.answer) -> Any:
            answers.append(answer(self, plan))
            rows.append((self.row, self.reader))
            return answers[-1]

        monkeypatch.setattr(kind, "answer", counting)
    monkeypatch.setattr(
        service._CategoryRows, "answer_all", lambda self, plan, as_json: execution.GIVE_UP
    )
    off_rows = await graphql(client, TYPED, variables, bearer=bearer)
    # Every group of figures (each entry's and category's, the totals' and theirs) was
    # answered off its row, none left to the executor.
    comparison = off_rows["statistics"]["communities"]
    groups = [e["metrics"] for e in comparison["entries"]]
    groups += [c["metrics"] for e in comparison["entries"] for c in e["byCategory"]]
    groups += [comparison["totals"]["metrics"]]
    groups += [c["metrics"] for c in comparison["totals"]["byCategory"]]
    assert len(answers) == requests * len(groups)
    assert len(groups) >= 10
    assert execution.GIVE_UP not in answers
    # What a row answer takes as it is (`execution.row_answer`'s typed leaves): finite
    # doubles or nulls, and int4 samples, from either statement.
    for row, reader in rows:
        for value_at, sample_at in reader.places.values():
            value, sample = row[value_at], row[sample_at]
            assert value is None or (type(value) is float and math.isfinite(value)), value
            assert type(sample) is int, sample
            assert -(2**31) <= sample < 2**31, sample
    for kind in row_backed:
        monkeypatch.setattr(kind, "answer", lambda self, plan: execution.GIVE_UP)
    as_attributes = await graphql(client, TYPED, variables, bearer=bearer)
    assert json.dumps(in_bulk) == json.dumps(off_rows) == json.dumps(as_attributes)
    entries = off_rows["statistics"]["communities"]["entries"]
    assert entries[0]["byCategory"][0]["metrics"]["__typename"] == "CaseMetrics"
    assert entries[0]["byCategory"][0]["metrics"]["cases"]["__typename"] == "Figure"
