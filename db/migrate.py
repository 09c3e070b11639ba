"""Run the Alembic chain programmatically (no alembic.ini needed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import create_async_engine

from db.session import async_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(owner_url: str, role_password: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolates '%', which URL-encoded passwords contain.
    rendered = async_url(owner_url).render_as_string(hide_password=False)
    config.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    config.attributes["role_password"] = role_password
    return config


async def upgrade(owner_url: str, revision: str = "head", role_password: str | None = None) -> None:
    # Alembic's env runs its own event loop; give it a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(owner_url, role_password), revision)


async def downgrade(owner_url: str, revision: str = "base") -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(owner_url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config("postgresql://x@/x")).get_current_head()


async def current_revision(owner_url: str) -> str | None:
    engine = create_async_engine(async_url(owner_url))
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()


async def is_up_to_date(owner_url: str) -> bool:
    return await current_revision(owner_url) == head_revision()
