"""A catalogue of hostile and malformed requests against a real server process.

Each gets the right refusal (status and words a client can act on, never a stack trace), and
a stream of normal requests running all the while is answered throughout.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import pytest
import websockets

from db.models import District
from db.models.enums import Role
from tests.conftest import MakeDistrict
from tests.http import TEST_SETTINGS, token
from tests.server.running import Served

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

VIEWER = {"query": "{ viewer { role } }"}
JSON = {"content-type": "application/json", "accept": "application/json"}


@pytest.fixture(scope="module")
def server(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    log = tmp_path_factory.mktemp("hostile") / "serve.log"
    served = Served(
        owner_url,
        log,
        env={
            # The catalogue is not a flood: rate limits are tested on their own.
            "GONGZHI_COST_BUDGET": "",
            "GONGZHI_ANONYMOUS_COST_BUDGET": "",
            "GONGZHI_MAX_BODY_BYTES": "200000",
            "GONGZHI_WS_CONNECTION_INIT_TIMEOUT_SECONDS": "1",
        },
    ).wait_ready()
    yield served
    served.stop()


def _deep(levels: int) -> str:
    query = "id"
    for _ in range(levels):
        query = f"district {{ streets {{ nodes {{ {query} }} }} }}"
    return "{ " + query + " }"


def _claims(district: District, **override: Any) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "iss": TEST_SETTINGS.jwt_issuer,
        "aud": TEST_SETTINGS.jwt_audience,
        "sub": "someone",
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
        "role": "district_admin",
        "district": district.code,
    }
    return {**claims, **override}


def _none_token(claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        raw = json.dumps(value, default=lambda d: int(d.timestamp())).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


BOUNDARY = "gongzhi-hostile"


def _multipart() -> bytes:
    note = 'mutation { addCaseNote(id: "Q2FzZTox", expectedVersion: 1, text: "t", internal: false)'
    operations = json.dumps({"query": note + " { __typename } }", "variables": {}})
    parts = [("operations", operations), ("map", "{}")]
    body = "".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in parts
    )
    return (body + f"--{BOUNDARY}--\r\n").encode()


@dataclass
class Hostile:
    name: str
    status: int
    words: str
    body: bytes | None = None
    json_body: Any = None
    headers: dict[str, str] | None = None
    method: str = "POST"
    params: dict[str, str] | None = None


def catalogue(district: District) -> list[Hostile]:
    secret = TEST_SETTINGS.jwt_secret or ""
    expired = jwt.encode(
        _claims(district, exp=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)), secret
    )
    forged = jwt.encode(_claims(district), "another-secret-0123456789-abcdefghijklmnop")
    aliases = " ".join(f"a{i}: viewer {{ role }}" for i in range(40))
    fields = " ".join(["viewer { role }"] * 6000)
    many_nodes = "{ district { streets(first: 100) { nodes { communities(first: 100) { nodes {"
    many_nodes += " cases(first: 100) { nodes { id } } } } } } } }"
    nested = "[" * 5000 + "]" * 5000
    return [
        Hostile("deep nesting", 200, "exceeds maximum operation depth",
                json_body={"query": _deep(12)}),
        Hostile("alias flooding", 200, "aliases", json_body={"query": "{ " + aliases + " }"}),
        Hostile("field flooding", 200, "token", json_body={"query": "{ " + fields + " }"}),
        Hostile("page sizes multiplied", 200, "could return up to 1,010,100 objects",
                json_body={"query": many_nodes}),
        Hostile("huge batch", 400, "Batching is not enabled", json_body=[VIEWER] * 5000),
        Hostile(
            "circular fragments", 200, "Cannot spread fragment 'A' within itself",
            json_body={"query": "fragment A on Query { ...B } fragment B on Query { ...A }"
                                " { ...A }"},
        ),
        Hostile("oversized body", 413, "request body larger than 200,000 bytes",
                json_body={"query": "{ viewer { role } }", "variables": {"x": "y" * 300_000}}),
        Hostile("wrong content type", 415, "Unsupported content type",
                body=b"{ viewer { role } }", headers={"content-type": "text/plain"}),
        Hostile("a mutation from a form", 415, "Unsupported content type",
                body=b"query=mutation+%7B+__typename+%7D",
                headers={"content-type": "application/x-www-form-urlencoded"}),
        # A page of another site can send a multipart form (uploads use multipart), but not a
        # bearer token: a mutation in it acts as nobody.
        Hostile("a mutation in a cross-site multipart form", 200, "PermissionDenied",
                body=_multipart(),
                headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}",
                         "origin": "https://evil.example"}),
        Hostile("a mutation over GET", 405, "mutations are not allowed",
                method="GET", params={"query": "mutation { __typename }"}),
        Hostile("invalid JSON", 400, "Unable to parse request body as JSON", body=b'{"query": '),
        Hostile("invalid UTF-8", 400, "Unable to parse request body as JSON: not UTF-8",
                body=b'{"query": "{ viewer { role } }\xff\xfe"}'),
        Hostile("deeply nested variables", 400, "nested too deeply",
                body=b'{"query": "{ viewer { role } }", "variables": {"v": ' + nested.encode()
                + b"}}"),
        Hostile("invalid id", 200, "'!!!' is not a valid id",
                json_body={"query": '{ node(id: "!!!") { id } }'}),
        Hostile(
            "wrong-type variable", 200, "Variable '$id' has invalid value",
            json_body={"query": "query ($id: ID!, $n: [ID!]!) { node(id: $id) { id } "
                                "nodes(ids: $n) { id } }",
                       "variables": {"id": {"$gt": ""}, "n": "x"}},
        ),
        Hostile("expired token", 401, "expired", json_body=VIEWER,
                headers={"authorization": f"Bearer {expired}"}),
        Hostile("forged token", 401, "signature", json_body=VIEWER,
                headers={"authorization": f"Bearer {forged}"}),
        Hostile("alg none token", 401, "algorithm", json_body=VIEWER,
                headers={"authorization": f"Bearer {_none_token(_claims(district))}"}),
        Hostile("garbage token", 401, "token", json_body=VIEWER,
                headers={"authorization": "Bearer not.a.token"}),
        Hostile("unknown district in a valid token", 401, "unknown district", json_body=VIEWER,
                headers={"authorization": "Bearer " + token(Role.DISTRICT_ADMIN, "nowhere")}),
    ]  # fmt: skip


async def _send(http: httpx.AsyncClient, case: Hostile) -> httpx.Response:
    if case.method == "GET":
        return await http.get(
            "/graphql", params=case.params, headers={"accept": "application/json"}
        )
    body = case.body if case.body is not None else json.dumps(case.json_body).encode()
    return await http.post("/graphql", content=body, headers={**JSON, **(case.headers or {})})


async def test_every_hostile_request_is_refused_and_normal_ones_go_on(
    server: Served, make_district: MakeDistrict
) -> None:
    district = await make_district()
    admin = {"authorization": f"Bearer {token(Role.DISTRICT_ADMIN, district.code)}", **JSON}
    normal: list[int] = []
    done = asyncio.Event()

    async with httpx.AsyncClient(base_url=server.http, timeout=30) as http:

        async def keep_asking() -> None:
            while not done.is_set():
                response = await http.post("/graphql", json=VIEWER, headers=admin)
                normal.append(response.status_code)
                assert response.json() == {"data": {"viewer": {"role": "DISTRICT_ADMIN"}}}

        background = asyncio.create_task(keep_asking())
        problems = []
        for case in catalogue(district):
            try:
                response = await _send(http, case)
            except httpx.TransportError as exc:
                problems.append(f"{case.name}: {exc!r}")
                continue
            text = response.text
            if (
                response.status_code != case.status
                or case.words.lower() not in text.lower()
                or "Traceback" in text
                or "sqlalchemy" in text.lower()
            ):
                problems.append(f"{case.name}: {response.status_code} {text[:300]}")
        ws = await websockets.connect(server.ws, subprotocols=["graphql-transport-ws"])
        await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4403
        done.set()
        await background

    assert problems == [], "\n".join(problems)
    assert normal, "the normal requests ran"
    assert set(normal) == {200}
    assert "Traceback" not in server.output()
