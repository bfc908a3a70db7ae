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
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI

from .._discovery import FetchError, fetch_json
from .._logs import library_logger
from ._openapi import offer_beside_bearer

logger = library_logger("fastapi")

OAUTH2_SCHEME = "OIDC"
_RETRY_SECONDS = (1, 2, 5, 10, 30)


@dataclass(frozen=True, slots=True)
class IdpEndpoints:
    authorization_endpoint: str
    token_endpoint: str


#: What the authorization code flow with PKCE sets itself (RFC 6749 §4.1.1, RFC 7636
#: §4.3): an extra parameter may not replace any of them.
_FLOW_PARAMETERS = frozenset(
    {
        "client_id",
        "response_type",
        "redirect_uri",
        "scope",
        "state",
        "code_challenge",
        "code_challenge_method",
    }
)


class SwaggerLogin:
    """The "Authorize" button of ``/docs``: client, scopes and the IdP's endpoints, which
    are known once its discovery document has been read (``discover``).

    ``authorization_parameters`` go on the authorization request besides the flow's own:
    Auth0 issues a JWT for an API only when asked for its ``audience``, and RFC 8707's
    ``resource`` names the API to an authorization server that supports resource
    indicators. (Swagger UI sends them on the authorization request only; RFC 8707 §2.2
    lets the token request leave ``resource`` out, the grant then covering the resource
    it was issued for.) An extra parameter that would replace one of the flow's own is
    refused with ``ValueError``.
    """

    def __init__(
        self,
        client_id: str,
        scopes: Sequence[str],
        *,
        authorization_parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.client_id = client_id
        self.scopes = tuple(scopes)
        self.authorization_parameters = self.checked_parameters(authorization_parameters or {})
        self.endpoints: IdpEndpoints | None = None

    @staticmethod
    def checked_parameters(parameters: Mapping[str, str]) -> dict[str, str]:
        """``parameters``, if none would replace one the flow sets itself.

        Raises:
            ValueError: one would (``client_id``, ``scope``, ``redirect_uri``...).
        """
        if clash := sorted(_FLOW_PARAMETERS & parameters.keys()):
            raise ValueError(f"the login sets {', '.join(clash)} itself")
        return dict(parameters)

    def init_oauth(self) -> dict[str, Any]:
        """Swagger UI's ``initOAuth`` options."""
        options: dict[str, Any] = {
            "clientId": self.client_id,
            "scopes": " ".join(self.scopes),
            "usePkceWithAuthorizationCodeGrant": True,
        }
        if self.authorization_parameters:
            options["additionalQueryStringParams"] = dict(self.authorization_parameters)
        return options

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
    return offer_beside_bearer(
        schema, OAUTH2_SCHEME, lambda scopes: list(dict.fromkeys([*login.scopes, *scopes]))
    )
