"""What observing a request costs: ``app.observability``'s middleware around an ASGI app
that answers at once, by what it is asked to do (request id only, metrics, the access
line as JSON or text). Prints microseconds per request over the bare app, the median of
five runs (min-max).

    .venv/bin/python -m bench.observability
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import LogFormat, configure_logging
from app.observability.metrics import Metrics
from app.observability.requests import RequestObserver

REQUESTS = 20_000
RUNS = 5


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _send(_: Message) -> None:
    return None


async def _receive() -> Message:
    return {"type": "http.request"}


def _scope() -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/api/todos",
        "raw_path": b"/api/todos",
        "query_string": b"limit=20",
        "headers": [(b"host", b"api.example")],
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


async def _per_request(app: ASGIApp) -> float:
    for _ in range(500):
        await app(_scope(), _receive, _send)
    started = time.perf_counter()
    for _ in range(REQUESTS):
        await app(_scope(), _receive, _send)
    return (time.perf_counter() - started) / REQUESTS * 1e6


async def main(sink: TextIO) -> None:
    cases: list[tuple[str, LogFormat, dict[str, Any]]] = [
        ("request id only (API_ACCESS_LOG=false)", "json", {"access_log": False}),
        ("+ metrics (METRICS != off)", "json", {"access_log": False, "metrics": Metrics()}),
        ("access line, LOG_FORMAT=json", "json", {"access_log": True}),
        ("access line, LOG_FORMAT=text", "text", {"access_log": True}),
        ("access line (json) + metrics", "json", {"access_log": True, "metrics": Metrics()}),
    ]
    print(f"observer cost per request, µs over the bare app ({REQUESTS} requests x {RUNS})")
    for label, log_format, options in cases:
        configure_logging(log_format, stream=sink)
        extra = []
        for _ in range(RUNS):
            base = await _per_request(bare)
            extra.append(await _per_request(RequestObserver(bare, **options)) - base)
        print(f"  {label:42s} {statistics.median(extra):7.1f}  ({min(extra):.1f}-{max(extra):.1f})")


if __name__ == "__main__":
    with open(os.devnull, "w") as devnull:  # the lines are rendered, then discarded
        asyncio.run(main(devnull))
