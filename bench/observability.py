"""Section 1b: what observing a request costs, in process. ``app.observability``'s
middleware around an ASGI app that answers at once, for an authenticated request to a
route (a principal and a route template in the scope, as the API leaves them), by what
it is asked to do: the request id only, the access line in each format, with metrics.

Each figure is microseconds per request over the bare app, a median of runs (min-max);
the access line's own cost is the observer with the line less the observer without it,
paired by run. The lines are rendered and written to ``/dev/null``, through the handler
``python -m app`` installs.

    .venv/bin/python -m bench.observability
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Any, TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.observability.logs import LogFormat, configure_logging
from app.observability.metrics import Metrics
from app.observability.requests import RequestObserver
from auth import Principal
from bench.stats import summary

#: The goal of the access line, per request.
ACCESS_LINE_GOAL_US = 10.0
PRINCIPAL = Principal(subject="user-1", issuer="http://127.0.0.1/realms/bench", client_id="spa")


@dataclass(frozen=True)
class Settings:
    requests: int = 20_000
    runs: int = 5


class _Route:
    path = "/api/todos/{todo_id}"


async def bare(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = _Route()
    scope["state"]["principal"] = PRINCIPAL
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
        "path": "/api/todos/0191d6a4-7c2e-7a38-9b1e-4c7b1f0e2d3a",
        "raw_path": b"/api/todos/0191d6a4-7c2e-7a38-9b1e-4c7b1f0e2d3a",
        "query_string": b"",
        "headers": [(b"host", b"api.example"), (b"authorization", b"Bearer x")],
        "client": ("127.0.0.1", 50000),
        "state": {},
    }


async def _per_request(app: ASGIApp, requests: int) -> float:
    for _ in range(500):
        await app(_scope(), _receive, _send)
    started = time.perf_counter()
    for _ in range(requests):
        await app(_scope(), _receive, _send)
    return (time.perf_counter() - started) / requests * 1e6


#: (label, log format, observer options): the rows of the section.
CASES: tuple[tuple[str, LogFormat, dict[str, Any]], ...] = (
    ("request id only (API_ACCESS_LOG=false)", "text", {"access_log": False}),
    ("access line, LOG_FORMAT=text (the default)", "text", {"access_log": True}),
    ("access line, LOG_FORMAT=json", "json", {"access_log": True}),
    ("request id and metrics (METRICS=port)", "text", {"access_log": False, "metrics": True}),
    ("access line (text) and metrics", "text", {"access_log": True, "metrics": True}),
)


async def _measure(settings: Settings, log: Any, sink: TextIO) -> dict[str, Any]:
    runs: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
    for _ in range(settings.runs):
        for label, log_format, options in CASES:
            configure_logging(log_format, stream=sink)
            metrics = Metrics() if options.get("metrics") else None
            observer = RequestObserver(bare, access_log=options["access_log"], metrics=metrics)
            base = await _per_request(bare, settings.requests)
            runs[label].append(await _per_request(observer, settings.requests) - base)
    for handler in logging.getLogger().handlers:
        handler.flush()
    id_only = runs[CASES[0][0]]
    rows: list[dict[str, Any]] = []
    for label, _, options in CASES:
        rows.append({"label": label, "us": summary(runs[label]), "goal_us": None})
        if options["access_log"] and not options.get("metrics"):
            paired = zip(runs[label], id_only, strict=True)
            line = [with_line - without for with_line, without in paired]
            rows.append(
                {
                    "label": f"{label.split(',', 1)[1].strip()}: the line alone",
                    "us": summary(line),
                    "goal_us": ACCESS_LINE_GOAL_US,
                }
            )
    for row in rows:
        log(f"  observer {row['label']:52} {row['us']['median']:6.1f} us")
    return {"requests": settings.requests, "rows": rows}


def run(settings: Settings, log: Any = print) -> dict[str, Any]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        with open(os.devnull, "w") as sink:  # the lines are rendered, then discarded
            return asyncio.run(_measure(settings, log, sink))
    finally:
        root.handlers[:], root.level = handlers, level


def main() -> None:
    result = run(Settings())
    print(f"observer cost per request, us over the bare app ({result['requests']} requests)")
    for row in result["rows"]:
        print(
            f"  {row['label']:52} {row['us']['median']:6.1f}  "
            f"({row['us']['min']:.1f}-{row['us']['max']:.1f})"
        )


if __name__ == "__main__":
    main()
