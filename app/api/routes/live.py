"""``/api/ws``: live updates of the caller's todos (protocol in ``app.api.live``)."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from app.api.live import LiveSocket
from app.services import services_of

router = APIRouter()


@router.websocket("/api/ws")
async def live_updates(websocket: WebSocket) -> None:
    await LiveSocket(websocket, services=services_of(websocket)).serve()
