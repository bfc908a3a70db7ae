"""A refusal as an HTTP answer, for any framework: status, headers and problem body.

RFC 6750 §3 and RFC 9449 §7.1 say what a refused client is told: the status of the
error, a ``WWW-Authenticate`` challenge per scheme (the error code on the scheme it
used; none on a 503), ``DPoP-Nonce`` for ``use_dpop_nonce`` (§9), ``Retry-After`` on a
503; and, as every answer of this package, an RFC 9457 problem body and
``Cache-Control: no-store``. The adapters (``auth.fastapi``, ``auth.asgi``,
``auth.sync``) all answer through ``Refusal``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from ._asgi import Receive, Scope, Send, deny_websocket, send_http_response
from ._errors import AuthError, ServiceUnavailable, UseDpopNonce, challenges
from ._jws import SUPPORTED_ALGORITHMS
from ._problem import PROBLEM_JSON, problem_document, problem_json
from ._refusal_log import RefusalLog
from ._settings import AuthSettings


def error_headers(
    error: AuthError,
    *,
    realm: str | None,
    algorithms: Sequence[str] = SUPPORTED_ALGORITHMS,
    resource_metadata: str | None = None,
) -> list[tuple[str, str]]:
    """The headers of a refusal: challenges (400/401/403, pointing at the RFC 9728
    metadata when its URL is given), nonce, Retry-After, no-store."""
    headers: list[tuple[str, str]] = []
    if error.status_code in (400, 401, 403):
        headers += [
            ("WWW-Authenticate", challenge)
            for challenge in challenges(
                error,
                realm=realm,
                dpop_algorithms=algorithms,
                resource_metadata=resource_metadata,
            )
        ]
    if isinstance(error, UseDpopNonce):
        headers.append(("DPoP-Nonce", error.nonce))
    if isinstance(error, ServiceUnavailable):
        headers.append(("Retry-After", str(error.retry_after_seconds)))
    headers.append(("Cache-Control", "no-store"))
    return headers


@dataclass(frozen=True, slots=True)
class Refusal:
    """The answer to a refused request. ``headers`` repeat ``WWW-Authenticate``, once
    per scheme: send each as a field of its own.

        refusal = Refusal.of(error, authenticator.settings)
        return Response(refusal.body, refusal.status, refusal.headers)  # Flask, Litestar...
    """

    error: AuthError
    status: int
    headers: tuple[tuple[str, str], ...]
    #: The RFC 9457 problem document, as JSON (terse: no check name, no token).
    body: bytes
    content_type: str = PROBLEM_JSON

    @classmethod
    def of(
        cls,
        error: AuthError,
        settings: AuthSettings | None = None,
        *,
        resource_metadata: str | None = None,
    ) -> Refusal:
        """The refusal of ``error``: challenges with the ``realm`` and DPoP algorithms of
        ``settings`` (the running authenticator's), pointing at ``resource_metadata``."""
        headers = error_headers(
            error,
            realm=settings.realm if settings else None,
            algorithms=settings.algorithms if settings else SUPPORTED_ALGORITHMS,
            resource_metadata=resource_metadata,
        )
        return cls(
            error=error,
            status=error.status_code,
            headers=tuple(headers),
            body=problem_json(error.status_code, error.description, error=error.error),
        )

    def merged_headers(self) -> dict[str, str]:
        """The headers as a mapping, for frameworks whose responses take one value per
        name: the two challenges joined in one field, as RFC 9110 §11.6.1 allows."""
        return merge_headers(self.headers)

    def document(self) -> dict[str, object]:
        """The problem document, as a dictionary."""
        return problem_document(self.status, self.error.description, error=self.error.error)

    async def send(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer an ASGI request with this refusal, or refuse a WebSocket upgrade that
        has not been accepted (``auth._asgi.deny_websocket``)."""
        if scope["type"] == "http":
            await send_http_response(
                send,
                status=self.status,
                headers=self.headers,
                body=self.body,
                content_type=self.content_type,
            )
            return
        await deny_websocket(
            scope,
            send,
            status=self.status,
            headers=self.headers,
            body=self.body,
            content_type=self.content_type,
            reason=self.error.description,
        )


def merge_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Repeated header fields joined with commas (RFC 9110 §5.3), in order."""
    merged: dict[str, str] = {}
    for name, value in headers:
        merged[name] = f"{merged[name]}, {value}" if name in merged else value
    return merged


def log_refusal(logger: logging.Logger, refusals: RefusalLog, error: AuthError) -> None:
    """One INFO line per refusal on the adapter's ``logger``: the check's name and the
    RFC code, nothing from the request (never a token or a proof); and the rate-limited
    WARNING that is visible without logging set-up (``auth._refusal_log``)."""
    logger.info("refused %s (%s %d)", error.check.value, error.error, error.status_code)
    refusals.record(error)
