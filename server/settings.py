"""One typed settings object, read from the environment and a `.env` file if present."""

from __future__ import annotations

import enum
from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.webhook_rules import WebhookRules


class Environment(enum.StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class JwtAlgorithm(enum.StrEnum):
    HS256 = "HS256"
    RS256 = "RS256"
    ES256 = "ES256"


class LogFormat(enum.StrEnum):
    # Human-readable lines when stderr is a terminal, JSON otherwise (a file, a pipe, a
    # collector).
    AUTO = "auto"
    JSON = "json"
    TEXT = "text"


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
    # Tokens: HS256 with `jwt_secret` (development: a random one kept in `data_dir`), or
    # RS256/ES256 verified with exactly one of a PEM public key (text or file) or a JWKS file
    # (keys chosen by the token's `kid`). The private key only signs `gongzhi token`.
    jwt_algorithm: JwtAlgorithm = JwtAlgorithm.HS256
    jwt_secret: str | None = None
    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_jwks_file: Path | None = None
    # An identity provider's JWKS URL: fetched at start-up and again (at most once per
    # refresh interval) when a token names a key not fetched yet, so rotation needs no restart.
    jwt_jwks_url: str | None = None
    jwt_jwks_refresh_seconds: float = Field(default=30, ge=0)
    jwt_private_key_file: Path | None = None
    jwt_key_id: str | None = None
    jwt_issuer: str = "gongzhi"
    jwt_audience: str = "gongzhi"
    token_ttl_seconds: int = 7 * 24 * 3600
    # Serving: worker processes of `serve` on one port (each with its own pools).
    workers: int = Field(default=1, ge=1)
    # On SIGTERM: how long in-flight requests may still take before they are cancelled, and
    # how long a connection accepted just before may take to send its request.
    shutdown_timeout_seconds: int = Field(default=30, ge=0)
    shutdown_grace_seconds: float = Field(default=1.0, ge=0)
    # Logs: one JSON object per line ("json") or uvicorn's plain lines ("text").
    log_format: LogFormat = LogFormat.AUTO
    # The request path's pool per process: connections kept, extra ones allowed, and how long a
    # request waits for one before it fails with "database unavailable, retry".
    pool_size: int = Field(default=10, ge=1)
    max_overflow: int = Field(default=10, ge=0)
    pool_timeout_seconds: float = Field(default=10, gt=0)
    statement_timeout_ms: int = Field(default=5000, ge=0)
    # Connecting: the timeout of one attempt, and on startup the retries with exponential
    # backoff (first wait, doubled each time up to the maximum) while PostgreSQL is unreachable.
    db_connect_timeout_seconds: float = Field(default=5, gt=0)
    db_connect_retries: int = Field(default=8, ge=0)
    db_connect_backoff_seconds: float = Field(default=0.5, gt=0)
    db_connect_backoff_max_seconds: float = Field(default=10, gt=0)
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
    # Reads compiled to one SQL statement that builds their JSON (README "Speed"); false runs
    # every field through the executor, for diagnosis.
    compiled_reads: bool = True
    # Abuse limits. An operation that could return more objects (page sizes multiplied down
    # the tree) is refused before it runs.
    max_query_nodes: int = Field(default=200_000, ge=1)
    # Request bodies: JSON operations, and multipart uploads (photos: 6 of at most 5 MB).
    max_body_bytes: int = Field(default=1_000_000, ge=1_000)
    max_upload_bytes: int = Field(default=32_000_000, ge=1_000)
    # Every operation's deadline, SQL and execution together (over WebSocket: each query,
    # mutation and subscription event); past it the work is cancelled (code TIMEOUT).
    request_timeout_seconds: float = Field(default=10, gt=0)
    # Admission control per process: slots of executing operations (an operation takes one
    # per `slot_nodes` nodes of its estimated cost, at least one), how many operations may
    # wait for slots and for how long, and the largest share of the slots one principal may
    # hold (less when others are active: each active principal gets an equal share).
    max_concurrent_operations: int = Field(default=8, ge=1)
    slot_nodes: int = Field(default=1000, ge=1)
    max_queued_operations: int = Field(default=32, ge=0)
    queue_timeout_seconds: float = Field(default=1.0, ge=0)
    principal_max_share: float = Field(default=0.5, gt=0, le=1)
    # Cost budgets per principal (token subject; anonymous: client address), in the `limits`
    # notation of nodes (the query cost estimate) per window, e.g. "2000000/minute"; empty:
    # no budget. Without REDIS_URL each of N workers holds a budget divided by N.
    cost_budget: str = "2000000/minute"
    anonymous_cost_budget: str = "200000/minute"
    # Optional shared counter store of the budgets, across workers and instances
    # (e.g. redis://127.0.0.1:6379/0); PostgreSQL stays the only database.
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    # Browser origins allowed to call the API (CORS) and to open WebSockets; same-origin
    # pages (GraphiQL) and clients that send no Origin are always allowed.
    cors_origins: list[str] = Field(default_factory=list)
    # Webhooks. Whether this process runs a dispatcher (every server may: they share the
    # work through the database).
    webhook_dispatch: bool = True
    # Refuse URLs that resolve to loopback, private, link-local or metadata addresses unless
    # this is set (development and tests). Production also accepts https:// only.
    webhook_allow_private_urls: bool = False
    # Retries: exponential backoff from `retry_base` doubling up to `retry_max` between
    # attempts, with jitter, until `retry_horizon` after the delivery was written.
    webhook_retry_base_seconds: float = Field(default=5, gt=0)
    webhook_retry_max_seconds: float = Field(default=3600, gt=0)
    webhook_retry_horizon_seconds: float = Field(default=24 * 3600, gt=0)
    # An endpoint whose attempts have all failed for this long is disabled.
    webhook_disable_after_seconds: float = Field(default=24 * 3600, gt=0)
    # After a rotation the previous secret signs beside the new one this long.
    webhook_secret_overlap_seconds: float = Field(default=24 * 3600, ge=0)
    # One attempt: connect and read timeouts, and how much of the answer is read and kept.
    webhook_connect_timeout_seconds: float = Field(default=5, gt=0)
    webhook_read_timeout_seconds: float = Field(default=10, gt=0)
    webhook_response_bytes: int = Field(default=1024, ge=0, le=65536)
    # Attempts in flight per process, and the safety poll of the dispatcher.
    webhook_concurrency: int = Field(default=64, ge=1)
    webhook_poll_seconds: float = Field(default=5, gt=0)
    # Delivered and failed deliveries (and bodies no delivery needs any more) are deleted
    # this long after they were created; the sweep runs this often.
    webhook_retention_days: float = Field(default=30, gt=0)
    webhook_retention_sweep_seconds: float = Field(default=600, gt=0)
    # Open connections (HTTP and WebSocket) one server process should be able to hold: `serve`
    # raises its open-file limit to cover them (and its database pools), and warns when the
    # system's hard limit is lower.
    connections_per_process: int = Field(default=10_000, ge=1)
    # Trusted documents: only documents registered with `gongzhi documents add` run; clients
    # send their `documentId` (or hash). Off: any document runs, and clients may persist
    # theirs (APQ).
    trusted_documents: bool = False
    # permessage-deflate on WebSockets: off, because case events are small (little to save on
    # the wire) while each compressing connection keeps ~41 KB of zlib state and 1,000
    # subscribers took ~7 % more time per delivery (bench/README.md, "What an idle
    # subscription costs").
    ws_per_message_deflate: bool = False

    @property
    def is_production(self) -> bool:
        return self.environment is Environment.PRODUCTION

    @property
    def webhook_rules(self) -> WebhookRules:
        return WebhookRules(
            allow_private_urls=self.webhook_allow_private_urls,
            https_only=self.is_production,
            secret_overlap_seconds=self.webhook_secret_overlap_seconds,
            retry_horizon_seconds=self.webhook_retry_horizon_seconds,
        )

    @property
    def embedded_pgdata(self) -> Path:
        return self.data_dir / "pg"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
