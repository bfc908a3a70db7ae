"""The data path section's table and its goals, each measurement against its goal.

Ratios between servers are paired by round (the runs of one round are seconds apart).
"""

from __future__ import annotations

from typing import Any

from bench.data_path import (
    API_PG,
    API_SQLITE,
    APIS,
    BEFORE,
    FLOOR_ASYNCPG,
    FLOOR_PSYCOPG,
    READS,
    WRITES,
)
from bench.profiling import render as render_profile
from bench.stats import fmt, fmt_summary, paired_ratio, table

#: A write's server CPU against /api/me's, same server, same run.
WRITE_CPU_GOAL_RATIO = 2.0
SQLITE_POST_P99_GOAL_MS = 50
TAIL_GOAL = 3.0
LABELS = {"list": "GET list (20)", "get": "GET one", "me": "GET /api/me"}


def _cell(data: dict[str, Any], server: str, route: str) -> dict[str, Any] | None:
    return next((c for c in data["cells"] if (c["server"], c["route"]) == (server, route)), None)


def _ratio(data: dict[str, Any], ours: tuple[str, str], base: tuple[str, str]) -> float | None:
    a, b = _cell(data, *ours), _cell(data, *base)
    if a is None or b is None:
        return None
    return paired_ratio(a["rps"]["runs"], b["rps"]["runs"])


def _tail(cell: dict[str, Any]) -> float:
    return cell["p99_ms"]["median"] / cell["p50_ms"]["median"]


def render(data: dict[str, Any]) -> str:
    headers = ["server", "route", "req/s", "p50 ms", "p99 ms", "p99/p50", "CPU us/req", "failed"]
    rows = [
        [
            c["server"],
            LABELS.get(c["route"], c["route"]),
            fmt_summary(c["rps"]),
            fmt(c["p50_ms"]["median"], 2),
            fmt(c["p99_ms"]["median"], 2),
            f"{_tail(c):.1f}",
            fmt_summary(c["cpu_us"]),
            str(c["failed"]),
        ]
        for c in data["cells"]
    ]
    parts = [table(headers, rows)]
    for name, verdict in data["live"].items():
        parts.append(
            f"live events on {name}: {verdict['events']:,} received, {verdict['expected']:,} "
            f"writes, seq gapless: {verdict['gapless']}, in order: {verdict['in_order']}"
        )
    if data.get("baseline"):
        parts += ["", f"against the code before ({data['baseline']}), same run:", _against(data)]
    for name, profile in data.get("profiles", {}).items():
        parts += ["", f"profile of {name}:", render_profile(profile)]
    return "\n".join(parts)


def _goal_ratios(data: dict[str, Any], suffix: str = "") -> dict[str, float | None]:
    """The ratios the goals are stated in, for our APIs or (``suffix``) the baseline's."""
    pg, sqlite = API_PG + suffix, API_SQLITE + suffix
    return {
        "PostgreSQL list x psycopg floor": _ratio(data, (pg, "list"), (FLOOR_PSYCOPG, "list")),
        "PostgreSQL get x psycopg floor": _ratio(data, (pg, "get"), (FLOOR_PSYCOPG, "get")),
        "SQLite list x /api/me": _ratio(data, (sqlite, "list"), (sqlite, "me")),
    }


def _against(data: dict[str, Any]) -> str:
    """Each API and route against the same on the baseline code: req/s paired by round,
    CPU per request by medians; then the goals' ratios computed for both."""
    rows = []
    for server in APIS:
        for route in (*READS, "me", *WRITES):
            ours, before = _cell(data, server, route), _cell(data, server + BEFORE, route)
            if ours is None or before is None:
                continue
            rps = paired_ratio(ours["rps"]["runs"], before["rps"]["runs"])
            cpu = ours["cpu_us"]["median"] / before["cpu_us"]["median"]
            rows.append(
                [
                    server,
                    LABELS.get(route, route),
                    fmt(before["rps"]["median"]),
                    fmt(ours["rps"]["median"]),
                    fmt(rps, 3),
                    fmt(before["cpu_us"]["median"]),
                    fmt(ours["cpu_us"]["median"]),
                    fmt(cpu, 3),
                ]
            )
    headers = ["server", "route", "req/s before", "req/s", "x before", "CPU before", "CPU", "x"]
    ours_goals, before_goals = _goal_ratios(data), _goal_ratios(data, BEFORE)
    goals = [
        [name, fmt(before_goals[name], 3), fmt(value, 3), _change(value, before_goals[name])]
        for name, value in ours_goals.items()
    ]
    return "\n".join(
        [table(headers, rows), "", table(["goal ratio", "before", "now", "change"], goals)]
    )


def _change(now: float | None, before: float | None) -> str:
    return "-" if now is None or not before else f"{100 * (now / before - 1):+.1f} %"


def targets(data: dict[str, Any], scale: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, goal: str, met: bool | None) -> None:
        # None: a figure given for context, with no goal of its own ("reported").
        verdict = None if met is None else bool(met)
        out.append({"target": name, "measured": measured, "goal": goal, "met": verdict})

    for route in ("list", "get"):
        ratio = _ratio(data, (API_PG, route), (FLOOR_PSYCOPG, route))
        met = ratio is not None and ratio >= 0.5
        add(f"PostgreSQL {route}: x psycopg floor", ratio, ">= 0.5x", met)
        ratio = _ratio(data, (API_PG, route), (FLOOR_ASYNCPG, route))
        add(f"PostgreSQL {route}: x asyncpg floor (context)", ratio, "-", None)
    for server, backend in ((API_PG, "PostgreSQL"), (API_SQLITE, "SQLite")):
        live = data["live"].get(server, {})
        me = _cell(data, server, "me")
        for route in WRITES:
            cell = _cell(data, server, route)
            if cell is None or me is None:
                continue
            ratio = paired_ratio(cell["cpu_us"]["runs"], me["cpu_us"]["runs"])
            add(
                f"{backend} {route}: server CPU x /api/me's, event published, seq gapless",
                ratio,
                f"<= {WRITE_CPU_GOAL_RATIO:g}x",
                ratio is not None
                and ratio <= WRITE_CPU_GOAL_RATIO
                and bool(live.get("gapless"))
                and not cell["failed"],
            )
    ratio = _ratio(data, (API_SQLITE, "list"), (API_SQLITE, "me"))
    add("SQLite list: x /api/me, same server", ratio, ">= 0.5x", ratio is not None and ratio >= 0.5)
    post = _cell(data, API_SQLITE, "POST")
    if post is not None:
        p99 = post["p99_ms"]["median"]
        add(
            f"SQLite POST p99 ms, c={data['connections']}",
            p99,
            f"<= {SQLITE_POST_P99_GOAL_MS} ms",
            p99 <= SQLITE_POST_P99_GOAL_MS,
        )
    add(
        "SQLite writes: event published, seq gapless",
        None,
        "gapless",
        bool(data["live"].get(API_SQLITE, {}).get("gapless")),
    )
    for server in APIS:
        for route in ("list", "get", *WRITES):
            cell = _cell(data, server, route)
            if cell is not None:
                tail = _tail(cell)
                add(f"{server} {route}: p99/p50", tail, f"<= {TAIL_GOAL:g}x", tail <= TAIL_GOAL)
    for row in scale or []:
        if row["todos"] == max(r["todos"] for r in scale or []):
            add(
                f"{row['backend']} list p99 at {row['todos']:,} rows vs 10k (section 4)",
                row["p99_vs_smallest"],
                "<= 1.5x (flat)",
                row["p99_vs_smallest"] <= 1.5,
            )
    return out
