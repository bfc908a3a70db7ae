"""``/metrics`` on the API itself (``METRICS=admin``): Prometheus text for admins only."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from app.api.deps import AdminPrincipal
from app.observability.metrics import Metrics


def metrics_router(metrics: Metrics) -> APIRouter:
    """A router serving ``metrics``' registry to callers holding ``TODO_ADMIN_ROLE``."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def scrape(_: AdminPrincipal) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return router
