"""Tables and the API's schemas for them.

``User`` is created on first sight of an (issuer, subject) pair. ``Todo`` ids are
UUIDv7: unguessable (74 random bits) yet ordered by creation time, so "newest first"
and cursor pagination are one index range scan on (owner_id, id).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

import orjson
from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, field_validator
from pydantic import Field as PydanticField
from pydantic.config import JsonDict
from sqlalchemy import DateTime, Index, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel
from uuid6 import uuid7

from app.settings import bounds_from_settings

# Constraint names are derived, so migrations and models agree on them on every backend.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("issuer", "subject"),)

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    issuer: str = Field(max_length=255)
    subject: str = Field(max_length=255)
    name: str | None = Field(default=None, max_length=255)
    email: str | None = Field(default=None, max_length=320)
    #: Sequence number of the last live event for this user (monotonic across instances,
    #: incremented in the same transaction as the change it describes).
    event_seq: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class TodoBase(SQLModel):
    text: str
    done: bool = False


class Todo(TodoBase, table=True):
    __tablename__ = "todos"
    __table_args__ = (
        Index(None, "owner_id", "id"),
        Index(None, "owner_id", "done", "id"),
    )

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    text: str = Field(max_length=10_000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = Field(default=1)


_STRICT = ConfigDict(extra="forbid", strict=True)
TEXT_DESCRIPTION = (
    "Not blank, no NUL, at most TODO_TEXT_MAX_LENGTH characters (500 unless configured)."
)
#: What ``str.strip`` removes (``str.isspace``), spelled out: the ``\s`` of ECMA-262
#: (JSON Schema's regex dialect) and of Rust's regex (pydantic's) are other sets.
BLANK_CHARACTERS = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
#: The texts the routes accept (``app.routes.todos``), as JSON Schema: a character that is
#: not blank, and no NUL anywhere.
TEXT_PATTERN = rf"^[^\x00]*[^\x00{BLANK_CHARACTERS}][^\x00]*$"
# Documented, not enforced by pydantic: the route refuses with its own messages.
_TEXT_SCHEMA = {"pattern": TEXT_PATTERN, **bounds_from_settings(maxLength="todo_text_max_length")}


# Request bodies are plain pydantic models too: they are validated on every write.
class TodoCreate(BaseModel):
    """Body of ``POST /api/todos``."""

    model_config = _STRICT

    text: StrictStr = PydanticField(
        min_length=1, description=TEXT_DESCRIPTION, json_schema_extra=_TEXT_SCHEMA
    )


def _omittable_not_nullable(schema: JsonDict) -> None:
    # An omitted field is left as it is and null is refused (``_not_null``): the document
    # shows each field's non-null type alone, no null default, and asks for one field.
    properties = cast(dict[str, dict[str, Any]], schema["properties"])
    for field_schema in properties.values():
        del field_schema["default"]
        (member,) = [member for member in field_schema.pop("anyOf") if member != {"type": "null"}]
        field_schema.update(member)
    schema["minProperties"] = 1


class TodoUpdate(BaseModel):
    """Body of ``PATCH /api/todos/{id}``: every field optional, at least one present."""

    model_config = ConfigDict(
        extra="forbid", strict=True, json_schema_extra=_omittable_not_nullable
    )

    text: StrictStr | None = PydanticField(
        default=None, min_length=1, description=TEXT_DESCRIPTION, json_schema_extra=_TEXT_SCHEMA
    )
    done: StrictBool | None = None

    @field_validator("text", "done", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Validators run only for fields present in the body: omitting a field is
        # fine, sending null is not.
        if value is None:
            raise ValueError("must not be null")
        return value


# Response schemas are plain pydantic models: a SQLModel that is not a table still
# pays SQLModel's instance set-up, a measurable share of a small request (see bench);
# the routes write rows straight to JSON and these document the body in OpenAPI.
class TodoPublic(BaseModel):
    id: uuid.UUID
    text: str
    done: bool
    created_at: datetime
    updated_at: datetime
    version: int


class TodoPage(BaseModel):
    items: list[TodoPublic]
    next_cursor: str | None


class AdminStats(BaseModel):
    users: int
    todos: int
    todos_done: int


class Me(BaseModel):
    subject: str
    issuer: str
    name: str | None
    email: str | None
    username: str | None
    roles: list[str]
    groups: list[str]
    client_id: str | None
    scopes: list[str]
    dpop_bound: bool
    token_expires_at: float | None


def to_json(value: Any) -> bytes:
    """The API's JSON for rows and events: what pydantic writes for ``TodoPublic`` (UTC
    datetimes with ``Z``, UUIDs as text), byte for byte, without building its objects."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)
