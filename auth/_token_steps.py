"""The order of the access-token checks: ``ACCESS_TOKEN_STEPS``, the one sequence the
verifier runs (``check_token``) and the doctor walks (``auth._diagnosis``).

Each step binds one check of ``auth._access_token`` (its rule and RFC section are in that
function's docstring) to ``TokenUnderCheck``, the state a token carries through the
sequence, and says which values the check looks at, for the doctor's report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ._access_token import (
    EMBEDDED_KEY_HEADERS,
    AccessTokenPolicy,
    KeyResolver,
    VerifiedAccessToken,
    check_algorithm,
    check_audience,
    check_header_parameters,
    check_issuer,
    check_required_claims,
    check_signature,
    check_time_claims,
    check_trusted_issuer,
    client_id_of,
    confirmation_thumbprint,
    is_numeric_date,
    parse_token,
)
from ._errors import Check, InvalidToken
from ._jws import CompactJws, Key
from ._steps import Step, member, run_steps
from ._token_kind import ID_TOKEN_CLAIMS, check_type


@dataclass(slots=True)
class TokenUnderCheck:
    """A parsed token on its way through ``ACCESS_TOKEN_STEPS``: what it is checked
    against, and what the steps have found so far."""

    jws: CompactJws
    #: The policy of the issuer the token's ``iss`` names; for an issuer this API does
    #: not trust, one with what any trusted issuer accepts (``alg``, ``typ``), so such a
    #: token is refused for what it is, then for its issuer.
    policy: AccessTokenPolicy
    #: The chosen issuer's keys; None when the token names no configured issuer.
    keys: KeyResolver | None
    now: float
    #: For a token naming no configured issuer, where there are multi-tenant issuers:
    #: the ``issuer`` step resolves its tenant with it, setting ``policy`` and ``keys``
    #: (``auth._verifier``), or refuses it.
    choose_issuer: Callable[[TokenUnderCheck], Awaitable[None]] | None = None
    alg: str = ""
    kid: str | None = None
    key: Key | None = None
    expires_at: float = 0.0
    jkt: str | None = None

    @property
    def claims(self) -> Mapping[str, Any]:
        return self.jws.payload

    def verified(self) -> VerifiedAccessToken:
        """The result, once every step has passed."""
        if self.key is None:  # unreachable after the key step; fail closed all the same
            raise InvalidToken("the token's key was not found", check=Check.KID)
        return VerifiedAccessToken(
            claims=self.jws.payload,
            kid=self.kid,
            key=self.key,
            expires_at=self.expires_at,
            jkt=self.jkt,
        )


def _algorithm(token: TokenUnderCheck) -> None:
    token.alg = check_algorithm(token.jws.header, token.policy.algorithms)


def _type(token: TokenUnderCheck) -> None:
    jws, policy = token.jws, token.policy
    check_type(jws.header, jws.payload, accepted=policy.accepted_typ, id_claims=policy.id_claims)


def _type_values(token: TokenUnderCheck) -> dict[str, Any]:
    values: dict[str, Any] = {
        "typ": member(token.jws.header, "typ"),
        "accepted": sorted(token.policy.accepted_typ),
    }
    # What marks an ID token, when the token carries it: the check reads these too.
    id_claims = [name for name in ID_TOKEN_CLAIMS if name in token.claims]
    if id_claims:
        values["id_token_claims"] = id_claims
        values["id_token_claims_allowed"] = sorted(
            {name for allowed in token.policy.id_claims for name in allowed.claims}
        )
    return values


def _issuer(token: TokenUnderCheck) -> Awaitable[None] | None:
    if token.choose_issuer is not None:
        return token.choose_issuer(token)
    check_trusted_issuer(token.jws, None if token.keys is None else token.policy.issuer)
    return None


def _header(token: TokenUnderCheck) -> None:
    token.kid = check_header_parameters(token.jws.header)


async def _key(token: TokenUnderCheck) -> None:
    if token.keys is None:  # the issuer step refused it already; fail closed all the same
        raise InvalidToken("the token's issuer has no keys here", check=Check.ISS)
    token.key = await token.keys.key_for(token.kid, token.alg)


def _signature(token: TokenUnderCheck) -> None:
    if token.key is None:  # unreachable after the key step; fail closed all the same
        raise InvalidToken("the token's key was not found", check=Check.KID)
    check_signature(token.jws, token.alg, token.key)


def _iss(token: TokenUnderCheck) -> None:
    check_issuer(token.jws.payload, token.policy.issuer)


def _aud(token: TokenUnderCheck) -> None:
    check_audience(token.jws.payload, token.policy.audiences)


def _time(token: TokenUnderCheck) -> None:
    token.expires_at = check_time_claims(
        token.jws.payload, now=token.now, leeway=token.policy.leeway
    )


def _claims(token: TokenUnderCheck) -> None:
    check_required_claims(token.jws.payload, token.policy)


def _cnf(token: TokenUnderCheck) -> None:
    token.jkt = confirmation_thumbprint(token.jws.payload)


def _time_values(token: TokenUnderCheck) -> dict[str, Any]:
    claims = token.claims
    values: dict[str, Any] = {name: member(claims, name) for name in ("exp", "iat", "nbf")}
    values |= {"now": token.now, "leeway": token.policy.leeway}
    if is_numeric_date(claims.get("exp")):
        values["expires_in"] = round(claims["exp"] - token.now)
    return values


#: The checks of an access token after parsing, in the order the verifier runs them
#: (``check_token``) and the doctor reports them (``auth._diagnosis``). A new check is a
#: ``Step`` inserted here: both pick it up. ``needs`` only matters to the doctor, which
#: goes on past a failure: what is checked against the issuer's policy or keys is not
#: tried for a token whose issuer is not trusted.
ACCESS_TOKEN_STEPS: tuple[Step[TokenUnderCheck], ...] = (
    Step(
        "alg",
        _algorithm,
        lambda t: {"alg": member(t.jws.header, "alg"), "accepted": sorted(t.policy.algorithms)},
    ),
    Step("typ", _type, _type_values),
    Step("issuer", _issuer, lambda t: {"iss": member(t.claims, "iss")}),
    Step(
        "header",
        _header,
        lambda t: {
            "kid": member(t.jws.header, "kid"),
            "crit": "crit" in t.jws.header,
            "embedded_key": [name for name in EMBEDDED_KEY_HEADERS if name in t.jws.header],
        },
    ),
    Step("key", _key, lambda t: {"kid": t.kid, "alg": t.alg}, needs=("alg", "issuer", "header")),
    Step("signature", _signature, lambda t: {"kid": t.kid, "alg": t.alg}, needs=("key",)),
    Step(
        "iss",
        _iss,
        lambda t: {"iss": member(t.claims, "iss"), "expected": t.policy.issuer},
        needs=("issuer",),
    ),
    Step(
        "aud",
        _aud,
        lambda t: {"aud": member(t.claims, "aud"), "accepted": list(t.policy.audiences)},
        needs=("issuer",),
    ),
    Step("time", _time, _time_values),
    Step(
        "claims",
        _claims,
        lambda t: {
            "sub": member(t.claims, "sub"),
            "jti": "present" if "jti" in t.claims else "absent",
            "client_id": client_id_of(t.claims, t.policy.client_id_claims),
            "required": sorted(t.policy.required_claims),
        },
        needs=("issuer",),
    ),
    Step("cnf", _cnf, lambda t: {"cnf": member(t.claims, "cnf")}),
)


async def check_token(token: TokenUnderCheck) -> VerifiedAccessToken:
    """Run ``ACCESS_TOKEN_STEPS`` on a parsed token.

    Raises:
        InvalidToken: the first check that fails.
        ServiceUnavailable: the issuer's keys cannot be obtained.
    """
    await run_steps(ACCESS_TOKEN_STEPS, token)
    return token.verified()


async def verify_jws(
    jws: CompactJws, *, policy: AccessTokenPolicy, keys: KeyResolver, now: float
) -> VerifiedAccessToken:
    """Every check after parsing on a token meant for ``policy``'s issuer.

    Raises:
        InvalidToken: the first check that fails.
        ServiceUnavailable: the issuer's keys cannot be obtained.
    """
    return await check_token(TokenUnderCheck(jws, policy=policy, keys=keys, now=now))


async def verify_access_token(
    token: str, *, policy: AccessTokenPolicy, keys: KeyResolver, now: float
) -> VerifiedAccessToken:
    """Run every RFC 9068 §4 check on ``token``, in order: ``parse_token``, then
    ``ACCESS_TOKEN_STEPS``.

    Raises:
        InvalidToken: the first check that fails.
        ServiceUnavailable: the issuer's keys cannot be obtained.
    """
    jws = parse_token(token, max_length=policy.max_length)
    return await verify_jws(jws, policy=policy, keys=keys, now=now)
