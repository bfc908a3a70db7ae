"""What the request-head limits (app/server/http_limits.py) cost: uvicorn's own httptools protocol
against ours, same app, same uvicorn configuration (``app.__main__.uvicorn_config``),
side by side under wrk.

    .venv/bin/python -m bench.http_protocol [--runs 5] [--seconds 4]

Both servers run on the measured core, wrk (one thread) on the other; rounds interleave
the two protocols for every cell, and the ratio is paired within rounds (bench/README.md,
"How it measures"). Cells: a bare ASGI app answering 200 (where the protocol is the
largest share of a request), the same with a 12 KiB head (the path that checks each
field), and the API's ``/healthz`` (FastAPI and its middleware, no auth, no database).

Then the protocol alone, in this process: the time ``data_received`` takes for one small
request (parsing and the request cycle; the application task is not started), so that
the difference is not lost in the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from typing import Any, cast

import httpx
import uvicorn
import uvloop
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bench.cores import MEASURED_CORE, on_core
from bench.http_load import wrk
from bench.stats import ROOT, fmt, fmt_summary, load_average, machine, paired_ratio, summary, table
from tests.services import free_port, wait_until

PROTOCOLS = ("uvicorn httptools", "limited httptools")
LONG_HEAD = {"X-Padding-1": "a" * 6000, "X-Padding-2": "b" * 6000}
#: (name, app, extra request headers)
CELLS = (
    ("bare ASGI, small head", "bare", {}),
    ("bare ASGI, 12 KiB head", "bare", LONG_HEAD),
    ("API /healthz", "api", {}),
)


async def _bare(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


def serve(protocol: str, app_name: str, port: int) -> None:
    """Run one server in this process (the child side of ``_server``)."""
    from app.__main__ import Server, uvicorn_config
    from app.main import create_app
    from app.settings import AppSettings, TodoAuthSettings

    settings = AppSettings(api_listen=f"127.0.0.1:{port}", api_access_log=False)
    app = create_app(settings, TodoAuthSettings()) if app_name == "api" else _bare
    config = uvicorn_config(app, settings)  # type: ignore[arg-type]
    if protocol == PROTOCOLS[0]:
        config.http = "httptools"
    Server(config).run()


@contextlib.contextmanager
def _server(protocol: str, app_name: str) -> Iterator[str]:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="bench-protocol-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OIDC_MODE": "static",
        "DATABASE_URL": f"sqlite:///{workdir}/todo.db",
    }
    command = [sys.executable, "-m", "bench.http_protocol", "serve", protocol, app_name, str(port)]
    process = subprocess.Popen(
        on_core(MEASURED_CORE, command),
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: httpx.get(f"{url}/healthz").status_code == 200,
            timeout=30,
            what=protocol,
            process=process,
        )
        yield url
    finally:
        process.terminate()
        process.wait(10)


class _Transport(asyncio.Transport):
    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def is_closing(self) -> bool:
        return False

    def write(self, data: Any) -> None:
        pass


def _parser_only(protocol: type[HttpToolsProtocol]) -> HttpToolsProtocol:
    class WithoutApp(protocol):  # type: ignore[valid-type, misc]
        def _start_asgi_task(self, *_: Any) -> None:
            pass

    config = uvicorn.Config(_bare, http=WithoutApp, lifespan="off", access_log=False)
    config.load()
    instance = cast(
        HttpToolsProtocol,
        config.http_protocol_class(config=config, server_state=ServerState(), app_state={}),  # type: ignore[call-arg]
    )
    instance.connection_made(_Transport())
    return instance


def protocol_cost(runs: int, requests: int = 20_000) -> list[list[str]]:
    """ns per small request in ``data_received``, median (min-max) of ``runs`` runs."""
    from app.__main__ import uvicorn_config
    from app.settings import AppSettings

    limited = uvicorn_config(_bare, AppSettings()).http  # type: ignore[arg-type]
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: wrk\r\n\r\n"

    async def measure() -> dict[str, list[float]]:
        protocols = {
            PROTOCOLS[0]: _parser_only(HttpToolsProtocol),
            PROTOCOLS[1]: _parser_only(cast(type[HttpToolsProtocol], limited)),
        }
        times: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
        for round_number in range(runs + 1):
            for name, instance in protocols.items():
                started = time.perf_counter()
                for _ in range(requests):
                    instance.data_received(head)
                    instance.cycle.response_complete = True
                if round_number:
                    times[name].append((time.perf_counter() - started) / requests * 1e9)
        return times

    times = uvloop.run(measure())
    ratio = paired_ratio(times[PROTOCOLS[1]], times[PROTOCOLS[0]])
    return [[f"{fmt_summary(summary(times[name]))} ns" for name in PROTOCOLS] + [fmt(ratio, 3)]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--connections", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--only-protocol", action="store_true", help="skip the wrk cells")
    args = parser.parse_args()
    print(f"commit {machine()['commit']}, load average {load_average()}")
    rows = []
    for cell, app_name, headers in () if args.only_protocol else CELLS:
        with _server(PROTOCOLS[0], app_name) as plain, _server(PROTOCOLS[1], app_name) as limited:
            urls = dict(zip(PROTOCOLS, (plain, limited), strict=True))
            for connections in args.connections:
                rates: dict[str, list[float]] = {name: [] for name in PROTOCOLS}
                for round_number in range(args.runs + 1):  # round 0 is the warm-up
                    for name, url in urls.items():
                        figures = wrk(
                            f"{url}/healthz",
                            connections=connections,
                            seconds=args.seconds,
                            headers=headers,
                        )
                        assert not figures["failed"], figures
                        if round_number:
                            rates[name].append(figures["rps"])
                ratio = paired_ratio(rates[PROTOCOLS[1]], rates[PROTOCOLS[0]])
                row = [cell, str(connections)]
                row += [fmt_summary(summary(rates[name])) for name in PROTOCOLS]
                rows.append([*row, fmt(ratio, 3)])
                print(f"  {' | '.join(rows[-1])}", flush=True)
    print()
    print(table(["cell", "conns", *(f"{p} req/s" for p in PROTOCOLS), "limited/uvicorn"], rows))
    print("\nThe protocol alone (one small request through data_received, on this core):\n")
    print(table([*PROTOCOLS, "limited/uvicorn"], protocol_cost(args.runs * 4)))


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
