"""Tokens shaped exactly like each provider's documented access tokens, through the public
API (``create_authenticator`` + ``authenticate``) under that provider's profile.

Auth0, Entra ID, Okta, Zitadel and authentik cannot run here; these shapes are copied,
header and claims, from each provider's documentation (cited per shape), with only the
identifiers, times and signing key replaced by the test issuer's. Each shape is also sent
under the strict Keycloak profile to show which RFC 9068 check the profile relaxes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from auth import create_authenticator
from auth._errors import Check, InvalidToken
from auth.testing import TestIssuer, sign_compact
from tests.auth.fakes import IsolatedSettings, clone_issuer, http_request
from tests.auth.refusals import refused


@dataclass(frozen=True)
class Shape:
    provider: str
    source: str
    issuer: str
    audience: str
    header: dict[str, Any]
    claims: dict[str, Any]
    #: What the profile must extract.
    client_id: str | None
    scopes: set[str]
    roles: set[str] = field(default_factory=set)
    #: The check that refuses this token under the strict (Keycloak) profile.
    strict_check: Check = Check.TYP


NOW = int(time.time())
TIMES = {"iat": NOW - 10, "exp": NOW + 3600}

SHAPES = [
    Shape(
        provider="auth0",
        # https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles
        # ("Auth0 profile sample token"; typ JWT in the header as in
        # https://auth0.com/docs/secure/tokens/json-web-tokens/json-web-token-structure),
        # with RBAC's "permissions" (token dialect access_token_authz).
        source="Auth0 token profile",
        issuer="https://my-domain.auth0.com/",
        audience="https://example.com/health-api",
        header={"alg": "RS256", "typ": "JWT"},
        claims={
            "iss": "https://my-domain.auth0.com/",
            "sub": "auth0|123456",
            "aud": ["https://example.com/health-api", "https://my-domain.auth0.com/userinfo"],
            "azp": "my_client_id",
            "scope": "openid profile read:patients read:admin",
            "permissions": ["read:patients", "read:admin"],
            **TIMES,
        },
        client_id="my_client_id",
        scopes={"openid", "profile", "read:patients", "read:admin"},
    ),
    Shape(
        provider="auth0",
        # Same page, "RFC 9068 profile sample token": at+jwt, client_id and jti.
        source="Auth0 RFC 9068 token profile",
        issuer="https://my-domain.auth0.com/",
        audience="https://example.com/health-api",
        header={"alg": "RS256", "typ": "at+jwt"},
        claims={
            "iss": "https://my-domain.auth0.com/",
            "sub": "auth0|123456",
            "aud": ["https://example.com/health-api", "https://my-domain.auth0.com/userinfo"],
            "client_id": "my_client_id",
            "jti": "73WakrfVbNJBaAmhQtEeDv",
            "scope": "openid profile read:patients read:admin",
            **TIMES,
        },
        client_id="my_client_id",
        scopes={"openid", "profile", "read:patients", "read:admin"},
    ),
    Shape(
        provider="entra",
        # https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference
        # (v2.0 access token: header typ JWT; aud the API's client id; azp; scp a
        # space-separated string; roles; uti, no jti).
        source="Entra ID v2.0",
        issuer="https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0",
        audience="6e74172b-be56-4843-9ff4-e66a39bb12e3",
        header={"typ": "JWT", "alg": "RS256"},
        claims={
            "aud": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "iss": "https://login.microsoftonline.com/9122040d-6c67-4c5b-b112-36a304b66dad/v2.0",
            "nbf": NOW - 10,
            "aio": "AXQAi/8I...",
            "azp": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
            "azpacr": "0",
            "name": "Abe Lincoln",
            "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
            "preferred_username": "abeli@microsoft.com",
            "rh": "I",
            "scp": "access_as_user",
            "roles": ["Todo.Admin"],
            "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
            "uti": "fqiBqXLPj0eQa82S-IYFAA",
            "ver": "2.0",
            **TIMES,
        },
        client_id="6e74172b-be56-4843-9ff4-e66a39bb12e3",
        scopes={"access_as_user"},
        roles={"Todo.Admin"},
    ),
    Shape(
        provider="entra",
        # Same page, v1.0 access token: x5t beside kid, iss sts.windows.net, appid
        # instead of azp, aud an App ID URI.
        source="Entra ID v1.0",
        issuer="https://sts.windows.net/9122040d-6c67-4c5b-b112-36a304b66dad/",
        audience="api://todo-api",
        header={"typ": "JWT", "alg": "RS256", "x5t": "i6lGk3FZzxRcUb2C3nEQ7syHJlY"},
        claims={
            "aud": "api://todo-api",
            "iss": "https://sts.windows.net/9122040d-6c67-4c5b-b112-36a304b66dad/",
            "nbf": NOW - 10,
            "acr": "1",
            "aio": "AVQAq/8T...",
            "amr": ["pwd"],
            "appid": "75dbe77f-10a3-4e59-85fd-8c127544f17c",
            "appidacr": "0",
            "family_name": "Lincoln",
            "given_name": "Abe",
            "ipaddr": "192.0.2.1",
            "name": "Abe Lincoln",
            "oid": "690222be-ff1a-4d56-abd1-7e4f7d38e474",
            "rh": "I",
            "scp": "user_impersonation Todo.Read",
            "sub": "HKZpfaHyWadeOouYlitjrI-KffTm222X5rrV3xDqfKQ",
            "tid": "9122040d-6c67-4c5b-b112-36a304b66dad",
            "unique_name": "abeli@microsoft.com",
            "upn": "abeli@microsoft.com",
            "uti": "I5vwhhDlV0-2W0vb-KeUAA",
            "ver": "1.0",
            **TIMES,
        },
        client_id="75dbe77f-10a3-4e59-85fd-8c127544f17c",
        scopes={"user_impersonation", "Todo.Read"},
    ),
    Shape(
        provider="okta",
        # https://developer.okta.com/docs/api/openapi/okta-oauth/guides/overview/
        # ("Access token" header and payload): no typ, ver, jti "AT.", cid, uid, scp as
        # a list; "groups" when the authorization server adds a groups claim.
        source="Okta custom authorization server",
        issuer="https://dev-123456.okta.com/oauth2/default",
        audience="api://default",
        header={"alg": "RS256"},
        claims={
            "ver": 1,
            "jti": "AT.MNAoEQ_jbKqoinrQo1D0XKjMX28U5d7ZszBceot7-Ts",
            "iss": "https://dev-123456.okta.com/oauth2/default",
            "aud": "api://default",
            "sub": "alice@example.com",
            "cid": "0oa1x2y3z4",
            "uid": "00u1a2b3c4",
            "scp": ["openid", "profile", "todo:read"],
            "auth_time": NOW - 60,
            "groups": ["Everyone", "todo-admins"],
            **TIMES,
        },
        client_id="0oa1x2y3z4",
        scopes={"openid", "profile", "todo:read"},
        roles={"Everyone", "todo-admins"},
    ),
    Shape(
        provider="zitadel",
        # https://zitadel.com/docs/apis/openidoauth/claims ("Access Token" column, when
        # JWT: aud, azp as the client id, exp, iat, iss, jti, sub; no scope claim, see
        # github.com/zitadel/zitadel/discussions/7904; no typ header) and the project
        # roles claim, an object keyed by role naming the granting organisation.
        source="Zitadel JWT access token",
        issuer="https://my-instance.zitadel.cloud",
        audience="170086824411201793",
        header={"alg": "RS256"},
        claims={
            "iss": "https://my-instance.zitadel.cloud",
            "sub": "170086363054473473",
            "aud": ["170086824411201793", "170086774599581953@todo"],
            "azp": "170086774599581953@todo",
            "jti": "170088034225784833",
            "urn:zitadel:iam:org:project:roles": {
                "todo-admin": {"170086363054407937": "acme.zitadel.cloud"},
                "todo-user": {"170086363054407937": "acme.zitadel.cloud"},
            },
            **TIMES,
        },
        client_id="170086774599581953@todo",
        scopes=set(),
        roles={"todo-admin", "todo-user"},
    ),
    Shape(
        provider="authentik",
        # https://docs.goauthentik.io/add-secure-apps/providers/oauth2/ (JWT access
        # tokens signed by the provider's key, typ JWT; azp the client id, uid, the
        # profile scope's groups; no jti).
        source="authentik OAuth2 provider",
        issuer="https://authentik.company/application/o/todo/",
        audience="todo-client-id",
        header={"alg": "RS256", "typ": "JWT"},
        claims={
            "iss": "https://authentik.company/application/o/todo/",
            "sub": "f3d3e1f6c3a7b0c0e2c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0",
            "aud": "todo-client-id",
            "auth_time": NOW - 60,
            "acr": "goauthentik.io/providers/oauth2/default",
            "azp": "todo-client-id",
            "uid": "Y2hhbmdlZA",
            "email": "alice@example.com",
            "preferred_username": "alice",
            "groups": ["authentik Admins", "todo-admin"],
            "scope": "openid email profile",
            **TIMES,
        },
        client_id="todo-client-id",
        scopes={"openid", "email", "profile"},
        roles={"authentik Admins", "todo-admin"},
    ),
]


def _sign(shape: Shape, issuer: TestIssuer) -> str:
    kid = issuer.current_kid["RS256"]
    _, key = issuer.keys[kid]
    return sign_compact({**shape.header, "kid": kid}, shape.claims, key, "RS256")


async def _authenticate(shape: Shape, issuer: TestIssuer, provider: str) -> Any:
    settings = IsolatedSettings(issuer_uri=shape.issuer, audience=shape.audience, provider=provider)
    # The provider's discovery and JWKS, served by the test issuer under its names.
    discovery = shape.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def handle(request: httpx.Request) -> httpx.Response:
        if str(request.url) == discovery:
            return httpx.Response(200, json={"issuer": shape.issuer, "jwks_uri": issuer.jwks_uri})
        return issuer.handle(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
        authenticator = create_authenticator(settings, production=True, http_client=client)
        await authenticator.start()
        try:
            token = _sign(shape, issuer)
            return await authenticator.authenticate(http_request(authorization=[f"Bearer {token}"]))
        finally:
            await authenticator.aclose()


def _id(shape: Shape) -> str:
    return shape.source


@pytest.mark.parametrize("shape", SHAPES, ids=_id)
async def test_the_providers_documented_token_passes_under_its_profile(
    shape: Shape, issuer_template: TestIssuer
) -> None:
    issuer = clone_issuer(issuer_template)
    principal = await _authenticate(shape, issuer, shape.provider)
    assert principal.issuer == shape.issuer
    assert principal.subject == shape.claims["sub"]
    assert principal.client_id == shape.client_id
    assert principal.scopes == shape.scopes
    assert principal.roles == shape.roles


@pytest.mark.parametrize(
    "shape", [shape for shape in SHAPES if shape.header.get("typ") != "at+jwt"], ids=_id
)
async def test_strict_rfc9068_refuses_it_for_its_typ(
    shape: Shape, issuer_template: TestIssuer
) -> None:
    with refused(shape.strict_check, InvalidToken):
        await _authenticate(shape, clone_issuer(issuer_template), "keycloak")


async def test_auth0s_rfc9068_profile_passes_strict_validation(issuer_template: TestIssuer) -> None:
    (shape,) = [shape for shape in SHAPES if shape.source == "Auth0 RFC 9068 token profile"]
    principal = await _authenticate(shape, clone_issuer(issuer_template), "keycloak")
    assert principal.client_id == "my_client_id"


async def test_a_stock_keycloak_token_needs_the_at_jwt_attribute_or_the_typ_setting(
    issuer_template: TestIssuer,
) -> None:
    """Keycloak without the client attribute ``access.token.header.type.rfc9068`` signs
    its access tokens with ``typ: JWT`` (and payload ``typ: Bearer``)."""
    issuer = clone_issuer(issuer_template)
    # Keycloak's access tokens carry sid and auth_time too; its payload typ says Bearer.
    claims = issuer.claims(
        "alice", typ="Bearer", client_id=None, sid="0c1b2a39", auth_time=int(time.time()) - 60
    )
    shape = Shape(
        provider="keycloak",
        source="Keycloak without the RFC 9068 attribute",
        issuer=issuer.issuer,
        audience=issuer.audience,
        header={"alg": "RS256", "typ": "JWT"},
        claims=claims,
        client_id="todo-spa",
        scopes={"openid", "profile", "email"},
        roles={"todo-user"},
    )
    with refused(Check.TYP, InvalidToken):
        await _authenticate(shape, issuer, "keycloak")
    settings = IsolatedSettings(
        issuer_uri=issuer.issuer, audience=issuer.audience, accepted_typ="at+jwt jwt"
    )
    assert settings.profile().required_claims == ("jti", "client_id")  # still strict otherwise
    async with httpx.AsyncClient(transport=httpx.MockTransport(issuer.handle)) as client:
        authenticator = create_authenticator(settings, production=True, http_client=client)
        principal = await authenticator.authenticate(
            http_request(authorization=[f"Bearer {_sign(shape, issuer)}"])
        )
        assert principal.roles == {"todo-user"}
        await authenticator.aclose()


async def test_an_entra_id_token_for_the_apis_own_app_is_not_an_access_token(
    issuer_template: TestIssuer,
) -> None:
    """An Entra v2 API's audience is its own client id, which is also the ``aud`` of an
    ID token issued to that app: the audience cannot tell them apart. The ID token's
    nonce and sid say what it is; without them, it carries neither ``azp`` nor ``appid``
    (learn.microsoft.com/entra/identity-platform/id-token-claims-reference), so the
    profile's required client id refuses it."""
    (access,) = [shape for shape in SHAPES if shape.source == "Entra ID v2.0"]
    id_claims = {
        name: value
        for name, value in access.claims.items()
        if name not in ("azp", "azpacr", "scp", "roles")
    } | {"nonce": "123523", "sid": "0d5a3a8b", "email": "abeli@microsoft.com"}
    id_token = Shape(
        provider="entra",
        source="Entra ID v2.0 ID token",
        issuer=access.issuer,
        audience=access.audience,
        header=access.header,
        claims=id_claims,
        client_id=None,
        scopes=set(),
    )
    with refused(Check.TYP, InvalidToken):
        await _authenticate(id_token, clone_issuer(issuer_template), "entra")
    without_markers = Shape(
        **{
            **id_token.__dict__,
            "claims": {k: v for k, v in id_claims.items() if k not in ("nonce", "sid")},
        }
    )
    with refused(Check.CLIENT_ID, InvalidToken):
        await _authenticate(without_markers, clone_issuer(issuer_template), "entra")


def _id_token_of(shape: Shape) -> Shape:
    """The ID token the provider issues beside ``shape``'s access token, as the attack
    sends it: the same issuer, ``aud`` the client id (the API's audience set to it), the
    client id also in ``azp``, ``nonce`` and ``auth_time``, and no hash claim; without
    the claims only the provider's access tokens carry (``cid``, ``uid``, the payload
    ``typ``)."""
    client_id = shape.client_id or "the-client"
    claims = {
        name: value
        for name, value in shape.claims.items()
        if name in ("iss", "sub", "iat", "exp", "nbf", "name", "email")
    }
    claims |= {
        "aud": client_id,
        "azp": client_id,
        "client_id": client_id,
        "appid": client_id,
        "jti": "an-id-token",
        "nonce": "n-0S6_WzA2Mj",
        "auth_time": NOW - 60,
    }
    header = {**shape.header, "typ": "JWT"} if "typ" in shape.header else dict(shape.header)
    return Shape(
        provider=shape.provider,
        source=shape.source + " ID token",
        issuer=shape.issuer,
        audience=client_id,
        header=header,
        claims=claims,
        client_id=client_id,
        scopes=set(),
    )


PROFILE_SHAPES = {shape.provider: shape for shape in SHAPES if shape.header.get("typ") != "at+jwt"}


@pytest.mark.parametrize("provider", sorted(PROFILE_SHAPES), ids=str)
async def test_an_id_token_is_refused_under_every_profile_even_with_the_client_as_audience(
    provider: str, issuer_template: TestIssuer
) -> None:
    id_token = _id_token_of(PROFILE_SHAPES[provider])
    with refused(Check.TYP, InvalidToken):
        await _authenticate(id_token, clone_issuer(issuer_template), provider)


async def test_an_id_token_is_refused_under_the_generic_profile(
    issuer_template: TestIssuer,
) -> None:
    for shape in PROFILE_SHAPES.values():
        with refused(Check.TYP, InvalidToken):
            await _authenticate(_id_token_of(shape), clone_issuer(issuer_template), "generic")
