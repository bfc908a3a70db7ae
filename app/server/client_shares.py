"""Each client's share of the server's connections (``API_MAX_CONNECTIONS_PER_CLIENT``).

Without one, a single host opening connections (two thousand slow readers, or a couple
of hundred new idle connections a second) fills ``API_MAX_CONNECTIONS`` and every other
client gets 503. A client is its address: the peer's, or behind a proxy listed in
``OIDC_TRUSTED_PROXIES`` the address that proxy forwarded (``auth.client_address``), in
which case a connection counts for the client of the request it carries last. IPv6
addresses count by their /64 (one host is routinely given a whole /64).
"""

from __future__ import annotations

import ipaddress
from collections import Counter

__all__ = ["ClientShares", "client_key"]


def client_key(address: str) -> str:
    """What one client is counted under, by every per-client cap (connections here, and
    live sockets where they are kept): an IPv4 address, or an IPv6 address's /64 (one
    host is routinely given a whole /64)."""
    if ":" not in address:
        return address
    try:
        return str(ipaddress.IPv6Network(f"{address}/64", strict=False))
    except ValueError:
        return address


class ClientShares:
    """Open connections per client, against a limit (one object per server)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def take(self, key: str) -> bool:
        """Count one more connection of ``key``; False when that is over its share (the
        connection is counted all the same, and given back like any other)."""
        self._open[key] += 1
        return self._open[key] <= self.limit

    def give_back(self, key: str) -> None:
        self._open[key] -= 1
        if self._open[key] <= 0:
            del self._open[key]

    def open_count(self, key: str) -> int:
        return self._open.get(key, 0)
