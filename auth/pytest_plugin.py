"""pytest fixtures for testing code this package protects; installed with the wheel, which
registers this module as the pytest plugin ``oidc_resource_server`` (nothing to import).

    def test_readers_see_items(oidc_issuer, oidc_headers, monkeypatch):
        monkeypatch.setenv("OIDC_ISSUER_URI", oidc_issuer.issuer)
        monkeypatch.setenv("OIDC_AUDIENCE", oidc_issuer.audience)
        with TestClient(app) as client:
            response = client.get("/items", headers=oidc_headers(scopes=["items:read"]))
            assert response.status_code == 200

    def test_admins_only(oidc_client_as):
        with oidc_client_as(app, auth, roles=["admin"]) as client:   # no token, no issuer
            assert client.get("/admin").status_code == 200

Fixtures:

* ``oidc_issuer`` (session): a test issuer served over HTTP on loopback (discovery, JWKS,
  ``/token``), its tokens signed with its own keys (``auth.testing.TestIssuer``).
  ``oidc_audience`` (session, ``test-api``) is its audience: override it in a
  ``conftest.py`` to match your API's. ``oidc_settings``: ``AuthSettings`` trusting it.
* ``oidc_token(subject, scopes=, roles=, claims=, dpop_key=)``: a signed access token
  with any scopes, roles (Keycloak's ``realm_access.roles``, the default profile's) and
  claims (``None`` removes one). ``oidc_headers(...)``: the same as an ``Authorization``
  header.
* ``oidc_dpop_key``: a client's DPoP key; ``oidc_dpop_proof(method, url,
  access_token=, nonce=)``: a proof signed by it (RFC 9449 §4.2).
* ``oidc_client_as(app, auth, subject=, roles=, scopes=)``: a FastAPI ``TestClient``
  (lifespan running) whose every request and WebSocket is that principal
  (``auth.fastapi.testing.override_principal``); no issuer or settings needed.

The issuer needs the ``testing`` extra (uvicorn), the client FastAPI; neither is
imported until a test asks for its fixture.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pytest

from ._settings import AuthSettings
from .testing import DpopKey, TestIssuer, served_issuer

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from .fastapi import OIDCAuth


class MintToken(Protocol):
    def __call__(
        self,
        subject: str = "alice",
        *,
        scopes: Sequence[str] = (),
        roles: Sequence[str] = (),
        claims: Mapping[str, Any] | None = None,
        dpop_key: DpopKey | None = None,
    ) -> str: ...


class MintHeaders(Protocol):
    def __call__(self, subject: str = "alice", **token: Any) -> dict[str, str]: ...


class MakeProof(Protocol):
    def __call__(
        self,
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        key: DpopKey | None = None,
    ) -> str: ...


class ClientAs(Protocol):
    def __call__(
        self,
        app: Starlette,
        auth: OIDCAuth,
        *,
        subject: str = "test-user",
        roles: Sequence[str] = (),
        scopes: Sequence[str] = (),
    ) -> contextlib.AbstractContextManager[TestClient]: ...


@pytest.fixture(scope="session")
def oidc_audience() -> str:
    """The audience of ``oidc_issuer``'s tokens; override it to match your API's."""
    return "test-api"


@pytest.fixture(scope="session")
def oidc_issuer(oidc_audience: str) -> Iterator[TestIssuer]:
    """A test issuer served over HTTP on loopback for the session."""
    with served_issuer("test", audience=oidc_audience) as issuer:
        yield issuer


@pytest.fixture
def oidc_settings(oidc_issuer: TestIssuer) -> AuthSettings:
    """``AuthSettings`` trusting ``oidc_issuer`` (the rest from the environment)."""
    return oidc_issuer.settings()


@pytest.fixture
def oidc_token(oidc_issuer: TestIssuer) -> MintToken:
    """Mint access tokens from ``oidc_issuer``: any subject, scopes, roles and claims."""

    def mint(
        subject: str = "alice",
        *,
        scopes: Sequence[str] = (),
        roles: Sequence[str] = (),
        claims: Mapping[str, Any] | None = None,
        dpop_key: DpopKey | None = None,
    ) -> str:
        shaped: dict[str, Any] = {
            "scope": " ".join(scopes) if scopes else None,
            "realm_access": {"roles": list(roles)} if roles else None,
            "aud": oidc_issuer.audience,
        }
        return oidc_issuer.token(
            subject, dpop_key=dpop_key, more_claims={**shaped, **(claims or {})}
        )

    return mint


@pytest.fixture
def oidc_headers(oidc_token: MintToken) -> MintHeaders:
    """``Authorization: Bearer`` headers with a token from ``oidc_token`` (the same
    arguments: ``scopes=``, ``roles=``, ``claims=``)."""

    def headers(subject: str = "alice", **token: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {oidc_token(subject, **token)}"}

    return headers


@pytest.fixture
def oidc_dpop_key() -> DpopKey:
    """A client's DPoP key pair (ES256)."""
    return DpopKey()


@pytest.fixture
def oidc_dpop_proof(oidc_dpop_key: DpopKey) -> MakeProof:
    """Sign DPoP proofs for a request (by default with ``oidc_dpop_key``)."""

    def proof(
        method: str,
        url: str,
        *,
        access_token: str | None = None,
        nonce: str | None = None,
        key: DpopKey | None = None,
    ) -> str:
        return (key or oidc_dpop_key).proof(method, url, access_token=access_token, nonce=nonce)

    return proof


@pytest.fixture
def oidc_client_as() -> ClientAs:
    """Open a FastAPI ``TestClient`` on an application, acting as a given principal."""

    @contextlib.contextmanager
    def client_as(
        app: Starlette,
        auth: OIDCAuth,
        *,
        subject: str = "test-user",
        roles: Sequence[str] = (),
        scopes: Sequence[str] = (),
    ) -> Iterator[TestClient]:
        from starlette.testclient import TestClient

        from .fastapi.testing import override_principal

        with (
            override_principal(app, auth, subject=subject, roles=roles, scopes=scopes),
            TestClient(app) as client,
        ):
            yield client

    return client_as
