"""The routes of an owned resource, built from its declaration (``app.data.owned``).

For a resource named ``todo`` (plural ``todos``): ``GET /api/todos`` (cursor pages,
newest first, narrowed by the declared filters), ``POST /api/todos``, and ``GET``,
``PATCH``, ``DELETE /api/todos/{todo_id}``. Another user's row is a 404 for every verb
(no existence oracle); ``PATCH`` and ``DELETE`` take ``If-Match`` (412 when stale).

Rows go to JSON directly (``app.data.models.to_json`` writes what the resource's public
model would); the routes still declare that model, which documents the body in OpenAPI.
The routes declare the principal and ask for the caller's rows themselves
(``app.api.deps.caller_of``) rather than declare a dependency on top of it: FastAPI
solves each dependency in a pass of its own, a measurable share of a small request.
The endpoints are generic functions; each gets the signature FastAPI reads (its path,
query, header and body parameters, typed for this resource) as ``__signature__``.
"""

from __future__ import annotations

import base64
import inspect
import re
import uuid
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel

from app.api.deps import CurrentPrincipal, caller_of
from app.api.errors import FieldError, problem_responses
from app.api.preconditions import etag_header, if_match_header, parse_if_match
from app.data.models import to_json
from app.data.owned import OwnedResource, OwnedRow, kind_of
from app.settings import bounds_from_settings
from auth import Principal

#: The cursors this API returns: a row id's 16 bytes in unpadded base64url.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{22}")

Limit = Annotated[
    int | None,
    Query(
        ge=1,
        description="Page size (at most PAGE_SIZE_MAX)",
        json_schema_extra=bounds_from_settings(maximum="page_size_max"),
    ),
]
Cursor = Annotated[
    str | None,
    Query(
        description="next_cursor of the previous page",
        json_schema_extra={"pattern": f"^{_CURSOR.pattern}$"},
    ),
]
#: A boolean filter is exactly ``true`` or ``false`` (FastAPI's bool would take "yes").
_BOOL_FILTER = Literal["true", "false"]
_FILTER_TYPES: dict[str, Any] = {"bool": _BOOL_FILTER, "str": str, "int": int, "uuid": uuid.UUID}


def encode_cursor(row_id: str) -> str:
    return base64.urlsafe_b64encode(uuid.UUID(row_id).bytes).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> uuid.UUID:
    """Only the exact shape ``encode_cursor`` writes: base64 decoding alone would skip
    characters outside its alphabet and accept padding.

    Raises:
        FieldError: not a cursor of this API.
    """
    if not _CURSOR.fullmatch(cursor):
        raise FieldError("cursor", "is not a cursor returned by this API", location="query")
    return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=="))


def _json(row: OwnedRow, status_code: int = 200, **headers: str) -> Response:
    headers["ETag"] = f'"{row["version"]}"'
    return Response(to_json(row), status_code, headers, media_type="application/json")


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _parameter(
    name: str, annotation: Any, default: Any = inspect.Parameter.empty
) -> inspect.Parameter:
    kind = inspect.Parameter.KEYWORD_ONLY
    return inspect.Parameter(name, kind, default=default, annotation=annotation)


def _endpoint(function: Callable[..., Any], *parameters: inspect.Parameter) -> Callable[..., Any]:
    function.__signature__ = inspect.Signature(list(parameters))  # type: ignore[attr-defined]
    return function


_REQUEST = _parameter("request", Request)
_PRINCIPAL = _parameter("principal", CurrentPrincipal)


def _list_endpoint(resource: OwnedResource) -> Callable[..., Any]:
    filters = {f: kind_of(resource.sql_table.c[f]) for f in resource.filters}

    async def list_rows(
        request: Request,
        principal: Principal,
        limit: int | None = None,
        cursor: str | None = None,
        **given: Any,
    ) -> Response:
        caller = await caller_of(request, principal)
        settings = caller.settings
        if limit is not None and limit > settings.page_size_max:
            raise FieldError("limit", f"must be at most {settings.page_size_max}", location="query")
        narrowed = {
            f: (value == "true" if filters[f] == "bool" else value)
            for f, value in given.items()
            if value is not None
        }
        rows, next_before = await caller.rows(resource).page(
            limit=limit or settings.page_size_default,
            before=None if cursor is None else decode_cursor(cursor),
            filters=narrowed,
        )
        next_cursor = encode_cursor(next_before) if next_before else None
        body = to_json({"items": rows, "next_cursor": next_cursor})
        return Response(body, media_type="application/json")

    return _endpoint(
        list_rows,
        _REQUEST,
        _PRINCIPAL,
        _parameter("limit", Limit, None),
        _parameter("cursor", Cursor, None),
        *(
            _parameter(f, Annotated[_FILTER_TYPES[kind] | None, Query()], None)
            for f, kind in filters.items()
        ),
    )


def _create_endpoint(resource: OwnedResource) -> Callable[..., Any]:
    async def create_row(body: BaseModel, request: Request, principal: Principal) -> Response:
        caller = await caller_of(request, principal)
        fields = body.model_dump()
        if resource.check is not None:
            resource.check(fields, caller.settings)
        row = await caller.rows(resource).create(fields)
        return _json(row, status.HTTP_201_CREATED, Location=f"{resource.path}/{row['id']}")

    return _endpoint(create_row, _parameter("body", resource.create), _REQUEST, _PRINCIPAL)


def _row_id(resource: OwnedResource) -> inspect.Parameter:
    description = f"The {resource.name}'s id"
    return _parameter(f"{resource.name}_id", Annotated[uuid.UUID, Path(description=description)])


def _if_match(resource: OwnedResource) -> inspect.Parameter:
    return _parameter("if_match", if_match_header(resource.name), None)


def _read_endpoint(resource: OwnedResource) -> Callable[..., Any]:
    row_id = _row_id(resource)

    async def read_row(request: Request, principal: Principal, **path: uuid.UUID) -> Response:
        caller = await caller_of(request, principal)
        row = await caller.rows(resource).get(path[row_id.name])
        if row is None:
            raise HTTPException(404, f"No {resource.name} with this id.")
        return _json(row)

    return _endpoint(read_row, row_id, _REQUEST, _PRINCIPAL)


def _update_endpoint(resource: OwnedResource) -> Callable[..., Any]:
    row_id = _row_id(resource)

    async def update_row(
        body: BaseModel,
        request: Request,
        principal: Principal,
        if_match: str | None = None,
        **path: uuid.UUID,
    ) -> Response:
        caller = await caller_of(request, principal)
        changes = body.model_dump(exclude_unset=True)
        if not changes:
            raise FieldError("body", "must set " + " or ".join(resource.updatable))
        if resource.check is not None:
            resource.check(changes, caller.settings)
        rows = caller.rows(resource)
        row = await rows.update(path[row_id.name], changes, parse_if_match(if_match))
        if row is None:
            raise HTTPException(404, f"No {resource.name} with this id.")
        return _json(row)

    body = _parameter("body", resource.update)
    return _endpoint(update_row, row_id, body, _REQUEST, _PRINCIPAL, _if_match(resource))


def _delete_endpoint(resource: OwnedResource) -> Callable[..., Any]:
    row_id = _row_id(resource)

    async def delete_row(
        request: Request, principal: Principal, if_match: str | None = None, **path: uuid.UUID
    ) -> None:
        caller = await caller_of(request, principal)
        if not await caller.rows(resource).delete(path[row_id.name], parse_if_match(if_match)):
            raise HTTPException(404, f"No {resource.name} with this id.")

    return _endpoint(delete_row, row_id, _REQUEST, _PRINCIPAL, _if_match(resource))


#: What builds one route's endpoint for a resource.
_EndpointOf = Callable[[OwnedResource], Callable[..., Any]]


def resource_router(resource: OwnedResource) -> APIRouter:
    """The five routes of ``resource``, under ``resource.path``."""
    name, plural = resource.name, resource.plural
    etag = etag_header(name)
    location = {
        "Location": {
            "description": f"The {name}'s path",
            "schema": {"type": "string"},
            "required": True,
        }
    }
    router = APIRouter(
        prefix=resource.path, tags=[plural], responses=problem_responses(400, 401, 422, 503)
    )
    one = f"/{{{name}_id}}"
    fields = ", ".join(resource.updatable)
    # (path, method, endpoint, operation name, description, add_api_route's other keywords)
    routes: tuple[tuple[str, str, _EndpointOf, str, str, dict[str, Any]], ...] = (
        ("", "GET", _list_endpoint, f"list_{plural}",
         f"List the caller's {plural}, newest first.",
         {"response_model": resource.page}),
        ("", "POST", _create_endpoint, f"create_{name}", f"Create {_a(name)}.",
         {"status_code": status.HTTP_201_CREATED, "response_model": resource.public,
          "responses": {**problem_responses(413), 201: {"headers": {**etag, **location}}}}),
        (one, "GET", _read_endpoint, f"read_{name}", f"Read one {name}.",
         {"response_model": resource.public,
          "responses": {**problem_responses(404, noun=name), 200: {"headers": etag}}}),
        (one, "PATCH", _update_endpoint, f"update_{name}",
         f"Change {_a(name)}: any of {fields}; with If-Match, only if it is still that version.",
         {"response_model": resource.public,
          "responses": {**problem_responses(404, 412, 413, noun=name), 200: {"headers": etag}}}),
        (one, "DELETE", _delete_endpoint, f"delete_{name}",
         f"Delete {_a(name)}; with If-Match, only if it is still that version.",
         {"status_code": status.HTTP_204_NO_CONTENT,
          "responses": problem_responses(404, 412, noun=name)}),
    )  # fmt: skip
    for path, method, endpoint, operation, description, keywords in routes:
        router.add_api_route(
            path,
            endpoint(resource),
            methods=[method],
            name=operation,
            description=description,
            **keywords,
        )
    return router
