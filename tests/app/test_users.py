"""A user row per (issuer, subject), refreshed when the token's name or email change."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, select

from app.data.database import sync_database_url
from app.data.models import User
from tests.app.conftest import Api


async def _users(api: Api) -> list[User]:
    # Read with SQLAlchemy's own engine: the rows as Alembic's models see them.
    engine = sa.create_engine(sync_database_url(api.settings.database_url))
    try:
        with Session(engine) as session:
            return list(session.exec(select(User)).all())
    finally:
        engine.dispose()


async def test_user_is_created_on_first_sight_and_refreshed_on_change(api: Api) -> None:
    token = api.issuer.token("dana", name="Dana Old", email="old@example.test")
    assert (
        await api.client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    [user] = await _users(api)
    assert (user.subject, user.issuer, user.name, user.email) == (
        "dana",
        api.issuer.issuer,
        "Dana Old",
        "old@example.test",
    )
    token = api.issuer.token("dana", name="Dana New", email="new@example.test")
    assert (
        await api.client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    [user] = await _users(api)
    assert (user.name, user.email) == ("Dana New", "new@example.test")


async def test_concurrent_first_requests_create_one_user(api: Api) -> None:
    import asyncio

    token = api.issuer.token("erin")
    responses = await asyncio.gather(
        *[
            api.client.get("/api/todos", headers={"Authorization": f"Bearer {token}"})
            for _ in range(8)
        ]
    )
    assert {response.status_code for response in responses} == {200}
    assert [user.subject for user in await _users(api)] == ["erin"]


async def test_an_oversized_or_nul_laden_name_is_stored_clean_not_a_500(api: Api) -> None:
    # Display names come from the token: a 600-character name, or a NUL that PostgreSQL
    # cannot store, must not fail the request.
    token = api.issuer.token("frank", name="F" * 600 + "\x00", email="frank\x00@example.test")
    response = await api.client.post(
        "/api/todos", json={"text": "still works"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201
    [user] = await _users(api)
    assert user.name == "F" * 255
    assert user.email == "frank@example.test"
