"""One typed settings object, read from the environment and a `.env` file if present."""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class Settings(BaseSettings):
    """Settings of a gongzhi process. Environment variables use the `GONGZHI_` prefix,
    except `DATABASE_URL` and `APP_DATABASE_URL`, which keep their conventional names."""

    model_config = SettingsConfigDict(
        env_prefix="GONGZHI_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: Environment = Environment.DEVELOPMENT
    # Owner connection: migrations and seeding. Unset: an embedded PostgreSQL in `data_dir`.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # Connection of the request path, as a role that does not own the tables. Unset: the
    # owner URL with the user replaced by the app role (`db.roles`) and `role_password`.
    app_database_url: str | None = Field(default=None, validation_alias="APP_DATABASE_URL")
    # Read-only cross-district connection for a platform operator's statistics; unset: the
    # owner URL with the user replaced by the platform role (`db.roles`).
    platform_database_url: str | None = Field(
        default=None, validation_alias="PLATFORM_DATABASE_URL"
    )
    # Password the migration gives the app and platform roles (none: the server's auth rules).
    role_password: str | None = None
    data_dir: Path = Path(".gongzhi")
    host: str = "127.0.0.1"
    port: int = 8000
    jwt_secret: str | None = None
    jwt_issuer: str = "gongzhi"
    jwt_audience: str = "gongzhi"
    token_ttl_seconds: int = 7 * 24 * 3600
    pool_size: int = 10
    max_overflow: int = 10
    statement_timeout_ms: int = 5000
    # Subscriptions: graphql-transport-ws always; the legacy graphql-ws protocol on request.
    legacy_graphql_ws: bool = False
    ws_keepalive_seconds: float = 15
    ws_connection_init_timeout_seconds: float = 10
    max_subscriptions_per_connection: int = 20
    subscriber_queue_size: int = 1000
    # Safety net of the event bus: re-read every district with subscribers this often.
    event_poll_seconds: float = 5
    # How often a server appends DEADLINE_APPROACHING / DEADLINE_MISSED events (0: never).
    deadline_sweep_seconds: float = 30
    # Comparisons rank only entries whose ordering metric has at least this sample.
    minimum_sample: int = Field(default=5, ge=0)

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pg"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
