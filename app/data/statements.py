"""The SQL of every query the application runs: SQLAlchemy Core on the SQLModel tables,
built and compiled once per dialect when the database opens, then run on the driver.

A request pays for neither statement construction nor SQLAlchemy's execution layer
(its async bridge and result processing cost more than the query itself here; see
bench/README.md). The drivers run the compiled text; ``Statement.args`` puts the
parameters in the order the text expects. An owned resource's statements are built from
its declaration (``app.data.owned``), the same for every resource.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

from app.data.models import User
from app.data.owned import OwnedResource, OwnedRow

users: sa.Table = User.__table__  # type: ignore[attr-defined]

#: The values of a statement's parameters, by bind name.
Params = Mapping[str, object]
#: A row as the driver returns it (a tuple, or asyncpg's ``Record``).
Row = Any
#: Turns a driver row of a resource's public columns into the row the API shows.
RowReader = Callable[[Row], OwnedRow]
#: What a backend gives the builder: the reader of rows of these columns.
ReaderFactory = Callable[[Sequence[sa.Column[Any]]], RowReader]

# Bind names of an owned resource's statements. A resource's own fields bind under
# their column names; these start with "_", which no field name can (pydantic keeps
# such names private), so the two never collide.
OWNER, ROW, NOW, VERSIONS, LIMIT, BEFORE = "_owner", "_id", "_now", "_versions", "_limit", "_before"


def set_flag(field: str) -> str:
    """The bind saying whether an update sets ``field``."""
    return f"_set_{field}"


@dataclass(frozen=True, slots=True)
class Statement:
    sql: str
    #: Bind names in the order of the placeholders, and the values of the constants.
    names: tuple[str, ...]
    constants: dict[str, object]

    def args(self, params: Params) -> list[object]:
        return [params[n] if n in params else self.constants[n] for n in self.names]


def _compile(statement: ClauseElement, dialect: Dialect) -> Statement:
    compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
    constants = {k: v for k, v in compiled.params.items() if v is not None}
    return Statement(str(compiled), tuple(compiled.positiontup or ()), constants)


def _param(name: str, type_: Any = None) -> sa.BindParameter[Any]:
    return sa.bindparam(name, type_=type_)


@dataclass(frozen=True, slots=True)
class Write:
    """A change to one row and the bump of its owner's live-event ``seq``, in one
    transaction, the bump only when the change matched a row.

    On PostgreSQL it is one statement (the change as a data-modifying CTE, the bump
    reading its output): one round trip, atomic without BEGIN and COMMIT. SQLite has no
    data-modifying CTEs: there it is the change, then a bump guarded by ``changes()``
    (the rows the change just modified on the same connection).
    """

    statements: tuple[Statement, ...]

    def outcome(self, results: list[list[Row]]) -> tuple[Row, int] | None:
        """(the change's row, the new seq), or None when nothing matched."""
        if len(self.statements) == 1:
            rows = results[0]
            return (rows[0], rows[0][-1]) if rows else None
        changed, bumped = results
        return (changed[0], bumped[0][0]) if changed else None


@dataclass(frozen=True, slots=True)
class ResourceStatements:
    """One owned resource's statements, compiled for one dialect, and its row reader.
    ``conditional`` variants carry the If-Match check (``VERSIONS``)."""

    resource: OwnedResource
    #: by (the filters given, in the declaration's order; after a cursor)
    page: dict[tuple[tuple[str, ...], bool], Statement]
    get: Statement
    version: Statement
    create: Write
    #: by conditional; sets the fields whose ``set_flag`` is true
    update: dict[bool, Write]
    #: by conditional
    delete: dict[bool, Write]
    read: RowReader


@dataclass(frozen=True, slots=True)
class Statements:
    """Every statement, compiled for one dialect."""

    current_seq: Statement
    #: insert the user, or refresh their name and email; returns the id unless unchanged
    upsert_user: Statement
    find_user: Statement
    #: users, then each resource's rows, then its ``counted`` true rows (``stat_names``)
    admin_counts: Statement
    stat_names: tuple[str, ...]
    resources: dict[str, ResourceStatements]

    def of(self, resource: OwnedResource) -> ResourceStatements:
        """The statements of ``resource``.

        Raises:
            KeyError: the database was opened without it (``app.data.resources``).
        """
        return self.resources[resource.name]


def stat_names(resources: Sequence[OwnedResource]) -> tuple[str, ...]:
    """The admin statistics, in the order of ``admin_counts``'s columns."""
    names = ["users", *(resource.plural for resource in resources)]
    names += [f"{r.plural}_{flag}" for r in resources for flag in r.counted]
    return tuple(names)


def _dialect(name: str) -> Dialect:
    if name == "postgresql":
        return asyncpg.dialect()  # type: ignore[no-untyped-call]
    return sqlite.dialect()


def build(
    dialect_name: str, resources: Sequence[OwnedResource], reader: ReaderFactory
) -> Statements:
    """The statements for ``postgresql`` (asyncpg's ``$n``) or ``sqlite`` (``?``), with
    those of each of ``resources``; ``reader`` is the backend's row reader factory."""
    dialect = _dialect(dialect_name)
    pg = dialect_name == "postgresql"
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
    return Statements(
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
        admin_counts=_compile(_admin_counts(resources), dialect),
        stat_names=stat_names(resources),
        resources={r.name: _build_resource(r, dialect, reader) for r in resources},
    )


def _admin_counts(resources: Sequence[OwnedResource]) -> sa.Select[Any]:
    def count(table: sa.Table, *where: Any) -> Any:
        return sa.select(sa.func.count()).select_from(table).where(*where).scalar_subquery()

    totals = [count(r.sql_table) for r in resources]
    flagged = [count(r.sql_table, r.sql_table.c[flag]) for r in resources for flag in r.counted]
    return sa.select(count(users), *totals, *flagged)


def _build_resource(
    resource: OwnedResource, dialect: Dialect, reader: ReaderFactory
) -> ResourceStatements:
    pg = dialect.name == "postgresql"
    table = resource.sql_table
    public = [table.c[name] for name in resource.columns]
    mine = table.c.owner_id == _param(OWNER)
    this = sa.and_(table.c.id == _param(ROW), mine)
    # If-Match: the versions the client accepts to overwrite, one parameter on both
    # backends (an array on PostgreSQL, a JSON array on SQLite).
    accepted = (
        table.c.version == sa.any_(sa.bindparam(VERSIONS, type_=postgresql.ARRAY(sa.Integer)))
        if pg
        else table.c.version.in_(
            sa.select(sa.column("value")).select_from(sa.func.json_each(_param(VERSIONS)))
        )
    )
    bump = (
        sa.update(users)
        .where(users.c.id == _param(OWNER))
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

    def page(filters: tuple[str, ...], before: bool) -> Statement:
        query = sa.select(*public).where(mine)
        for name in filters:
            query = query.where(table.c[name] == _param(name))
        if before:
            query = query.where(table.c.id < _param(BEFORE))
        query = query.order_by(table.c.id.desc()).limit(_param(LIMIT))
        return _compile(query, dialect)

    def update(conditional: bool) -> Write:
        # One statement whatever the request sets: each updatable column keeps its value
        # unless its flag is true. (A statement per set of fields would be 2^n of them,
        # each compiled and prepared on every connection.)
        values: dict[str, Any] = {
            name: sa.case(
                (_param(set_flag(name), sa.Boolean()), _param(name, table.c[name].type)),
                else_=table.c[name],
            )
            for name in resource.updatable
        }
        values |= {"version": table.c.version + 1, "updated_at": _param(NOW)}
        where = sa.and_(this, accepted) if conditional else this
        return write(sa.update(table).where(where).values(values).returning(*public))

    def delete(conditional: bool) -> Write:
        where = sa.and_(this, accepted) if conditional else this
        return write(sa.delete(table).where(where).returning(table.c.id))

    new_row = sa.insert(table).values(
        id=_param(ROW),
        owner_id=_param(OWNER),
        created_at=_param(NOW),
        updated_at=_param(NOW),
        version=1,
        **{name: _param(name) for name in resource.own},
    )
    subsets = itertools.chain.from_iterable(
        itertools.combinations(resource.filters, n) for n in range(len(resource.filters) + 1)
    )
    flags = (False, True)
    return ResourceStatements(
        resource=resource,
        page={(f, b): page(f, b) for f in subsets for b in flags},
        get=_compile(sa.select(*public).where(this), dialect),
        version=_compile(sa.select(table.c.version).where(this), dialect),
        create=write(new_row.returning(table.c.id)),
        update={c: update(c) for c in flags},
        delete={c: delete(c) for c in flags},
        read=reader(public),
    )
