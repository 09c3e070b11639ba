"""Photos sent with a report: the GraphQL multipart request, limits, and fetching them."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from core import ids
from db.models import District
from db.models.enums import Role
from db.session import Database
from resolvers.workflow.reporting import MAX_PHOTO_BYTES
from tests.conftest import MakeDistrict
from tests.factories import WorkflowWorld, build_workflow_world
from tests.http import auth, token

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
REPORT = """
mutation Report($input: ReportCaseInput!) { reportCase(input: $input) {
  __typename
  ... on CaseReported { case { id photos { nodes { id contentType size url } } } }
  ... on Error { code message field } } }
"""


@pytest.fixture
async def world(database: Database, make_district: MakeDistrict) -> WorkflowWorld:
    return await build_workflow_world(database, await make_district())


async def _report_with(
    client: httpx.AsyncClient, world: WorkflowWorld, photos: list[bytes], key: str
) -> dict[str, Any]:
    variables = {
        "input": {
            "idempotencyKey": key,
            "community": ids.encode("Community", world.community_id),
            "category": "SANITATION",
            "title": "垃圾堆放",
            "photos": [None] * len(photos),
        }
    }
    operations = json.dumps({"query": REPORT, "variables": variables})
    mapping = json.dumps({str(i): [f"variables.input.photos.{i}"] for i in range(len(photos))})
    files = {
        str(i): (f"photo{i}.bin", data, "application/octet-stream") for i, data in enumerate(photos)
    }
    response = await client.post(
        "/graphql",
        data={"operations": operations, "map": mapping},
        files=files,
        headers=auth(token(Role.RESIDENT, world.district.code, person_id=world.resident_id)),
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["reportCase"]
    return result


async def test_photos_are_stored_typed_by_content_and_served_to_those_who_see_the_case(
    client: httpx.AsyncClient, world: WorkflowWorld, other_district: District
) -> None:
    result = await _report_with(client, world, [PNG, JPEG], "photo-key-0001")
    assert result["__typename"] == "CaseReported", result
    photos = result["case"]["photos"]["nodes"]
    assert [(p["contentType"], p["size"]) for p in photos] == [
        ("image/png", len(PNG)),
        ("image/jpeg", len(JPEG)),
    ]
    url = photos[0]["url"]
    reporter = auth(token(Role.RESIDENT, world.district.code, person_id=world.resident_id))
    fetched = await client.get(url, headers=reporter)
    assert fetched.status_code == 200
    assert fetched.content == PNG
    assert fetched.headers["content-type"] == "image/png"
    assert (await client.get(url)).status_code == 401
    stranger = auth(token(Role.DISTRICT_ADMIN, other_district.code))
    assert (await client.get(url, headers=stranger)).status_code == 404
    partner = auth(
        token(Role.PARTNER_STAFF, world.district.code, partner_id=world.property_company_id)
    )
    assert (await client.get(url, headers=partner)).status_code == 404


@pytest.mark.parametrize(
    ("photos", "field", "message"),
    [
        ([b"GIF89a" + b"\x00" * 10], "photos[0]", "JPEG, PNG or WebP"),
        ([PNG, b""], "photos[1]", "empty"),
        ([PNG] * 7, "photos", "at most 6"),
        ([b"\x89PNG\r\n\x1a\n" + b"\x00" * MAX_PHOTO_BYTES], "photos[0]", "5 MB"),
    ],
    ids=["not an image", "empty", "too many", "too large"],
)
async def test_bad_photos_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    world: WorkflowWorld,
    photos: list[bytes],
    field: str,
    message: str,
) -> None:
    result = await _report_with(client, world, photos, f"bad-photo-{field}-{len(photos)}")
    assert result["__typename"] == "ValidationFailed", result
    assert result["field"] == field
    assert message in result["message"]
    cases = await client.post(
        "/graphql",
        json={"query": "{ cases { totalCount } }"},
        headers=auth(token(Role.DISTRICT_ADMIN, world.district.code)),
    )
    assert cases.json()["data"]["cases"]["totalCount"] == 0
