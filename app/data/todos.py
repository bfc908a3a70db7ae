"""The todo: the example owned resource, and the one place it is declared.

Its table, the bodies a client sends, the check that depends on settings, and the
declaration from which the data layer and the routes are built (``app.data.owned``).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field as PydanticField
from pydantic import StrictBool, StrictStr
from sqlalchemy import Index
from sqlmodel import Field

from app.data.bodies import CreateBody, UpdateBody
from app.data.owned import OwnedResource, OwnedTable
from app.data.text import check_text, text_schema
from app.settings import AppSettings


class Todo(OwnedTable, table=True):
    __tablename__ = "todos"
    __table_args__ = (
        Index(None, "owner_id", "id"),
        Index(None, "owner_id", "done", "id"),  # the list's done filter
    )

    #: The column holds the largest TODO_TEXT_MAX_LENGTH allowed.
    text: str = Field(max_length=10_000)
    done: bool = False


TEXT_DESCRIPTION = (
    "Not blank, no NUL, at most TODO_TEXT_MAX_LENGTH characters (500 unless configured)."
)
_TEXT_SCHEMA = text_schema("todo_text_max_length")


class TodoCreate(CreateBody):
    """Body of ``POST /api/todos``."""

    text: StrictStr = PydanticField(
        min_length=1, description=TEXT_DESCRIPTION, json_schema_extra=_TEXT_SCHEMA
    )


class TodoUpdate(UpdateBody):
    """Body of ``PATCH /api/todos/{id}``: every field optional, at least one present."""

    text: StrictStr | None = PydanticField(
        default=None, min_length=1, description=TEXT_DESCRIPTION, json_schema_extra=_TEXT_SCHEMA
    )
    done: StrictBool | None = None


def check_todo(fields: Mapping[str, object], settings: AppSettings) -> None:
    """The text's length is a setting (TODO_TEXT_MAX_LENGTH)."""
    if "text" in fields:
        check_text("text", fields["text"], max_length=settings.todo_text_max_length)


TODOS = OwnedResource(
    table=Todo,
    name="todo",
    create=TodoCreate,
    update=TodoUpdate,
    filters=("done",),
    counted=("done",),
    check=check_todo,
)
