"""The user's own resource in place of the TODO example.

The data layer builds everything from one declaration (``app/data/owned.py``,
docs/add-a-resource.md), so a resource of the user's naming is: a module declaring its
table (the columns every owned table has, and a ``title``), its bodies and its check;
its entry in ``app/data/resources.py``; its table in the first migration, where the
todo's was; and its tests. The todo's own files are left out by copier; its marked
lines are cut (``todo``).

The tests that use the todo's routes only to reach the API (a path to call, a body to
send) are kept and pointed at the new resource's routes (``VEHICLE``); the lines that
use a todo's own fields are marked ``todo`` and go.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from generator.naming import AnswerError

#: Lowercase words joined by underscores: a Python module, a table and a path segment.
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
#: Names the service already uses (tables, routes, the example's).
RESERVED = frozenset(
    {"user", "users", "todo", "todos", "me", "admin", "ws", "docs", "metrics", "resource"}
)
#: A longer name would push some of the retargeted tests' string literals (raw HTTP
#: requests naming the path) past the line length no formatter can split.
MAX_LENGTH = 20
FIRST_MIGRATION = Path("migrations/versions/0001_users_and_todos.py")
#: As long as the todo's text may be by default: the tests that send one keep working.
TITLE_MAX_LENGTH = 500


@dataclass(frozen=True, slots=True)
class ResourceNames:
    """``singular`` ("pet", "invoice_line") and ``plural`` ("pets", "invoice_lines")."""

    singular: str
    plural: str

    def __post_init__(self) -> None:
        for name in (self.singular, self.plural):
            if not _NAME.fullmatch(name) or len(name) > MAX_LENGTH:
                raise AnswerError(
                    "a resource's names are lowercase words joined by underscores,"
                    f" starting with a letter, at most {MAX_LENGTH} characters: {name!r}"
                )
            if name in RESERVED:
                raise AnswerError(f"{name!r} is taken by the service itself: choose another")
        if self.singular == self.plural:
            raise AnswerError(f"the plural must differ from the singular: {self.plural!r}")

    @property
    def class_name(self) -> str:
        return "".join(word.capitalize() for word in self.singular.split("_"))

    @property
    def constant(self) -> str:
        return self.plural.upper()

    @property
    def words(self) -> str:
        """The plural as prose ("invoice lines")."""
        return self.plural.replace("_", " ")


def declaration(names: ResourceNames) -> str:
    """``app/data/<plural>.py``."""
    n = names
    return f'''"""{n.class_name}: this service's resource, owned by each user, declared once.

Its table, the bodies a client sends, the check, and the declaration from which the data
layer and the routes are built (``app.data.owned``; docs/add-a-resource.md adds columns,
filters and more resources).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field as PydanticField
from pydantic import StrictStr
from sqlalchemy import Index
from sqlmodel import Field

from app.data.bodies import CreateBody, UpdateBody
from app.data.owned import OwnedResource, OwnedTable
from app.data.text import check_text, text_schema
from app.settings import AppSettings

TITLE_MAX_LENGTH = {TITLE_MAX_LENGTH}


class {n.class_name}(OwnedTable, table=True):
    __tablename__ = "{n.plural}"
    __table_args__ = (
        Index(None, "owner_id", "id"),  # every list: this owner's rows, newest first
    )

    title: str = Field(max_length=TITLE_MAX_LENGTH)


class {n.class_name}Create(CreateBody):
    """Body of ``POST /api/{n.plural}``."""

    title: StrictStr = PydanticField(
        min_length=1, max_length=TITLE_MAX_LENGTH, json_schema_extra=text_schema()
    )


class {n.class_name}Update(UpdateBody):
    """Body of ``PATCH``: every field optional, at least one present."""

    title: StrictStr | None = PydanticField(
        default=None, min_length=1, max_length=TITLE_MAX_LENGTH, json_schema_extra=text_schema()
    )


def check_{n.singular}(
    fields: Mapping[str, object],
    settings: AppSettings,
) -> None:
    """A title is not blank and holds no NUL (PostgreSQL cannot store one)."""
    if "title" in fields:
        check_text("title", fields["title"])


{n.constant} = OwnedResource(
    table={n.class_name},
    name="{n.singular}",
    plural="{n.plural}",
    create={n.class_name}Create,
    update={n.class_name}Update,
    check=check_{n.singular},
)
'''


def _resources_module(current: str, names: ResourceNames) -> str:
    """``app/data/resources.py`` listing the new resource alone: its docstring kept."""
    header = current[: current.index("from __future__ import annotations")]
    imports = sorted(
        [
            ("app.data.owned", "OwnedResource"),
            (f"app.data.{names.plural}", names.constant),
        ]
    )
    lines = "".join(f"from {module} import {name}\n" for module, name in imports)
    return (
        f"{header}from __future__ import annotations\n\n{lines}\n"
        f"RESOURCES: tuple[OwnedResource, ...] = ({names.constant},)\n"
    )


def _migration_blocks(names: ResourceNames) -> tuple[str, str]:
    """The new table in the first migration: created in ``upgrade``, dropped in
    ``downgrade`` (what ``alembic revision --autogenerate`` writes for the declaration)."""
    t = names.plural
    upgrade = f"""    op.create_table(
        "{t}",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length={TITLE_MAX_LENGTH}), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name="fk_{t}_owner_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_{t}"),
    )
    # Listing is "this owner's {names.words}, newest first": a range scan on (owner_id, id)
    # because ids are UUIDv7 (time-ordered).
    op.create_index(
        "ix_{t}_owner_id_id",
        "{t}",
        ["owner_id", "id"],
    )
"""
    downgrade = f"""    op.drop_index(
        "ix_{t}_owner_id_id",
        table_name="{t}",
    )
    op.drop_table("{t}")
"""
    return upgrade, downgrade


_TODO_BLOCK = re.compile(
    r"^[ \t]*# feature: todo begin\n.*?^[ \t]*# feature: todo end\n", re.M | re.S
)


def _replace_todo_blocks(text: str, replacements: list[str], source: str) -> str:
    blocks = _TODO_BLOCK.findall(text)
    if len(blocks) != len(replacements):
        raise AnswerError(
            f"{source}: {len(blocks)} todo blocks where {len(replacements)} were expected;"
            " the generator needs updating"
        )
    pieces = iter(replacements)
    return _TODO_BLOCK.sub(lambda _: next(pieces), text)


def write_migration(root: Path, names: ResourceNames) -> Path:
    """The first migration, with the resource's table where the todo's was."""
    old = root / FIRST_MIGRATION
    text = _replace_todo_blocks(
        old.read_text(encoding="utf-8"), list(_migration_blocks(names)), str(FIRST_MIGRATION)
    )
    text = text.replace('"""users and todos', f'"""users and {names.words}', 1)
    new = old.with_name(f"0001_users_and_{names.plural}.py")
    old.unlink()
    new.write_text(text, encoding="utf-8")
    return new


def tests(names: ResourceNames) -> str:
    """``tests/app/test_<plural>.py``: the resource's routes, as the todo's are tested."""
    n = names
    path = f"/api/{n.plural}"
    return f'''"""{n.class_name}: the routes of the service's resource, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.app.conftest import Api

PATH = "{path}"


async def test_one_is_created_read_listed_changed_and_deleted(api: Api) -> None:
    alice = api.caller()
    created = await alice.post(PATH, json={{"title": "First"}})
    assert created.status_code == 201, created.text
    row = created.json()
    assert (row["title"], row["version"]) == ("First", 1)
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"{{PATH}}/{{row['id']}}"
    one = f"{{PATH}}/{{row['id']}}"
    assert (await alice.get(one)).json() == row

    second = (await alice.post(PATH, json={{"title": "Second"}})).json()
    page = (await alice.get(PATH)).json()
    assert [item["id"] for item in page["items"]] == [second["id"], row["id"]]  # newest first

    changed = await alice.patch(one, json={{"title": "Renamed"}}, headers={{"If-Match": '"1"'}})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["title"], changed.json()["version"]) == ("Renamed", 2)
    stale = await alice.patch(one, json={{"title": "Late"}}, headers={{"If-Match": '"1"'}})
    assert stale.status_code == 412
    assert (await alice.delete(one, headers={{"If-Match": '"1"'}})).status_code == 412
    assert (await alice.delete(one, headers={{"If-Match": '"2"'}})).status_code == 204
    assert (await alice.get(one)).status_code == 404


async def test_a_page_at_a_time_with_a_cursor(api: Api) -> None:
    alice = api.caller()
    made = [(await alice.post(PATH, json={{"title": f"n{{i}}"}})).json()["id"] for i in range(3)]
    first = (await alice.get(PATH, params={{"limit": 2}})).json()
    assert [item["id"] for item in first["items"]] == made[:0:-1]
    rest = (await alice.get(PATH, params={{"limit": 2, "cursor": first["next_cursor"]}})).json()
    assert ([item["id"] for item in rest["items"]], rest["next_cursor"]) == ([made[0]], None)


async def test_a_blank_title_an_unknown_field_and_a_missing_title_are_refused(api: Api) -> None:
    alice = api.caller()
    for body in ({{"title": "  "}}, {{"title": "x", "colour": "red"}}, {{}}, {{"title": 1}}):
        response = await alice.post(PATH, json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == "application/problem+json"
    assert (await alice.get(PATH)).json() == {{"items": [], "next_cursor": None}}


async def test_another_users_{n.singular}_is_not_found(api: Api) -> None:
    alice, bob = api.caller(), api.caller()
    row = (await alice.post(PATH, json={{"title": "Mine"}})).json()
    one = f"{{PATH}}/{{row['id']}}"
    assert (await bob.get(one)).status_code == 404
    assert (await bob.patch(one, json={{"title": "Theirs"}})).status_code == 404
    assert (await bob.delete(one)).status_code == 404
    assert (await bob.get(PATH)).json()["items"] == []
    assert (await alice.get(one)).json() == row


async def test_the_admin_counts_them(api: Api) -> None:
    alice = api.caller()
    await alice.post(PATH, json={{"title": "Counted"}})
    admin = api.caller(roles=["todo-user", "todo-admin"])
    stats = (await admin.get("/api/admin/stats")).json()
    assert stats == {{"users": 1, "{n.plural}": 1}}


async def test_without_a_token_nothing_is_served(api: Api) -> None:
    response = await api.client.get(PATH)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
'''


#: The todo's routes where a test only needs a route of the API, and what becomes of
#: them: the path, the path parameter, the field a body sets.
def vehicle(names: ResourceNames) -> list[tuple[str, str]]:
    return [
        ("/api/todos", f"/api/{names.plural}"),
        ('{"text": ', '{"title": '),
        ('"todo.created"', f'"{names.singular}.created"'),
        ('"todo.updated"', f'"{names.singular}.updated"'),
        ('"todo.deleted"', f'"{names.singular}.deleted"'),
        ('["todo"]["text"]', f'["{names.singular}"]["title"]'),
        ('["todo"]', f'["{names.singular}"]'),
        ('["text"]', '["title"]'),
    ]


def _retarget_tests(root: Path, names: ResourceNames) -> list[Path]:
    """The tests (and their configuration) that reach the todo's routes, pointed at the
    resource's; the Python files among them."""
    changed = []
    suite = root / "tests"
    for path in sorted([*suite.rglob("*.py"), *suite.rglob("*.toml")]):
        if path.is_relative_to(root / "tests" / "auth"):
            continue  # the library's tests: their paths are only strings
        text = path.read_text(encoding="utf-8")
        if "/api/todos" not in text:
            continue  # a test that does not reach the todo's routes
        # The path parameter, and the variables named after it.
        result = re.sub(r"\btodo_id\b", f"{names.singular}_id", text)
        for old, new in vehicle(names):
            result = result.replace(old, new)
        if result != text:
            path.write_text(result, encoding="utf-8")
            if path.suffix == ".py":
                changed.append(path)
    return changed


_SUMMARY = re.compile(r'^(?P<indent>[ ]*)summary="Per-user todos .*",$', re.M)


def _resummarise(root: Path, names: ResourceNames) -> None:
    """The OpenAPI summary names the resource (short enough for any name's line)."""
    main = root / "app" / "main.py"
    text, count = _SUMMARY.subn(
        lambda m: f'{m["indent"]}summary="Per-user {names.words}, behind OIDC access tokens.",',
        main.read_text(encoding="utf-8"),
    )
    if count != 1:
        raise AnswerError("app/main.py: no 'Per-user todos' summary; the generator needs updating")
    main.write_text(text, encoding="utf-8")


def formatted(root: Path, files: list[Path]) -> bool:
    """Format ``files`` with ruff when it is installed beside the Python running this
    (it is in the template's virtualenv: a longer name than ``todos`` can push a line
    past the limit). False when it is not there."""
    if importlib.util.find_spec("ruff") is None:
        return False
    subprocess.run(  # noqa: S603 (this interpreter, ruff, the files just written)
        [sys.executable, "-m", "ruff", "format", "--quiet", *map(str, files)],
        cwd=root,
        check=True,
    )
    return True


def replace_todo(root: Path, names: ResourceNames) -> list[Path]:
    """Put the user's resource where the todo was (before the todo's lines are cut); the
    Python files it wrote or changed."""
    data = root / "app" / "data"
    module = data / f"{names.plural}.py"
    module.write_text(declaration(names), encoding="utf-8")
    listing = data / "resources.py"
    listing.write_text(
        _resources_module(listing.read_text(encoding="utf-8"), names), encoding="utf-8"
    )
    migration = write_migration(root, names)
    test = root / "tests" / "app" / f"test_{names.plural}.py"
    test.write_text(tests(names), encoding="utf-8")
    retargeted = _retarget_tests(root, names)
    _resummarise(root, names)
    return [module, migration, test, *retargeted]
