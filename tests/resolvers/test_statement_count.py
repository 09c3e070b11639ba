"""A nested read costs a number of SQL statements bounded by its depth, not by its width:
one statement when compiled (plus the transaction's settings), one per level when executed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from db.models.enums import Role
from db.session import Database
from server.app import create_app
from tests.conftest import MakeDistrict
from tests.factories import build_case_world
from tests.http import TEST_SETTINGS, graphql, token

NESTED = """
query Nested {
  district {
    streets(first: 10) { nodes { name
      communities(first: 50) { nodes { name
        cases(first: 5) { nodes { title
          assignedPartner { name }
          events(last: 3) { nodes { seq kind } }
        } }
      } }
    } }
  }
}
"""


_TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", ";")


@contextmanager
def count_statements(database: Database) -> Iterator[list[str]]:
    """The reads sent to PostgreSQL meanwhile: every statement but transaction control and
    the transaction's settings (`SET LOCAL`). Counted where SQLAlchemy sends them (its
    cursor) and where the driver does (the compiled path goes straight to asyncpg, which
    logs what it runs outside SQLAlchemy's prepared statements)."""
    statements: list[str] = []

    def keep(query: str) -> None:
        query = query.strip()
        if query.upper().startswith(_TRANSACTION_CONTROL) or query.startswith("SET LOCAL"):
            return
        statements.append(query)

    def cursor(*args: Any) -> None:
        keep(args[2])

    def driver(entry: Any) -> None:
        keep(entry.query)

    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        dbapi_connection.driver_connection.add_query_logger(driver)

    def checkin(dbapi_connection: Any, record: Any) -> None:
        if dbapi_connection is not None:
            dbapi_connection.driver_connection.remove_query_logger(driver)

    engine = database.app.sync_engine
    listeners = [
        (engine, "before_cursor_execute", cursor),
        (engine.pool, "checkout", checkout),
        (engine.pool, "checkin", checkin),
    ]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield statements
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


async def _run(
    client: httpx.AsyncClient, database: Database, code: str
) -> tuple[int, dict[str, Any]]:
    bearer = token(Role.DISTRICT_ADMIN, code)
    await graphql(client, "{ viewer { role } }", bearer=bearer)  # warm the district directory
    with count_statements(database) as statements:
        data = await graphql(client, NESTED, bearer=bearer)
    return len(statements), data


# Compiled: the one statement. Executed: district + streets + communities + cases + partners
# + events.
EXPECTED = {True: 1, False: 6}


@pytest.fixture(params=[True, False], ids=["compiled", "executed"])
async def reads(
    request: pytest.FixtureRequest, database: Database
) -> AsyncIterator[tuple[httpx.AsyncClient, int]]:
    """A client of an app with compiled reads on, or off, and the statements it should run."""
    settings = TEST_SETTINGS.model_copy(update={"compiled_reads": request.param})
    app = create_app(settings, database)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http, EXPECTED[request.param]


@pytest.mark.slow
async def test_five_level_query_runs_1_or_6_reads_for_1_or_200_communities(
    reads: tuple[httpx.AsyncClient, int], database: Database, make_district: MakeDistrict
) -> None:
    client, expected = reads
    small, large = await make_district(), await make_district()
    await build_case_world(database, small.id, streets=1, communities_per_street=1)
    await build_case_world(database, large.id, streets=4, communities_per_street=50)

    small_count, small_data = await _run(client, database, small.code)
    assert len(small_data["district"]["streets"]["nodes"]) == 1
    large_count, large_data = await _run(client, database, large.code)

    communities = [
        c for s in large_data["district"]["streets"]["nodes"] for c in s["communities"]["nodes"]
    ]
    assert len(communities) == 200
    cases = [case for c in communities for case in c["cases"]["nodes"]]
    assert len(cases) == 400
    assert all(len(case["events"]["nodes"]) == 3 for case in cases)
    assert sum(1 for case in cases if case["assignedPartner"]) == 200
    assert small_count == large_count == expected, (small_count, large_count)
