"""``/api/ws``: live updates of the caller's todos (protocol in ``app.live``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.live import LiveSocket

router = APIRouter()


@router.websocket("/api/ws")
async def live_updates(websocket: WebSocket) -> None:
    state = websocket.app.state
    await LiveSocket(
        websocket,
        authenticator=state.authenticator,
        broker=state.broker,
        sessionmaker=state.sessionmaker,
        settings=state.settings,
        connections=state.live,
        known_users=state.known_users,
    ).serve()
