"""Persisted documents: the APQ round trip (Apollo Client's and urql's protocol), documents
registered with `gongzhi documents add` and asked for by `documentId`, and trusted mode, which
refuses any other document before it is parsed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.models.enums import Role
from db.session import Database
from server.app import create_app
from tests.conftest import MakeDistrict
from tests.http import TEST_SETTINGS, token

ROOT = Path(__file__).resolve().parents[2]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _apq(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def _client(database: Database, **settings: Any) -> httpx.AsyncClient:
    app = create_app(TEST_SETTINGS.model_copy(update=settings), database)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.fixture
async def bearer(make_district: MakeDistrict) -> str:
    district = await make_district()
    return token(Role.DISTRICT_ADMIN, district.code)


async def _post(http: httpx.AsyncClient, bearer: str, body: dict[str, Any]) -> httpx.Response:
    return await http.post("/graphql", json=body, headers={"Authorization": f"Bearer {bearer}"})


async def test_the_apq_round_trip_and_every_process_knows_the_document_after(
    database: Database, bearer: str
) -> None:
    # A document no test sent before (a fresh alias), so no process knows it yet.
    query = f"{{ a{uuid.uuid4().hex[:8]}: viewer {{ role }} }}"
    digest = _sha(query)
    async with _client(database) as first, _client(database) as second:
        missing = await _post(first, bearer, {"extensions": _apq(digest)})
        assert missing.status_code == 200
        [error] = missing.json()["errors"]
        assert error["message"] == "PersistedQueryNotFound"
        assert error["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

        sent = await _post(first, bearer, {"query": query, "extensions": _apq(digest)})
        assert sent.status_code == 200
        assert next(iter(sent.json()["data"].values())) == {"role": "DISTRICT_ADMIN"}

        again = await _post(first, bearer, {"extensions": _apq(digest)})
        assert next(iter(again.json()["data"].values())) == {"role": "DISTRICT_ADMIN"}
        # Another process (its own memory, the same database) knows it too.
        elsewhere = await _post(second, bearer, {"extensions": _apq(digest)})
        assert next(iter(elsewhere.json()["data"].values())) == {"role": "DISTRICT_ADMIN"}
        # By GET, as Apollo Client sends hashed queries.
        got = await second.get(
            "/graphql",
            params={"extensions": json.dumps(_apq(digest))},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert next(iter(got.json()["data"].values())) == {"role": "DISTRICT_ADMIN"}


async def test_a_hash_that_is_not_the_documents_is_refused(database: Database, bearer: str) -> None:
    async with _client(database) as http:
        wrong = await _post(
            http, bearer, {"query": "{ viewer { role } }", "extensions": _apq("0" * 64)}
        )
        assert wrong.status_code == 400
        assert wrong.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
        malformed = await _post(http, bearer, {"extensions": _apq("not-a-hash")})
        assert malformed.status_code == 400


def _cli(owner_url: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": owner_url, "GONGZHI_DATA_DIR": str(tmp_path)}
    return subprocess.run(  # noqa: S603 - this interpreter, the project's own CLI
        [sys.executable, "-m", "server.cli", "documents", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


async def test_trusted_mode_runs_registered_documents_only(
    database: Database, owner_url: str, bearer: str, tmp_path: Path
) -> None:
    tag = uuid.uuid4().hex[:8]
    from_file = f"query FromFile{tag} {{ viewer {{ role }} }}"
    apollo_body = f"query FromApollo{tag} {{ viewer {{ districtCode }} }}"
    relay_body = f"query FromRelay{tag} {{ districts {{ code }} }}"
    (tmp_path / "viewer.graphql").write_text(from_file)
    (tmp_path / "apollo.json").write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [
                    {"id": f"apollo-{tag}", "name": "A", "type": "query", "body": apollo_body}
                ],
            }
        )
    )
    (tmp_path / "relay.json").write_text(json.dumps({f"relay-{tag}": relay_body}))
    added = _cli(
        owner_url,
        tmp_path,
        "add",
        *(str(tmp_path / n) for n in ("viewer.graphql", "apollo.json", "relay.json")),
    )
    assert added.returncode == 0, added.stderr
    assert f"sha256:{_sha(from_file)}" in added.stdout
    listed = _cli(owner_url, tmp_path, "list")
    assert f"apollo-{tag}" in listed.stdout
    assert f"relay-{tag}" in listed.stdout

    # A document that is not valid against the schema: nothing of the file is registered.
    (tmp_path / "bad.json").write_text(
        json.dumps({f"ok-{tag}": "{ viewer { role } }", f"bad-{tag}": "{ nope }"})
    )
    refused = _cli(owner_url, tmp_path, "add", str(tmp_path / "bad.json"))
    assert refused.returncode == 2
    assert "is not valid" in refused.stderr
    assert f"ok-{tag}" not in _cli(owner_url, tmp_path, "list").stdout

    async with _client(database, trusted_documents=True) as http:
        by_hash = await _post(http, bearer, {"documentId": f"sha256:{_sha(from_file)}"})
        assert by_hash.json()["data"] == {"viewer": {"role": "DISTRICT_ADMIN"}}
        by_id = await _post(http, bearer, {"documentId": f"apollo-{tag}"})
        assert "districtCode" in by_id.json()["data"]["viewer"]
        got = await http.get(
            "/graphql",
            params={"documentId": f"relay-{tag}"},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert "districts" in got.json()["data"]
        # The registered text itself may be sent too.
        assert (await _post(http, bearer, {"query": from_file})).json()["data"]

        # Anything else is refused before it is parsed: this one is not even GraphQL.
        for body in (
            {"query": "{ this is not graphql"},
            {"query": "{ viewer { role } }", "extensions": _apq(_sha("{ viewer { role } }"))},
        ):
            answer = await _post(http, bearer, body)
            [error] = answer.json()["errors"]
            assert error["extensions"]["code"] == "DOCUMENT_NOT_REGISTERED", error
        unknown = await _post(http, bearer, {"documentId": "sha256:" + "f" * 64})
        assert unknown.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        with_both = await _post(http, bearer, {"documentId": f"apollo-{tag}", "query": "{ x }"})
        assert with_both.status_code == 400


async def test_over_websocket_trusted_mode_refuses_unregistered_documents(
    owner_url: str, bearer: str, tmp_path: Path
) -> None:
    import websockets

    from tests.server.running import Served

    tag = uuid.uuid4().hex[:8]
    registered = f"query Registered{tag} {{ viewer {{ role }} }}"
    (tmp_path / "doc.graphql").write_text(registered)
    assert _cli(owner_url, tmp_path, "add", str(tmp_path / "doc.graphql")).returncode == 0
    served = Served(owner_url, tmp_path / "serve.log", env={"GONGZHI_TRUSTED_DOCUMENTS": "true"})
    try:
        served.wait_ready()
        async with websockets.connect(served.ws, subprotocols=["graphql-transport-ws"]) as ws:
            init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}
            await ws.send(json.dumps(init))
            assert json.loads(await ws.recv())["type"] == "connection_ack"
            await ws.send(
                json.dumps(
                    {"id": "1", "type": "subscribe", "payload": {"query": "{ viewer { role } }"}}
                )
            )
            refused = json.loads(await ws.recv())
            assert refused["type"] == "error", refused
            assert refused["payload"][0]["extensions"]["code"] == "DOCUMENT_NOT_REGISTERED"
            await ws.send(
                json.dumps(
                    {
                        "id": "2",
                        "type": "subscribe",
                        "payload": {"documentId": f"sha256:{_sha(registered)}"},
                    }
                )
            )
            answered = json.loads(await ws.recv())
            while answered["type"] == "ping":
                answered = json.loads(await ws.recv())
            assert answered["type"] == "next", answered
            assert answered["payload"]["data"] == {"viewer": {"role": "DISTRICT_ADMIN"}}
    finally:
        served.stop()
