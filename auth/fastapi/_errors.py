"""Refusals as HTTP answers (RFC 6750 §3, RFC 9449 §7.1, RFC 9457 problem details).

The dependencies of ``auth.fastapi`` raise ``AuthHTTPException``: an ``HTTPException``
that already carries the status, the ``WWW-Authenticate`` challenges, ``DPoP-Nonce`` /
``Retry-After`` and the problem body. So a refusal is rendered correctly whatever the
application did: FastAPI's default handler sends the status and headers (the challenges
joined in one field, as RFC 9110 §11.6.1 allows, and the body as ``{"detail": ...}``),
and ``install_error_handler`` makes it an ``application/problem+json`` answer with one
``WWW-Authenticate`` field per scheme. Neither needs ``app.state``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection

from .._errors import AuthError
from .._jws import SUPPORTED_ALGORITHMS
from .._problem import PROBLEM_JSON, problem_document, problem_json
from .._refusal import error_headers, merge_headers
from ._openapi import offer_beside_bearer

# OpenAPI's "http" type would be exact ("scheme": "DPoP" is registered by RFC 9449),
# but Swagger UI shows it as "unsupported scheme 'dpop'". Described as the proof header
# instead, with what a client must send: tools read the RFC 9728 metadata and the
# WWW-Authenticate challenge (algs) for the machine-readable part.
_DPOP_SCHEME = {
    "type": "apiKey",
    "in": "header",
    "name": "DPoP",
    "description": (
        "DPoP (RFC 9449): send `Authorization: DPoP <access token>` with a DPoP-bound "
        "token, and in this header a fresh proof signed by the token's key for each "
        "request (its method and URL, `ath`, a new `jti`). Proofs are single-use, so "
        "one cannot be pasted here: use a DPoP client, or log in with Bearer."
    ),
}


def problem_body(error: AuthError) -> dict[str, Any]:
    """The RFC 9457 problem document of a refusal (terse: no check name, no token), with
    its RFC 6750 / 9449 code as ``error``."""
    return problem_document(error.status_code, error.description, error=error.error)


def error_response(
    error: AuthError, *, realm: str | None, algorithms: Sequence[str] = SUPPORTED_ALGORITHMS
) -> Response:
    """An ``application/problem+json`` response with the RFC 6750 / 9449 challenges."""
    response = JSONResponse(
        problem_body(error), status_code=error.status_code, media_type=PROBLEM_JSON
    )
    for name, value in error_headers(error, realm=realm, algorithms=algorithms):
        response.headers.append(name, value)
    return response


class RefusingAuth(Protocol):
    """What renders an application's own ``AuthError`` (``auth.fastapi.OIDCAuth``)."""

    def refusal(self, connection: HTTPConnection, error: AuthError) -> AuthHTTPException: ...


class AuthHTTPException(HTTPException):
    """A refusal ready to be rendered by any handler; ``error`` is the ``AuthError``."""

    def __init__(
        self,
        error: AuthError,
        *,
        realm: str | None,
        algorithms: Sequence[str] = SUPPORTED_ALGORITHMS,
        resource_metadata: str | None = None,
    ) -> None:
        self.error = error
        self.header_list = error_headers(
            error, realm=realm, algorithms=algorithms, resource_metadata=resource_metadata
        )
        super().__init__(
            status_code=error.status_code,
            detail=problem_body(error),
            headers=merge_headers(self.header_list),
        )

    def body(self) -> bytes:
        """The problem document, serialised."""
        return problem_json(self.status_code, self.error.description, error=self.error.error)

    def response(self) -> Response:
        """The problem+json answer, one header field per challenge."""
        response = JSONResponse(self.detail, status_code=self.status_code, media_type=PROBLEM_JSON)
        for name, value in self.header_list:
            response.headers.append(name, value)
        return response


async def _handle(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AuthHTTPException)  # noqa: S101 (registered for this class only)
    return exc.response()


def install_error_handler(app: FastAPI) -> None:
    """Render refusals as ``application/problem+json`` in ``app`` (optional: without
    it FastAPI's own handler still answers with the right status and challenges)."""
    app.add_exception_handler(AuthHTTPException, _handle)


def document_security_schemes(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the ``DPoP`` scheme to an OpenAPI document, as an alternative to ``Bearer``
    (with the same scopes) wherever ``Bearer`` is required. Returns ``schema``, changed
    in place."""
    schemes = schema.get("components", {}).get("securitySchemes", {})
    if "Bearer" in schemes:
        schemes["DPoP"] = _DPOP_SCHEME
    return offer_beside_bearer(schema, "DPoP", list)


def install(app: FastAPI, auth: RefusingAuth | None = None) -> None:
    """Render refusals as ``application/problem+json`` and declare the ``DPoP`` scheme
    beside ``Bearer`` in ``app``'s OpenAPI document. Optional: without it refusals are
    still answered with the right status and challenges. With ``auth``, an ``AuthError``
    the application raises itself (``check_roles`` in a route) is answered too, in the
    challenge of the scheme the request authenticated with. An application that builds
    its own document calls ``install_error_handler`` and ``document_security_schemes``."""
    install_error_handler(app)
    if auth is not None:
        install_auth_error_handler(app, auth)
    build_openapi = app.openapi

    def openapi_with_dpop() -> dict[str, Any]:
        # FastAPI caches the document it builds; adding the scheme again is a no-op.
        return document_security_schemes(build_openapi())

    app.openapi = openapi_with_dpop  # type: ignore[method-assign]


def install_auth_error_handler(app: FastAPI, auth: RefusingAuth) -> None:
    """Answer an ``AuthError`` raised by the application's own code (after
    authentication) as ``auth`` answers its refusals."""

    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AuthError)  # noqa: S101 (registered for this class only)
        return auth.refusal(request, exc).response()

    app.add_exception_handler(AuthError, handle)
