"""Every benchmark, side by side in one run, each against its goal: ``python -m bench``.

Pins itself (and the load generators it starts) to the load core, starts a loopback
test issuer, runs the sections in order, prints the tables with the ratio to the peer
for each row, and writes everything to ``bench/results/<date>-<commit>.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from bench import (
    bounded_memory,
    data_path,
    data_scale,
    http_load,
    observability,
    profiling,
    validator_throughput,
    ws_scale,
)
from bench.cores import LOAD_CORE, MEASURED_CORE
from bench.fixtures import loopback_issuer
from bench.report import render, targets
from bench.stats import ROOT, load_average, machine

SECTIONS = ("validators", "observability", "http", "websocket", "scale", "data", "memory")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def settings_for(quick: bool) -> dict[str, Any]:
    if not quick:
        return {
            "validators": validator_throughput.Settings(),
            "observability": observability.Settings(),
            "http": http_load.Settings(),
            "websocket": ws_scale.Settings(),
            "scale": data_scale.Settings(),
            "data": data_path.Settings(),
        }
    return {
        "validators": validator_throughput.Settings(
            runs=2, seconds=0.5, new_tokens=500, proofs=500, profile=False
        ),
        "observability": observability.Settings(requests=5000, runs=2),
        "http": http_load.Settings(runs=2, seconds=2, warmup_seconds=1, profile=False),
        "websocket": ws_scale.Settings(users=200, write_seconds=3),
        "scale": data_scale.Settings(sizes=(10_000, 100_000), runs=2, seconds=2),
        "data": data_path.Settings(runs=1, seconds=2, profile=False),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (a smoke test)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma list of {SECTIONS}")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (git worktree add DIR main): the data section runs its APIs "
        "beside ours, interleaved, and compares them",
    )
    parser.add_argument("--runs", type=int, help="timed rounds of the data section")
    parser.add_argument("--seconds", type=int, help="seconds per run of the data section")
    args = parser.parse_args()
    only = set(args.only.split(","))
    os.sched_setaffinity(0, {LOAD_CORE})
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,000 sockets, both ends
    settings = settings_for(args.quick)
    data: data_path.Settings = settings["data"]
    settings["data"] = dataclasses.replace(
        data,
        baseline=args.baseline.resolve() if args.baseline else None,
        runs=args.runs or data.runs,
        seconds=args.seconds or data.seconds,
    )
    started = time.time()
    result: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "cores": {"measured": MEASURED_CORE, "load": LOAD_CORE},
        "quick": args.quick,
        "load_average_before": load_average(),
        "profiler": profiling.available(),
    }
    # The machine may be shared: the load average at the start of each section says how
    # much the figures can be trusted (2 cores; above 2, something else competes).
    loads: dict[str, list[float]] = result.setdefault("load_average_by_section", {})
    issuer_sections = {
        "validators": ("validator throughput (one core per process)", validator_throughput.run),
        "http": ("HTTP, one worker, wrk on the other core", http_load.run),
        "websocket": ("WebSocket scale", ws_scale.run),
        "scale": ("data scale", data_scale.run),
        "data": ("data path, API vs hand-written floor", data_path.run),
    }
    if "observability" in only:
        loads["observability"] = load_average()
        log("the access line and the request id, in process")
        result["observability"] = observability.run(settings["observability"], log)
    with loopback_issuer() as issuer:
        for section, (title, run) in issuer_sections.items():
            if section in only:
                loads[section] = load_average()
                log(title)
                result[section] = run(issuer, settings[section], log)
    if "memory" in only:
        loads["memory"] = load_average()
        log("bounded memory")
        result["memory"] = bounded_memory.run(log)
    result["load_average_after"] = load_average()
    result["seconds"] = round(time.time() - started)
    result["targets"] = targets(result)
    print(render(result))
    args.output.mkdir(parents=True, exist_ok=True)
    day = result["date"][:10]
    path = args.output / f"{day}-{result['machine']['commit']}.json"
    path.write_text(json.dumps(result, indent=1))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
