"""The one JSON error shape of the API: RFC 9457 problem details.

    {"type": "about:blank", "title": "Unprocessable Content", "status": 422,
     "detail": "The request is invalid.",
     "errors": [{"field": "text", "location": "body", "message": "must not be blank"}]}

Authentication errors use the same shape (rendered by ``auth.fastapi``) and add
``error`` with the RFC 6750 / 9449 code.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.data.crud import StaleVersion
from app.data.database import DatabaseUnavailable
from app.data.owned import InvalidField
from auth import problem_document
from auth.fastapi import PROBLEM_JSON

logger = logging.getLogger("app.errors")


class FieldError(InvalidField):
    """A request value the route itself refuses (beyond what its schema checks): 422.
    A body field a resource's own check refuses is an ``InvalidField``, answered alike."""

    def __init__(self, field: str, message: str, *, location: str = "body") -> None:
        super().__init__(field, message)
        self.location = location


def problem(
    status: int,
    detail: str,
    *,
    errors: Sequence[dict[str, str]] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = problem_document(status, detail, errors=list(errors) or None)
    return JSONResponse(
        body, status_code=status, media_type=PROBLEM_JSON, headers=dict(headers or {})
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    errors = []
    for error in exc.errors():
        location, *path = [str(part) for part in error.get("loc", ())] or ["body"]
        errors.append(
            {
                "field": ".".join(path) or location,
                "location": location,
                "message": str(error.get("msg", "is invalid")),
            }
        )
    return errors


async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return problem(
            400,
            "The request body is not valid JSON.",
            errors=[{"field": "body", "location": "body", "message": "invalid JSON"}],
        )
    return problem(422, "The request is invalid.", errors=_field_errors(exc))


async def _field_error(_: Request, exc: InvalidField) -> JSONResponse:
    error = {"field": exc.field, "location": exc.location, "message": exc.message}
    return problem(422, "The request is invalid.", errors=[error])


async def _precondition_failed(_: Request, exc: StaleVersion) -> JSONResponse:
    noun = exc.resource.name
    return problem(412, f"The {noun} has changed since the version named in If-Match.")


def _http_error_handler(routes: Sequence[APIRoute]) -> Handler:
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette's 405 names the methods of the first route with that path only;
            # every route of the path counts (RFC 9110 §15.5.6: Allow lists them all).
            methods: set[str] = set()
            for route in routes:
                if route.matches(request.scope)[0] is not Match.NONE:
                    methods |= route.methods or set()
            headers["Allow"] = ", ".join(sorted(methods))
        return problem(exc.status_code, detail, headers=headers)

    return http_error


async def _database_unavailable(_: Request, exc: DatabaseUnavailable) -> JSONResponse:
    # Connection refused, server gone, pool exhausted: retryable, and nothing was
    # acknowledged (a write's response is only sent after its commit). Any other
    # database error is a bug and answered as one (500).
    logger.warning("database unavailable: %s", exc)
    return problem(503, "The database is unavailable; retry shortly.", headers={"Retry-After": "2"})


#: Set on an exception this module has logged, so the server's own line about it (Starlette
#: re-raises it to the server after the 500 is sent) is dropped (``ServerErrorLines``).
LOGGED = "_logged_by_the_application"
#: Distinct places an unexpected error is remembered at; beyond this, one line each.
_MAX_SITES = 1024


class UnexpectedErrors:
    """Log an unexpected error's traceback once per place it comes from (its type and
    the innermost frame of its traceback), then one line per occurrence: a request that
    keeps hitting the same bug costs the log a line, not kilobytes."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str, int], int] = {}

    def log(self, exc: BaseException) -> None:
        frame = exc.__traceback__
        while frame is not None and frame.tb_next is not None:
            frame = frame.tb_next
        code = frame.tb_frame.f_code if frame is not None else None
        site = (
            type(exc).__qualname__,
            code.co_filename if code else "?",
            frame.tb_lineno if frame is not None else 0,
        )
        if site in self._seen or len(self._seen) < _MAX_SITES:
            count = self._seen[site] = self._seen.get(site, 0) + 1
        else:
            count = 0  # too many places already: no more tracebacks
        if count == 1:
            logger.error("unhandled error (its next occurrences: one line each)", exc_info=exc)
        else:
            logger.error(
                "unhandled error %s at %s:%d (%d times; traceback logged the first time)",
                *site,
                count,
            )
        with contextlib.suppress(AttributeError, TypeError):
            setattr(exc, LOGGED, True)


class ServerErrorLines(logging.Filter):
    """Drops the server's own traceback of an error the application has logged already
    (uvicorn's "Exception in ASGI application", a second copy of the same traceback)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (error is not None and getattr(error, LOGGED, False))


def install_server_error_filter(*logger_names: str) -> None:
    """Attach ``ServerErrorLines`` to the server's error logger (default: uvicorn's)."""
    for name in logger_names or ("uvicorn.error",):
        server_logger = logging.getLogger(name)
        if not any(isinstance(existing, ServerErrorLines) for existing in server_logger.filters):
            server_logger.addFilter(ServerErrorLines())


_UNEXPECTED = UnexpectedErrors()


async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
    _UNEXPECTED.log(exc)
    return problem(500, "An unexpected error occurred.")


Handler = Callable[[Request, Any], Awaitable[JSONResponse]]
_HANDLERS: dict[type[Exception], Handler] = {
    RequestValidationError: _validation_error,
    InvalidField: _field_error,
    StaleVersion: _precondition_failed,
    DatabaseUnavailable: _database_unavailable,
    Exception: _unexpected,
}


def install_error_handlers(app: FastAPI, *, routers: Sequence[APIRouter]) -> None:
    """Answer every error as a problem document; ``routers`` are the application's
    routers, whose routes make up the ``Allow`` header of a 405."""
    for exception_type, handler in _HANDLERS.items():
        app.add_exception_handler(exception_type, handler)
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    app.add_exception_handler(StarletteHTTPException, _http_error_handler(routes))


class FieldProblem(BaseModel):
    field: str
    location: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of this API is answered."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    error: str | None = None
    errors: list[FieldProblem] | None = None


_PROBLEM_CONTENT = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
_DESCRIPTIONS = {
    400: "Malformed request (invalid JSON, two Authorization headers, a token in the query)",
    401: "No valid access token or DPoP proof; see WWW-Authenticate",
    403: "Authenticated, but without the required role (insufficient_scope)",
    404: "No such {noun} for this user",
    412: "If-Match names a version the {noun} no longer has; nothing changed",
    413: "Request body over MAX_REQUEST_BODY_BYTES",
    422: "A field of the request is invalid; errors names it",
    503: "Signing keys, the database or the replay store unavailable; retry after Retry-After",
}


def problem_responses(*statuses: int, noun: str = "row") -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route or router can answer, each a
    problem document (declared per route: a 412 belongs to conditional writes only);
    ``noun`` is what a 404 or a 412 is about."""
    return {
        status: {
            "description": _DESCRIPTIONS[status].format(noun=noun),
            "content": _PROBLEM_CONTENT,
        }
        for status in statuses
    }
