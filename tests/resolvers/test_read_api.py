"""The read API over HTTP on the demo world: every entity, every link, Relay conventions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core import ids
from db import models as m
from db.models.enums import Role
from db.session import Database
from db.tenancy import use_district
from tests.http import graphql, post_graphql, token

WALK_PLACES = """
query WalkPlaces {
  district {
    code name
    streets(first: 10) { totalCount nodes { id name
      district { code }
      communities(first: 5) { totalCount nodes { id name households street { name }
        compounds(first: 20) { totalCount nodes { id name community { name }
          buildings { nodes { id name households compound { name } community { name }
            facilities(first: 3) { nodes { id name kind installYear building { name } } }
            notices(first: 3) { nodes { title } }
          } }
          facilities(first: 100) { totalCount }
        } }
        buildings(first: 100) { totalCount }
        facilities(first: 100) { totalCount nodes { kind installYear compound { name } } }
      } }
    } }
  }
}
"""

WALK_GOVERNANCE = """
query WalkGovernance {
  district {
    communities { nodes { name
      committees { nodes { id kind name establishedOn community { name }
        members(first: 20) { totalCount nodes { id role seatSource expertise termStart termEnd
          votesReceived committee { kind } person { id name } seatBuilding { name } } }
      } }
      partnerships(first: 50) { totalCount nodes { id role isLead since reportedInOn
        community { name }
        partner { id name kind partnerships { totalCount } }
        compounds { nodes { name } }
      } }
      notices { totalCount nodes { id kind title body validFrom validUntil withdrawnAt
        community { name } building { name } author { name } } }
    } }
    partners(first: 100) { totalCount nodes { name kind contactName } }
  }
}
"""

WALK_CASES = """
query WalkCases {
  district {
    cases(first: 100) { totalCount nodes { id title status category priority version
      feeWaived feeWaiverReason satisfaction createdAt acceptDueAt resolveDueAt overdue
      community { name } compound { name } building { name } facility { name kind }
      reporter { id name } assignedPartner { id name assignedCases { totalCount } }
      duplicateOf { id }
      events(first: 100) { totalCount nodes { id seq kind occurredAt payload
        case { id } actor { name } actorPartner { name } } }
      meetings { nodes { id title status scheduledAt outcome
        decisions { text responsiblePartner { name } }
        community { name }
        cases { totalCount nodes { id } }
        attendees(first: 50) { nodes { attended partner { name } person { name } } }
      } }
    } }
    meetings { totalCount }
    notices { totalCount }
  }
}
"""

PERSON = """
query Person($id: ID!) {
  node(id: $id) { ... on Person { name phone birthDate livesAlone homeCommunity { name }
    homeBuilding { name } reportedCases { totalCount }
    roleBindings { nodes { role person { name } street { name } community { name }
      partner { name } } } } }
}
"""


@pytest.fixture
def admin() -> str:
    return token(Role.DISTRICT_ADMIN, "haidian")


async def _haidian(database: Database) -> int:
    async with database.platform_session() as session:
        district_id = await session.scalar(
            select(m.District.id).where(m.District.code == "haidian")
        )
    assert district_id is not None
    return int(district_id)


async def _rows(database: Database, model: type[Any], *where: Any) -> list[Any]:
    async with database.platform_session() as session:
        await use_district(session, await _haidian(database))
        return list(await session.scalars(select(model).where(*where)))


async def test_places_walk_from_district_to_facilities(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    data = await graphql(client, WALK_PLACES, bearer=admin)
    district = data["district"]
    assert district["code"] == "haidian"
    streets = district["streets"]["nodes"]
    assert {s["name"] for s in streets} == {"中关村街道", "曙光街道"}
    communities = {c["name"]: c for s in streets for c in s["communities"]["nodes"]}
    xigema = communities["希格玛社区"]
    assert xigema["households"] == 1880
    assert xigema["compounds"]["totalCount"] == 9
    assert xigema["street"]["name"] == "中关村街道"
    for compound in xigema["compounds"]["nodes"]:
        assert compound["community"]["name"] == "希格玛社区"
        for building in compound["buildings"]["nodes"]:
            assert building["compound"]["name"] == compound["name"]
            assert building["community"]["name"] == "希格玛社区"
    assert (
        sum(b["households"] for c in xigema["compounds"]["nodes"] for b in c["buildings"]["nodes"])
        == 1880
    )
    shanghe = communities["上河村社区"]
    elevators = [f for f in shanghe["facilities"]["nodes"] if f["kind"] == "ELEVATOR"]
    assert len(elevators) == 56
    assert sum(1 for f in elevators if f["installYear"] <= 2004) == 29
    assert xigema["buildings"]["totalCount"] == sum(
        len(c["buildings"]["nodes"]) for c in xigema["compounds"]["nodes"]
    )


async def test_governance_walk_committees_partners_notices(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    data = await graphql(client, WALK_GOVERNANCE, bearer=admin)
    communities = {c["name"]: c for c in data["district"]["communities"]["nodes"]}
    xigema = communities["希格玛社区"]
    committees = {c["kind"]: c for c in xigema["committees"]["nodes"]}
    huanwu = committees["ENVIRONMENT_PROPERTY"]
    assert huanwu["members"]["totalCount"] == 9
    owners = [s for s in huanwu["members"]["nodes"] if s["seatSource"] == "OWNER"]
    assert len(owners) == 6
    assert all(s["seatBuilding"] and s["votesReceived"] and s["person"]["name"] for s in owners)
    assert all(s["committee"]["kind"] == "ENVIRONMENT_PROPERTY" for s in huanwu["members"]["nodes"])
    shanghe = communities["上河村社区"]
    partnerships = shanghe["partnerships"]["nodes"]
    assert {p["role"] for p in partnerships} == {
        "PARTY_ORGANIZATION",
        "RESIDENTS_COMMITTEE",
        "OWNERS",
        "PROPERTY_COMPANY",
        "GOVERNMENT_DEPARTMENT",
        "CO_BUILDER",
    }
    leads = [p for p in partnerships if p["isLead"]]
    assert [p["role"] for p in leads] == ["PARTY_ORGANIZATION"]
    companies = [p for p in xigema["partnerships"]["nodes"] if p["role"] == "PROPERTY_COMPANY"]
    assert len(companies) == 11
    served = [c["name"] for p in companies for c in p["compounds"]["nodes"]]
    assert len(served) == len(set(served)) == 9
    for p in partnerships:
        assert p["community"]["name"] == "上河村社区"
        assert p["partner"]["partnerships"]["totalCount"] >= 1
    notices = [n for c in communities.values() for n in c["notices"]["nodes"]]
    assert any(n["building"] for n in notices)
    assert any(n["building"] is None for n in notices)
    assert all(n["community"]["name"] in communities for n in notices)


async def test_cases_walk_with_history_meetings_and_people(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    data = await graphql(client, WALK_CASES, bearer=admin)
    cases = data["district"]["cases"]["nodes"]
    stored = await _rows(demo, m.Case)
    assert data["district"]["cases"]["totalCount"] == len(stored) == len(cases)
    by_id = {ids.decode_as(c["id"], "Case"): c for c in cases}
    for row in stored:
        case = by_id[row.id]
        assert case["title"] == row.title
        assert case["status"] == row.status.value
        assert case["version"] == row.version
        # Every change by a person bumps the version; the deadline alerts do not.
        by_people = [e for e in case["events"]["nodes"] if not e["kind"].startswith("DEADLINE_")]
        assert len(by_people) == row.version
        seqs = [e["seq"] for e in case["events"]["nodes"]]
        assert seqs == sorted(seqs)
        assert all(e["case"]["id"] == case["id"] for e in case["events"]["nodes"])
        assert (case["assignedPartner"] is None) == (row.assigned_partner_id is None)
        assert (case["facility"] is None) == (row.facility_id is None)
        assert (case["duplicateOf"] is None) == (row.duplicate_of_id is None)
    with_meeting = [c for c in cases if c["meetings"]["nodes"]]
    assert with_meeting
    meeting = with_meeting[0]["meetings"]["nodes"][0]
    assert meeting["decisions"]
    assert meeting["attendees"]["nodes"]
    assert with_meeting[0]["id"] in {c["id"] for c in meeting["cases"]["nodes"]}
    assert any(c["feeWaived"] and c["feeWaiverReason"] for c in cases)
    assert data["district"]["meetings"]["totalCount"] >= 1


async def test_person_details_and_role_bindings(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    [person] = await _rows(demo, m.Person, m.Person.login == "hd-resident-1")
    person_id = ids.encode("Person", person.id)
    data = await graphql(client, PERSON, {"id": person_id}, bearer=admin)
    node = data["node"]
    assert node["name"] == person.name
    assert node["livesAlone"] is True
    assert node["birthDate"] == person.birth_date.isoformat()
    assert node["homeCommunity"]["name"] == "希格玛社区"
    assert [b["role"] for b in node["roleBindings"]["nodes"]] == ["RESIDENT"]
    # Another resident sees the name, not the details.
    [other] = await _rows(demo, m.Person, m.Person.login == "hd-resident-2")
    peer = token(Role.RESIDENT, "haidian", person_id=other.id)
    node = (await graphql(client, PERSON, {"id": person_id}, bearer=peer))["node"]
    assert node["name"] == person.name
    assert node["birthDate"] is None
    assert node["livesAlone"] is None
    assert node["phone"] is None
    assert node["homeCommunity"] is None


NODE = "query Node($id: ID!) { node(id: $id) { __typename id } }"
NODES = "query Nodes($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }"

NODE_MODELS = {
    "District": m.District,
    "Street": m.Street,
    "Community": m.Community,
    "Compound": m.Compound,
    "Building": m.Building,
    "Facility": m.Facility,
    "Committee": m.Committee,
    "CommitteeMember": m.CommitteeMember,
    "Partner": m.Partner,
    "Partnership": m.Partnership,
    "Person": m.Person,
    "RoleBinding": m.RoleBinding,
    "Case": m.Case,
    "CaseAssignment": m.CaseAssignment,
    "CasePhoto": m.CasePhoto,
    "CaseWhistle": m.CaseWhistle,
    "HelpingHand": m.HelpingHand,
    "CaseReturn": m.CaseReturn,
    "CaseFollowUp": m.CaseFollowUp,
    "CaseEvent": m.CaseEvent,
    "Meeting": m.Meeting,
    "Notice": m.Notice,
    "WebhookEndpoint": m.WebhookEndpoint,
    "WebhookDelivery": m.WebhookDelivery,
}
# Types the demo has no row of, with why (their refetch is tested elsewhere).
NOT_IN_DEMO = {
    "WebhookDelivery": "written only by a running dispatcher; refetched in "
    "tests/security/test_isolation.py and tests/webhooks/",
}


def test_every_node_type_is_covered_here() -> None:
    from schema.node import NODE_TYPES

    assert set(NODE_TYPES) == set(NODE_MODELS)


@pytest.mark.parametrize("type_name", sorted(set(NODE_MODELS) - set(NOT_IN_DEMO)))
async def test_node_refetches_every_type(
    client: httpx.AsyncClient, demo: Database, admin: str, type_name: str
) -> None:
    model = NODE_MODELS[type_name]
    if model is m.District:
        rows = [await _haidian(demo)]
    else:
        rows = [r.id for r in await _rows(demo, model)]
    global_id = ids.encode(type_name, rows[0])
    data = await graphql(client, NODE, {"id": global_id}, bearer=admin)
    assert data["node"] == {"__typename": type_name, "id": global_id}


async def test_nodes_keeps_order_and_nulls_the_unknown(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    streets = await _rows(demo, m.Street)
    wanted = [
        ids.encode("Street", streets[1].id),
        ids.encode("Case", 2**62),
        ids.encode("Street", streets[0].id),
    ]
    data = await graphql(client, NODES, {"ids": wanted}, bearer=admin)
    assert [n and n["id"] for n in data["nodes"]] == [wanted[0], None, wanted[2]]


@pytest.mark.parametrize(
    ("global_id", "message"),
    [
        ("not-an-id", "is not a valid id"),
        (ids.encode("Unicorn", 1), "is not the id of any type"),
    ],
)
async def test_node_explains_a_bad_id(
    client: httpx.AsyncClient, demo: Database, admin: str, global_id: str, message: str
) -> None:
    body = (await post_graphql(client, NODE, {"id": global_id}, bearer=admin)).json()
    assert message in body["errors"][0]["message"]


async def test_nodes_refuses_more_than_a_hundred(
    client: httpx.AsyncClient, demo: Database, admin: str
) -> None:
    many = [ids.encode("Street", i) for i in range(1, 102)]
    body = (await post_graphql(client, NODES, {"ids": many}, bearer=admin)).json()
    assert "at most 100" in body["errors"][0]["message"]
