"""An owned resource is declared once: a second one, with a column of every kind the data
layer reads, gets the same reads, writes, isolation, If-Match and live events as the
todo, on SQLite and PostgreSQL; a declaration that could not work is refused when made.

The test's table lives on a metadata of its own (``SCRATCH``), so Alembic's comparison of
the application's models with its migrations never sees it.
"""

from __future__ import annotations

import json  # feature: todo
import types
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeGuard

import pytest
import sqlalchemy as sa
from pydantic import AwareDatetime, StrictBool, StrictFloat, StrictInt, StrictStr
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from app.data import crud  # feature: todo
from app.data.bodies import CreateBody, UpdateBody
from app.data.crud import OwnerRows, StaleVersion
from app.data.database import Database, sync_database_url
from app.data.migrations import upgrade_to_head
from app.data.models import User, UTCDateTime, to_json
from app.data.owned import VERSION_MAX, OwnedResource, OwnedRow, OwnedTable
from app.data.resources import RESOURCES
from app.data.todos import TODOS  # feature: todo
from app.events.broker import MemoryBroker
from app.services import open_database
from tests.app.writes import new_owner, received

SCRATCH = registry(metadata=sa.MetaData(naming_convention=SQLModel.metadata.naming_convention))
User.__table__.to_metadata(SCRATCH.metadata)  # type: ignore[attr-defined]


class Scratch(SQLModel, registry=SCRATCH):
    """Tables of these tests only."""


class Gadget(OwnedTable, Scratch, table=True):
    __tablename__ = "gadgets"
    __table_args__ = (sa.Index(None, "owner_id", "id"), sa.Index(None, "owner_id", "count", "id"))

    label: str = Field(max_length=40)
    note: str | None = Field(default=None, max_length=100)
    weight: float = 0.5
    count: int = 0
    due: date | None = None
    seen_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ref: uuid.UUID | None = None
    active: bool = True
    #: nullable without a default: a new row starts with null
    alias: str | None = Field(max_length=20)


class GadgetCreate(CreateBody):
    label: StrictStr
    count: StrictInt = 0
    weight: StrictFloat | StrictInt = 0.5
    due: date | None = None
    seen_at: AwareDatetime | None = None
    ref: uuid.UUID | None = None


class GadgetUpdate(UpdateBody):
    label: StrictStr | None = None
    weight: StrictFloat | None = None
    active: StrictBool | None = None
    seen_at: AwareDatetime | None = None


GADGETS = OwnedResource(
    table=Gadget,
    name="gadget",
    create=GadgetCreate,
    update=GadgetUpdate,
    filters=("active", "count"),
    counted=("active",),
)


class GadgetRow(OwnedRow):
    """A row of ``GADGETS`` as a read returns it: the common columns, then its own."""

    label: str
    note: str | None
    weight: float
    count: int
    due: date | None
    seen_at: datetime | None
    ref: str | None
    active: bool
    alias: str | None


def _is_gadget(row: OwnedRow) -> TypeGuard[GadgetRow]:
    return list(row) == list(GADGETS.columns)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    upgrade_to_head(database_url)
    engine = sa.create_engine(sync_database_url(database_url))
    try:
        SCRATCH.metadata.create_all(engine, tables=[GADGETS.sql_table])
    finally:
        engine.dispose()
    opened = await open_database(database_url, resources=(*RESOURCES, GADGETS))
    try:
        yield opened
    finally:
        await opened.aclose()


async def test_a_row_of_every_kind_reads_back_as_written_and_as_its_public_model(
    database: Database,
) -> None:
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database, "alice"), GADGETS)
    ref = uuid.uuid4()
    created = await mine.create(
        {"label": "ünïcode ✓", "count": 3, "due": date(2030, 1, 2)} | {"ref": ref}
    )
    assert _is_gadget(created)
    assert created == await mine.get(uuid.UUID(created["id"]))
    # The table's defaults fill what the create body does not hold.
    assert {k: created[k] for k in ("alias", "note", "weight", "seen_at", "active")} == {
        "alias": None,
        "note": None,
        "weight": 0.5,
        "seen_at": None,
        "active": True,
    }
    assert created["ref"] == str(ref)
    assert list(created) == list(GADGETS.columns)
    # Rows go to JSON without a model object; the bytes are what the public model writes.
    public = GADGETS.public.model_validate(created)
    assert to_json(created) == public.model_dump_json().encode()


async def test_a_created_row_is_what_a_read_returns_byte_for_byte(database: Database) -> None:
    # A create answers with the row it built, not one read back: the same, to the byte.
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database, "alice"), GADGETS)
    paris = timezone(timedelta(hours=2))
    fields = {"label": "x", "weight": 2, "seen_at": datetime(2031, 5, 6, 9, 0, 1, 7, paris)}
    created = await mine.create(fields | {"ref": uuid.uuid4()})
    assert _is_gadget(created)
    read = await mine.get(uuid.UUID(created["id"]))
    assert created == read
    assert to_json(created) == to_json(read)
    assert created["seen_at"] is not None
    assert (created["weight"], created["seen_at"].tzinfo) == (2.0, UTC)


async def test_an_update_sets_the_fields_it_names_and_keeps_the_others(
    database: Database,
) -> None:
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database, "alice"), GADGETS)
    created = await mine.create({"label": "first", "count": 1})
    row_id = uuid.UUID(created["id"])
    seen = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    updated = await mine.update(row_id, {"weight": 2.25, "seen_at": seen}, [1])
    assert updated is not None
    assert _is_gadget(updated)
    assert updated["version"] == 2
    assert updated["seen_at"] == seen
    assert {**updated, "weight": 0.5, "seen_at": None, "version": 1} == {
        **created,
        "updated_at": updated["updated_at"],
    }
    again = await mine.update(row_id, {"label": "second", "active": False}, None)
    assert again is not None
    assert _is_gadget(again)
    assert (again["label"], again["active"], again["weight"]) == ("second", False, 2.25)
    with pytest.raises(ValueError, match="count"):
        await mine.update(row_id, {"count": 9}, None)


async def test_lists_are_narrowed_by_each_declared_filter_and_paged_by_cursor(
    database: Database,
) -> None:
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database, "alice"), GADGETS)
    made = [await mine.create({"label": f"g{n}", "count": n % 2}) for n in range(5)]
    for row in made[:2]:
        await mine.update(uuid.UUID(row["id"]), {"active": False}, None)
    newest_first = [row["id"] for row in reversed(made)]
    page, before = await mine.page(limit=3)
    assert ([row["id"] for row in page], before) == (newest_first[:3], newest_first[2])
    rest, end = await mine.page(limit=3, before=uuid.UUID(before or ""))
    assert ([row["id"] for row in rest], end) == (newest_first[3:], None)
    odd, _ = await mine.page(limit=9, filters={"count": 1})
    assert [row["id"] for row in odd] == [made[3]["id"], made[1]["id"]]
    both, _ = await mine.page(limit=9, filters={"active": False, "count": 0})
    assert [row["id"] for row in both] == [made[0]["id"]]


async def test_another_owner_sees_and_touches_nothing(database: Database) -> None:
    broker = MemoryBroker()
    alice, bob = await new_owner(database, "alice"), await new_owner(database, "bob")
    mine, theirs = (
        OwnerRows(database, broker, alice, GADGETS),
        OwnerRows(database, broker, bob, GADGETS),
    )
    row = await mine.create({"label": "alice's"})
    row_id = uuid.UUID(row["id"])
    async with broker.subscribe(alice) as alices, broker.subscribe(bob) as bobs:
        assert await theirs.get(row_id) is None
        assert await theirs.page(limit=9) == ([], None)
        # Not found, whatever version they name: never a 412 that would confirm it exists.
        assert await theirs.update(row_id, {"label": "bob's"}, [1]) is None
        assert await theirs.delete(row_id, [1]) is False
        assert received(alices) == received(bobs) == []
    assert await mine.get(row_id) == row


async def test_if_match_refuses_a_stale_version_and_a_version_beyond_any_row(
    database: Database,
) -> None:
    mine = OwnerRows(database, MemoryBroker(), await new_owner(database, "alice"), GADGETS)
    row = await mine.create({"label": "versioned"})
    row_id = uuid.UUID(row["id"])
    for versions in ([2], [VERSION_MAX + 1], [2**63]):
        with pytest.raises(StaleVersion) as stale:
            await mine.update(row_id, {"label": "late"}, versions)
        assert stale.value.resource is GADGETS
        with pytest.raises(StaleVersion):
            await mine.delete(row_id, versions)
    assert await mine.get(row_id) == row
    assert await mine.delete(row_id, [1, 7]) is True


# feature: todo begin
async def test_every_resource_numbers_its_events_in_the_owners_one_seq(
    database: Database,
) -> None:
    broker = MemoryBroker()
    owner = await new_owner(database, "alice")
    gadgets, todos = (
        OwnerRows(database, broker, owner, GADGETS),
        OwnerRows(database, broker, owner, TODOS),
    )
    async with broker.subscribe(owner) as subscription:
        gadget = await gadgets.create({"label": "g"})
        todo = await todos.create({"text": "t"})
        await gadgets.update(uuid.UUID(gadget["id"]), {"active": False}, None)
        await gadgets.delete(uuid.UUID(gadget["id"]), None)
        events = received(subscription)
    assert [(e["type"], e["seq"]) for e in events] == [
        ("gadget.created", 1),
        ("todo.created", 2),
        ("gadget.updated", 3),
        ("gadget.deleted", 4),
    ]
    assert events[1]["todo"] == json.loads(to_json(todo))
    assert events[3]["gadget"] == {"id": gadget["id"]}
    assert await crud.admin_stats(database) == {
        "users": 1,
        "todos": 1,
        "gadgets": 0,
        "todos_done": 0,
        "gadgets_active": 0,
    }


# feature: todo end


# A declaration that could not work is refused when it is made, naming what is wrong.


@pytest.fixture
def table_name(request: pytest.FixtureRequest) -> str:
    return f"t_{request.node.name[-40:].strip('_').replace('[', '_').replace(']', '')}"


def _table(name: str, annotations: dict[str, Any], *, indexed: bool = True, **columns: Any) -> Any:
    def body(namespace: dict[str, Any]) -> None:
        namespace.update(__tablename__=name, __annotations__=annotations, **columns)
        if indexed:
            namespace["__table_args__"] = (sa.Index(None, "owner_id", "id"),)

    return types.new_class(name, (OwnedTable, Scratch), {"table": True}, body)


class _Create(CreateBody):
    label: StrictStr


class _Update(UpdateBody):
    label: StrictStr | None = None


@pytest.mark.parametrize(
    ("annotations", "columns", "kwargs", "refusal"),
    [
        ({"label": str}, {}, {"filters": ("nothing",)}, "filter 'nothing'"),
        (
            {"label": str, "amount": float},
            {"amount": 0.0},
            {"filters": ("amount",)},
            "filter 'amount'",
        ),
        ({"label": str}, {}, {"counted": ("label",)}, "counted 'label'"),
        ({"label": str, "limit": int}, {"limit": 0}, {"filters": ("limit",)}, "hide"),
        ({"label": str, "size": int}, {}, {}, "'size' is not in create and has no default"),
        ({"label": str, "price": Decimal}, {"price": Decimal(0)}, {}, "column 'price'"),
        ({"label": str, "at": datetime}, {"at": None}, {}, "column 'at'"),
        ({"label": str}, {}, {"name": "Gadget"}, "lowercase"),
        ({"label": str}, {}, {"name": "sheep", "plural": "sheep"}, "must differ"),
    ],
)
def test_a_declaration_that_cannot_work_is_refused(
    table_name: str,
    annotations: dict[str, Any],
    columns: dict[str, Any],
    kwargs: dict[str, Any],
    refusal: str,
) -> None:
    table = _table(table_name, annotations, **columns)
    declaration: dict[str, Any] = {"name": "thing", "create": _Create, "update": _Update} | kwargs
    with pytest.raises(ValueError, match=refusal):
        OwnedResource(table=table, **declaration)


def test_an_owned_table_without_its_owner_index_is_refused(table_name: str) -> None:
    table = _table(table_name, {"label": str}, indexed=False)
    with pytest.raises(ValueError, match=r'Index\(None, "owner_id", "id"\)'):
        OwnedResource(table=table, name="thing", create=_Create, update=_Update)


def test_bodies_may_only_set_own_columns(table_name: str) -> None:
    table = _table(table_name, {"label": str})

    class Sneaky(CreateBody):
        label: StrictStr
        owner_id: uuid.UUID

    with pytest.raises(ValueError, match=r"create sets \['owner_id'\]"):
        OwnedResource(table=table, name="thing", create=Sneaky, update=_Update)
