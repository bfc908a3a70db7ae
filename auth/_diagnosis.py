"""Why is this token refused? Every check of ``auth._access_token``, in the verifier's
order, run one by one on a token so that each can be reported with the values involved
and, for each failure, the fix. Used by ``python -m auth.doctor``.

Unlike the verifier it does not stop at the first failure (later checks still tell
something), and it never shows the signature or the token itself: only header
parameters and claim values.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from ._access_token import (
    check_algorithm,
    check_audience,
    check_header_parameters,
    check_issuer,
    check_required_claims,
    check_signature,
    check_time_claims,
    client_id_of,
    confirmation_thumbprint,
    parse_token,
    unverified_issuer,
)
from ._errors import AuthError, Check
from ._jwks import JwksCache
from ._jws import CompactJws
from ._principal import principal_from_claims
from ._profiles import Provider, TrustedIssuer
from ._settings import AuthSettings
from ._token_kind import check_type
from ._verifier import token_policy


@dataclass(frozen=True, slots=True)
class Finding:
    """One check: its name, whether it passed, the values involved, and the fix."""

    check: str
    passed: bool
    detail: str
    fix: str | None = None


_KEYCLOAK_FIXES: dict[Check, str] = {
    Check.TYP: (
        "in Keycloak, turn on the client's \"Use 'at+jwt' as access token header type\" "
        "(Advanced tab; client attribute access.token.header.type.rfc9068=true), "
        'or accept JWT here: OIDC_ACCEPTED_TYP="at+jwt jwt"'
    ),
    Check.AUD: (
        "in Keycloak, give the client an Audience mapper (Client scopes > dedicated scope > "
        "Add mapper > Audience) that includes this API's client id, or set OIDC_AUDIENCE "
        "to one of the token's audiences"
    ),
    Check.ISS: (
        "OIDC_ISSUER_URI must equal the token's iss exactly: Keycloak builds it from the "
        "host name the client used (set KC_HOSTNAME, or call Keycloak by the same name)"
    ),
    Check.CLIENT_ID: "in Keycloak, the client id is azp; check OIDC_CLIENT_ID_CLAIMS",
}

_FIXES: dict[Check, str] = {
    Check.ALG: "add the algorithm to OIDC_ALGORITHMS (asymmetric ones only)",
    Check.TYP: "set OIDC_PROVIDER to your provider, or list the typ in OIDC_ACCEPTED_TYP",
    Check.ISS: "set OIDC_ISSUER_URI (or an OIDC_ISSUERS entry) to the token's iss exactly",
    Check.AUD: "set OIDC_AUDIENCE to one of the token's aud values (space-separated list)",
    Check.KID: "the issuer does not publish this key: a token from another issuer or realm, "
    "or a key removed since (get a new token)",
    Check.KEY: "the published key does not fit the token's alg; check the issuer's JWKS",
    Check.SIGNATURE: "the token was altered, or signed by another issuer with the same kid",
    Check.EXP: "get a new token; if clocks differ, raise OIDC_LEEWAY_SECONDS (at most 300)",
    Check.NBF: "the token is not valid yet: check the clocks, or OIDC_LEEWAY_SECONDS",
    Check.IAT: "the token is issued in the future: check the clocks, or OIDC_LEEWAY_SECONDS",
    Check.SUB: "the token needs a sub of 1 to 255 printable characters",
    Check.JTI: "set OIDC_PROVIDER to your provider, or OIDC_REQUIRED_CLAIMS without jti",
    Check.CLIENT_ID: "set OIDC_CLIENT_ID_CLAIMS to where your provider puts the client id "
    "(client_id azp cid appid), or OIDC_REQUIRED_CLAIMS without client_id",
    Check.SCOPE: "set OIDC_SCOPE_CLAIMS to claims holding a string or a list of strings",
    Check.CNF: "only cnf.jkt (DPoP) bindings are supported",
    Check.KEYS_UNAVAILABLE: "the issuer's discovery or JWKS cannot be fetched: check "
    "OIDC_DISCOVERY_URI (when the API reaches the issuer by another name) and the network",
    Check.ISSUER_UNREACHABLE: "the issuer cannot be reached to look the key up",
}


def fix_for(check: Check, provider: Provider) -> str | None:
    """The setting (or, for Keycloak, the client attribute) that addresses ``check``."""
    if provider is Provider.KEYCLOAK and check in _KEYCLOAK_FIXES:
        return _KEYCLOAK_FIXES[check]
    return _FIXES.get(check)


class Diagnosis:
    """Runs the checks on one token and collects a ``Finding`` per check."""

    def __init__(self, settings: AuthSettings, *, now: float | None = None) -> None:
        self.settings = settings
        self.now = time.time() if now is None else now
        self.findings: list[Finding] = []
        self.provider = settings.provider

    def step(self, name: str, detail: str, check: Callable[[], object]) -> bool:
        """Run ``check``; record ``detail`` (the values it looked at) and the outcome."""
        try:
            check()
        except AuthError as error:
            fix = fix_for(error.check, self.provider)
            self.findings.append(Finding(name, False, f"{detail}: {error.description}", fix))
            return False
        self.findings.append(Finding(name, True, detail))
        return True

    async def run(self, token: str, client: httpx.AsyncClient) -> list[Finding]:
        """Every check on ``token``, with keys fetched through ``client``."""
        jws: CompactJws | None = None

        def parse() -> None:
            nonlocal jws
            jws = parse_token(token, max_length=16 * 1024)

        if not self.step("parse", f"{len(token)} characters", parse) or jws is None:
            return self.findings
        shown: dict[str, Any] = {k: jws.header[k] for k in ("alg", "typ", "kid") if k in jws.header}
        self.findings[-1] = Finding(
            "parse", True, f"header {_show(shown)}; {len(token)} characters"
        )
        trusted = self._issuer(jws)
        if trusted is None:
            return self.findings
        self.provider = trusted.provider
        policy = token_policy(trusted, self.settings)
        header, claims = jws.header, jws.payload
        alg = header.get("alg")
        accepted = " ".join(sorted(policy.accepted_typ))
        self.step("alg", f"alg={alg!r} allowed", lambda: check_algorithm(header, policy.algorithms))
        self.step(
            "typ",
            f"typ={header.get('typ', 'absent')!r}, accepted: {accepted}",
            lambda: check_type(
                header, claims, accepted=policy.accepted_typ, id_claims=policy.id_claims_allowed
            ),
        )
        self.step(
            "header",
            f"kid={header.get('kid')!r}, no crit, no embedded key",
            lambda: check_header_parameters(header),
        )
        await self._signature(jws, trusted, client, str(alg))
        self.step("iss", f"iss={claims.get('iss')!r}", lambda: check_issuer(claims, trusted.issuer))
        self.step(
            "aud",
            f"aud={claims.get('aud')!r}, this API: {' '.join(trusted.audiences)}",
            lambda: check_audience(claims, trusted.audiences),
        )
        exp = claims.get("exp")
        left = f", {int(exp - self.now)}s left" if isinstance(exp, int | float) else ""
        self.step(
            "time",
            f"exp={exp!r} iat={claims.get('iat')!r} nbf={claims.get('nbf')!r}{left}",
            lambda: check_time_claims(claims, now=self.now, leeway=self.settings.leeway_seconds),
        )
        self.step(
            "claims",
            f"sub={claims.get('sub')!r} jti={'present' if 'jti' in claims else 'absent'} "
            f"client={client_id_of(claims, policy.client_id_claims)!r} "
            f"(required: {' '.join(sorted(policy.required_claims)) or 'none'})",
            lambda: check_required_claims(claims, policy),
        )
        cnf = claims.get("cnf")
        self.step(
            "cnf",
            "not DPoP-bound: send as Bearer"
            if cnf is None
            else f"DPoP-bound (cnf={cnf!r}): send with the DPoP scheme and a proof",
            lambda: confirmation_thumbprint(claims),
        )
        self._extracted(claims, trusted)
        return self.findings

    def _issuer(self, jws: CompactJws) -> TrustedIssuer | None:
        iss = unverified_issuer(jws)
        trusted = {issuer.issuer: issuer for issuer in self.settings.trusted_issuers()}
        if iss in trusted:
            chosen = trusted[iss]
            self.findings.append(
                Finding("issuer", True, f"iss={iss!r} is trusted (provider {chosen.provider})")
            )
            return chosen
        near = [name for name in trusted if name.rstrip("/") == (iss or "").rstrip("/")]
        detail = f"iss={iss!r}; trusted: {', '.join(trusted) or 'none configured'}"
        if near:
            detail += " (differs only by a trailing slash: compared exactly)"
        self.findings.append(Finding("issuer", False, detail, fix_for(Check.ISS, self.provider)))
        return None

    async def _signature(
        self, jws: CompactJws, trusted: TrustedIssuer, client: httpx.AsyncClient, alg: str
    ) -> None:
        keys = JwksCache(client=client, issuer=trusted.issuer, discovery_uri=trusted.discovery_uri)
        loaded = await keys.refresh()
        status = keys.status()
        if not loaded:
            self.findings.append(
                Finding(
                    "keys",
                    False,
                    f"{trusted.discovery_uri}: {status['last_error']}",
                    fix_for(Check.KEYS_UNAVAILABLE, self.provider),
                )
            )
            return
        published = sorted(keys.keys.by_kid) if keys.keys else []
        self.findings.append(Finding("keys", True, f"{status['key_count']} keys, kids {published}"))
        kid = jws.header.get("kid")

        async def signature() -> str:
            key = await keys.key_for(kid if isinstance(kid, str) else None, alg)
            check_signature(jws, alg, key)
            return f"verified with kid={kid!r}"

        try:
            detail = await signature()
        except AuthError as error:
            self.findings.append(
                Finding("signature", False, error.description, fix_for(error.check, self.provider))
            )
        else:
            self.findings.append(Finding("signature", True, detail))
        await keys.aclose()

    def _extracted(self, claims: Mapping[str, Any], trusted: TrustedIssuer) -> None:
        profile = trusted.profile
        principal = principal_from_claims(
            claims,
            role_claims=profile.role_claims,
            groups_claim=self.settings.groups_claim,
            dpop_jkt=None,
            client_id_claims=profile.client_id_claims,
            scope_claims=profile.scope_claims,
        )
        detail = (
            f"client={principal.client_id!r} scopes={sorted(principal.scopes)} "
            f"roles={sorted(principal.roles)} (from {' '.join(profile.role_claims) or 'no claim'})"
        )
        fix = None if principal.roles else "no roles found: point OIDC_ROLE_CLAIMS at your roles"
        self.findings.append(Finding("principal", True, detail, fix))


def _passed(_: object, detail: str) -> str:
    return detail


def _binding(jkt: str | None) -> str:
    return (
        "not DPoP-bound: send as Bearer"
        if jkt is None
        else f"DPoP-bound (jkt={jkt}): send with the DPoP scheme and a proof"
    )


def _show(values: Mapping[str, Any]) -> str:
    return " ".join(f"{name}={value!r}" for name, value in values.items())
