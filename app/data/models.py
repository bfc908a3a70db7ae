"""The users table, the column types every table shares, and the API's JSON.

``User`` is created on first sight of an (issuer, subject) pair. The rows users own are
declared as owned resources (``app.data.owned``, ``app.data.resources``).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import DateTime, TypeDecorator, UniqueConstraint
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel
from uuid6 import uuid7

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
    """The API's JSON for rows and events: what pydantic writes for a resource's public
    model (UTC datetimes with ``Z``, UUIDs as text), byte for byte, without building its
    objects."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)
