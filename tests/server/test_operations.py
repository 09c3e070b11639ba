"""Operations over a real `gongzhi serve --workers 2`: metrics of all workers at `/metrics`,
JSON logs with request ids and operation names and no personal data."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core import ids
from db.models.enums import Role
from db.session import Database
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import token
from tests.live.test_subscriptions import Subscriber
from tests.server.running import Served

DISTRICTS = "query Districts { districts { code } }"
ANONYMOUS = "{ districts { code } }"
INVALID = "query Broken { noSuchField }"
TOO_MANY = "query TooMany($ids: [ID!]!) { nodes(ids: $ids) { id } }"
REPORT = """mutation ReportCase($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename ... on CaseReported { case { id } } } }"""

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("operations")
    served = Served(
        owner_url,
        tmp / "serve.log",
        "--workers",
        "2",
        env={
            # Production: no development token printed, so every output line is a log line.
            "GONGZHI_ENVIRONMENT": "production",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp / "metrics"),
        },
    )
    try:
        yield served.wait_ready()
    finally:
        assert served.stop() == 0


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


def scrape(server: Served) -> Samples:
    # A new connection each time, so that any worker may answer.
    text = httpx.get(f"{server.http}/metrics", headers={"Connection": "close"}).text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def post(server: Served, query: str, **extra: object) -> httpx.Response:
    return httpx.post(
        f"{server.http}/graphql",
        json={"query": query, **extra},
        headers={"Connection": "close"},
    )


def test_metrics_count_operations_of_every_worker(server: Served) -> None:
    before = scrape(server)
    for _ in range(8):
        assert post(server, DISTRICTS).status_code == 200
    for _ in range(3):
        assert post(server, ANONYMOUS).status_code == 200
    assert "errors" in post(server, INVALID).json()
    too_many = [ids.encode("District", i) for i in range(1, 102)]
    assert "errors" in post(server, TOO_MANY, variables={"ids": too_many}).json()

    # The same totals whichever worker answers the scrape (each served some of the requests).
    for _ in range(4):
        after = scrape(server)

        def delta(name: str, after: Samples = after, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        requests = "gongzhi_graphql_requests_total"
        errors = "gongzhi_graphql_errors_total"
        assert delta(requests, operation="Districts", type="query") == 8
        assert delta(errors, operation="Districts", type="query") == 0
        assert delta(requests, operation="anonymous", type="query") == 3
        # An invalid document's name is not taken: names stay few.
        assert delta(requests, operation="invalid", type="") == 1
        assert delta(errors, operation="invalid", type="") == 1
        assert value(after, requests, operation="Broken", type="") == 0
        assert delta(errors, operation="TooMany", type="query") == 1
        histogram = "gongzhi_graphql_request_duration_seconds_count"
        assert delta(histogram, operation="Districts", type="query") == 8
        assert value(after, "gongzhi_db_pool_connections_in_use", pool="app") >= 0
    metric_files = {p.name for p in (server.log.parent / "metrics").glob("counter_*.db")}
    assert len(metric_files) == 2, metric_files  # both workers write to the shared directory


async def test_metrics_count_subscribers_and_delivered_events(
    server: Served, world: WorkflowWorld
) -> None:
    before = scrape(server)
    admin = token(Role.DISTRICT_ADMIN, world.district.code)
    subscriber = await Subscriber.open(server.ws, admin)
    resident = token(Role.RESIDENT, world.district.code, person_id=world.resident_id)
    variables = {
        "input": {
            "idempotencyKey": f"ops-{uuid.uuid4().hex[:12]}",
            "community": ids.encode("Community", world.community_id),
            "category": "NOISE",
            "title": "夜间施工噪音",
        }
    }
    async with httpx.AsyncClient(base_url=server.http) as http:
        response = await http.post(
            "/graphql",
            json={"query": REPORT, "variables": variables},
            headers={"Authorization": f"Bearer {resident}"},
        )
    assert response.json()["data"]["reportCase"]["__typename"] == "CaseReported"
    [event] = await subscriber.next_events(1)
    assert event["kind"] == "REPORTED"
    during = scrape(server)
    assert value(during, "gongzhi_subscribers_connected") == 1
    delivered = "gongzhi_events_delivered_total"
    assert value(during, delivered) - value(before, delivered) == 1
    await subscriber.close()
    deadline = time.monotonic() + 10
    while value(scrape(server), "gongzhi_subscribers_connected") != 0:
        assert time.monotonic() < deadline, "the subscriber gauge did not go back to 0"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-1234_abc.def:9", True), ("has spaces", False), ("x" * 200, False), (None, False)],
    ids=["sane", "spaces", "too-long", "missing"],
)
def test_request_ids_are_taken_when_sane_and_echoed(
    server: Served, sent: str | None, kept: bool
) -> None:
    headers = {"X-Request-Id": sent} if sent is not None else {}
    response = httpx.post(f"{server.http}/graphql", json={"query": DISTRICTS}, headers=headers)
    echoed = response.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent
        assert len(echoed) == 32
        int(echoed, 16)


def test_logs_are_json_lines_with_request_id_and_operation_and_no_personal_data(
    server: Served, world: WorkflowWorld
) -> None:
    secret_title = f"隐私-{uuid.uuid4().hex}"
    resident = token(Role.RESIDENT, world.district.code, person_id=world.resident_id)
    variables = {
        "input": {
            "idempotencyKey": f"log-{uuid.uuid4().hex[:12]}",
            "community": ids.encode("Community", world.community_id),
            "category": "NOISE",
            "title": secret_title,
        }
    }
    request_id = f"log-test-{uuid.uuid4().hex[:8]}"
    response = httpx.post(
        f"{server.http}/graphql",
        json={"query": REPORT, "variables": variables},
        headers={"Authorization": f"Bearer {resident}", "X-Request-Id": request_id},
    )
    assert response.json()["data"]["reportCase"]["__typename"] == "CaseReported"
    # A literal argument in the document, and an error that quotes the document.
    literal = f"字面-{uuid.uuid4().hex}"
    inline = f'mutation Inline {{ reportCase(input: {{title: "{literal}"}}) {{ __typename }} }}'
    assert "errors" in post(server, inline).json()
    # A query in a GET request's query string.
    httpx.get(f"{server.http}/graphql", params={"query": f'{{ node(id: "{literal}") {{ id }} }}'})

    deadline = time.monotonic() + 10
    while True:
        entries = server.log_entries()  # every line is one JSON object
        mine = [e for e in entries if e.get("request_id") == request_id]
        if any(e["message"] == "request" for e in mine) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    [line] = [e for e in mine if e["message"] == "request"]
    assert line["operation"] == "ReportCase"
    assert line["operation_type"] == "mutation"
    assert line["status"] == 200
    assert line["path"] == "/graphql"
    assert line["errors"] == 0
    assert isinstance(line["duration_ms"], float)
    assert {"time", "level", "logger"} <= line.keys()
    output = server.output()
    for private in (secret_title, literal, resident, "Bearer", "reportCase("):
        assert private not in output, private


def test_metrics_are_served_in_the_prometheus_text_format(server: Served) -> None:
    response = httpx.get(f"{server.http}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "gongzhi_graphql_requests",
        "gongzhi_graphql_errors",
        "gongzhi_graphql_request_duration_seconds",
        "gongzhi_db_pool_connections_in_use",
        "gongzhi_subscribers_connected",
        "gongzhi_events_delivered",
    } <= names
