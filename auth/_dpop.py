"""DPoP proof validation at a resource server (RFC 9449 §4.3, §7.1, §11), step by step.

Order: exactly one well-formed proof -> ``typ`` -> ``alg`` -> embedded public ``jwk``
-> signature -> claim types -> ``htm`` -> ``htu`` -> nonce -> ``iat`` window -> ``ath``
-> key binding (``cnf.jkt``) -> replay. The replay store is consulted last, so only a
proof that passed every other check can occupy a slot in it (an unsigned proof naming
someone else's key cannot burn their ``jti``). After parsing, the steps are
``auth._proof_steps.DPOP_STEPS``, the one sequence a verifier's ``ProofChecker`` runs
and the doctor walks.

Every failure is ``InvalidDpopProof`` (or ``UseDpopNonce``); descriptions never repeat
proof content.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._access_token import numeric_date
from ._errors import Check, InvalidDpopProof, InvalidToken, UseDpopNonce
from ._htu import normalise_url
from ._jwk import import_public_key, key_fits_algorithm
from ._jws import (
    CompactJws,
    Defect,
    Key,
    MalformedJws,
    b64url_encode,
    parse_compact,
    signature_is_valid,
)
from ._nonce import DpopNonces
from ._replay import ReplayStore, replay_key

#: A proof carrying a 4096-bit RSA key is under 3 KiB.
MAX_PROOF_LENGTH = 8 * 1024
MAX_JTI_LENGTH = 256
_KEY_CHECKS = {
    Defect.PRIVATE_KEY: Check.DPOP_JWK_PRIVATE,
    Defect.KEY_SIZE: Check.DPOP_JWK_SIZE,
    Defect.KEY_USE: Check.DPOP_JWK_USE,
    Defect.KEY_VULNERABLE: Check.DPOP_JWK_VULNERABLE,
}
_PARSE_CHECKS = {
    Defect.SIZE: Check.DPOP_SIZE,
    Defect.FORMAT: Check.DPOP_FORMAT,
    Defect.BASE64URL: Check.DPOP_BASE64URL,
    Defect.JSON: Check.DPOP_JSON,
    Defect.DUPLICATE_MEMBER: Check.DPOP_DUPLICATE_MEMBER,
}


@dataclass(frozen=True, slots=True)
class DpopPolicy:
    algorithms: frozenset[str]
    max_age: int = 60
    leeway: int = 30
    max_length: int = MAX_PROOF_LENGTH


@dataclass(frozen=True, slots=True)
class DpopProof:
    """A proof that passed every check."""

    jkt: str
    jti: str
    iat: float


class ProofKeyCache:
    """Imported proof keys and their RFC 7638 thumbprints, by canonical JWK.

    A client signs every proof with the same key, so importing it once saves most of
    the per-request key work. Bounded LRU.
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, tuple[Key, str]] = OrderedDict()
        self._max_entries = max_entries

    def get(self, jwk: Mapping[str, Any], *, header_segment: str) -> tuple[Key, str]:
        """The public key and its thumbprint. ``header_segment`` is the proof's encoded
        header, which holds the jwk: a client's proofs all share it, and it is a cheaper
        cache key than a canonical serialisation of the jwk.

        Raises:
            MalformedJws: private members, unsupported or invalid key.
        """
        entry = self._entries.get(header_segment)
        if entry is None:
            key = import_public_key(dict(jwk))
            entry = (key, key.thumbprint())
            self._entries[header_segment] = entry
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(header_segment)
        return entry


def parse_proof(values: Sequence[str], *, max_length: int) -> CompactJws:
    """Exactly one ``DPoP`` header holding one well-formed JWT (§4.3 steps 1-2). A
    comma-joined pair of proofs is not a JWT and fails here too."""
    if len(values) != 1:
        raise InvalidDpopProof("exactly one DPoP header is required", check=Check.DPOP_HEADER)
    try:
        return parse_compact(values[0].strip(), max_length=max_length)
    except MalformedJws as exc:
        raise InvalidDpopProof(
            f"malformed DPoP proof: {exc}", check=_PARSE_CHECKS.get(exc.defect, Check.DPOP_FORMAT)
        ) from exc


def check_proof_type(header: Mapping[str, Any]) -> None:
    """``typ`` is ``dpop+jwt`` (§4.3 step 4), so no other kind of signed JWT can pass as a
    proof (§11.5). Compared as a media type: case-insensitively, and with the
    ``application/`` prefix RFC 7515 §4.1.9 lets senders add or omit."""
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower().removeprefix("application/") != "dpop+jwt":
        raise InvalidDpopProof("the proof's typ is not dpop+jwt", check=Check.DPOP_TYP)
    if "crit" in header:
        raise InvalidDpopProof("the proof uses a critical header extension", check=Check.DPOP_CRIT)


def check_proof_algorithm(header: Mapping[str, Any], allowed: frozenset[str]) -> str:
    """``alg`` is an accepted asymmetric algorithm, never ``none`` or MAC (§4.3 step 5)."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise InvalidDpopProof("the proof's algorithm is not accepted", check=Check.DPOP_ALG)
    return alg


def proof_key(jws: CompactJws, alg: str, cache: ProofKeyCache) -> tuple[Key, str]:
    """The embedded ``jwk`` is a public key (§4.3 step 7) that fits ``alg``; returns it
    with its RFC 7638 thumbprint."""
    jwk = jws.header.get("jwk")
    if not isinstance(jwk, dict):
        raise InvalidDpopProof("the proof carries no jwk", check=Check.DPOP_JWK)
    try:
        key, jkt = cache.get(jwk, header_segment=jws.header_segment)
    except MalformedJws as exc:
        raise InvalidDpopProof(
            f"the proof's jwk is not acceptable: {exc}",
            check=_KEY_CHECKS.get(exc.defect, Check.DPOP_JWK),
        ) from exc
    if not key_fits_algorithm(key, alg):
        raise InvalidDpopProof("the proof's jwk does not fit its algorithm", check=Check.DPOP_JWK)
    return key, jkt


def check_proof_signature(jws: CompactJws, alg: str, key: Key) -> None:
    """The signature verifies with the embedded key (§4.3 step 6)."""
    if not signature_is_valid(jws, alg, key):
        raise InvalidDpopProof("the proof's signature is invalid", check=Check.DPOP_SIGNATURE)


def required_proof_claims(claims: Mapping[str, Any]) -> tuple[str, str, str]:
    """``jti``, ``htm`` and ``htu`` are strings (§4.2, §4.3 step 3); returns them."""
    jti, htm, htu = claims.get("jti"), claims.get("htm"), claims.get("htu")
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH:
        raise InvalidDpopProof("the proof lacks a valid jti", check=Check.DPOP_JTI)
    if not isinstance(htm, str):
        raise InvalidDpopProof("the proof lacks a valid htm", check=Check.DPOP_HTM)
    if not isinstance(htu, str):
        raise InvalidDpopProof("the proof lacks a valid htu", check=Check.DPOP_HTU)
    return jti, htm, htu


def check_method(htm: str, method: str) -> None:
    """``htm`` equals the request method (§4.3 step 8; methods are case-sensitive)."""
    if htm != method:
        raise InvalidDpopProof("the proof was made for another HTTP method", check=Check.DPOP_HTM)


def check_target_uri(htu: str, expected_htu: str) -> None:
    """``htu`` equals the request URL without query and fragment, both normalised
    (§4.3 step 9 and the paragraph after the steps). ``expected_htu`` is already
    normalised."""
    try:
        normalised = normalise_url(htu)
    except ValueError as exc:
        raise InvalidDpopProof("the proof's htu is not a valid URL", check=Check.DPOP_HTU) from exc
    if normalised != expected_htu:
        raise InvalidDpopProof("the proof was made for another URL", check=Check.DPOP_HTU)


def check_nonce(claims: Mapping[str, Any], nonces: DpopNonces | None) -> None:
    """When server nonces are on, the proof carries a current one (§4.3 step 10, §9)."""
    if nonces is not None and not nonces.is_valid(claims.get("nonce")):
        raise UseDpopNonce(
            "the resource server requires a nonce in the DPoP proof", nonce=nonces.current()
        )


def check_freshness(claims: Mapping[str, Any], *, now: float, max_age: int, leeway: int) -> float:
    """``iat`` lies within [now - max_age - leeway, now + leeway] (§4.3 step 11, §11.1)."""
    try:
        iat = numeric_date(claims, "iat")
    except InvalidToken as exc:
        raise InvalidDpopProof("the proof's iat is not a valid date", check=Check.DPOP_IAT) from exc
    if iat is None:
        raise InvalidDpopProof("the proof lacks iat", check=Check.DPOP_IAT)
    if iat < now - max_age - leeway or iat > now + leeway:
        raise InvalidDpopProof("the proof is not fresh", check=Check.DPOP_IAT)
    return iat


def access_token_hash(access_token: str) -> str:
    """``ath``: base64url SHA-256 of the access token's ASCII bytes (§4.2)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest())


def check_token_hash(claims: Mapping[str, Any], expected_ath: str) -> None:
    """``ath`` matches the presented access token's hash (§4.3 step 12, §7.1)."""
    ath = claims.get("ath")
    # compare_digest raises TypeError on a non-ASCII str: such an ath is simply wrong.
    if not isinstance(ath, str) or not ath.isascii() or not hmac.compare_digest(ath, expected_ath):
        raise InvalidDpopProof(
            "the proof's ath does not match the access token", check=Check.DPOP_ATH
        )


def check_key_binding(jkt: str, expected_jkt: str) -> None:
    """The proof key is the key the token is bound to: ``cnf.jkt`` (§4.3 step 12, §6.1).
    A mismatch means the token is being used by someone without its key."""
    if not hmac.compare_digest(jkt, expected_jkt):
        raise InvalidDpopProof(
            "the proof's key is not the key the access token is bound to", check=Check.DPOP_JKT
        )


async def check_replay(
    replay: ReplayStore, *, jkt: str, jti: str, iat: float, now: float, policy: DpopPolicy
) -> None:
    """The proof has not been used before (§11.1). It is remembered for as long as its
    ``iat`` would still pass ``check_freshness``."""
    ttl = max(1.0, iat + policy.max_age + policy.leeway - now + 1.0)
    if not await replay.first_use(replay_key(jkt, jti), ttl_seconds=ttl):
        raise InvalidDpopProof("the proof has already been used", check=Check.DPOP_REPLAY)
