"""The process's open-file limit: one descriptor per client connection, pooled database
connection and open file. Many systems start a process with a soft limit of 1,024, far below
what thousands of subscribers need, and a hard limit well above it that the process may raise
its own soft limit to."""

from __future__ import annotations

import logging
import resource
from dataclasses import dataclass

_log = logging.getLogger(__name__)

# Descriptors besides client connections: the listening socket, logs, the embedded server's
# pipes, the event bus's own connection, webhook calls in flight, files being read.
HEADROOM = 256


@dataclass(frozen=True)
class FileLimit:
    before: int
    after: int
    needed: int

    @property
    def enough(self) -> bool:
        return self.after >= self.needed


def descriptors_needed(connections: int, database_connections: int) -> int:
    return connections + database_connections + HEADROOM


def raise_open_file_limit(needed: int) -> FileLimit:
    """Raise the soft limit to the hard one (never lower it); say so, and warn when even the
    hard limit is below `needed`."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft != resource.RLIM_INFINITY and target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    after = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limit = FileLimit(before=soft, after=after, needed=needed)
    if after != soft:
        _log.info("open-file limit raised from %d to %d", soft, after)
    if not limit.enough:
        _log.warning(
            "open-file limit %d is below the %d descriptors the settings need "
            "(GONGZHI_CONNECTIONS_PER_PROCESS plus the database pools): connections beyond "
            "it will be refused; raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd)",
            after,
            needed,
        )
    return limit
