"""``/api/todos``: the caller's todos. Another user's todo is a 404 for every verb."""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status

from app import crud
from app.deps import NOT_FOUND, BrokerDep, CurrentUserId, OwnedTodo, SessionDep, SettingsDep
from app.errors import FieldError, problem_responses
from app.models import Todo, TodoCreate, TodoPage, TodoPublic, TodoUpdate
from app.settings import AppSettings

router = APIRouter(
    prefix="/api/todos", tags=["todos"], responses=problem_responses(400, 401, 422, 503)
)

_ETAG = re.compile(r'\s*(W/)?"(\d{1,18})"\s*')


def _public(todo: Todo, response: Response) -> TodoPublic:
    public = TodoPublic.model_validate(todo, from_attributes=True)
    response.headers["ETag"] = public.etag
    return public


def _checked_text(text: str, settings: AppSettings) -> str:
    if not text.strip():
        raise FieldError("text", "must not be empty or only whitespace")
    if len(text) > settings.todo_text_max_length:
        raise FieldError("text", f"must be at most {settings.todo_text_max_length} characters")
    if "\x00" in text:
        raise FieldError("text", "must not contain NUL characters")
    return text


def parse_if_match(value: str | None) -> list[int] | None:
    """Versions an ``If-Match`` header accepts (RFC 9110 §13.1.1, strong comparison):
    None when absent or ``*``; weak or malformed entries match nothing."""
    if value is None or value.strip() == "*":
        return None
    versions = []
    for item in value.split(","):
        match = _ETAG.fullmatch(item)
        if match and not match.group(1):
            versions.append(int(match.group(2)))
    return versions


def _encode_cursor(todo_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(todo_id.bytes).rstrip(b"=").decode()


def _decode_cursor(cursor: str) -> uuid.UUID:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return uuid.UUID(bytes=raw)
    except (binascii.Error, ValueError) as exc:
        raise FieldError(
            "cursor", "is not a cursor returned by this API", location="query"
        ) from exc


IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="ETag of the version to overwrite")
]


@router.get("")
async def list_todos(
    owner_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, description="Page size (at most PAGE_SIZE_MAX)")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    done: Annotated[Literal["true", "false"] | None, Query()] = None,
) -> TodoPage:
    """List the caller's todos, newest first."""
    if limit is not None and limit > settings.page_size_max:
        raise FieldError("limit", f"must be at most {settings.page_size_max}", location="query")
    todos, next_before = await crud.list_todos(
        session,
        owner_id=owner_id,
        limit=limit or settings.page_size_default,
        before=_decode_cursor(cursor) if cursor else None,
        done=None if done is None else done == "true",
    )
    return TodoPage(
        items=[TodoPublic.model_validate(todo, from_attributes=True) for todo in todos],
        next_cursor=_encode_cursor(next_before) if next_before else None,
    )


@router.post("", status_code=status.HTTP_201_CREATED, responses=problem_responses(413))
async def create_todo(
    body: TodoCreate,
    owner_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    broker: BrokerDep,
    response: Response,
) -> TodoPublic:
    """Create a todo."""
    todo, event = await crud.create_todo(
        session, owner_id=owner_id, text=_checked_text(body.text, settings)
    )
    await broker.publish(event)
    response.headers["Location"] = f"/api/todos/{todo.id}"
    return _public(todo, response)


@router.get("/{todo_id}", responses=problem_responses(404))
async def read_todo(todo: OwnedTodo, response: Response) -> TodoPublic:
    """Read one todo."""
    return _public(todo, response)


@router.patch("/{todo_id}", responses=problem_responses(404, 412, 413))
async def update_todo(
    todo_id: uuid.UUID,
    body: TodoUpdate,
    owner_id: CurrentUserId,
    session: SessionDep,
    settings: SettingsDep,
    broker: BrokerDep,
    response: Response,
    if_match: IfMatch = None,
) -> TodoPublic:
    """Change a todo's text or done flag; with If-Match, only if it is still that version."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise FieldError("body", "must set text or done")
    if "text" in changes:
        _checked_text(changes["text"], settings)
    result = await crud.update_todo(
        session,
        owner_id=owner_id,
        todo_id=todo_id,
        changes=changes,
        if_match=parse_if_match(if_match),
    )
    if result is None:
        raise HTTPException(404, NOT_FOUND)
    todo, event = result
    await broker.publish(event)
    return _public(todo, response)


@router.delete(
    "/{todo_id}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(404, 412)
)
async def delete_todo(
    todo_id: uuid.UUID,
    owner_id: CurrentUserId,
    session: SessionDep,
    broker: BrokerDep,
    if_match: IfMatch = None,
) -> None:
    """Delete a todo; with If-Match, only if it is still that version."""
    event = await crud.delete_todo(
        session, owner_id=owner_id, todo_id=todo_id, if_match=parse_if_match(if_match)
    )
    if event is None:
        raise HTTPException(404, NOT_FOUND)
    await broker.publish(event)
