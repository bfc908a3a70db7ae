"""The SQL of every query the application runs: SQLAlchemy Core on the SQLModel tables,
built and compiled once per dialect when the database opens, then run on the driver.

A request pays for neither statement construction nor SQLAlchemy's execution layer
(its async bridge and result processing cost more than the query itself here; see
bench/README.md). The drivers run the compiled text; ``Statement.args`` puts the
parameters in the order the text expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.models import Todo, User

todos: sa.Table = Todo.__table__  # type: ignore[attr-defined]
users: sa.Table = User.__table__  # type: ignore[attr-defined]

#: The columns of a todo as the API shows it (``TodoPublic``), in that order.
TODO_COLUMNS = ("id", "text", "done", "created_at", "updated_at", "version")


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    #: Bind names in the order of the placeholders, and the values of the constants.
    names: tuple[str, ...]
    constants: dict[str, Any]

    def args(self, params: dict[str, Any]) -> list[Any]:
        return [params[n] if n in params else self.constants[n] for n in self.names]


def _compile(statement: ClauseElement, dialect: Dialect) -> Statement:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    constants = {k: v for k, v in compiled.params.items() if v is not None}
    return Statement(str(compiled), tuple(compiled.positiontup or ()), constants)


def _param(name: str) -> sa.BindParameter[Any]:
    return sa.bindparam(name)


#: ``update_todo`` keys: the fields a PATCH sets.
UPDATABLE = (("text",), ("done",), ("text", "done"))


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement, compiled for one dialect. ``conditional`` variants carry the
    If-Match check (``versions``)."""

    #: by (filtered on done, after a cursor)
    list_todos: dict[tuple[bool, bool], Statement]
    get_todo: Statement
    todo_version: Statement
    insert_todo: Statement
    #: by (fields, conditional)
    update_todo: dict[tuple[tuple[str, ...], bool], Statement]
    #: by conditional
    delete_todo: dict[bool, Statement]
    next_seq: Statement
    current_seq: Statement
    find_user: Statement
    insert_user: Statement
    update_user: Statement
    admin_counts: Statement


def build(dialect_name: str) -> Statements:
    """The statements for ``postgresql`` (asyncpg's ``$n``) or ``sqlite`` (``?``)."""
    pg = dialect_name == "postgresql"
    dialect: Dialect = asyncpg.dialect() if pg else sqlite.dialect()  # type: ignore[no-untyped-call]
    public = [todos.c[name] for name in TODO_COLUMNS]
    mine = todos.c.owner_id == _param("owner_id")
    this = sa.and_(todos.c.id == _param("todo_id"), mine)
    # If-Match: the versions the client accepts to overwrite, one parameter on both
    # backends (an array on PostgreSQL, a JSON array on SQLite).
    accepted = (
        todos.c.version == sa.any_(sa.bindparam("versions", type_=postgresql.ARRAY(sa.Integer)))
        if pg
        else todos.c.version.in_(
            sa.select(sa.column("value")).select_from(sa.func.json_each(_param("versions")))
        )
    )

    def page(done: bool, before: bool) -> Statement:
        query = sa.select(*public).where(mine)
        if done:
            query = query.where(todos.c.done == _param("done"))
        if before:
            query = query.where(todos.c.id < _param("before"))
        query = query.order_by(todos.c.id.desc()).limit(_param("limit"))
        return _compile(query, dialect)

    def update(fields: tuple[str, ...], conditional: bool) -> Statement:
        values: dict[str, Any] = {field: _param(field) for field in fields}
        values |= {"version": todos.c.version + 1, "updated_at": _param("now")}
        where = sa.and_(this, accepted) if conditional else this
        statement = sa.update(todos).where(where).values(values).returning(*public)
        return _compile(statement, dialect)

    def delete(conditional: bool) -> Statement:
        where = sa.and_(this, accepted) if conditional else this
        return _compile(sa.delete(todos).where(where).returning(todos.c.id), dialect)

    def count(*where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(todos).where(*where).scalar_subquery()

    insert_user = (postgresql.insert if pg else sqlite.insert)(users).values(
        id=_param("user_id"),
        issuer=_param("issuer"),
        subject=_param("subject"),
        name=_param("name"),
        email=_param("email"),
        event_seq=0,
        created_at=_param("now"),
        updated_at=_param("now"),
    )
    flags = (False, True)
    return Statements(
        list_todos={(d, b): page(d, b) for d in flags for b in flags},
        get_todo=_compile(sa.select(*public).where(this), dialect),
        todo_version=_compile(sa.select(todos.c.version).where(this), dialect),
        insert_todo=_compile(
            sa.insert(todos).values(
                id=_param("todo_id"),
                owner_id=_param("owner_id"),
                text=_param("text"),
                done=False,
                created_at=_param("now"),
                updated_at=_param("now"),
                version=1,
            ),
            dialect,
        ),
        update_todo={(f, c): update(f, c) for f in UPDATABLE for c in flags},
        delete_todo={c: delete(c) for c in flags},
        next_seq=_compile(
            sa.update(users)
            .where(users.c.id == _param("owner_id"))
            .values(event_seq=users.c.event_seq + 1)
            .returning(users.c.event_seq),
            dialect,
        ),
        current_seq=_compile(
            sa.select(users.c.event_seq).where(users.c.id == _param("owner_id")), dialect
        ),
        find_user=_compile(
            sa.select(users.c.id, users.c.name, users.c.email).where(
                users.c.issuer == _param("issuer"), users.c.subject == _param("subject")
            ),
            dialect,
        ),
        insert_user=_compile(
            insert_user.on_conflict_do_nothing(index_elements=["issuer", "subject"]), dialect
        ),
        update_user=_compile(
            sa.update(users)
            .where(users.c.id == _param("user_id"))
            .values(name=_param("name"), email=_param("email"), updated_at=_param("now")),
            dialect,
        ),
        admin_counts=_compile(
            sa.select(
                sa.select(sa.func.count()).select_from(users).scalar_subquery(),
                count(),
                count(todos.c.done),
            ),
            dialect,
        ),
    )
