"""Owned, versioned resources, each declared once.

An owned resource is a table whose rows each belong to one user, change only at the
version a client names (``If-Match``), and announce every change as a live event
numbered in the owner's ``seq``. Its table extends ``OwnedTable`` with its own columns;
``OwnedResource`` names it and says what a client may send. Everything else comes from
that declaration: the statements of both dialects (``app.data.statements``), the reads,
the writes and their events (``app.data.crud.OwnerRows``), the public model and the
routes (``app.api.resources``). docs/add-a-resource.md walks through adding one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypedDict, cast

import sqlalchemy as sa
from pydantic import BaseModel, create_model
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString
from uuid6 import uuid7

from app.data.models import UTCDateTime, utcnow
from app.settings import AppSettings

#: The largest version a row can reach: the column is an INTEGER (32 bits on PostgreSQL,
#: where a larger parameter fails the statement). A version beyond it names no row of ours.
VERSION_MAX = 2**31 - 1

#: What every owned table has besides its own columns (``OwnedTable``).
COMMON_COLUMNS = ("id", "owner_id", "created_at", "updated_at", "version")


class OwnedTable(SQLModel):
    """The columns of every owned table. Ids are UUIDv7: unguessable (74 random bits)
    yet ordered by creation time, so "newest first" and cursor pages are one range scan
    of the ``(owner_id, id)`` index each table declares."""

    id: uuid.UUID = Field(default_factory=uuid7, primary_key=True)
    owner_id: uuid.UUID = Field(foreign_key="users.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Starts at 1, incremented by every update; the ETag is this number, quoted.
    version: int = Field(default=1)


class OwnedRow(TypedDict):
    """A row as the API shows it: these columns, then the resource's own (its public
    model, ``OwnedResource.public``, lists them all). Rows go to JSON as they are
    (``app.data.models.to_json``), without a model object per row."""

    id: str
    created_at: datetime
    updated_at: datetime
    version: int


class RowId(TypedDict):
    """What the event of a deletion carries."""

    id: str


#: What happened to a row: its live event's type is ``<name>.<change>``.
Change = Literal["created", "updated", "deleted"]
CHANGES: tuple[Change, ...] = ("created", "updated", "deleted")

ColumnKind = Literal["uuid", "datetime", "date", "bool", "int", "float", "str"]
_KINDS: dict[type, ColumnKind] = {
    uuid.UUID: "uuid",
    date: "date",
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
}


#: What a value of each kind is once stored and read back, where that is not the value.
_AS_READ: dict[ColumnKind, Callable[[Any], object]] = {
    "uuid": str,
    "datetime": lambda value: value.astimezone(UTC),
    "float": float,
}


def kind_of(column: sa.Column[Any]) -> ColumnKind:
    """How a column's values travel: each backend reads and binds each kind its way.

    Raises:
        TypeError: a type the data layer does not read. Statements bypass SQLAlchemy's
            type processing, so a type that converts values (``TypeDecorator``) is
            refused, but for SQLModel's ``AutoString`` and ``UTCDateTime``, which the
            backends read themselves.
    """
    type_ = column.type
    if isinstance(type_, UTCDateTime):
        return "datetime"
    if isinstance(type_, AutoString):
        type_ = type_.impl_instance
    try:
        kind = None if isinstance(type_, sa.TypeDecorator) else _KINDS.get(type_.python_type)
    except NotImplementedError:
        kind = None
    if kind is None:
        raise TypeError(
            f"column {column.name!r}: {column.type!r} is not supported; use str, int, float, "
            "bool, uuid.UUID, date, or datetime with sa_type=UTCDateTime"
        )
    return kind


class InvalidField(Exception):
    """A field of a row that a resource's ``check`` refuses (beyond what its request
    model checks): the HTTP layer answers 422 naming the field."""

    location = "body"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


#: A resource's own check of the fields a client sends (create, or the fields an update
#: sets), for rules that depend on settings; raises ``InvalidField``.
FieldCheck = Callable[[Mapping[str, object], AppSettings], None]

_NAME = re.compile(r"[a-z][a-z0-9_]*")
#: The list route's own parameters, which a filter (a query parameter too) must not shadow.
_LIST_PARAMETERS = frozenset({"limit", "cursor", "request", "principal"})


@dataclass(frozen=True, eq=False)
class OwnedResource:
    """The declaration of an owned resource: the one place that names it.

    ``name`` is the singular (``todo``): the event types (``todo.created``), the key of
    the row in an event, the path parameter (``todo_id``) and the texts of the API.
    ``plural`` (``name`` + "s" unless given) is the path (``/api/todos``) and the
    OpenAPI tag. ``create`` and ``update`` are the request bodies; a field of ``update``
    that a request leaves out is left as it is. ``filters`` are own columns a list can
    be narrowed to by equality (``?done=true``; give each an index that starts with
    ``owner_id``); ``counted`` are boolean columns whose true rows the admin statistics
    count. Every mistake in a declaration is refused when it is made, in one sentence.
    """

    table: type[OwnedTable]
    name: str
    create: type[BaseModel]
    update: type[BaseModel]
    plural: str = ""
    filters: tuple[str, ...] = ()
    counted: tuple[str, ...] = ()
    check: FieldCheck | None = None

    # Derived from the above by __post_init__.
    #: The table's own columns (all but ``COMMON_COLUMNS``), in the table's order.
    own: tuple[str, ...] = field(init=False)
    #: The columns a client sees, in the order of the JSON: id, own columns, the rest.
    columns: tuple[str, ...] = field(init=False)
    #: ``<Name>Public`` and ``<Name>Page``: they document the JSON in OpenAPI.
    public: type[BaseModel] = field(init=False)
    page: type[BaseModel] = field(init=False)
    #: The type of each change's live event, ``<name>.<change>``.
    events: Mapping[Change, str] = field(init=False)
    #: The fields an update may set, in the order of the update model.
    updatable: tuple[str, ...] = field(init=False)
    _defaults: Mapping[str, object] = field(init=False, repr=False)
    _as_read: Mapping[str, Callable[[Any], object]] = field(init=False, repr=False)
    _default_factories: tuple[tuple[str, Callable[[], object]], ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        plural = self.plural or f"{self.name}s"
        table = self._table_checked()
        own = tuple(c.name for c in table.columns if c.name not in COMMON_COLUMNS)
        for column in table.columns:
            try:
                kind_of(column)
            except TypeError as exc:
                raise self._refusal(str(exc)) from None
        columns = ("id", *own, "created_at", "updated_at", "version")
        derived = {
            "plural": plural,
            "own": own,
            "columns": columns,
            "events": {change: f"{self.name}.{change}" for change in CHANGES},
            "updatable": tuple(self.update.model_fields),
            **_defaults(self.table, own),
            "_as_read": {
                c.name: _AS_READ[kind_of(c)] for c in table.columns if kind_of(c) in _AS_READ
            },
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)
        self._check_names()
        self._check_bodies()
        self._check_filters(table)
        public = _public_model(self.table, self.name, columns)
        object.__setattr__(self, "public", public)
        object.__setattr__(self, "page", _page_model(public, self.name, plural))

    @property
    def sql_table(self) -> sa.Table:
        return cast(sa.Table, self.table.__table__)  # type: ignore[attr-defined]

    @property
    def path(self) -> str:
        return f"/api/{self.plural}"

    def new_row(self, fields: Mapping[str, object]) -> dict[str, object]:
        """The own columns of a new row: ``fields``, and the table's default for each
        column they do not hold (null for a nullable column without one)."""
        values = {**self._defaults, **fields}
        for name, factory in self._default_factories:
            if name not in fields:
                values[name] = factory()
        return values

    def created_row(
        self, row_id: uuid.UUID, values: Mapping[str, object], now: datetime
    ) -> OwnedRow:
        """The row a read returns after a create of ``values`` (``new_row``'s) at ``now``,
        built here rather than read back: returning every column and decoding it cost a
        tenth of a create. Each value is made what the drivers return (UUIDs as text,
        datetimes in UTC, floats as floats); tests/app/test_owned.py holds the two equal."""
        row: dict[str, object] = {"id": str(row_id)}
        for name in self.own:
            value, convert = values[name], self._as_read.get(name)
            row[name] = value if convert is None or value is None else convert(value)
        row |= {"created_at": now, "updated_at": now, "version": 1}
        return cast(OwnedRow, row)

    def _refusal(self, message: str) -> ValueError:
        return ValueError(f"owned resource {self.name!r}: {message}")

    def _table_checked(self) -> sa.Table:
        if not issubclass(self.table, OwnedTable) or not hasattr(self.table, "__table__"):
            raise self._refusal("table must be an OwnedTable subclass with table=True")
        table = self.sql_table
        indexed = {tuple(c.name for c in index.columns) for index in table.indexes}
        if ("owner_id", "id") not in indexed:
            raise self._refusal(
                f'{table.name} needs Index(None, "owner_id", "id") in __table_args__ '
                "(every list is a range scan of it)"
            )
        return table

    def _check_names(self) -> None:
        for word in (self.name, self.plural):
            if not _NAME.fullmatch(word):
                raise self._refusal(f"{word!r} must be lowercase letters, digits and _")
        if self.name == self.plural:
            raise self._refusal("name and plural must differ")

    def _check_bodies(self) -> None:
        for model, what in ((self.create, "create"), (self.update, "update")):
            if unknown := set(model.model_fields) - set(self.own):
                raise self._refusal(f"{what} sets {sorted(unknown)}, not own columns")
        if not self.update.model_fields:
            raise self._refusal("update must have a field")
        for name in set(self.own) - set(self.create.model_fields):
            info, column = self.table.model_fields[name], self.sql_table.c[name]
            if info.is_required() and not column.nullable:
                raise self._refusal(f"{name!r} is not in create and has no default")

    def _check_filters(self, table: sa.Table) -> None:
        for name in self.filters:
            if name not in self.own or kind_of(table.c[name]) not in ("bool", "str", "int", "uuid"):
                raise self._refusal(f"filter {name!r} must be an own bool, str, int or UUID column")
            if name in _LIST_PARAMETERS:
                raise self._refusal(f"filter {name!r} would hide the list's own parameter")
        for name in self.counted:
            if name not in self.own or kind_of(table.c[name]) != "bool":
                raise self._refusal(f"counted {name!r} must be an own boolean column")


def _defaults(table: type[OwnedTable], own: tuple[str, ...]) -> dict[str, Any]:
    # Worked out once: a create fills what its body does not hold from these.
    defaults: dict[str, object] = {}
    factories = []
    for name in own:
        info = table.model_fields[name]
        if info.default_factory is not None:
            factories.append((name, info.default_factory))
        else:  # a required field here is a nullable column (_check_bodies): null
            defaults[name] = None if info.is_required() else info.default
    return {"_defaults": defaults, "_default_factories": tuple(factories)}


def _class_name(name: str) -> str:
    return name.title().replace("_", "")


def _public_model(table: type[OwnedTable], name: str, columns: tuple[str, ...]) -> type[BaseModel]:
    # The table's fields with their types and constraints (a maxLength holds for every
    # stored value), all required: every row has every column.
    fields: dict[str, Any] = {}
    for column in columns:
        info = table.model_fields[column]
        annotation: Any = info.annotation
        if info.metadata:  # constraints such as max_length
            annotation = Annotated[(annotation, *info.metadata)]
        fields[column] = (annotation, PydanticField(description=info.description))
    return create_model(
        f"{_class_name(name)}Public",
        __doc__=f"A {name} as the API shows it.",
        __module__=table.__module__,
        **fields,
    )


def _page_model(public: type[BaseModel], name: str, plural: str) -> type[BaseModel]:
    return create_model(
        f"{_class_name(name)}Page",
        __doc__=f"A page of {plural}, newest first; next_cursor continues it.",
        __module__=public.__module__,
        items=(list[public], ...),  # type: ignore[valid-type]
        next_cursor=(str | None, ...),
    )
