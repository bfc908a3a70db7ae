"""``/api/todos``: the caller's todos. Another user's todo is a 404 for every verb.

The routes declare the principal and ask for the caller's todos themselves
(``app.api.deps.caller_of``) rather than declare a dependency on top of it: FastAPI solves
each dependency in a pass of its own, a measurable share of a small request.
"""

from __future__ import annotations

import base64
import re
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status

from app.api.deps import CurrentPrincipal, caller_of
from app.api.errors import FieldError, problem_responses
from app.api.preconditions import ETAG_HEADER, IfMatch, parse_if_match
from app.data.models import TodoCreate, TodoPage, TodoPublic, TodoUpdate, to_json
from app.settings import AppSettings, bounds_from_settings

router = APIRouter(
    prefix="/api/todos", tags=["todos"], responses=problem_responses(400, 401, 422, 503)
)

NOT_FOUND = "No todo with this id."

_LOCATION = {
    "Location": {"description": "The todo's path", "schema": {"type": "string"}, "required": True}
}
#: The cursors this API returns: a todo id's 16 bytes in unpadded base64url.
_CURSOR = re.compile(r"[A-Za-z0-9_-]{22}")


def _json(todo: dict[str, Any], status_code: int = 200, **headers: str) -> Response:
    # Rows go to JSON directly (app.models.to_json writes what TodoPublic would); the
    # route still declares TodoPublic, which documents the body in OpenAPI.
    headers["ETag"] = f'"{todo["version"]}"'
    return Response(to_json(todo), status_code, headers, media_type="application/json")


def _checked_text(text: str, settings: AppSettings) -> str:
    if not text.strip():
        raise FieldError("text", "must not be empty or only whitespace")
    if len(text) > settings.todo_text_max_length:
        raise FieldError("text", f"must be at most {settings.todo_text_max_length} characters")
    if "\x00" in text:
        raise FieldError("text", "must not contain NUL characters")
    return text


def _encode_cursor(todo_id: str) -> str:
    return base64.urlsafe_b64encode(uuid.UUID(todo_id).bytes).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> uuid.UUID:
    # Only the exact shape _encode_cursor writes: base64 decoding alone would skip
    # characters outside its alphabet and accept padding.
    if not _CURSOR.fullmatch(cursor):
        raise FieldError("cursor", "is not a cursor returned by this API", location="query")
    return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=="))


TodoId = Annotated[uuid.UUID, Path(description="The todo's id")]


@router.get("", response_model=TodoPage)
async def list_todos(
    request: Request,
    principal: CurrentPrincipal,
    limit: Annotated[
        int | None,
        Query(
            ge=1,
            description="Page size (at most PAGE_SIZE_MAX)",
            json_schema_extra=bounds_from_settings(maximum="page_size_max"),
        ),
    ] = None,
    cursor: Annotated[
        str | None,
        Query(
            description="next_cursor of the previous page",
            json_schema_extra={"pattern": f"^{_CURSOR.pattern}$"},
        ),
    ] = None,
    done: Annotated[Literal["true", "false"] | None, Query()] = None,
) -> Response:
    """List the caller's todos, newest first."""
    caller = await caller_of(request, principal)
    settings = caller.settings
    if limit is not None and limit > settings.page_size_max:
        raise FieldError("limit", f"must be at most {settings.page_size_max}", location="query")
    todos, next_before = await caller.todos.page(
        limit=limit or settings.page_size_default,
        before=None if cursor is None else _decode_cursor(cursor),
        done=None if done is None else done == "true",
    )
    next_cursor = _encode_cursor(next_before) if next_before else None
    body = to_json({"items": todos, "next_cursor": next_cursor})
    return Response(body, media_type="application/json")


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TodoPublic,
    responses={**problem_responses(413), 201: {"headers": {**ETAG_HEADER, **_LOCATION}}},
)
async def create_todo(body: TodoCreate, request: Request, principal: CurrentPrincipal) -> Response:
    """Create a todo."""
    caller = await caller_of(request, principal)
    todo = await caller.todos.create(_checked_text(body.text, caller.settings))
    return _json(todo, status.HTTP_201_CREATED, Location=f"/api/todos/{todo['id']}")


@router.get(
    "/{todo_id}",
    response_model=TodoPublic,
    responses={**problem_responses(404), 200: {"headers": ETAG_HEADER}},
)
async def read_todo(todo_id: TodoId, request: Request, principal: CurrentPrincipal) -> Response:
    """Read one todo."""
    caller = await caller_of(request, principal)
    todo = await caller.todos.get(todo_id)
    if todo is None:
        raise HTTPException(404, NOT_FOUND)
    return _json(todo)


@router.patch(
    "/{todo_id}",
    response_model=TodoPublic,
    responses={**problem_responses(404, 412, 413), 200: {"headers": ETAG_HEADER}},
)
async def update_todo(
    todo_id: TodoId,
    body: TodoUpdate,
    request: Request,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Response:
    """Change a todo's text or done flag; with If-Match, only if it is still that version."""
    caller = await caller_of(request, principal)
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise FieldError("body", "must set text or done")
    if "text" in changes:
        _checked_text(changes["text"], caller.settings)
    todo = await caller.todos.update(todo_id, changes, parse_if_match(if_match))
    if todo is None:
        raise HTTPException(404, NOT_FOUND)
    return _json(todo)


@router.delete(
    "/{todo_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_todo(
    todo_id: TodoId, request: Request, principal: CurrentPrincipal, if_match: IfMatch = None
) -> None:
    """Delete a todo; with If-Match, only if it is still that version."""
    caller = await caller_of(request, principal)
    if not await caller.todos.delete(todo_id, parse_if_match(if_match)):
        raise HTTPException(404, NOT_FOUND)
