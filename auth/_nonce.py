"""Resource-server DPoP nonces (RFC 9449 §9, §11.2), off unless configured.

Stateless: a nonce is a time step and an HMAC of it under a secret, so every instance
sharing the secret accepts every other instance's nonces without a shared store. A
nonce is accepted during its own time step and the next one, so a client holding one
is never caught out by the step boundary.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from ._jws import MalformedJws, b64url_decode, b64url_encode
from ._stats import NonceStats

_MAC_BYTES = 16


class DpopNonces:
    """Issue and check server nonces; rotate every ``lifetime_seconds``."""

    def __init__(
        self,
        *,
        secret: bytes | None = None,
        lifetime_seconds: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Without a configured secret nonces are only valid on this instance.
        self._secret = secret or secrets.token_bytes(32)
        self._lifetime = lifetime_seconds
        self._clock = clock
        self._issued = 0
        self._refused = 0

    def stats(self) -> NonceStats:
        return NonceStats(issued=self._issued, refused=self._refused)

    def _mac(self, step: int) -> bytes:
        return hmac.new(self._secret, step.to_bytes(8, "big"), hashlib.sha256).digest()[:_MAC_BYTES]

    def _step(self) -> int:
        return int(self._clock() // self._lifetime)

    def current(self) -> str:
        """The nonce to hand out now (in ``DPoP-Nonce``)."""
        self._issued += 1
        step = self._step()
        return b64url_encode(step.to_bytes(8, "big") + self._mac(step))

    def is_valid(self, nonce: object) -> bool:
        """True for a nonce this server (or one sharing the secret) issued recently."""
        valid = self._check(nonce)
        if not valid:
            self._refused += 1
        return valid

    def _check(self, nonce: object) -> bool:
        if not isinstance(nonce, str) or len(nonce) > 64:
            return False
        try:
            raw = b64url_decode(nonce)
        except MalformedJws:
            return False
        if len(raw) != 8 + _MAC_BYTES:
            return False
        step = int.from_bytes(raw[:8], "big")
        if self._step() - step not in (0, 1):
            return False
        return hmac.compare_digest(raw[8:], self._mac(step))
