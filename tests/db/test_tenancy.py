"""Tenancy: the database and the ORM each keep a district's rows to that district."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from db.models import (
    AssessmentWeights,
    Base,
    Case,
    CaseEvent,
    District,
    DistrictScoped,
    PersistedDocument,
)
from db.roles import APP_ROLE, PLATFORM_ROLE
from db.session import Database
from db.tenancy import CrossDistrictWriteError, MissingDistrictError, use_district
from tests.conftest import MakeDistrict, asyncpg_dsn
from tests.factories import World, build_world

DISTRICT_SCOPED = sorted(
    (
        mapper.class_
        for mapper in Base.registry.mappers
        if issubclass(mapper.class_, DistrictScoped)
    ),
    key=lambda cls: cls.__name__,
)
TENANT_TABLES = sorted(cls.__tablename__ for cls in DISTRICT_SCOPED)


@pytest.fixture
async def worlds(database: Database, make_district: MakeDistrict) -> tuple[World, World]:
    a, b = await make_district(), await make_district()
    return await build_world(database, a.id), await build_world(database, b.id)


async def _connect(owner_url: str, role: str, district_id: int | None) -> asyncpg.Connection:
    from sqlalchemy.engine import make_url

    dsn = asyncpg_dsn(make_url(owner_url).set(username=role).render_as_string(hide_password=False))
    conn = await asyncpg.connect(dsn)
    await conn.execute("BEGIN")
    if district_id is not None:
        await conn.execute("SELECT set_config('app.district_id', $1, true)", str(district_id))
    return conn


def test_every_mapped_table_but_the_platform_wide_ones_is_district_scoped() -> None:
    # The tenants themselves, GraphQL documents (code, the same for every district), and the
    # platform-wide assessment weights (districts override them in a table of their own).
    platform_wide = {District, PersistedDocument, AssessmentWeights}
    for mapper in Base.registry.mappers:
        if mapper.class_ in platform_wide:
            continue
        assert issubclass(mapper.class_, DistrictScoped), f"{mapper.class_.__name__} is not scoped"
        table = mapper.local_table
        assert table.primary_key.columns.keys()[0] == "district_id", table.name
        for constraint in table.foreign_key_constraints:
            assert "district_id" in constraint.column_keys, f"{table.name}: {constraint.name}"


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_row_level_security_is_forced_on(owner_url: str, table: str) -> None:
    conn = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        row = await conn.fetchrow(
            "SELECT relrowsecurity, relforcerowsecurity, pg_get_userbyid(relowner) AS owner "
            "FROM pg_class WHERE relname = $1",
            table,
        )
        policies = {
            r["policyname"]
            for r in await conn.fetch(
                "SELECT policyname FROM pg_policies WHERE tablename = $1", table
            )
        }
    finally:
        await conn.close()
    assert row["relrowsecurity"]
    assert row["relforcerowsecurity"]
    assert row["owner"] not in (APP_ROLE, PLATFORM_ROLE)
    assert policies == {"tenant_isolation", "platform_read"}


@pytest.mark.parametrize("table", TENANT_TABLES)
async def test_app_role_sees_only_its_district_with_raw_sql(
    owner_url: str, worlds: tuple[World, World], table: str
) -> None:
    a, b = worlds
    conn = await _connect(owner_url, APP_ROLE, a.district_id)
    try:
        districts = {
            r["district_id"]
            for r in await conn.fetch(
                f"SELECT district_id FROM {table} WHERE district_id = ANY($1::bigint[])",
                [a.district_id, b.district_id],
            )
        }
        assert districts == {a.district_id}
    finally:
        await conn.close()


async def test_app_role_without_a_district_sees_nothing(
    owner_url: str, worlds: tuple[World, World]
) -> None:
    conn = await _connect(owner_url, APP_ROLE, None)
    try:
        assert await conn.fetchval("SELECT count(*) FROM cases") == 0
    finally:
        await conn.close()


async def test_app_role_cannot_update_or_insert_across_districts(
    owner_url: str, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    conn = await _connect(owner_url, APP_ROLE, a.district_id)
    try:
        updated = await conn.execute(
            "UPDATE cases SET title = 'hijacked' WHERE district_id = $1", b.district_id
        )
        assert updated == "UPDATE 0"
        deleted = await conn.execute("DELETE FROM notices WHERE district_id = $1", b.district_id)
        assert deleted == "DELETE 0"
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
            await conn.execute(
                "INSERT INTO streets (district_id, name) VALUES ($1, 'intruder')", b.district_id
            )
    finally:
        await conn.close()


async def test_app_role_cannot_move_a_row_to_another_district(
    owner_url: str, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    conn = await _connect(owner_url, APP_ROLE, a.district_id)
    try:
        with pytest.raises(asyncpg.PostgresError):
            await conn.execute(
                "UPDATE streets SET district_id = $1 WHERE district_id = $2",
                b.district_id,
                a.district_id,
            )
    finally:
        await conn.close()


async def test_case_history_is_append_only_for_the_app_role(
    owner_url: str, worlds: tuple[World, World]
) -> None:
    a, _ = worlds
    conn = await _connect(owner_url, APP_ROLE, a.district_id)
    try:
        for statement in (
            "UPDATE case_events SET kind = 'CLOSED'",
            "DELETE FROM case_events",
            "TRUNCATE case_events",
        ):
            await conn.execute("SAVEPOINT s")
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(statement)
            await conn.execute("ROLLBACK TO SAVEPOINT s")
    finally:
        await conn.close()


async def test_platform_role_reads_every_district_and_writes_nothing(
    owner_url: str, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    conn = await _connect(owner_url, PLATFORM_ROLE, None)
    try:
        seen = await conn.fetchval(
            "SELECT count(DISTINCT district_id) FROM cases WHERE district_id = ANY($1::bigint[])",
            [a.district_id, b.district_id],
        )
        assert seen == 2
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE cases SET title = 'x'")
    finally:
        await conn.close()


async def test_a_foreign_key_refuses_a_cross_district_reference(
    database: Database, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    with pytest.raises(IntegrityError, match="foreign key"):
        async with database.platform_transaction() as session:
            await use_district(session, a.district_id)
            # A case of district A in district B's community: no such (district, community).
            await session.execute(
                text(
                    "INSERT INTO cases (district_id, community_id, category, title) "
                    "VALUES (:district, :community, 'OTHER', 'cross-district')"
                ),
                {"district": a.district_id, "community": b.rows[Case].community_id},
            )


@pytest.mark.parametrize("model", DISTRICT_SCOPED, ids=lambda cls: cls.__name__)
async def test_orm_scopes_every_model_to_the_session_district(
    database: Database, worlds: tuple[World, World], model: type
) -> None:
    a, b = worlds
    assert model in a.rows, f"tests.factories.build_world creates no {model.__name__}; add one"
    ours = {a.district_id, b.district_id}
    # The platform role reads every district, so only the ORM criterion can narrow it.
    async with database.platform_session() as session:
        everyone = await session.scalars(
            select(model.district_id).where(model.district_id.in_(ours)).distinct()  # type: ignore[attr-defined]
        )
        assert set(everyone) == ours
        await use_district(session, a.district_id)
        scoped = await session.scalars(
            select(model.district_id).where(model.district_id.in_(ours)).distinct()  # type: ignore[attr-defined]
        )
        assert set(scoped) == {a.district_id}
        count = await session.scalar(select(func.count()).select_from(model))
        assert count
        assert count >= 1


@pytest.mark.parametrize("model", DISTRICT_SCOPED, ids=lambda cls: cls.__name__)
async def test_a_query_without_a_district_fails_loudly(database: Database, model: type) -> None:
    async with database.anonymous_session() as session:
        with pytest.raises(MissingDistrictError):
            await session.execute(select(model))


async def test_a_tenant_session_reads_its_district_only(
    database: Database, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    async with database.tenant_session(a.district_id) as session:
        cases = list(await session.scalars(select(Case)))
        assert cases
        assert {c.district_id for c in cases} == {a.district_id}
        events = list(
            await session.scalars(select(CaseEvent).where(CaseEvent.case_id == b.rows[Case].id))
        )
        assert all(e.district_id == a.district_id for e in events)


async def test_a_tenant_session_refuses_to_write_another_district(
    database: Database, worlds: tuple[World, World]
) -> None:
    a, b = worlds
    async with database.tenant_session(a.district_id) as session:
        session.add(
            Case(
                district_id=b.district_id,
                community_id=b.rows[Case].community_id,
                category="OTHER",
                title="x",
            )
        )
        with pytest.raises(CrossDistrictWriteError):
            await session.flush()


async def test_a_database_error_for_the_app_role_does_not_leak_rows(
    database: Database, worlds: tuple[World, World]
) -> None:
    a, _b = worlds
    async with database.tenant_session(a.district_id) as session:
        with pytest.raises(DBAPIError):
            await session.execute(text("UPDATE case_events SET kind = 'CLOSED'"))
