"""Validation of JWT access tokens (RFC 9068 §4), one named step per check.

The steps run in a fixed order, cheapest and most structural first, and every failure
is an ``InvalidToken`` whose description says which check refused the token without
repeating any of its content:

    parse -> algorithm -> typ -> trusted issuer -> header parameters -> key by kid
    -> signature -> iss -> aud -> exp/nbf/iat -> required claims -> confirmation (cnf)

``parse_token`` comes first; the order of everything after it is
``auth._token_steps.ACCESS_TOKEN_STEPS``, the one sequence the verifier runs and the
doctor walks (``auth._diagnosis``).
The caller parses, then picks the policy and keys by the token's (still unverified)
``iss`` (``auth._verifier``, one policy per trusted issuer); the ``issuer`` step refuses a
token whose issuer is not trusted before any key is looked up, and ``iss`` is compared
exactly once more after the signature.

What a policy accepts beyond strict RFC 9068 (another ``typ``, no ``jti``, the client in
``azp``/``cid``/``appid``, scopes in ``scp``) comes from a provider profile
(``auth._profiles``); tokens of other kinds stay refused (``auth._token_kind``).

Not done here: decrypting JWE access tokens (RFC 9068 §4 step 2; refused as malformed),
and authorization decisions (scopes, roles), which belong to the caller.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from ._claim_paths import claim_value
from ._errors import Check, InvalidToken
from ._jws import CompactJws, Defect, Key, MalformedJws, parse_compact, signature_is_valid
from ._profiles import OPTIONAL_RFC9068_CLAIMS, IdClaimsInAccessTokens

#: Access tokens longer than this are refused before any parsing. Keycloak tokens of a
#: user in many groups reach a few KiB; 16 KiB is also h11's header-size limit.
MAX_TOKEN_LENGTH = 16 * 1024
#: Largest accepted NumericDate: 9999-12-31T23:59:59Z.
MAX_NUMERIC_DATE = 253_402_300_799
MAX_STRING_CLAIM = 1024
MAX_SUBJECT = 255

# Header parameters that point at keys outside the issuer's JWKS (RFC 8725 §3.10).
EMBEDDED_KEY_HEADERS = ("jwk", "jku", "x5u", "x5c")
_EMBEDDED_KEYS = frozenset(EMBEDDED_KEY_HEADERS)
# RFC 7800 §3.2-3.5 and RFC 8705 §3.1: confirmation methods other than jkt.
_OTHER_CONFIRMATIONS = frozenset({"jwk", "jwe", "jku", "kid", "x5t#S256"})
_THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")
#: What ``claim_value`` returns for a claim that is not there (a present null is None).
_ABSENT = object()
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
    """What this resource server accepts from one issuer. The defaults are RFC 9068 as
    written; ``auth.settings.AuthSettings.trusted_issuers`` builds one per issuer."""

    issuer: str
    #: A token naming any one of these in ``aud`` is for this API.
    audiences: tuple[str, ...]
    algorithms: frozenset[str]
    leeway: int = 30
    #: Header ``typ`` values, normalised (``auth._profiles.normalise_typ``); ``absent``.
    accepted_typ: frozenset[str] = frozenset({"at+jwt"})
    required_claims: frozenset[str] = frozenset(OPTIONAL_RFC9068_CLAIMS)
    client_id_claims: tuple[str, ...] = ("client_id", "azp")
    scope_claims: tuple[str, ...] = ("scope",)
    max_length: int = MAX_TOKEN_LENGTH
    #: ID-token claims the provider's access tokens may carry (``auth._profiles``): the
    #: profile's one allowance, or none; the policy for a token naming no trusted issuer
    #: holds every trusted issuer's (``auth._verifier.untrusted_policy``).
    id_claims: tuple[IdClaimsInAccessTokens, ...] = ()


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
    if not header.keys().isdisjoint(_EMBEDDED_KEYS):
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


def check_audience(claims: Mapping[str, Any], audiences: tuple[str, ...]) -> None:
    """``aud`` is one of this API's identifiers, or an array containing one of them
    (RFC 9068 §4 step 4; RFC 7519 §4.1.3)."""
    # Loops rather than all()/any() over generators: this runs for every new token.
    aud = claims.get("aud")
    if isinstance(aud, str):
        accepted = aud in audiences
    elif isinstance(aud, list) and aud:
        for item in aud:
            if not isinstance(item, str):
                raise InvalidToken("the token's audience is malformed", check=Check.AUD)
        accepted = False
        for audience in audiences:
            if audience in aud:
                accepted = True
                break
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
    # 400-digit int raises OverflowError. NaN and the infinities fail it too. (Written
    # out rather than calling is_numeric_date: three calls per token add up.)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= MAX_NUMERIC_DATE
    ):
        raise InvalidToken(
            f"the token's {name} claim is not a valid date", check=_DATE_CHECKS[name]
        )
    return float(value)


def is_numeric_date(value: Any) -> bool:
    """``value`` is a NumericDate ``numeric_date`` accepts."""
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and 0 <= value <= MAX_NUMERIC_DATE
    )


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


def client_id_of(claims: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    """The first present of the client-id claims ``names`` (``client_id``, or a
    provider's alias: ``azp``, ``cid``, ``appid``); None when none is present."""
    for name in names:
        if name in claims:
            return claims[name]
    return None


def check_required_claims(claims: Mapping[str, Any], policy: AccessTokenPolicy) -> None:
    """``sub`` is a printable string of 1 to 255 characters (RFC 9068 §2.2; OpenID
    Connect Core §2): it is the key of the caller's data. ``jti`` and the client id
    are non-empty strings when present, and must be present when the policy requires
    them (RFC 9068 §2.2 does; some providers leave them out). Scope claims are a
    string (``scope``) or a string or list of strings (``scp`` and the like).
    ``iss``, ``aud``, ``exp`` and ``iat`` were checked before."""
    if not is_valid_subject(claims.get("sub")):
        raise InvalidToken("the token lacks a valid sub claim", check=Check.SUB)
    jti = claims.get("jti")
    if ("jti" in claims or "jti" in policy.required_claims) and not _non_empty_string(jti):
        raise InvalidToken("the token lacks a valid jti claim", check=Check.JTI)
    client_id = client_id_of(claims, policy.client_id_claims)
    required = "client_id" in policy.required_claims
    if (client_id is not None or required) and not _non_empty_string(client_id):
        raise InvalidToken("the token lacks a valid client_id claim", check=Check.CLIENT_ID)
    for where in policy.scope_claims:  # claim names or JSON Pointers (auth._claim_paths)
        value = claim_value(claims, where, _ABSENT)
        if value is not _ABSENT and not _is_scope_value(value, allow_list=where != "scope"):
            raise InvalidToken(f"the token's {where} claim is malformed", check=Check.SCOPE)


def _is_scope_value(value: Any, *, allow_list: bool) -> bool:
    # RFC 9068 §2.2.3 / RFC 8693 §4.2: "scope" is a space-separated string; Okta and
    # Hydra put a list in "scp", Entra a space-separated string.
    if isinstance(value, str):
        return True
    return allow_list and isinstance(value, list) and all(_non_empty_string(item) for item in value)


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


def unverified_issuer(jws: CompactJws) -> str | None:
    """The ``iss`` a parsed token claims, before anything is verified: only ever used
    to pick which trusted issuer's policy and keys to verify it with, never to fetch."""
    iss = jws.payload.get("iss")
    return iss if isinstance(iss, str) else None


def check_trusted_issuer(jws: CompactJws, trusted: str | None) -> None:
    """The token's (unverified) ``iss`` is ``trusted``, the issuer whose policy and keys
    were chosen for it (None: it names no issuer this API trusts). Decided from
    configuration alone, before any key lookup, so nothing is fetched for a token from
    an issuer this API does not trust (RFC 8725 §3.8). RFC 9068 §4 step 3 is
    ``check_issuer``, after the signature."""
    if trusted is None or unverified_issuer(jws) != trusted:
        raise InvalidToken(
            "the token was issued by an issuer this API does not trust", check=Check.ISS
        )
