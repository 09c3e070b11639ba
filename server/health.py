"""Health checks for load balancers and orchestrators.

`/healthz`: the process is alive (liveness; it stays 200 while the database is away).
`/readyz`: the database answers (readiness; 503 while it does not).
"""

from __future__ import annotations

import logging

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from db.connectivity import is_unavailable
from db.session import Database

_log = logging.getLogger(__name__)


async def healthz(request: Request) -> Response:
    """The process is alive."""
    return JSONResponse({"status": "ok"})


def routes(database: Database) -> list[Route]:
    """`/healthz` and `/readyz` (the latter asks `database`)."""

    async def readyz(request: Request) -> Response:
        """The database answers."""
        try:
            async with database.app.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            # An outage is one line per probe; anything else deserves its traceback.
            _log.warning("readiness check failed", exc_info=not is_unavailable(exc))
            return JSONResponse({"status": "unavailable", "database": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "database": "ok"})

    return [Route("/healthz", healthz), Route("/readyz", readyz)]
