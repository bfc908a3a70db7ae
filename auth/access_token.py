"""Validation of JWT access tokens (RFC 9068 §4), one named step per check.

The steps run in a fixed order, cheapest and most structural first, and every failure
is an ``InvalidToken`` whose description says which check refused the token without
repeating any of its content:

    parse -> algorithm -> typ -> header parameters -> key by kid -> signature
    -> iss -> aud -> exp/nbf/iat -> required claims -> confirmation (cnf)

Not done here: decrypting JWE access tokens (RFC 9068 §4 step 2; refused as malformed),
and authorization decisions (scopes, roles), which belong to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from auth.errors import Check, InvalidToken
from auth.jws import CompactJws, Defect, Key, MalformedJws, parse_compact, signature_is_valid

#: Access tokens longer than this are refused before any parsing. Keycloak tokens of a
#: user in many groups reach a few KiB; 16 KiB is also h11's header-size limit.
MAX_TOKEN_LENGTH = 16 * 1024
#: Largest accepted NumericDate: 9999-12-31T23:59:59Z.
MAX_NUMERIC_DATE = 253_402_300_799
MAX_STRING_CLAIM = 1024
MAX_SUBJECT = 255

_AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
# Header parameters that point at keys outside the issuer's JWKS (RFC 8725 §3.10).
_EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")
# Keycloak's payload "typ" of tokens that are not access tokens ("ID", "Refresh", ...).
_ACCESS_TOKEN_PAYLOAD_TYPES = frozenset({"bearer", "dpop"})
# RFC 7800 §3.2-3.5 and RFC 8705 §3.1: confirmation methods other than jkt.
_OTHER_CONFIRMATIONS = frozenset({"jwk", "jwe", "jku", "kid", "x5t#S256"})
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
_PARSE_CHECKS = {
    Defect.SIZE: Check.SIZE,
    Defect.FORMAT: Check.FORMAT,
    Defect.BASE64URL: Check.BASE64URL,
    Defect.JSON: Check.JSON,
    Defect.DUPLICATE_MEMBER: Check.DUPLICATE_MEMBER,
}
_DATE_CHECKS = {"exp": Check.EXP, "nbf": Check.NBF, "iat": Check.IAT}


class KeyResolver(Protocol):
    async def key_for(self, kid: str | None, alg: str) -> Key: ...


@dataclass(frozen=True, slots=True)
class AccessTokenPolicy:
    """What this resource server accepts."""

    issuer: str
    audience: str
    algorithms: frozenset[str]
    leeway: int = 30
    accept_jwt_typ: bool = False
    max_length: int = MAX_TOKEN_LENGTH


@dataclass(frozen=True, slots=True)
class VerifiedAccessToken:
    claims: Mapping[str, Any]
    kid: str | None
    #: The issuer's key the signature verified with.
    key: Key
    expires_at: float
    #: ``cnf.jkt``: the RFC 7638 thumbprint of the DPoP key the token is bound to.
    jkt: str | None


def parse_token(token: str, *, max_length: int) -> CompactJws:
    """Compact JWS of at most ``max_length`` characters with JSON-object header and
    payload (RFC 9068 §2.1; RFC 7515 §7.1). JWE and JSON serialisations are refused."""
    try:
        return parse_compact(token, max_length=max_length)
    except MalformedJws as exc:
        raise InvalidToken(
            f"malformed access token: {exc}", check=_PARSE_CHECKS.get(exc.defect, Check.FORMAT)
        ) from exc


def check_algorithm(header: Mapping[str, Any], allowed: frozenset[str]) -> str:
    """``alg`` is one of the allowed asymmetric algorithms (RFC 9068 §4 step 5; RFC 8725
    §3.1). ``none`` and HMAC in any spelling are never in the allow-list."""
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in allowed:
        raise InvalidToken("the token's signing algorithm is not accepted", check=Check.ALG)
    return alg


def check_type(
    header: Mapping[str, Any], claims: Mapping[str, Any], *, accept_jwt_typ: bool
) -> None:
    """Header ``typ`` is ``at+jwt`` (RFC 9068 §4 step 1; RFC 8725 §3.11), compared
    case-insensitively as a media type. With the compatibility switch, ``JWT`` is also
    accepted, but then a payload ``typ`` other than Keycloak's ``Bearer``/``DPoP``
    (an ID or refresh token) is still refused."""
    typ = header.get("typ")
    if isinstance(typ, str) and typ.lower() in _AT_JWT_TYPES:
        return
    if accept_jwt_typ and isinstance(typ, str) and typ.lower() == "jwt":
        payload_typ = claims.get("typ")
        if "typ" not in claims or (
            isinstance(payload_typ, str) and payload_typ.lower() in _ACCESS_TOKEN_PAYLOAD_TYPES
        ):
            return
        raise InvalidToken("the token is not an access token", check=Check.TYP)
    raise InvalidToken("the token is not an access token (typ must be at+jwt)", check=Check.TYP)


def check_header_parameters(header: Mapping[str, Any]) -> str | None:
    """Refuse ``crit`` (no JWS extension is implemented, RFC 7515 §4.1.11) and keys
    carried or referenced by the token (RFC 8725 §3.10); return ``kid`` if any.
    A kid is only ever used as a dictionary key into the issuer's JWKS; a present kid
    must be a string ("kid": null is not "no kid", RFC 7515 §4.1.4)."""
    if "crit" in header:
        raise InvalidToken(
            "the token uses a critical header extension this server does not implement",
            check=Check.CRIT,
        )
    if any(name in header for name in _EMBEDDED_KEY_HEADERS):
        raise InvalidToken(
            "the token names its own key; only the issuer's keys are used",
            check=Check.EMBEDDED_KEY,
        )
    if "kid" not in header:
        return None
    kid = header["kid"]
    if not isinstance(kid, str) or not 0 < len(kid) <= 256:
        raise InvalidToken("the token's key id is malformed", check=Check.KID)
    return kid


def check_signature(jws: CompactJws, alg: str, key: Key) -> None:
    """The JWS signature verifies with the issuer's key (RFC 9068 §4 step 5)."""
    if not signature_is_valid(jws, alg, key):
        raise InvalidToken("the token's signature is invalid", check=Check.SIGNATURE)


def check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    """``iss`` equals the configured issuer exactly (RFC 9068 §4 step 3)."""
    if claims.get("iss") != issuer:
        raise InvalidToken("the token was issued by another issuer", check=Check.ISS)


def check_audience(claims: Mapping[str, Any], audience: str) -> None:
    """``aud`` is this API's identifier or an array containing it (RFC 9068 §4 step 4)."""
    aud = claims.get("aud")
    if isinstance(aud, str):
        accepted = aud == audience
    elif isinstance(aud, list) and aud and all(isinstance(item, str) for item in aud):
        accepted = audience in aud
    else:
        raise InvalidToken("the token's audience is malformed", check=Check.AUD)
    if not accepted:
        raise InvalidToken("the token is meant for another audience", check=Check.AUD)


def numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim (RFC 7519 §2): a finite JSON number in [0, year 9999], or
    None when absent. Booleans, strings, null, NaN and huge values are malformed, not
    coerced: a present claim has its type (RFC 7519 §4.1)."""
    if name not in claims:
        return None
    value = claims[name]
    # The range check compares numbers without converting them: math.isfinite() of a
    # 400-digit int raises OverflowError. NaN and the infinities fail it too.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_NUMERIC_DATE
    ):
        raise InvalidToken(
            f"the token's {name} claim is not a valid date", check=_DATE_CHECKS[name]
        )
    return float(value)


def check_time_claims(claims: Mapping[str, Any], *, now: float, leeway: int) -> float:
    """``exp`` is in the future (RFC 9068 §4 step 6), ``nbf`` and ``iat`` are not,
    each within ``leeway`` seconds. Returns ``exp``."""
    exp = numeric_date(claims, "exp")
    iat = numeric_date(claims, "iat")
    nbf = numeric_date(claims, "nbf")
    if exp is None:
        raise InvalidToken("the token lacks exp", check=Check.EXP)
    if iat is None:
        raise InvalidToken("the token lacks iat", check=Check.IAT)
    if exp <= now - leeway:
        raise InvalidToken("the token has expired", check=Check.EXP)
    if nbf is not None and nbf > now + leeway:
        raise InvalidToken("the token is not valid yet", check=Check.NBF)
    if iat > now + leeway:
        raise InvalidToken("the token was issued in the future", check=Check.IAT)
    return exp


def _non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_STRING_CLAIM


def is_valid_subject(subject: Any) -> bool:
    """A ``sub``: a printable string of 1 to 255 characters (OpenID Connect Core §2)."""
    return isinstance(subject, str) and 0 < len(subject) <= MAX_SUBJECT and subject.isprintable()


def check_required_claims(claims: Mapping[str, Any]) -> None:
    """``sub``, ``jti`` and ``client_id`` are non-empty strings (RFC 9068 §2.2), ``sub``
    printable and at most 255 characters (OpenID Connect Core §2): it is the key of the
    caller's data. Keycloak puts the client in ``azp``, which is accepted in place of
    ``client_id``; ``scope``, when present, is a string. ``iss``, ``aud``, ``exp`` and
    ``iat`` were checked before."""
    if not is_valid_subject(claims.get("sub")):
        raise InvalidToken("the token lacks a valid sub claim", check=Check.SUB)
    if not _non_empty_string(claims.get("jti")):
        raise InvalidToken("the token lacks a valid jti claim", check=Check.JTI)
    client_id = claims.get("client_id", claims.get("azp"))
    if not _non_empty_string(client_id):
        raise InvalidToken("the token lacks a valid client_id claim", check=Check.CLIENT_ID)
    if "scope" in claims and not isinstance(claims["scope"], str):
        raise InvalidToken("the token's scope claim is malformed", check=Check.SCOPE)


def confirmation_thumbprint(claims: Mapping[str, Any]) -> str | None:
    """``cnf.jkt`` of a DPoP-bound token (RFC 9449 §6.1), or None when unbound (no
    ``cnf`` at all: ``"cnf": null`` is not unbound). A token also or only bound by
    another registered confirmation method (mTLS ``x5t#S256``, ``jwk``, ``jwe``, ``jku``,
    ``kid``) cannot be fully checked here and is refused. Unregistered members are
    ignored (Keycloak adds ``kc-jkt-type``)."""
    if "cnf" not in claims:
        return None
    cnf = claims["cnf"]
    if not isinstance(cnf, dict) or "jkt" not in cnf or _OTHER_CONFIRMATIONS & cnf.keys():
        raise InvalidToken(
            "the token is bound to a key by a method this server does not support",
            check=Check.CNF,
        )
    jkt = cnf["jkt"]
    if not isinstance(jkt, str) or not _THUMBPRINT.fullmatch(jkt):
        raise InvalidToken("the token's cnf.jkt is malformed", check=Check.CNF)
    return jkt


async def verify_access_token(
    token: str, *, policy: AccessTokenPolicy, keys: KeyResolver, now: float
) -> VerifiedAccessToken:
    """Run every RFC 9068 §4 check on ``token``, in order.

    Raises:
        InvalidToken: the first check that fails.
        ServiceUnavailable: the issuer's keys cannot be obtained.
    """
    jws = parse_token(token, max_length=policy.max_length)
    alg = check_algorithm(jws.header, policy.algorithms)
    check_type(jws.header, jws.payload, accept_jwt_typ=policy.accept_jwt_typ)
    kid = check_header_parameters(jws.header)
    key = await keys.key_for(kid, alg)
    check_signature(jws, alg, key)
    claims = jws.payload
    check_issuer(claims, policy.issuer)
    check_audience(claims, policy.audience)
    expires_at = check_time_claims(claims, now=now, leeway=policy.leeway)
    check_required_claims(claims)
    jkt = confirmation_thumbprint(claims)
    return VerifiedAccessToken(claims=claims, kid=kid, key=key, expires_at=expires_at, jkt=jkt)
