"""What fixes a refusal: the setting, or the identity provider's own setting, to change.

Used by the doctor (``auth._diagnosis``) only. A fix depends on the check that refused
and on the provider, and for a few classic traps on what the token itself shows:

* a JWE (five segments) or an opaque token: not a JWT this API can read. Auth0 issues
  such a token when the authorization request names no ``audience``; Okta's org
  authorization server issues tokens for Okta's own APIs only; Microsoft issues tokens
  for its own APIs (Graph) that no one else can verify.
* Entra ID's two issuers: a v1 token (``https://sts.windows.net/{tenant}/``) where the
  v2 issuer (``https://login.microsoftonline.com/{tenant}/v2.0``) is configured, or the
  reverse; the API's app registration decides which one it gets.
* a Microsoft Graph token (its ``aud``, and a ``nonce`` in its header that makes the
  signature unverifiable to anyone but Graph).
* HMAC (``HS256``): never accepted, and no setting can change that (RFC 8725 §3.1-3.2).
* an ID token (or a refresh or logout token) sent where the access token belongs: its
  header ``typ`` is accepted, what it carries says what it is (``auth._token_kind``),
  and no setting of this API should change that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from ._errors import Check, InvalidToken
from ._jws import SUPPORTED_ALGORITHMS
from ._profiles import Provider
from ._token_kind import AT_JWT, ID_TOKEN_CLAIMS, header_type

#: Microsoft Graph's audience, as an application id and as a URI.
GRAPH_AUDIENCES = frozenset({"00000003-0000-0000-c000-000000000000", "https://graph.microsoft.com"})

_KEYCLOAK: dict[Check, str] = {
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

_AUTH0: dict[Check, str] = {
    Check.AUD: (
        "Auth0 puts the API's identifier in aud only when the authorization (or token) "
        "request names it: send audience=<your API's identifier> (Applications > APIs), "
        "and set OIDC_AUDIENCE to that identifier"
    ),
    Check.ISS: (
        "Auth0's issuer ends with a slash (https://<tenant>.auth0.com/): copy it from "
        "the tenant's /.well-known/openid-configuration into OIDC_ISSUER_URI"
    ),
}

_OKTA: dict[Check, str] = {
    Check.AUD: (
        "set OIDC_AUDIENCE to the Audience of the Okta custom authorization server "
        "(Security > API > Authorization Servers; api://default for the default one)"
    ),
}

_ENTRA: dict[Check, str] = {
    Check.AUD: (
        "Entra ID's aud is the API's Application ID URI (api://...) for v1 tokens and its "
        "client id for v2 tokens: set OIDC_AUDIENCE to both, space-separated"
    ),
}

_BY_PROVIDER: dict[Provider, dict[Check, str]] = {
    Provider.KEYCLOAK: _KEYCLOAK,
    Provider.AUTH0: _AUTH0,
    Provider.OKTA: _OKTA,
    Provider.ENTRA: _ENTRA,
}

_GENERIC: dict[Check, str] = {
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
    Check.SCHEME_BINDING: "send a DPoP-bound token with the DPoP scheme and a proof "
    "(--proof here), an unbound one with Bearer; OIDC_DPOP_REQUIRED refuses unbound tokens",
    Check.DPOP_HTM: "make the proof for the request's method (--method here)",
    Check.DPOP_HTU: "make the proof for the request's URL without query or fragment (--url "
    "here); behind a proxy, set OIDC_PUBLIC_URL or OIDC_TRUSTED_PROXIES",
    Check.DPOP_IAT: "make a new proof for each request; if clocks differ, check them, or "
    "OIDC_DPOP_MAX_AGE_SECONDS and OIDC_LEEWAY_SECONDS",
    Check.DPOP_ATH: "the proof was made for another access token: hash this one into ath",
    Check.DPOP_JKT: "sign the proof with the key the token is bound to (its cnf.jkt)",
    Check.DPOP_NONCE: "retry with the nonce of the DPoP-Nonce response header",
}


def fix_for(
    check: Check,
    provider: Provider,
    *,
    header: Mapping[str, Any] | None = None,
    claims: Mapping[str, Any] | None = None,
    trusted: Sequence[str] = (),
) -> str | None:
    """The change that addresses ``check`` for a token of ``provider`` with this
    ``header`` and these ``claims`` (as far as they were readable), when this API
    trusts the issuers ``trusted``."""
    header, claims = header or {}, claims or {}
    if check is Check.ALG:
        return algorithm_fix(header.get("alg"))
    if check in _WRONG_TOKEN_CHECKS:
        trap = _token_trap(check, header, claims, trusted)
        if trap is not None:
            return trap
    return _BY_PROVIDER.get(provider, {}).get(check) or _GENERIC.get(check)


# The checks a token meant for someone else (Graph, Okta's own APIs) or from the other
# Entra issuer fails first.
_WRONG_TOKEN_CHECKS = frozenset({Check.ISS, Check.AUD, Check.KID, Check.SIGNATURE})


def _token_trap(
    check: Check, header: Mapping[str, Any], claims: Mapping[str, Any], trusted: Sequence[str]
) -> str | None:
    if is_graph_token(header, claims):
        return GRAPH_FIX
    iss = claims.get("iss")
    if _is_okta_org(iss):
        return OKTA_ORG_FIX
    return _entra_version_fix(iss, trusted) if check is Check.ISS else None


def algorithm_fix(alg: Any) -> str:
    """Why an ``alg`` is refused, and whether any setting can change it."""
    if isinstance(alg, str) and alg.upper().startswith("HS"):
        return (
            f"{alg} is HMAC: whoever can verify it can also forge it, so no setting "
            "accepts it (RFC 8725 §3.1); have the issuer sign access tokens with an "
            "asymmetric key (RS256, ES256, EdDSA...)"
        )
    if isinstance(alg, str) and alg.lower() == "none":
        return "an unsigned token is never accepted; have the issuer sign it"
    if alg in SUPPORTED_ALGORITHMS:
        return f"add {alg} to OIDC_ALGORITHMS"
    return f"not an algorithm this library verifies; it supports {' '.join(SUPPORTED_ALGORITHMS)}"


GRAPH_FIX = (
    "this is a token for Microsoft Graph, not for your API: only Graph can verify it. "
    "Request a scope of your API (api://<API client id>/.default, or a scope it exposes), "
    "not a Graph scope such as User.Read"
)


def is_graph_token(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bool:
    """A token issued for Microsoft Graph: its audience, or the ``nonce`` Graph adds to
    the header (the signature covers the nonce's hash, not the nonce)."""
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    return any(a in GRAPH_AUDIENCES for a in audiences if isinstance(a, str)) or (
        "nonce" in header and _is_microsoft(claims.get("iss"))
    )


def _is_microsoft(iss: Any) -> bool:
    host = _host(iss)
    return host in ("sts.windows.net", "login.microsoftonline.com")


def _host(url: Any) -> str:
    if not isinstance(url, str):
        return ""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def _is_okta_org(iss: Any) -> bool:
    host = _host(iss)
    return host.endswith((".okta.com", ".oktapreview.com")) and "/oauth2/" not in str(iss)


def _entra_version(iss: Any) -> int | None:
    host = _host(iss)
    if host == "sts.windows.net":
        return 1
    if host == "login.microsoftonline.com" and str(iss).rstrip("/").endswith("/v2.0"):
        return 2
    return None


def _entra_version_fix(iss: Any, trusted: Sequence[str]) -> str | None:
    # Only when the configured issuer is Entra's other version: a v1 token where v2 is
    # configured is the classic case (an API registration left at its default).
    version = _entra_version(iss)
    if version is None or not any(_entra_version(t) not in (None, version) for t in trusted):
        return None
    if version == 1:
        return (
            "a v1 Entra ID token (iss https://sts.windows.net/<tenant>/) where the v2 issuer "
            "is configured: set requestedAccessTokenVersion to 2 in the API's app "
            "registration manifest (the API decides the version, not the client), or "
            "trust the v1 issuer as well"
        )
    return (
        "a v2 Entra ID token (iss https://login.microsoftonline.com/<tenant>/v2.0) where "
        "the v1 issuer is configured: trust the v2 issuer, or set "
        "requestedAccessTokenVersion to 1 in the API's app registration manifest"
    )


OKTA_ORG_FIX = (
    "a token of Okta's org authorization server (iss without /oauth2/...): it is meant "
    "for Okta's own APIs and cannot be validated by yours. Use a custom authorization "
    "server (iss https://<domain>/oauth2/default or /oauth2/<id>) and set OIDC_ISSUER_URI to it"
)


def token_shape(token: str) -> str:
    """``jws`` (three segments), ``jwe`` (five) or ``opaque`` (anything else)."""
    segments = token.count(".") + 1
    return {3: "jws", 5: "jwe"}.get(segments, "opaque")


def shape_fix(shape: str, provider: Provider) -> str | None:
    """What to do about a token that is not a JWS: a JWE or an opaque reference cannot be
    read by a resource server that validates JWTs itself (RFC 9068 §4 step 2)."""
    if shape == "jws":
        return None
    what = (
        "an encrypted token (JWE, five segments): this API does not decrypt tokens"
        if shape == "jwe"
        else "an opaque token (not a JWT): only its issuer can read it, through "
        "introspection (RFC 7662), which this library does not do"
    )
    provider_fix = {
        Provider.AUTH0: (
            "Auth0 issues such a token (meant for its /userinfo) when the request names no "
            "API: send audience=<your API's identifier> in the authorization request, or "
            "set the tenant's Default Audience"
        ),
        Provider.OKTA: (
            "Okta's org authorization server issues tokens for Okta's own APIs only: use a "
            "custom authorization server (https://<domain>/oauth2/default) for your API"
        ),
        Provider.ENTRA: (
            "Entra ID issues such tokens for Microsoft's own APIs and personal accounts: "
            "request a scope of your API (api://<API client id>/.default)"
        ),
    }.get(provider, "have the issuer issue JWT access tokens (RFC 9068) for this API")
    return f"{what}. {provider_fix}"


ID_JWT_FIX = (
    "this is an ID token: it says who signed in to the client, and is not for an API. "
    "Send the access_token of the token response, not the id_token"
)
OTHER_JWT_FIX = (
    "this is not an access token (a refresh or logout token, or a DPoP proof): send "
    "the access_token of the token response"
)
# What marks an ID token beyond the claims of ID_TOKEN_CLAIMS (auth._token_kind).
_ID_TOKEN_HASHES = ("at_hash", "c_hash", "s_hash")


def token_kind_fix(
    header: Mapping[str, Any], claims: Mapping[str, Any], accepted_typ: frozenset[str]
) -> str | None:
    """For a token the ``typ`` check refused although its header ``typ`` is accepted:
    what kind of token was sent instead, and what to send. None when the header ``typ``
    itself is refused (the provider's fix applies)."""
    try:
        typ = header_type(header)
    except InvalidToken:
        return None
    if typ not in accepted_typ or typ == AT_JWT:
        return None
    payload_typ = claims.get("typ")
    if (
        (isinstance(payload_typ, str) and payload_typ.lower() == "id")
        or any(name in claims for name in _ID_TOKEN_HASHES)
        or any(name in claims for name in ID_TOKEN_CLAIMS)
    ):
        return ID_JWT_FIX
    return OTHER_JWT_FIX
