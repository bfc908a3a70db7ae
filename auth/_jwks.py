"""The issuer's signing keys: fetch, filter, cache, rotate (RFC 7517; RFC 8725 §3.1).

Keys come from the issuer's ``jwks_uri`` and nowhere else. The set is cached for the
response's ``Cache-Control: max-age`` clamped to configured bounds, refreshed in the
background before it goes stale, and kept when a refresh fails, so tokens signed by
known keys keep validating while the identity provider is down.

A token naming an unknown ``kid`` may trigger one refetch per cooldown: after a key
rotation every new token carries the new kid, so it is picked up within seconds, yet a
flood of random kids cannot become a flood of fetches. Unknown kids are remembered for
the cooldown and refused without a lookup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._discovery import (
    FetchError,
    Problem,
    ProviderMetadata,
    fetch_json,
    fetch_provider_metadata,
)
from ._errors import Check, InvalidToken, ServiceUnavailable
from ._jwk import import_public_key, key_fits_algorithm
from ._jws import Key, MalformedJws
from ._logs import PACKAGE, library_logger
from ._stats import KeySetStats

logger = library_logger("jwks")

MAX_KID_LENGTH = 256
_UNKNOWN_KIDS_REMEMBERED = 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|=|$)", re.IGNORECASE)
_RETRY_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class SigningKeys:
    """The usable signing keys of one JWKS document, indexed by ``kid``."""

    by_kid: Mapping[str, tuple[Key, ...]]
    without_kid: tuple[Key, ...] = ()
    ignored: tuple[str, ...] = field(default=())
    #: (kid, RFC 7638 thumbprint) of every key; kid None for the keys published without.
    published: frozenset[tuple[str | None, str]] = frozenset()
    #: Each key with its thumbprint, computed once per key set rather than per token.
    thumbprints: tuple[tuple[Key, str], ...] = ()

    def __len__(self) -> int:
        return sum(len(keys) for keys in self.by_kid.values()) + len(self.without_kid)

    def publishes(self, kid: str | None, thumbprint: str) -> bool:
        """True when a token naming ``kid`` (or none) would still be verified with the
        key whose RFC 7638 thumbprint is ``thumbprint``: the same key ``key_for``
        would choose, so a cached verification answers as a fresh one would."""
        if kid is not None or self.without_kid:
            return (kid, thumbprint) in self.published
        # No kid, and no key published without one: only a single key resolves it.
        return len(self) == 1 and next(iter(self.published))[1] == thumbprint

    def thumbprint_of(self, key: Key) -> str:
        """The RFC 7638 thumbprint of ``key``, one of this set's keys."""
        for candidate, thumbprint in self.thumbprints:
            if candidate is key:
                return thumbprint
        return key.thumbprint()


def _ignore_reason(jwk: Mapping[str, Any]) -> str | None:
    # use, key_ops, RSA bounds and ROCA are import_public_key's rules, shared with proof
    # keys. Members are tested for presence: "kid": null is malformed, not absent.
    if jwk.get("kty") == "oct":
        return "symmetric key"
    if "kid" in jwk and (not isinstance(jwk["kid"], str) or len(jwk["kid"]) > MAX_KID_LENGTH):
        return "invalid kid"
    if not isinstance(jwk.get("alg", ""), str):
        return "invalid alg"
    return None


def select_signing_keys(document: Mapping[str, Any]) -> SigningKeys:
    """Keep the keys a token may be verified with: those ``import_public_key`` accepts
    (asymmetric, public only, ``use``/``key_ops`` allowing verification, RSA within
    bounds and without the ROCA fingerprint), with a valid ``kid`` and a supported
    algorithm.

    Raises:
        FetchError: the document has no ``keys`` array.
    """
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise FetchError("JWKS has no keys array", problem=Problem.NO_USABLE_KEY, document="jwks")
    by_kid: dict[str, list[Key]] = {}
    without_kid: list[Key] = []
    ignored: list[str] = []
    published: set[tuple[str | None, str]] = set()
    thumbprints: list[tuple[Key, str]] = []
    for jwk in entries:
        if not isinstance(jwk, dict):
            ignored.append("?: not an object")
            continue
        label = str(jwk.get("kid", "?"))[:MAX_KID_LENGTH]
        reason = _ignore_reason(jwk)
        if reason is None:
            try:
                key = import_public_key(jwk)
            except MalformedJws as exc:
                reason = str(exc)
            else:
                if not any(key_fits_algorithm(key, alg) for alg in _algorithms_for(key)):
                    reason = "no supported algorithm fits this key"
        if reason is not None:
            ignored.append(f"{label}: {reason}")
            continue
        kid = jwk.get("kid")
        if kid is None:
            without_kid.append(key)
        else:
            by_kid.setdefault(kid, []).append(key)
        thumbprint = key.thumbprint()
        published.add((kid, thumbprint))
        thumbprints.append((key, thumbprint))
    return SigningKeys(
        by_kid={kid: tuple(keys) for kid, keys in by_kid.items()},
        without_kid=tuple(without_kid),
        ignored=tuple(ignored),
        published=frozenset(published),
        thumbprints=tuple(thumbprints),
    )


def _algorithms_for(key: Key) -> tuple[str, ...]:
    if key.alg is not None:
        return (key.alg,)
    return {
        "RSA": ("RS256", "PS256"),
        "EC": ("ES256", "ES384", "ES512"),
        "OKP": ("EdDSA",),
    }[key.key_type]


def check_usable(keys: SigningKeys, algorithms: Collection[str], *, url: str) -> None:
    """Refuse a key set no token could ever be verified with: no usable key at all, or
    none that fits an algorithm this API accepts.

    Raises:
        FetchError: ``Problem.NO_USABLE_KEY``; the message lists why each key was ignored.
    """
    if not len(keys):
        ignored = "; ".join(keys.ignored) or "the set is empty"
        raise FetchError(
            f"the JWKS at {url} has no usable signing key ({ignored})",
            problem=Problem.NO_USABLE_KEY,
            document="jwks",
            url=url,
        )
    every_key = [key for group in keys.by_kid.values() for key in group] + list(keys.without_kid)
    fitting = [
        alg for key in every_key for alg in _algorithms_for(key) if key_fits_algorithm(key, alg)
    ]
    if not set(fitting) & set(algorithms):
        raise FetchError(
            f"the JWKS at {url} has keys for {' '.join(sorted(set(fitting)))} only, and "
            f"OIDC_ALGORITHMS allows {' '.join(algorithms)}",
            problem=Problem.NO_USABLE_KEY,
            document="jwks",
            url=url,
        )


def cache_lifetime(headers: httpx.Headers, *, minimum: int, maximum: int, default: int) -> int:
    """Seconds to keep a JWKS: ``Cache-Control`` max-age within [minimum, maximum]."""
    cache_control = headers.get("cache-control", "")
    if _NO_CACHE.search(cache_control):
        return minimum
    match = _MAX_AGE.search(cache_control)
    seconds = int(match.group(1)) if match else default
    return max(minimum, min(maximum, seconds))


class JwksCache:
    """Signing keys of one issuer, kept fresh; the only source of verification keys."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        issuer: str,
        discovery_uri: str,
        min_ttl: int = 60,
        max_ttl: int = 86_400,
        default_ttl: int = 600,
        refetch_cooldown: float = 10.0,
        retry_backoff: Sequence[float] = _RETRY_BACKOFF,
        clock: Callable[[], float] = time.monotonic,
        algorithms: Collection[str] | None = None,
        explain: Callable[[FetchError], str] = str,
    ) -> None:
        self._client = client
        self._issuer = issuer
        self._discovery_uri = discovery_uri
        self._min_ttl, self._max_ttl, self._default_ttl = min_ttl, max_ttl, default_ttl
        self._cooldown = refetch_cooldown
        #: Seconds between background retries after the n-th consecutive failure.
        self._retry_backoff = tuple(retry_backoff) or _RETRY_BACKOFF
        self._clock = clock
        #: Algorithms tokens may use: a key set fitting none of them cannot verify any.
        self._algorithms = tuple(algorithms) if algorithms is not None else None
        #: Turns a failure into the sentence logged and reported (the setting to fix).
        self._explain = explain
        self._problem: FetchError | None = None
        self._metadata: ProviderMetadata | None = None
        self._keys: SigningKeys | None = None
        self._expires_at = 0.0
        self._last_attempt_at: float | None = None
        # The cooldown counts only fetches caused by unknown kids: a background refresh
        # a moment ago says nothing about a key published since.
        self._last_kid_fetch_at: float | None = None
        self._last_success_at: float | None = None
        self._last_error: str | None = None
        self._failures = 0
        self._fetches_ok = 0
        self._fetches_failed = 0
        self._unknown_kids: OrderedDict[str, float] = OrderedDict()
        self._inflight: asyncio.Task[bool] | None = None
        self._maintainer: asyncio.Task[None] | None = None

    @property
    def keys(self) -> SigningKeys | None:
        return self._keys

    @property
    def problem(self) -> FetchError | None:
        """Why the last fetch failed, or None after a success."""
        return self._problem

    def state(self) -> str:
        """``ready`` (keys loaded), ``misconfigured`` (the provider's answer can never
        work as configured), ``unavailable`` (it did not answer) or ``starting``."""
        if self._keys is not None:
            return "ready"
        if self._problem is not None:
            return "misconfigured" if self._problem.misconfigured else "unavailable"
        return "starting"

    async def start(self) -> None:
        """Try a first load (failure is logged, not raised) and keep the set fresh."""
        await self.refresh()
        self._maintainer = asyncio.create_task(self._maintain(), name="jwks-maintainer")

    async def aclose(self) -> None:
        for task in (self._maintainer, self._inflight):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def status(self) -> dict[str, Any]:
        now = self._clock()
        return {
            "state": self.state(),
            "keys_loaded": self._keys is not None,
            "key_count": len(self._keys) if self._keys else 0,
            "stale": self._keys is not None and now >= self._expires_at,
            "issuer_reachable": self._last_attempt_at is not None and self._last_error is None,
            "last_error": self._last_error,
            "seconds_since_refresh": (
                None if self._last_success_at is None else round(now - self._last_success_at, 1)
            ),
        }

    def stats(self) -> KeySetStats:
        age = None if self._last_success_at is None else self._clock() - self._last_success_at
        return KeySetStats(
            issuer=self._issuer,
            fetches_ok=self._fetches_ok,
            fetches_failed=self._fetches_failed,
            keys=len(self._keys) if self._keys else 0,
            age_seconds=age,
        )

    async def refresh(self) -> bool:
        """Fetch the keys now; concurrent callers share one fetch. True on success."""
        if self._inflight is None:
            self._inflight = asyncio.create_task(self._fetch(), name="jwks-fetch")
            self._inflight.add_done_callback(self._clear_inflight)
        return await asyncio.shield(self._inflight)

    def _clear_inflight(self, _: asyncio.Task[bool]) -> None:
        self._inflight = None

    async def _fetch(self) -> bool:
        self._last_attempt_at = self._clock()
        try:
            if self._metadata is None:
                self._metadata = await fetch_provider_metadata(
                    self._client, self._discovery_uri, expected_issuer=self._issuer
                )
            jwks_uri = self._metadata.jwks_uri
            document, headers = await fetch_json(self._client, jwks_uri, document="jwks")
            keys = select_signing_keys(document)
            if self._algorithms is not None:
                check_usable(keys, self._algorithms, url=jwks_uri)
        except FetchError as exc:
            # Discovery is fetched again next time: the jwks_uri may have moved.
            self._metadata = None
            self._failures += 1
            self._fetches_failed += 1
            self._last_error = str(exc)
            self._problem = exc
            if exc.problem is Problem.NO_USABLE_KEY:
                # What the issuer publishes now is all it vouches for: keys it removed
                # verify nothing more, even when none is left.
                self._keys = None
            state = "keeping the cached keys" if self._keys else "no keys loaded"
            if exc.misconfigured:
                logger.error(  # noqa: TRY400 (a setting to fix, not a traceback to read)
                    "%s: cannot load signing keys (%s): %s", PACKAGE, state, self._explain(exc)
                )
            else:
                logger.warning(
                    "%s: signing key refresh failed (%s): %s", PACKAGE, state, self._explain(exc)
                )
            return False
        ttl = cache_lifetime(
            headers, minimum=self._min_ttl, maximum=self._max_ttl, default=self._default_ttl
        )
        now = self._clock()
        changed = self._keys is None or (self._keys.published, self._keys.ignored) != (
            keys.published,
            keys.ignored,
        )
        self._keys, self._expires_at = keys, now + ttl
        self._last_success_at, self._last_error, self._failures = now, None, 0
        self._problem = None
        self._fetches_ok += 1
        self._unknown_kids.clear()
        # Refreshes are frequent; only a change of the key set is worth a log line.
        level = logging.INFO if changed else logging.DEBUG
        for reason in keys.ignored:
            logger.log(level, "ignoring JWKS key %s", reason)
        logger.log(level, "signing keys %s, next refresh in %ds", list(keys.by_kid), ttl)
        return True

    async def _maintain(self) -> None:
        while True:
            if self._keys is None or self._last_error is not None:
                # After a failure: wait out the backoff, then retry (whatever the clock
                # says about expiry, the last attempt failed and must be repeated).
                backoff = self._retry_backoff
                await asyncio.sleep(backoff[min(max(self._failures, 1), len(backoff)) - 1])
            else:
                delay = self._expires_at - self._clock()
                if delay > 0:
                    # Re-checked after the sleep: a lookup may have refreshed meanwhile.
                    await asyncio.sleep(delay)
                    continue
            await self.refresh()

    def _may_refetch(self, now: float) -> bool:
        return self._last_attempt_at is None or now - self._last_attempt_at >= self._cooldown

    def _may_refetch_for_kid(self, now: float) -> bool:
        return self._last_kid_fetch_at is None or now - self._last_kid_fetch_at >= self._cooldown

    async def key_for(self, kid: str | None, alg: str) -> Key:
        """The issuer's key for ``kid`` that fits ``alg``.

        Raises:
            InvalidToken: the kid is unknown to the issuer, or its key does not fit ``alg``.
            ServiceUnavailable: no keys loaded yet, or the issuer is unreachable while
                a kid it may just have published is asked for.
        """
        now = self._clock()
        if self._keys is None and self._may_refetch(now):
            await self.refresh()
        if self._keys is None:
            if self._problem is not None and self._problem.misconfigured:
                raise ServiceUnavailable(
                    "this API's identity provider settings are wrong; its log says which",
                    check=Check.ISSUER_MISCONFIGURED,
                )
            raise ServiceUnavailable(
                "the issuer's signing keys are not available yet", check=Check.KEYS_UNAVAILABLE
            )
        if kid is None:
            return self._choose(self._keys.without_kid or _only_key(self._keys), alg)
        candidates = self._keys.by_kid.get(kid)
        if candidates is not None:
            return self._choose(candidates, alg)
        if self._unknown_kids.get(kid, 0.0) > now:
            raise _unknown_kid()
        if self._inflight is not None:
            # A refresh is under way anyway: its result may hold the kid.
            await asyncio.shield(self._inflight)
            candidates = self._keys.by_kid.get(kid)
            if candidates is not None:
                return self._choose(candidates, alg)
        if self._may_refetch_for_kid(now):
            self._last_kid_fetch_at = now
            refreshed = await self.refresh()
            candidates = self._keys.by_kid.get(kid)
            if candidates is not None:
                return self._choose(candidates, alg)
            if not refreshed:
                raise _issuer_unreachable()
            self._remember_unknown(kid, now)
        elif self._last_error is not None:
            raise _issuer_unreachable()
        raise _unknown_kid()

    def _remember_unknown(self, kid: str, now: float) -> None:
        self._unknown_kids[kid] = now + self._cooldown
        self._unknown_kids.move_to_end(kid)
        while len(self._unknown_kids) > _UNKNOWN_KIDS_REMEMBERED:
            self._unknown_kids.popitem(last=False)

    @staticmethod
    def _choose(candidates: tuple[Key, ...], alg: str) -> Key:
        for key in candidates:
            if key_fits_algorithm(key, alg):
                return key
        raise InvalidToken("the token's key does not fit its algorithm", check=Check.KEY)


def _only_key(keys: SigningKeys) -> tuple[Key, ...]:
    # A token without kid is only resolvable when the issuer publishes a single key.
    everything = [key for group in keys.by_kid.values() for key in group]
    if len(everything) != 1:
        raise InvalidToken(
            "the token has no key id and the issuer publishes several keys", check=Check.KID
        )
    return tuple(everything)


def _unknown_kid() -> InvalidToken:
    return InvalidToken("the token's key id is not published by the issuer", check=Check.KID)


def _issuer_unreachable() -> ServiceUnavailable:
    return ServiceUnavailable(
        "the issuer is unreachable and the token's key is unknown", check=Check.ISSUER_UNREACHABLE
    )
