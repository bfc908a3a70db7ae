"""``/api/ws``: live updates of the caller's todos (protocol in ``app.api.live``).

A plain Starlette WebSocket route: the socket declares no dependency, and FastAPI's own
WebSocket route keeps two exit stacks, a telemetry context and its dependency machinery
alive for the socket's lifetime, a share of what one of ten thousand sockets costs.
"""

from __future__ import annotations

from fastapi import APIRouter, WebSocket
from starlette.routing import Match, WebSocketRoute
from starlette.types import Scope

from app.api.live import LiveSocket
from app.services import services_of


class _LiveRoute(WebSocketRoute):
    """Starlette's route, naming itself in the scope as FastAPI's routes do: the access
    line and the metrics read the route's template from there."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            child_scope["route"] = self
        return match, child_scope


async def live_updates(websocket: WebSocket) -> None:
    await LiveSocket(websocket, services=services_of(websocket)).serve()


router = APIRouter()
router.routes.append(_LiveRoute("/api/ws", live_updates, name="live_updates"))
