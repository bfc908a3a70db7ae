"""Alembic environment: the schema of app.data (the users table and every owned
resource's table), applied to DATABASE_URL."""

from __future__ import annotations

from logging.config import fileConfig
from typing import Any

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel
from sqlmodel.sql.sqltypes import AutoString

import app.data.resources  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.data.database import sync_database_url
from app.data.models import UTCDateTime
from app.settings import AppSettings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logging", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata
# Several instances may start at once against PostgreSQL: one migrates, the others
# wait on this advisory lock and then find nothing left to do.
_PG_MIGRATION_LOCK = 7_402_311_870


def _url() -> str:
    url = config.attributes.get("database_url") or AppSettings().database_url
    return sync_database_url(url)


def _render_type(type_: str, obj: Any, _: AutogenContext) -> str | bool:
    # New migrations say what the column is in SQLAlchemy's own types, as the first
    # one does: a migration must not import the application (it changes; they do not).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    if type_ == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_type,
    )
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
    try:
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_MIGRATION_LOCK})
            connection.commit()


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url())
    try:
        with engine.connect() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
