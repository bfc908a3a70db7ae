"""The hand-written floor of the data-path benchmark: what the list and get routes cost
with nothing between HTTP and the driver.

Starlette, one pool (psycopg 3's ``AsyncConnectionPool``, or asyncpg's), the same SQL
the API runs for ``GET /api/todos`` and ``GET /api/todos/{id}``, rows to JSON with
orjson. No authentication, no validation, no ORM: the owner is fixed at start-up
(``FLOOR_OWNER_ID``). Served like the API: one uvicorn worker, uvloop + httptools, no
access log. ``python -m bench.floor`` with ``FLOOR_DRIVER=psycopg|asyncpg``,
``FLOOR_DSN``, ``FLOOR_PORT``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import orjson
import uvicorn
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

COLUMNS = "id, text, done, created_at, updated_at, version"
PAGE = 20
POOL_SIZE = 10  # the API's pool_size
Fetch = Callable[[str, tuple[Any, ...]], Awaitable[list[dict[str, Any]]]]


@contextlib.asynccontextmanager
async def psycopg_fetch(dsn: str) -> AsyncIterator[Fetch]:
    async with AsyncConnectionPool(
        dsn, min_size=POOL_SIZE, max_size=POOL_SIZE, kwargs={"autocommit": True}, open=False
    ) as pool:

        async def fetch(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
            async with pool.connection() as connection:
                cursor = await connection.execute(sql.replace("$1", "%s").replace("$2", "%s"), args)
                cursor.row_factory = dict_row
                return await cursor.fetchall()  # type: ignore[return-value]

        yield fetch


@contextlib.asynccontextmanager
async def asyncpg_fetch(dsn: str) -> AsyncIterator[Fetch]:
    async def uuid_as_text(connection: asyncpg.Connection) -> None:
        # asyncpg decodes uuid to its own class, which orjson does not know; text is
        # what the JSON carries anyway.
        await connection.set_type_codec(
            "uuid", encoder=str, decoder=str, schema="pg_catalog", format="text"
        )

    pool = await asyncpg.create_pool(dsn, min_size=POOL_SIZE, max_size=POOL_SIZE, init=uuid_as_text)
    try:

        async def fetch(sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
            async with pool.acquire() as connection:
                return [dict(row) for row in await connection.fetch(sql, *args)]

        yield fetch
    finally:
        await pool.close()


def create_floor(driver: str, dsn: str, owner_id: uuid.UUID) -> Starlette:
    fetch: Fetch | None = None
    list_sql = f"SELECT {COLUMNS} FROM todos WHERE owner_id = $1 ORDER BY id DESC LIMIT $2"  # noqa: S608
    get_sql = f"SELECT {COLUMNS} FROM todos WHERE id = $1 AND owner_id = $2"  # noqa: S608

    async def list_todos(_: Request) -> Response:
        assert fetch is not None
        rows = await fetch(list_sql, (owner_id, PAGE + 1))
        cursor = str(rows[PAGE - 1]["id"]) if len(rows) > PAGE else None
        body = {"items": rows[:PAGE], "next_cursor": cursor}
        return Response(orjson.dumps(body), media_type="application/json")

    async def get_todo(request: Request) -> Response:
        assert fetch is not None
        try:
            todo_id = uuid.UUID(request.path_params["todo_id"])
        except ValueError:
            return Response(status_code=404)
        rows = await fetch(get_sql, (todo_id, owner_id))
        if not rows:
            return Response(status_code=404)
        return Response(orjson.dumps(rows[0]), media_type="application/json")

    async def healthz(_: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        nonlocal fetch
        opener = psycopg_fetch if driver == "psycopg" else asyncpg_fetch
        async with opener(dsn) as opened:
            fetch = opened
            yield

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/api/todos", list_todos),
            Route("/api/todos/{todo_id}", get_todo),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    app = create_floor(
        os.environ["FLOOR_DRIVER"], os.environ["FLOOR_DSN"], uuid.UUID(os.environ["FLOOR_OWNER_ID"])
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(os.environ["FLOOR_PORT"]),
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
