"""The three rates of the monthly assessment, from scratch, against a hand count.

A small world in November 2026 (China time): dispatches signed on time, late, never (past the
deadline, and still within it); a return refused, one upheld and re-dispatched; answers from
follow-ups (the latest reached one counts) and from confirmations; an excluded case; cases
just outside and just inside the month.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import httpx
import openpyxl
import pytest

from core import ids
from db import models as m
from db.assessment import Counts, Level, Weights, counts
from db.models.enums import (
    AssignmentRole,
    CaseCategory,
    CaseStatus,
    ExclusionReason,
    FollowUpChannel,
    ReturnOutcome,
    ReturnReason,
    Role,
    Satisfaction,
)
from db.session import Database
from db.tenancy import use_district
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import graphql, token

CHINA = dt.timezone(dt.timedelta(hours=8))
NOVEMBER = dt.date(2026, 11, 1)
DEFAULT = Weights()


def _at(day: int, hour: int, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=CHINA)


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    world = await build_workflow_world(database, await make_district())
    company, helper = world.property_company_id, world.helper_id
    async with database.platform_transaction() as s:
        await use_district(s, world.district.id)

        def case(title: str, created: dt.datetime, lead: int | None, **fields: object) -> m.Case:
            row = m.Case(
                community_id=fields.pop("community_id", world.community_id),
                category=CaseCategory.ELEVATOR,
                title=title,
                reporter_id=world.resident_id,
                status=fields.pop("status", CaseStatus.ASSIGNED if lead else CaseStatus.REPORTED),
                assigned_partner_id=lead,
                created_at=created,
                updated_at=created,
                **fields,
            )
            s.add(row)
            return row

        c1 = case("c1", _at(1, 9), company, confirmed_at=_at(5, 9), satisfaction=5)
        c2 = case("c2", _at(2, 9), company)
        c3 = case("c3", _at(3, 9), company, confirmed_at=_at(6, 9), satisfaction=3)
        c4 = case("c4", _at(4, 9), helper)
        c5 = case(
            "c5 excluded",
            _at(5, 9),
            company,
            excluded_at=_at(6, 9),
            exclusion_reason=ExclusionReason.REPEATED_REQUEST,
            confirmed_at=_at(6, 9),
            satisfaction=5,
        )
        case("c6 October", dt.datetime(2026, 10, 31, 23, tzinfo=CHINA), None)
        case("c7 last hour", dt.datetime(2026, 11, 30, 23, 30, tzinfo=CHINA), None)
        c8 = case("c8 within its deadline", _at(8, 9), company)
        c9 = case(
            "c9",
            _at(9, 9),
            company,
            community_id=world.other_community_id,
            confirmed_at=_at(10, 9),
            satisfaction=1,
        )
        await s.flush()

        def dispatch(
            row: m.Case,
            partner: int,
            role: AssignmentRole,
            due: dt.datetime,
            signed: dt.datetime | None = None,
            ended: dt.datetime | None = None,
        ) -> None:
            s.add(
                m.CaseAssignment(
                    case_id=row.id,
                    partner_id=partner,
                    role=role,
                    task="协助" if role is AssignmentRole.CO_HANDLER else None,
                    assigned_at=row.created_at,
                    sign_for_due_at=due,
                    signed_for_at=signed,
                    ended_at=ended,
                )
            )

        lead, co = AssignmentRole.LEAD, AssignmentRole.CO_HANDLER
        dispatch(c1, company, lead, _at(1, 11), signed=_at(1, 10))  # on time
        dispatch(c1, helper, co, _at(1, 11), signed=_at(1, 12))  # late
        dispatch(c2, company, lead, _at(2, 11))  # never, deadline passed
        dispatch(c3, company, lead, _at(3, 11), signed=_at(3, 10))  # on time, but refused
        dispatch(c4, company, lead, _at(4, 11), ended=_at(4, 15))  # returned, upheld
        dispatch(c4, helper, lead, _at(4, 17), signed=_at(4, 16))  # re-dispatched, on time
        dispatch(c5, company, lead, _at(5, 11), signed=_at(5, 10))
        dispatch(c8, company, lead, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
        dispatch(c9, company, lead, _at(9, 11), signed=_at(9, 10))

        def returned(row: m.Case, outcome: ReturnOutcome) -> None:
            s.add(
                m.CaseReturn(
                    case_id=row.id,
                    partner_id=company,
                    reason=ReturnReason.NOT_OUR_AREA,
                    explanation="x",
                    outcome=outcome,
                )
            )

        returned(c3, ReturnOutcome.REFUSED)
        returned(c4, ReturnOutcome.UPHELD)

        def follow_up(row: m.Case, at: dt.datetime, **answer: object) -> None:
            s.add(
                m.CaseFollowUp(
                    case_id=row.id,
                    channel=FollowUpChannel.PHONE,
                    recorded_at=at,
                    reached=bool(answer),
                    **answer,
                )
            )

        # c2: a satisfied answer, then a later unsatisfied one (which counts), then not reached.
        follow_up(c2, _at(10, 9), resolved=True, satisfaction=Satisfaction.SATISFIED)
        follow_up(c2, _at(11, 9), resolved=False, satisfaction=Satisfaction.UNSATISFIED)
        follow_up(c2, _at(12, 9))
        # c3: not reached: its confirmation (rating 3) is the answer.
        follow_up(c3, _at(7, 9))
    return world


def _by_id(rows: list[Counts]) -> dict[int, Counts]:
    return {r.entry_id: r for r in rows}


async def _counts(
    database: Database, world: WorkflowWorld, level: Level, weights: Weights = DEFAULT
) -> dict[int, Counts]:
    async with database.platform_session() as s:
        await use_district(s, world.district.id)
        return _by_id(await counts(s, NOVEMBER, level, weights))


async def test_communities_and_their_street_against_a_hand_count(
    database: Database, world: WorkflowWorld
) -> None:
    rows = await _counts(database, world, Level.COMMUNITY)
    a, b = rows[world.community_id], rows[world.other_community_id]
    # A: c1, c2, c3, c4, c7, c8 (c5 excluded, c6 in October).
    assert a.cases == 6
    # Lead dispatches decided: c1 on time, c2 never, c3 refused return, c4's new lead on time
    # (the upheld return leaves the first lead out); c8 still within its deadline.
    assert (a.dispatches, a.responded) == (4, 2)
    # Answers: c1 confirmed, c2's latest reached follow-up (unresolved), c3 confirmed.
    assert (a.answered, a.resolved) == (3, 2)
    assert (a.satisfaction_answers, a.satisfaction_points) == (3, 2.0)
    assert a.refused_returns == 1
    assert a.response_rate == 50.0
    assert a.resolution_rate == pytest.approx(66.667, abs=0.001)
    assert a.satisfaction_rate == pytest.approx(66.667, abs=0.001)
    assert (b.cases, b.dispatches, b.responded, b.answered, b.resolved) == (1, 1, 1, 1, 1)
    assert (b.satisfaction_answers, b.satisfaction_points, b.refused_returns) == (1, 0.0, 0)
    # The street (both communities) is their sum.
    [street] = (await _counts(database, world, Level.STREET)).values()
    assert street.entry_id == world.street_id
    assert (street.cases, street.dispatches, street.responded) == (7, 5, 3)
    assert (street.answered, street.resolved, street.satisfaction_answers) == (4, 3, 4)
    assert (street.satisfaction_points, street.refused_returns) == (2.0, 1)


async def test_partners_are_scored_on_each_of_their_dispatches(
    database: Database, world: WorkflowWorld
) -> None:
    rows = await _counts(database, world, Level.PARTNER)
    company, helper = rows[world.property_company_id], rows[world.helper_id]
    # Company: c1 on time, c2 never, c3 refused, c9 on time; c4 (upheld) and c8 (pending) out.
    assert (company.dispatches, company.responded) == (4, 2)
    # The cases it leads now: c1, c2, c3, c8, c9; answers on c1, c2, c3, c9.
    assert (company.cases, company.answered, company.resolved) == (5, 4, 3)
    assert (company.satisfaction_answers, company.satisfaction_points) == (4, 2.0)
    assert company.refused_returns == 1
    # Helper: late on its c1 task, on time as c4's new lead.
    assert (helper.dispatches, helper.responded, helper.cases, helper.answered) == (2, 1, 1, 0)


async def test_the_weight_of_each_answer_is_configurable(
    database: Database, world: WorkflowWorld
) -> None:
    half = Weights(satisfied=1.0, basically_satisfied=0.5, unsatisfied=0.0)
    rows = await _counts(database, world, Level.COMMUNITY, half)
    assert rows[world.community_id].satisfaction_points == 1.5


LEAGUE = """query($month: String!, $level: AssessmentLevel!, $min: Int) {
  statistics { assessment(month: $month, level: $level, minimumSample: $min) {
    month level minimumSample
    weights { response resolution satisfaction source effectiveMonth }
    entries { rank belowMinimumSample entryId name cases score refusedReturns
              previousRank movement
              responseRate { value numerator denominator sampleSize }
              resolutionRate { value numerator denominator }
              satisfactionRate { value numerator denominator } } } } }"""
WEIGHTS = """mutation($m: String!, $a: Float!, $b: Float!, $c: Float!) {
  setAssessmentWeights(effectiveMonth: $m, response: $a, resolution: $b, satisfaction: $c) {
    __typename ... on AssessmentWeightsSet { weights { source effectiveMonth response } }
    ... on Error { code message field } } }"""


async def _league(
    client: httpx.AsyncClient,
    bearer: str,
    level: str = "COMMUNITY",
    month: str = "2026-11",
    minimum: int | None = 0,
) -> dict[str, Any]:
    data = await graphql(
        client, LEAGUE, {"month": month, "level": level, "min": minimum}, bearer=bearer
    )
    result: dict[str, Any] = data["statistics"]["assessment"]
    return result


async def test_the_league_table_scores_ranks_and_shows_each_rate(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    league = await _league(client, admin)
    assert league["weights"] == {
        "response": 30.0,
        "resolution": 35.0,
        "satisfaction": 35.0,
        "source": "DEFAULT",
        "effectiveMonth": None,
    }
    a, b = (
        next(e for e in league["entries"] if e["entryId"] == ids.encode("Community", i))
        for i in (world.community_id, world.other_community_id)
    )
    assert a["responseRate"] == {"value": 50.0, "numerator": 2.0, "denominator": 4, "sampleSize": 4}
    assert a["resolutionRate"]["numerator"] == 2.0
    assert a["resolutionRate"]["denominator"] == 3
    assert a["satisfactionRate"]["denominator"] == 3
    assert a["refusedReturns"] == 1
    # 30 % × 50 + 35 % × 66.7 + 35 % × 66.7 = 61.7; B: 30 % × 100 + 35 % × 100 + 35 % × 0 = 65.
    assert a["score"] == pytest.approx(61.667, abs=0.001)
    assert b["score"] == pytest.approx(65.0)
    assert (b["rank"], a["rank"]) == (1, 2)
    assert (a["previousRank"], a["movement"]) == (None, None)  # nothing scored in October
    # The minimum sample: B has one case, so with 5 it is listed but not ranked.
    five = await _league(client, admin, minimum=5)
    ranks = {e["entryId"]: (e["rank"], e["belowMinimumSample"]) for e in five["entries"]}
    assert ranks[a["entryId"]] == (1, False)
    assert ranks[b["entryId"]] == (None, True)
    # Partners and the street, from the same counts.
    partners = await _league(client, admin, "PARTNER")
    company = next(
        e
        for e in partners["entries"]
        if e["entryId"] == ids.encode("Partner", world.property_company_id)
    )
    assert (company["responseRate"]["numerator"], company["responseRate"]["denominator"]) == (
        2.0,
        4,
    )
    [street] = (await _league(client, admin, "STREET"))["entries"]
    assert street["cases"] == 7


async def test_a_weight_change_applies_from_its_month_on(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    variables = {"m": "2026-11", "a": 100.0, "b": 0.0, "c": 0.0}
    done = await graphql(client, WEIGHTS, variables, bearer=admin)
    assert done["setAssessmentWeights"]["weights"] == {
        "source": "DISTRICT",
        "effectiveMonth": "2026-11",
        "response": 100.0,
    }
    refused = await graphql(client, WEIGHTS, {**variables, "a": 90.0}, bearer=admin)
    assert refused["setAssessmentWeights"]["code"] == "VALIDATION_FAILED"
    street = token(Role.STREET_OFFICER, world.district.code, street_id=world.street_id)
    denied = await graphql(client, WEIGHTS, variables, bearer=street)
    assert denied["setAssessmentWeights"]["__typename"] == "PermissionDenied"
    november = await _league(client, admin)
    assert november["weights"]["source"] == "DISTRICT"
    scores = {e["entryId"]: e["score"] for e in november["entries"]}
    # Response only: A 50, B 100.
    assert scores[ids.encode("Community", world.community_id)] == 50.0
    assert scores[ids.encode("Community", world.other_community_id)] == 100.0
    # October keeps the weights in force then.
    october = await _league(client, admin, month="2026-10")
    assert october["weights"]["source"] == "DEFAULT"


async def test_each_role_sees_its_own_entries(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    committee = token(Role.COMMITTEE_MEMBER, world.district.code, community_id=world.community_id)
    mine = await _league(client, committee)
    assert [e["entryId"] for e in mine["entries"]] == [ids.encode("Community", world.community_id)]
    partner = token(Role.PARTNER_STAFF, world.district.code, partner_id=world.helper_id)
    own = await _league(client, partner, "PARTNER")
    assert [e["entryId"] for e in own["entries"]] == [ids.encode("Partner", world.helper_id)]
    response = await client.post(
        "/graphql",
        json={"query": LEAGUE, "variables": {"month": "2026-11", "level": "STREET", "min": 0}},
        headers={"Authorization": f"Bearer {committee}"},
    )
    [error] = response.json()["errors"]
    assert "wider role" in error["message"]
    bad = await client.post(
        "/graphql",
        json={"query": LEAGUE, "variables": {"month": "November", "level": "STREET"}},
        headers={"Authorization": f"Bearer {token(Role.DISTRICT_ADMIN, world.district.code)}"},
    )
    assert "YYYY-MM" in bad.json()["errors"][0]["message"]


WATCH = """query($month: String!, $t: Float, $share: Float!) {
  statistics { watchList(month: $month, level: COMMUNITY, threshold: $t, lowestShare: $share,
                         minimumSample: 0) {
    month threshold lowestShare
    entries { entryId name rank score reasons consecutiveMonths } } } }"""


async def test_the_watch_list_counts_consecutive_months_and_movement_is_shown(
    client: httpx.AsyncClient, database: Database, world: WorkflowWorld
) -> None:
    # October: A's case never signed for and rated 1 (score 35); B's signed on time, rated 5.
    async with database.platform_transaction() as s:
        await use_district(s, world.district.id)
        for community, signed, rating in (
            (world.community_id, None, 1),
            (world.other_community_id, _at(2, 10, month=10), 5),
        ):
            row = m.Case(
                community_id=community,
                category=CaseCategory.NOISE,
                title="十月",
                reporter_id=world.resident_id,
                status=CaseStatus.CONFIRMED,
                assigned_partner_id=world.property_company_id,
                created_at=_at(2, 9, month=10),
                updated_at=_at(2, 9, month=10),
                confirmed_at=_at(4, 9, month=10),
                satisfaction=rating,
            )
            s.add(row)
            await s.flush()
            s.add(
                m.CaseAssignment(
                    case_id=row.id,
                    partner_id=world.property_company_id,
                    role=AssignmentRole.LEAD,
                    assigned_at=row.created_at,
                    sign_for_due_at=_at(2, 11, month=10),
                    signed_for_at=signed,
                )
            )
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    a_id = ids.encode("Community", world.community_id)
    league = await _league(client, admin)
    a = next(e for e in league["entries"] if e["entryId"] == a_id)
    assert (a["rank"], a["previousRank"], a["movement"]) == (2, 2, 0)
    data = await graphql(client, WATCH, {"month": "2026-11", "t": 62.0, "share": 0.1}, bearer=admin)
    [watched] = data["statistics"]["watchList"]["entries"]
    assert watched["entryId"] == a_id
    assert set(watched["reasons"]) == {"BELOW_THRESHOLD", "LOWEST_SHARE"}
    assert watched["consecutiveMonths"] == 2
    # A threshold only, below both: nobody; a share of zero and no threshold: nobody.
    none = await graphql(client, WATCH, {"month": "2026-11", "t": 30.0, "share": 0.0}, bearer=admin)
    assert none["statistics"]["watchList"]["entries"] == []


HOTSPOTS = """query($place: HotspotPlace!) {
  statistics { hotspots(month: "2026-11", place: $place) {
    month place
    byCount { category placeId placeName cases previousMean growth growthRate }
    byGrowth { category placeId cases }
    repeatedFacilities { facilityId cases } } } }"""


async def test_hotspots_by_count_and_growth_and_repeated_facilities(
    client: httpx.AsyncClient, database: Database, world: WorkflowWorld
) -> None:
    async with database.platform_transaction() as s:
        await use_district(s, world.district.id)
        for day in (20, 21, 22):
            s.add(
                m.Case(
                    community_id=world.community_id,
                    facility_id=world.facility_id,
                    category=CaseCategory.ELEVATOR,
                    title="电梯又坏",
                    reporter_id=world.resident_id,
                    created_at=_at(day, 9),
                    updated_at=_at(day, 9),
                )
            )
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    data = await graphql(client, HOTSPOTS, {"place": "COMMUNITY"}, bearer=admin)
    spots = data["statistics"]["hotspots"]
    a_id = ids.encode("Community", world.community_id)
    first, second = spots["byCount"]
    # A: c1–c4, c7, c8 and the three at the facility (c5 excluded); B: c9. All ELEVATOR.
    assert (first["placeId"], first["category"], first["cases"]) == (a_id, "ELEVATOR", 9)
    # August to October: c6 (31 October) alone, a mean of a third a month.
    assert first["previousMean"] == pytest.approx(1 / 3)
    assert first["growth"] == pytest.approx(9 - 1 / 3)
    assert first["growthRate"] == pytest.approx(2600.0)
    assert (second["cases"], second["previousMean"], second["growthRate"]) == (1, 0.0, None)
    assert [g["placeId"] for g in spots["byGrowth"]] == [a_id, second["placeId"]]
    [facility] = spots["repeatedFacilities"]
    assert facility == {"facilityId": ids.encode("Facility", world.facility_id), "cases": 3}
    by_facility = await graphql(client, HOTSPOTS, {"place": "FACILITY"}, bearer=admin)
    [spot] = by_facility["statistics"]["hotspots"]["byCount"]
    assert (spot["placeId"], spot["cases"]) == (facility["facilityId"], 3)
    # A partner sees the hotspots of the cases it leads only.
    partner = token(Role.PARTNER_STAFF, world.district.code, partner_id=world.helper_id)
    own = await graphql(client, HOTSPOTS, {"place": "COMMUNITY"}, bearer=partner)
    assert [h["cases"] for h in own["statistics"]["hotspots"]["byCount"]] == [1]


FIGURE = """query($level: AssessmentLevel!, $entry: ID!, $figure: AssessmentFigure!) {
  statistics { assessmentCases(month: "2026-11", level: $level, entry: $entry,
                               figure: $figure, first: 50) {
    totalCount nodes { title } } } }"""


async def test_the_cases_behind_each_figure(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    community = ids.encode("Community", world.community_id)
    company = ids.encode("Partner", world.property_company_id)

    async def titles(level: str, entry: str, figure: str, bearer: str = admin) -> list[str]:
        data = await graphql(
            client, FIGURE, {"level": level, "entry": entry, "figure": figure}, bearer=bearer
        )
        connection = data["statistics"]["assessmentCases"]
        assert connection["totalCount"] == len(connection["nodes"])
        return sorted(n["title"] for n in connection["nodes"])

    assert await titles("COMMUNITY", community, "CASES") == sorted(
        ["c1", "c2", "c3", "c4", "c7 last hour", "c8 within its deadline"]
    )
    assert await titles("COMMUNITY", community, "RESPONDED") == ["c1", "c4"]
    assert await titles("COMMUNITY", community, "DISPATCHED") == ["c1", "c2", "c3", "c4"]
    assert await titles("COMMUNITY", community, "RESOLVED") == ["c1", "c3"]
    assert await titles("COMMUNITY", community, "ANSWERED") == ["c1", "c2", "c3"]
    assert await titles("COMMUNITY", community, "SATISFIED") == ["c1", "c3"]
    assert await titles("COMMUNITY", community, "REFUSED_RETURNS") == ["c3"]
    assert await titles("PARTNER", company, "DISPATCHED") == ["c1", "c2", "c3", "c9"]
    # A partner may list its own figures only.
    staff = token(Role.PARTNER_STAFF, world.district.code, partner_id=world.helper_id)
    assert await titles("PARTNER", ids.encode("Partner", world.helper_id), "RESPONDED", staff) == [
        "c4"
    ]
    response = await client.post(
        "/graphql",
        json={
            "query": FIGURE,
            "variables": {"level": "PARTNER", "entry": company, "figure": "CASES"},
        },
        headers={"Authorization": f"Bearer {staff}"},
    )
    assert "own partner" in response.json()["errors"][0]["message"]


async def test_exports_as_csv_and_xlsx_equal_the_table(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    league = await _league(client, admin)
    url = "/exports/assessment.csv?month=2026-11&level=COMMUNITY&minimumSample=0"
    response = await client.get(url, headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "assessment-community-2026-11.csv" in response.headers["content-disposition"]
    header, *rows = _csv_rows(response.content)  # with its byte-order mark: Excel reads UTF-8
    assert header[:4] == ["排名", "名称", "案件数", "综合得分"]
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (str(e["rank"]), e["name"], str(e["cases"])) for e in league["entries"]
    ]
    assert [float(r[3]) for r in rows] == [round(e["score"], 1) for e in league["entries"]]

    xlsx = await client.get(
        url.replace(".csv", ".xlsx"), headers={"Authorization": f"Bearer {admin}"}
    )
    assert xlsx.status_code == 200
    # Read back with the library that wrote it: the same rows, Chinese text intact.
    assert _xlsx_rows(xlsx.content) == _cells([header, *rows])

    watch = await client.get(
        "/exports/watch-list.csv?month=2026-11&level=COMMUNITY&lowestShare=0.5&minimumSample=0",
        headers={"Authorization": f"Bearer {admin}"},
    )
    header, *rows = _csv_rows(watch.content)
    assert header == ["名称", "排名", "综合得分", "原因", "连续月数"]
    assert len(rows) == 1
    # Refusals are GraphQL-shaped, with a code; no token never gets a file.
    anonymous = await client.get(url)
    assert anonymous.status_code == 401
    bad = await client.get(
        "/exports/assessment.csv?month=2026-11&level=PLANET",
        headers={"Authorization": f"Bearer {admin}"},
    )
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["extensions"]["code"]
    missing = await client.get("/exports/nothing.csv", headers={"Authorization": f"Bearer {admin}"})
    assert missing.status_code == 404


def _cells(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows of an export with numbers as numbers (a CSV's "65.0" and a sheet's 65 agree)."""

    def cell(value: Any) -> Any:
        if value is None or value == "":
            return ""
        try:
            return float(value)
        except ValueError:
            return str(value)

    return [[cell(v) for v in row] for row in rows]


def _xlsx_rows(content: bytes) -> list[list[Any]]:
    """An export's sheet read back with openpyxl, which wrote it."""
    book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
    (sheet,) = book.worksheets
    rows = _cells([list(row) for row in sheet.iter_rows(values_only=True)])
    book.close()
    return rows


def _csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


COMPARISON = """query ($period: PeriodInput!) { statistics {
  communities(period: $period, minimumSample: 0) { entries { rank name metrics {
    cases { value } open { value } acceptedWithinDeadline { value } reopenRate { value }
    meanSatisfaction { value } casesPerThousandHouseholds { value } } } } } }"""


async def test_a_comparison_exports_as_csv_and_xlsx(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    period = {"from": "2026-11-01T00:00:00+08:00", "to": "2026-12-01T00:00:00+08:00"}
    answer = await graphql(client, COMPARISON, {"period": period}, bearer=admin)
    entries = answer["statistics"]["communities"]["entries"]
    assert entries
    # The offset's `+` left unencoded (a space once decoded) is read as meant.
    url = (
        "/exports/comparison.csv?level=community&from=2026-11-01T00:00:00%2B08:00"
        "&to=2026-12-01T00:00:00+08:00&minimumSample=0"
    )
    response = await client.get(url, headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 200, response.text
    assert (
        "comparison-community-2026-11-01-2026-12-01.csv"
        in (response.headers["content-disposition"])
    )
    header, *rows = _csv_rows(response.content)
    assert header[:3] == ["排名", "名称", "案件数"]
    column = {name: header.index(name) for name in header}

    def shown(value: object) -> str:
        return "" if value is None else str(round(value, 1) if isinstance(value, float) else value)

    assert [
        [r[0], r[1], r[column["案件数"]], r[column["按时受理率(%)"]], r[column["平均满意度"]]]
        for r in rows
    ] == [
        [
            shown(e["rank"]),
            e["name"],
            shown(e["metrics"]["cases"]["value"]),
            shown(e["metrics"]["acceptedWithinDeadline"]["value"]),
            shown(e["metrics"]["meanSatisfaction"]["value"]),
        ]
        for e in entries
    ]
    xlsx = await client.get(
        url.replace(".csv", ".xlsx"), headers={"Authorization": f"Bearer {admin}"}
    )
    assert xlsx.status_code == 200
    assert _xlsx_rows(xlsx.content) == _cells([header, *rows])
    for query, why in (
        ("level=PLANET&from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z", "level"),
        ("level=STREET&from=yesterday&to=2026-12-01T00:00:00Z", "from"),
    ):
        bad = await client.get(
            f"/exports/comparison.csv?{query}", headers={"Authorization": f"Bearer {admin}"}
        )
        assert bad.status_code == 400, why
        assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", why


async def test_another_districts_entry_lists_no_case(
    client: httpx.AsyncClient, world: WorkflowWorld, make_district: MakeDistrict
) -> None:
    other = await make_district()
    stranger = token(Role.DISTRICT_ADMIN, other.code)
    data = await graphql(
        client,
        FIGURE,
        {
            "level": "COMMUNITY",
            "entry": ids.encode("Community", world.community_id),
            "figure": "CASES",
        },
        bearer=stranger,
    )
    assert data["statistics"]["assessmentCases"] == {"totalCount": 0, "nodes": []}
    league = await _league(client, stranger)
    assert league["entries"] == []
    # Narrowed to this district's community: nothing, and nothing of it in the whole.
    alone = await graphql(
        client,
        OVERALL,
        {
            "month": "2026-11",
            "level": "COMMUNITY",
            "entry": ids.encode("Community", world.community_id),
        },
        bearer=stranger,
    )
    assert alone["statistics"]["assessment"]["entries"] == []
    assert alone["statistics"]["assessment"]["overall"]["cases"] == 0


OVERALL = """query($month: String!, $level: AssessmentLevel!, $entry: ID) {
  statistics { assessment(month: $month, level: $level, minimumSample: 0, entry: $entry) {
    entries { rank entryId cases score refusedReturns
              responseRate { numerator denominator } resolutionRate { numerator denominator }
              satisfactionRate { numerator denominator } }
    overall { cases score refusedReturns responseRate { value numerator denominator }
              resolutionRate { value numerator denominator }
              satisfactionRate { value numerator denominator } } } } }"""


async def test_the_overall_sums_the_entries_and_one_entry_keeps_its_rank(
    client: httpx.AsyncClient, world: WorkflowWorld
) -> None:
    admin = token(Role.DISTRICT_ADMIN, world.district.code)

    async def assessment(level: str, entry: str | None = None) -> dict[str, Any]:
        data = await graphql(
            client, OVERALL, {"month": "2026-11", "level": level, "entry": entry}, bearer=admin
        )
        result: dict[str, Any] = data["statistics"]["assessment"]
        return result

    communities = await assessment("COMMUNITY")
    overall, entries = communities["overall"], communities["entries"]
    # By hand (the world above): A responded 2 of 4 dispatches, resolved 2 of 3 answered, 2 of
    # 3 satisfied, 1 refused return, 6 cases; B 1 of 1, 1 of 1, 0 of 1, 1 case.
    assert overall["responseRate"] == {"value": 60.0, "numerator": 3.0, "denominator": 5}
    assert overall["resolutionRate"] == {"value": 75.0, "numerator": 3.0, "denominator": 4}
    assert overall["satisfactionRate"] == {"value": 50.0, "numerator": 2.0, "denominator": 4}
    assert overall["refusedReturns"] == 1
    assert overall["cases"] == sum(e["cases"] for e in entries)
    for field in ("responseRate", "resolutionRate", "satisfactionRate"):
        for part in ("numerator", "denominator"):
            assert overall[field][part] == sum(e[field][part] for e in entries)
    # 30 % × 60 + 35 % × 75 + 35 % × 50.
    assert overall["score"] == pytest.approx(61.75)
    # Every case is in one community and one street: the same whole either way.
    assert (await assessment("STREET"))["overall"] == overall
    # One entry: ranked as among all, the overall unchanged.
    second = entries[1]
    alone = await assessment("COMMUNITY", second["entryId"])
    assert alone["entries"] == [second]
    assert alone["overall"] == overall
    # An id of another kind is refused with what was wrong.
    response = await client.post(
        "/graphql",
        json={
            "query": OVERALL,
            "variables": {
                "month": "2026-11",
                "level": "COMMUNITY",
                "entry": ids.encode("Street", world.street_id),
            },
        },
        headers={"Authorization": f"Bearer {admin}"},
    )
    [error] = response.json()["errors"]
    assert "Community" in error["message"]
