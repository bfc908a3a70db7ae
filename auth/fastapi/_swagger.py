"""The login of Swagger UI (``/docs``): an OpenAPI ``oauth2`` scheme whose endpoints come
from the identity provider's discovery document.

"Authorize" in Swagger UI then runs the authorization code flow with PKCE (S256) in the
browser and sends the access token as ``Authorization: Bearer``. The client must be a
public one, allowed to redirect to ``<api>/docs/oauth2-redirect``, issuing tokens for this
API's audience that are not DPoP-bound (Swagger UI cannot sign proofs).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from .._discovery import FetchError, fetch_json
from .._logs import library_logger

logger = library_logger("fastapi")

OAUTH2_SCHEME = "OIDC"
_RETRY_SECONDS = (1, 2, 5, 10, 30)


@dataclass(frozen=True, slots=True)
class IdpEndpoints:
    authorization_endpoint: str
    token_endpoint: str


class SwaggerLogin:
    """The "Authorize" button of ``/docs``: client, scopes and the IdP's endpoints, which
    are known once its discovery document has been read (``discover``)."""

    def __init__(self, client_id: str, scopes: Sequence[str]) -> None:
        self.client_id = client_id
        self.scopes = tuple(scopes)
        self.endpoints: IdpEndpoints | None = None

    def init_oauth(self) -> dict[str, Any]:
        """Swagger UI's ``initOAuth`` options."""
        return {
            "clientId": self.client_id,
            "scopes": " ".join(self.scopes),
            "usePkceWithAuthorizationCodeGrant": True,
        }

    def security_scheme(self) -> dict[str, Any] | None:
        """The OpenAPI ``oauth2`` scheme, or None until the endpoints are known."""
        if self.endpoints is None:
            return None
        return {
            "type": "oauth2",
            "description": "Log in at the identity provider (authorization code + PKCE).",
            "flows": {
                "authorizationCode": {
                    "authorizationUrl": self.endpoints.authorization_endpoint,
                    "tokenUrl": self.endpoints.token_endpoint,
                    "scopes": {scope: scope for scope in self.scopes},
                }
            },
        }

    async def discover(
        self, client: httpx.AsyncClient, discovery_uri: str, *, issuer: str, app: FastAPI
    ) -> None:
        """Read the endpoints from discovery, retrying until it answers; then have the
        OpenAPI document rebuilt with the scheme."""
        for delay in itertools.chain((0,), _RETRY_SECONDS, itertools.repeat(_RETRY_SECONDS[-1])):
            await asyncio.sleep(delay)
            try:
                self.endpoints = _endpoints(await fetch_json(client, discovery_uri), issuer)
            except FetchError as exc:
                logger.warning("no login in /docs yet (OIDC_SWAGGER_CLIENT_ID): %s", exc)
                continue
            app.openapi_schema = None  # built again, with the scheme, on the next request
            return

    @contextlib.asynccontextmanager
    async def discovering(
        self, client: httpx.AsyncClient, discovery_uri: str, *, issuer: str, app: FastAPI
    ) -> AsyncIterator[None]:
        """Run ``discover`` in the background for as long as the block lasts."""
        task = asyncio.create_task(self.discover(client, discovery_uri, issuer=issuer, app=app))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _endpoints(fetched: tuple[dict[str, Any], httpx.Headers], issuer: str) -> IdpEndpoints:
    document, _ = fetched
    if document.get("issuer") != issuer:  # OpenID Connect Discovery §4.3
        raise FetchError(f"discovery names the issuer {document.get('issuer')!r}")
    return IdpEndpoints(
        authorization_endpoint=_url(document, "authorization_endpoint"),
        token_endpoint=_url(document, "token_endpoint"),
    )


def _url(document: dict[str, Any], member: str) -> str:
    value = document.get(member)
    if not isinstance(value, str) or not value.startswith(("https://", "http://")):
        raise FetchError(f"discovery has no usable {member}")
    return value


def add_login_scheme(schema: dict[str, Any], login: SwaggerLogin) -> dict[str, Any]:
    """Offer the ``oauth2`` scheme wherever ``Bearer`` is accepted (it yields a bearer
    token). Returns ``schema``, changed in place."""
    scheme = login.security_scheme()
    if scheme is None:
        return schema
    schema.setdefault("components", {}).setdefault("securitySchemes", {})[OAUTH2_SCHEME] = scheme
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if not security:
                continue
            for requirement in list(security):
                if "Bearer" in requirement:
                    scopes = [*login.scopes, *requirement["Bearer"]]
                    security.append({OAUTH2_SCHEME: list(dict.fromkeys(scopes))})
    return schema
