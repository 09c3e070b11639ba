"""The `gongzhi` command line, run as a real process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from db.models import District
from db.models.enums import Role
from server.auth import verify_token
from tests.http import TEST_SETTINGS

ROOT = Path(__file__).resolve().parents[2]


def gongzhi(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GONGZHI_JWT_SECRET": TEST_SETTINGS.jwt_secret or "",
    }
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "server.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_prints_only_a_token_the_server_accepts(owner_url: str, district: District) -> None:
    result = gongzhi(
        "token", "--district", district.code, "--role", "district_admin", database_url=owner_url
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\n") == 1
    principal = verify_token(TEST_SETTINGS, result.stdout.strip())
    assert principal.role is Role.DISTRICT_ADMIN
    assert principal.district_code == district.code


def test_token_resolves_a_scope_by_name(owner_url: str, district: District) -> None:
    import asyncio

    from db.models import Street
    from db.session import Database
    from db.tenancy import use_district

    async def add_street() -> int:
        database = Database.connect(owner_url)
        try:
            async with database.platform_transaction() as session:
                await use_district(session, district.id)
                street = Street(name="中关村街道")
                session.add(street)
                await session.flush()
                return street.id
        finally:
            await database.dispose()

    street_id = asyncio.run(add_street())
    result = gongzhi(
        "token",
        "--district",
        district.code,
        "--role",
        "street_officer",
        "--street",
        "中关村街道",
        database_url=owner_url,
    )
    assert result.returncode == 0, result.stderr
    assert verify_token(TEST_SETTINGS, result.stdout.strip()).street_id == street_id


def test_token_explains_a_missing_scope(owner_url: str) -> None:
    result = gongzhi(
        "token", "--district", "haidian", "--role", "partner_staff", database_url=owner_url
    )
    assert result.returncode == 2
    assert "needs --partner" in result.stderr
    assert result.stdout == ""


def test_token_explains_an_unknown_district(owner_url: str) -> None:
    result = gongzhi(
        "token", "--district", "atlantis", "--role", "district_admin", database_url=owner_url
    )
    assert result.returncode == 2
    assert "no district with code 'atlantis'" in result.stderr


def test_schema_prints_the_sdl(owner_url: str) -> None:
    result = gongzhi("schema", database_url=owner_url)
    assert result.returncode == 0
    assert (ROOT / "schema.graphql").read_text() == result.stdout
