"""The printed report: one table per section, then every goal, each measurement against
it (the validator and HTTP targets, the WebSocket scale targets, the data path targets).
Every ratio is taken within this run."""

from __future__ import annotations

from typing import Any

from bench import data_path_report, ws_scale
from bench.http_load import BARE, OURS, OURS_QUIET, PEER, PEER_OFF, STATIC, STATIC_QUIET
from bench.profiling import render as render_profile
from bench.stats import fmt, fmt_summary, paired_ratio, table

#: HTTP goals, as shipped, 32 connections: /api/me against the peer per credentials.
HTTP_GOALS = {"ES256 Bearer": 1.0, "ES256 DPoP": 1.6}
#: The access line: /api/me (static) as shipped against the same server without it.
ACCESS_LINE_GOAL = 0.9
#: The stack around a route: /api/me (static, no access line) against bare FastAPI.
STACK_GOAL = 0.9
AUTH_COST_GOAL = 0.10


def _cell(
    http: dict[str, Any], server: str, path: str, scheme: str, conns: int
) -> dict[str, Any] | None:
    for cell in http["cells"]:
        if (cell["server"], cell["path"], cell["connections"]) == (server, path, conns) and (
            cell["scheme"] in (scheme, "none")
        ):
            return cell
    return None


def _paired(a: dict[str, Any] | None, b: dict[str, Any] | None) -> float | None:
    if a is None or b is None:
        return None
    return paired_ratio(a["rps"]["runs"], b["rps"]["runs"])


def http_pairs(http: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours (as shipped) vs the peer for every (path, scheme, connections) cell."""
    pairs = []
    for cell in http["cells"]:
        if cell["server"] != OURS:
            continue
        path, scheme, conns = cell["path"], cell["scheme"], cell["connections"]
        peer = _cell(http, PEER, path, scheme, conns)
        static = _cell(http, STATIC, path, "none", conns)
        quiet = _cell(http, OURS_QUIET, path, scheme, conns)
        pairs.append(
            {
                "path": path,
                "scheme": scheme,
                "connections": conns,
                "ours": cell,
                "peer": peer,
                "ratio": _paired(cell, peer),
                "quiet": quiet,
                "quiet_ratio": _paired(quiet, peer),
                "static": static,
                "peer_off": _cell(http, PEER_OFF, path, "none", conns),
                "auth_cost": 1 - cell["rps"]["median"] / static["rps"]["median"]
                if static
                else None,
            }
        )
    return pairs


def stack_ratios(http: dict[str, Any], conns: int) -> dict[str, float | None]:
    """The no-authentication servers on /api/me, paired by round."""
    me = {
        name: _cell(http, name, "/api/me", "none", conns)
        for name in (STATIC, STATIC_QUIET, BARE, PEER_OFF)
    }
    # The ceiling for RS256: a bare FastAPI route against the peer verifying RS256.
    peer_rs256 = _cell(http, PEER, "/api/me", "RS256 Bearer", conns)
    return {
        "access_line": _paired(me[STATIC], me[STATIC_QUIET]),
        "stack": _paired(me[STATIC_QUIET], me[BARE]),
        "bare_vs_peer_rs256": _paired(me[BARE], peer_rs256),
    }


Target = dict[str, Any]


def _target(name: str, measured: float | None, goal: str, met: bool | None) -> Target:
    return {"target": name, "measured": measured, "goal": goal, "met": met}


def _http_targets(http: dict[str, Any]) -> list[Target]:
    out = []
    for pair in http_pairs(http):
        if pair["path"] != "/api/me":
            continue
        where = f"HTTP /api/me {pair['scheme']} c={pair['connections']}, as shipped"
        goal, ratio = HTTP_GOALS.get(pair["scheme"]), pair["ratio"]
        if goal is not None:
            met = ratio is not None and ratio >= goal
            out.append(_target(where, ratio, f">= {goal:g}x Hono+oidc-spa", met))
        else:
            ceiling = stack_ratios(http, pair["connections"])["bare_vs_peer_rs256"]
            out.append(_target(where, ratio, f"reported (bare FastAPI: {fmt(ceiling, 2)}x)", None))
        # Bearer only: a DPoP proof is a second signature to verify, by design.
        if pair["auth_cost"] is not None and pair["scheme"].endswith("Bearer"):
            cost = pair["auth_cost"]
            out.append(
                _target(
                    f"{where}: auth cost vs OIDC_MODE=static",
                    cost,
                    f"< {AUTH_COST_GOAL:.0%}",
                    cost < AUTH_COST_GOAL,
                )
            )
    for conns in sorted({c["connections"] for c in http["cells"]}):
        ratios = stack_ratios(http, conns)
        line, stack = ratios["access_line"], ratios["stack"]
        out += [
            _target(
                f"HTTP /api/me c={conns}: as shipped x access line off (static)",
                line,
                f">= {ACCESS_LINE_GOAL:g}x",
                line is not None and line >= ACCESS_LINE_GOAL,
            ),
            _target(
                f"HTTP /api/me c={conns}: access line off (static) x bare FastAPI",
                stack,
                f">= {STACK_GOAL:g}x",
                stack is not None and stack >= STACK_GOAL,
            ),
        ]
    return out


def _sockets_goal(opened: int) -> str:
    if opened >= ws_scale.GOAL_SOCKETS:
        return f">= {ws_scale.GOAL_SOCKETS:,}"
    # A shorter run (--quick) opens fewer: it can only show that it holds them all.
    return f"all {opened:,} opened (the goal, {ws_scale.GOAL_SOCKETS:,}, needs a full run)"


def _websocket_targets(ws: dict[str, Any]) -> list[Target]:
    met = ws["met"]
    delivery = (
        f"WebSocket: write -> event p99 ms, {ws['writes_per_second']:.0f} writes/s "
        f"over {ws['users']:,} users"
    )
    return [
        _target(
            "WebSocket: live sockets held by one worker",
            ws["still_open"],
            _sockets_goal(ws["sockets"]),
            met["sockets"],
        ),
        _target(
            "WebSocket: KiB of RSS per socket",
            ws["bytes_per_socket"] / 1024,
            f"<= {ws_scale.GOAL_KIB_PER_SOCKET} KiB",
            met["memory"],
        ),
        _target(
            "WebSocket: sockets opened per second",
            ws["opens_per_second"],
            f">= {ws_scale.GOAL_OPENS_PER_SECOND:,}/s",
            met["open_rate"],
        ),
        _target(
            delivery,
            ws["p99_ms"],
            f"<= {ws_scale.GOAL_DELIVERY_P99_MS} ms, none missing",
            met["delivery"],
        ),
    ]


def targets(result: dict[str, Any]) -> list[Target]:
    """The validator, request path, HTTP, WebSocket and memory goals (the data path's
    are in ``data_path_report``)."""
    out = [
        _target(
            f"validator: {row['label']}",
            row["ratio_to_peer"],
            f">= {row['target_ratio']:g}x oidc-spa",
            row["met"],
        )
        for row in result.get("validators", [])
    ]
    out += [
        _target(
            f"access line, {row['label']}: us per request (in process)",
            row["us"]["median"],
            f"<= {row['goal_us']:g} us",
            row["us"]["median"] <= row["goal_us"],
        )
        for row in result.get("observability", {}).get("rows", [])
        if row.get("goal_us") is not None
    ]
    if "http" in result:
        out += _http_targets(result["http"])
    if "websocket" in result:
        out += _websocket_targets(result["websocket"])
    scale = result.get("scale", [])
    for row in scale:
        if row["todos"] == max(r["todos"] for r in scale):
            out.append(
                _target(
                    f"data scale {row['backend']}: p99 at {row['todos']:,} vs 10k",
                    row["p99_vs_smallest"],
                    "<= 1.5x",
                    row["p99_vs_smallest"] <= 1.5,
                )
            )
    out += [
        _target(f"memory: {row['structure']} (MB)", row["rss_delta_mb"], row["goal"], row["met"])
        for row in result.get("memory", [])
    ]
    return out


def _validators(rows: list[dict[str, Any]]) -> str:
    headers = [
        "case (validations/s, median (min-max))",
        "oidc-spa",
        "auth (ours)",
        "PyJWT",
        "joserfc",
        "floor",
        "ours/peer",
        "target",
    ]
    body = [
        [
            row["label"],
            *(
                fmt_summary(row["figures"][impl])
                for impl in ("oidc-spa", "auth", "pyjwt", "joserfc", "floor")
            ),
            f"{fmt(row['ratio_to_peer'], 2)}x",
            f">= {row['target_ratio']:g}x",
        ]
        for row in rows
    ]
    return table(headers, body)


def _latency(cell: dict[str, Any] | None) -> str:
    if not cell:
        return "-"
    return f"{cell['p50_ms']['median']:.1f}/{cell['p99_ms']['median']:.1f}"


def _http(http: dict[str, Any]) -> str:
    headers = [
        "route",
        "credentials",
        "conns",
        "Hono+oidc-spa req/s",
        "FastAPI+auth req/s (as shipped)",
        "ours/peer",
        "p50/p99 ms peer",
        "p50/p99 ms ours",
        "access line off req/s",
        "off/peer",
        "auth cost",
    ]
    body = [
        [
            pair["path"],
            pair["scheme"],
            str(pair["connections"]),
            fmt_summary(pair["peer"]["rps"]) if pair["peer"] else "-",
            fmt_summary(pair["ours"]["rps"]),
            f"{fmt(pair['ratio'], 2)}x",
            _latency(pair["peer"]),
            _latency(pair["ours"]),
            fmt_summary(pair["quiet"]["rps"]) if pair["quiet"] else "-",
            f"{fmt(pair['quiet_ratio'], 2)}x" if pair["quiet"] else "-",
            f"{100 * pair['auth_cost']:.0f}%" if pair["auth_cost"] is not None else "-",
        ]
        for pair in http_pairs(http)
    ]
    return table(headers, body)


def _stack(http: dict[str, Any]) -> str:
    """The servers without authentication on ``/api/me``: what the stack around the
    route and the access line cost."""
    rows = []
    for conns in sorted({c["connections"] for c in http["cells"]}):
        bare = _cell(http, BARE, "/api/me", "none", conns)
        for name in (STATIC, STATIC_QUIET, BARE, PEER_OFF):
            cell = _cell(http, name, "/api/me", "none", conns)
            if cell is not None:
                rows.append(
                    [
                        name,
                        str(conns),
                        fmt_summary(cell["rps"]),
                        _latency(cell),
                        f"{fmt(_paired(cell, bare), 2)}x",
                    ]
                )
    headers = ["/api/me without authentication", "conns", "req/s", "p50/p99 ms", "x bare"]
    return table(headers, rows)


def _websocket(ws: dict[str, Any]) -> str:
    return table(
        [
            "sockets/users",
            "opened/s",
            "API CPU/open",
            "RSS/socket",
            "writes/s",
            "write->event p50 ms",
            "p99 ms",
            "POST p99 ms",
            "missing",
        ],
        [
            [
                f"{ws['sockets']:,}/{ws['users']:,} ({ws['still_open']:,} open at the end)",
                fmt(ws["opens_per_second"]),
                f"{ws['cpu_us_per_open']:.0f} us",
                f"{ws['bytes_per_socket'] / 1024:.1f} KiB",
                f"{ws['writes_per_second']:.0f}",
                f"{ws['p50_ms']:.2f}",
                f"{ws['p99_ms']:.2f}",
                f"{ws['post_p99_ms']:.2f}",
                str(ws["missing_events"]),
            ]
        ],
    )


def _observability(obs: dict[str, Any]) -> str:
    return table(
        ["what the request observer does", "us per request over the bare app"],
        [[row["label"], fmt_summary(row["us"], 1)] for row in obs["rows"]],
    )


def _load(result: dict[str, Any], section: str) -> str:
    load = result.get("load_average_by_section", {}).get(section)
    return f"  [load average at start: {load[0]}]" if load else ""


def render(result: dict[str, Any]) -> str:
    m = result["machine"]
    parts = [
        f"bench {result['date']}  commit {m['commit']}"
        + (" (auth/ or app/ modified)" if m["dirty"] else ""),
        f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}, "
        f"Node {m['node']}; load average before {result['load_average_before']}, "
        f"after {result.get('load_average_after')}",
    ]
    if "validators" in result:
        parts += [
            "",
            "1. Validator throughput, one core" + _load(result, "validators"),
            _validators(result["validators"]),
        ]
    if "observability" in result:
        parts += [
            "",
            "1b. The access line and the request id, in process" + _load(result, "observability"),
            _observability(result["observability"]),
        ]
    if "http" in result:
        parts += [
            "",
            "2. HTTP, one worker (median (min-max) req/s; latency medians of runs)"
            + _load(result, "http"),
            _http(result["http"]),
            "",
            _stack(result["http"]),
        ]
    if "websocket" in result:
        parts += [
            "",
            "3. WebSocket scale, one worker" + _load(result, "websocket"),
            _websocket(result["websocket"]),
        ]
    if "scale" in result:
        parts += [
            "",
            "4. Data scale, GET /api/todos (one user, 1 connection)" + _load(result, "scale"),
            table(
                ["backend", "todos", "p50 ms", "p99 ms", "p99 vs 10k", "load"],
                [
                    [
                        r["backend"],
                        f"{r['todos']:,}",
                        fmt_summary(r["p50_ms"], 2),
                        fmt_summary(r["p99_ms"], 2),
                        f"{r['p99_vs_smallest']:.2f}x",
                        f"{r['load_seconds']:.0f} s",
                    ]
                    for r in result["scale"]
                ],
            ),
        ]
    if "memory" in result:
        parts += [
            "",
            "5. Bounded memory (1M distinct inserts)" + _load(result, "memory"),
            table(
                ["structure", "entries", "RSS delta", "bytes/entry", "documented (docstring)"],
                [
                    [
                        r["structure"],
                        f"{r['entries']:,}",
                        f"{r['rss_delta_mb']:.0f} MB",
                        f"{r['bytes_per_entry']:.0f}",
                        r["documented"],
                    ]
                    for r in result["memory"]
                ],
            ),
        ]
    if "data" in result:
        parts += [
            "",
            f"6. Data path, one worker, wrk -t1 -c{result['data']['connections']} "
            "(median (min-max); latency medians of runs)" + _load(result, "data"),
            data_path_report.render(result["data"]),
        ]
    if result["targets"]:
        parts += ["", "Targets: the validator, the request path, HTTP, WebSocket scale, memory"]
        parts += [_targets(result["targets"])]
    if "data" in result:
        data_targets = data_path_report.targets(result["data"], result.get("scale"))
        parts += ["", "Targets: the data path", _targets(data_targets)]
    for row in result.get("validators", []):
        if row.get("profile"):
            parts += ["", f"profile of auth, {row['label']}:", render_profile(row["profile"])]
    for name, profile in result.get("http", {}).get("profiles", {}).items():
        parts += ["", f"profile of {name}:", render_profile(profile)]
    return "\n".join(parts)


def _measured(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _verdict(met: bool | None) -> str:
    return "reported" if met is None else "met" if met else "MISSED"


def _targets(rows: list[dict[str, Any]]) -> str:
    return table(
        ["target", "measured", "goal", ""],
        [
            [
                t["target"],
                _measured(t["measured"]),
                t["goal"],
                _verdict(t["met"]),
            ]
            for t in rows
        ],
    )
