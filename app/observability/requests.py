"""Every request observed once: its id, one access line, its metrics.

The request id is the ``X-Request-ID`` a trusted proxy sent (``OIDC_TRUSTED_PROXIES``,
the same trust as for forwarded headers), or a fresh one; it is bound to every log line
written while the request runs and echoed in the response. When the response has gone,
one line is logged (``app.access``; it replaces uvicorn's access log) and the request's
metrics are recorded. The auth outcome comes from what the ``auth.fastapi`` adapter
left on the request: ``state.auth_error`` (the ``AuthError`` it refused with) or
``state.principal``.

The line never carries a token or a proof: the query's values are replaced, the
subject is hashed unless ``LOG_SUBJECT=plain``, and the formatter redacts every field
anyway (``app.observability.logs``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import re
import time
from collections.abc import Hashable, Sequence
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import REQUEST_ID, FieldsOfKind, log_fields
from app.observability.metrics import Metrics
from auth import AuthError, IpNetwork, Principal, is_trusted_proxy, redact_target

logger = logging.getLogger("app.access")

REQUEST_ID_HEADER = b"x-request-id"
SubjectInLogs = Literal["hashed", "plain", "omitted"]
# Printable ASCII without space, quote or backslash, as proxies' ids are (UUIDs, AWS
# trace ids); anything else is replaced rather than written into a log line.
_REQUEST_ID = re.compile(rb"[\x21\x23-\x5b\x5d-\x7e]{1,128}")
#: What fixes an access line's text: method, route, status, whether a subject is
#: logged, and the authentication's (scheme, outcome, check).
_AccessShape = tuple[str, str | None, int, bool, tuple[str, str, str] | None]
#: Hashed subjects remembered (about 200 bytes each), then forgotten all at once.
_HASHED_SUBJECTS_MAX = 10_000


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def redacted_path(scope: Scope) -> str:
    """The path as sent, with the query's names kept and its values replaced
    (``auth.redact_target``: the same rule as uvicorn's lines and the traces')."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8", "surrogateescape")
    path = raw_path.partition(b"?")[0].decode("latin-1")
    query: bytes = scope.get("query_string", b"")
    return redact_target(path, query.decode("latin-1"))


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/api/todos/{todo_id}``), None if none matched."""
    route = scope.get("route")
    path: object = getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestObserver:
    """ASGI middleware: request id, access line, request and auth metrics."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        trusted_proxies: Sequence[IpNetwork] = (),
        access_log: bool = True,
        subject: SubjectInLogs = "hashed",
        subject_key: bytes = b"",
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self._trusted = tuple(trusted_proxies)
        self._access_log = access_log
        self._subject = subject
        self._subject_key = subject_key
        self._metrics = metrics
        # Hashed subjects of recent callers: the same few callers make most requests,
        # and an HMAC costs more than the rest of the line.
        self._hashed_subjects: dict[tuple[str, str], str] = {}

    def request_id(self, scope: Scope) -> str:
        """The trusted proxy's ``X-Request-ID``, else a new random id."""
        client = scope.get("client")
        if self._trusted and client and is_trusted_proxy(client[0], self._trusted):
            sent = _header(scope, REQUEST_ID_HEADER)
            if sent is not None and _REQUEST_ID.fullmatch(sent):
                return sent.decode("ascii")
        # 128 random bits as 32 hex digits, like a UUID's. An id correlates lines, it
        # guards nothing: the process's generator (seeded from the OS, reseeded in a
        # forked child) is enough, where uuid4 reads the OS's random source every time.
        return f"{random.getrandbits(128):032x}"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = self.request_id(scope)
        id_header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status
            kind = message["type"]
            if kind in ("http.response.start", "websocket.http.response.start"):
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            elif kind == "websocket.accept":
                status = 101
                message = {**message, "headers": [*message.get("headers", ()), id_header]}
            elif kind == "websocket.close" and status is None:
                status = 403  # closed before accept: servers answer the upgrade with 403
            await send(message)

        started = time.perf_counter()
        bound = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = status or 500  # the server's error handler answers outside us
            raise
        finally:
            try:
                self._done(scope, status or 500, time.perf_counter() - started)
            finally:
                REQUEST_ID.reset(bound)

    def _done(self, scope: Scope, status: int, seconds: float) -> None:
        if self._metrics is not None:
            self._observe(self._metrics, scope, status, seconds)
        if self._access_log:
            # The fields are gathered when the line is rendered, with the other lines
            # of this round of the event loop (app.observability.logs.LineHandler).
            level = logging.WARNING if status >= 500 else logging.INFO
            fields = _AccessFields(self, scope, status, seconds)
            log_fields(logger, level, "request", fields, varying=_VARYING_FIELDS)

    def _observe(self, metrics: Metrics, scope: Scope, status: int, seconds: float) -> None:
        websocket = scope["type"] == "websocket"
        method = "WEBSOCKET" if websocket else scope["method"]
        if not websocket:  # a socket's duration is its lifetime, not a latency
            metrics.observe_request(method, route_template(scope), status, seconds)
        state: dict[str, Any] = scope.get("state") or {}
        auth = _auth_outcome(state.get("auth_error"), state.get("principal"))
        if auth is not None:
            metrics.observe_auth(*auth)

    def _access_fields(self, scope: Scope, status: int, seconds: float) -> dict[str, Any]:
        # Made from the shape, so that lines of one shape differ only in its values.
        (method, route, _, _, auth), (path, duration_ms, subject) = self._access_shape(
            scope, status, seconds
        )
        fields: dict[str, Any] = {
            "method": method,
            "route": route,
            "path": path,
            "status": status,
            "duration_ms": duration_ms,
        }
        if subject is not None:
            fields["subject"] = subject
        if auth is not None:
            fields["auth_scheme"], fields["auth_outcome"], check = auth
            if check:
                fields["auth_check"] = check
        return fields

    def _access_shape(
        self, scope: Scope, status: int, seconds: float
    ) -> tuple[_AccessShape, tuple[str, float, str | None]]:
        """``_access_fields`` told apart (``FieldsOfKind.shape``): what fixes the line's
        text, and the path, duration and subject."""
        state: dict[str, Any] = scope.get("state") or {}
        principal: Principal | None = state.get("principal")
        subject = None
        if principal is not None and self._subject != "omitted":
            subject = self._logged_subject(principal)
        shape = (
            "WEBSOCKET" if scope["type"] == "websocket" else scope["method"],
            route_template(scope),
            status,
            subject is not None,
            _auth_outcome(state.get("auth_error"), principal),
        )
        return shape, (redacted_path(scope), round(seconds * 1000, 3), subject)

    def _logged_subject(self, principal: Principal) -> str:
        if self._subject == "plain":
            return principal.subject
        caller = (principal.issuer, principal.subject)
        hashed = self._hashed_subjects.get(caller)
        if hashed is None:
            # Keyed with LOG_SUBJECT_KEY when set, so a guessable subject (an e-mail
            # address) cannot be found by hashing candidates. Issuer-scoped: the same
            # sub at two issuers is two people.
            message = f"{caller[0]}\x00{caller[1]}".encode("utf-8", "surrogatepass")
            hashed = hmac.new(self._subject_key, message, hashlib.sha256).hexdigest()[:16]
            if len(self._hashed_subjects) >= _HASHED_SUBJECTS_MAX:
                self._hashed_subjects.clear()
            self._hashed_subjects[caller] = hashed
        return hashed


class _AccessFields(FieldsOfKind):
    """The access line's fields, made when the line is rendered."""

    __slots__ = ("observer", "scope", "seconds", "status")
    #: The fields that differ from one request to the next of the same route, status
    #: and outcome (the rest of the line is rendered once per shape).
    varying = ("path", "duration_ms", "subject")

    def __init__(
        self, observer: RequestObserver, scope: Scope, status: int, seconds: float
    ) -> None:
        self.observer, self.scope, self.status, self.seconds = observer, scope, status, seconds

    def __call__(self) -> dict[str, Any]:
        return self.observer._access_fields(self.scope, self.status, self.seconds)

    def shape(self) -> tuple[Hashable, tuple[Any, ...]]:
        return self.observer._access_shape(self.scope, self.status, self.seconds)


_VARYING_FIELDS = frozenset(_AccessFields.varying)


def _scheme_of(principal: Principal | None) -> str:
    if principal is None:
        return "none"
    return "DPoP" if principal.dpop_bound else "Bearer"


def _auth_outcome(
    error: AuthError | None, principal: Principal | None
) -> tuple[str, str, str] | None:
    """(scheme, outcome, check): ``ok``, the RFC error code, or ``missing_credentials``."""
    if error is not None:
        check = str(error.check)
        return error.scheme or _scheme_of(principal), error.error or "missing_credentials", check
    if principal is not None:
        return _scheme_of(principal), "ok", ""
    return None
