"""Enough file descriptors for the connections the server may hold.

Each connection (HTTP or WebSocket) is a socket, and so a file descriptor; many systems
start processes with a soft limit of 1,024 while ``API_MAX_CONNECTIONS`` allows ten
times that. ``python -m app`` raises the soft limit towards the hard one, as servers
commonly do, and says in one line when even the hard limit is short: the connections
beyond it would fail to be accepted, not be refused with a 503.
"""

from __future__ import annotations

import logging
import resource

logger = logging.getLogger("app.server")

#: Descriptors besides the connections: the listening socket, the database, logs,
#: Redis, the identity providers' connections, the interpreter's own files.
SPARE = 256


def raise_open_file_limit(connections: int) -> int:
    """Raise this process's soft limit on open files to what ``connections`` need
    (never lower it, never above the hard limit); the limit in force after."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = connections + SPARE
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < needed:
        logger.warning(
            "API_MAX_CONNECTIONS=%d needs about %d open files and this process may open "
            "%d (the hard limit): connections beyond it will fail; raise it (ulimit -Hn, "
            "LimitNOFILE=, --ulimit nofile=) or lower API_MAX_CONNECTIONS",
            connections,
            needed,
            target,
        )
    return target
