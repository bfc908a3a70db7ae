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

from app.data.models import Todo, User

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


@dataclass(frozen=True, slots=True)
class Write:
    """A change to one todo and the bump of its owner's live-event ``seq``, in one
    transaction, the bump only when the change matched a row.

    On PostgreSQL it is one statement (the change as a data-modifying CTE, the bump
    reading its output): one round trip, atomic without BEGIN and COMMIT. SQLite has no
    data-modifying CTEs: there it is the change, then a bump guarded by ``changes()``
    (the rows the change just modified on the same connection).
    """

    statements: tuple[Statement, ...]

    def outcome(self, results: list[list[Any]]) -> tuple[Any, int] | None:
        """(the change's row, the new seq), or None when nothing matched."""
        if len(self.statements) == 1:
            rows = results[0]
            return (rows[0], rows[0][-1]) if rows else None
        changed, bumped = results
        return (changed[0], bumped[0][0]) if changed else None


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
    create_todo: Write
    #: by (fields, conditional)
    update_todo: dict[tuple[tuple[str, ...], bool], Write]
    #: by conditional
    delete_todo: dict[bool, Write]
    current_seq: Statement
    #: insert the user, or refresh their name and email; returns the id unless unchanged
    upsert_user: Statement
    find_user: Statement
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
    bump = (
        sa.update(users)
        .where(users.c.id == _param("owner_id"))
        .values(event_seq=users.c.event_seq + 1)
        .returning(users.c.event_seq)
    )

    def write(change: Any) -> Write:
        if not pg:
            guarded = bump.where(sa.func.changes() > 0)
            return Write((_compile(change, dialect), _compile(guarded, dialect)))
        changed = change.cte("changed")
        bumped = bump.where(sa.exists(sa.select(sa.literal(1)).select_from(changed))).cte("bump")
        fused = sa.select(changed, bumped.c.event_seq).select_from(changed.join(bumped, sa.true()))
        return Write((_compile(fused, dialect),))

    def page(done: bool, before: bool) -> Statement:
        query = sa.select(*public).where(mine)
        if done:
            query = query.where(todos.c.done == _param("done"))
        if before:
            query = query.where(todos.c.id < _param("before"))
        query = query.order_by(todos.c.id.desc()).limit(_param("limit"))
        return _compile(query, dialect)

    def update(fields: tuple[str, ...], conditional: bool) -> Write:
        values: dict[str, Any] = {field: _param(field) for field in fields}
        values |= {"version": todos.c.version + 1, "updated_at": _param("now")}
        where = sa.and_(this, accepted) if conditional else this
        return write(sa.update(todos).where(where).values(values).returning(*public))

    def delete(conditional: bool) -> Write:
        where = sa.and_(this, accepted) if conditional else this
        return write(sa.delete(todos).where(where).returning(todos.c.id))

    def count(*where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(todos).where(*where).scalar_subquery()

    new_user = (postgresql.insert if pg else sqlite.insert)(users).values(
        id=_param("user_id"),
        issuer=_param("issuer"),
        subject=_param("subject"),
        name=_param("name"),
        email=_param("email"),
        event_seq=0,
        created_at=_param("now"),
        updated_at=_param("now"),
    )
    upsert_user = new_user.on_conflict_do_update(
        index_elements=["issuer", "subject"],
        set_={"name": _param("name"), "email": _param("email"), "updated_at": _param("now")},
        where=sa.or_(
            users.c.name.is_distinct_from(_param("name")),
            users.c.email.is_distinct_from(_param("email")),
        ),
    ).returning(users.c.id)
    new_todo = sa.insert(todos).values(
        id=_param("todo_id"),
        owner_id=_param("owner_id"),
        text=_param("text"),
        done=False,
        created_at=_param("now"),
        updated_at=_param("now"),
        version=1,
    )
    flags = (False, True)
    return Statements(
        list_todos={(d, b): page(d, b) for d in flags for b in flags},
        get_todo=_compile(sa.select(*public).where(this), dialect),
        todo_version=_compile(sa.select(todos.c.version).where(this), dialect),
        create_todo=write(new_todo.returning(todos.c.id)),
        update_todo={(f, c): update(f, c) for f in UPDATABLE for c in flags},
        delete_todo={c: delete(c) for c in flags},
        current_seq=_compile(
            sa.select(users.c.event_seq).where(users.c.id == _param("owner_id")), dialect
        ),
        upsert_user=_compile(upsert_user, dialect),
        find_user=_compile(
            sa.select(users.c.id).where(
                users.c.issuer == _param("issuer"), users.c.subject == _param("subject")
            ),
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
