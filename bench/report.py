"""The printed report: one table per section, then every target of issue 7, met or not."""

from __future__ import annotations

from typing import Any

from bench import data_path_report
from bench.http_load import OURS, PEER, PEER_OFF, STATIC
from bench.profiling import render as render_profile
from bench.stats import fmt, fmt_summary, paired_ratio, table


def _cell(
    http: dict[str, Any], server: str, path: str, scheme: str, conns: int
) -> dict[str, Any] | None:
    for cell in http["cells"]:
        if (cell["server"], cell["path"], cell["connections"]) == (server, path, conns) and (
            cell["scheme"] in (scheme, "none")
        ):
            return cell
    return None


def _cost(ours: dict[str, Any], no_auth: dict[str, Any] | None) -> float | None:
    """1 - ours/no-auth requests per second, paired by round."""
    if no_auth is None:
        return None
    paired = paired_ratio(ours["rps"]["runs"], no_auth["rps"]["runs"])
    return None if paired is None else 1 - paired


def http_pairs(http: dict[str, Any]) -> list[dict[str, Any]]:
    """Ours vs the peer for every (path, scheme, connections) cell, and auth costs."""
    pairs = []
    for cell in http["cells"]:
        if cell["server"] != OURS:
            continue
        path, scheme, conns = cell["path"], cell["scheme"], cell["connections"]
        peer = _cell(http, PEER, path, scheme, conns)
        static = _cell(http, STATIC, path, "none", conns)
        peer_off = _cell(http, PEER_OFF, path, "none", conns)
        pairs.append(
            {
                "path": path,
                "scheme": scheme,
                "connections": conns,
                "ours": cell,
                "peer": peer,
                "ratio": paired_ratio(cell["rps"]["runs"], peer["rps"]["runs"]) if peer else None,
                "static": static,
                "peer_off": peer_off,
                "auth_cost": 1 - cell["rps"]["median"] / static["rps"]["median"]
                if static
                else None,
            }
        )
    return pairs


def targets(result: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []

    def add(name: str, measured: float | None, goal: str, met: bool) -> None:
        out.append({"target": name, "measured": measured, "goal": goal, "met": bool(met)})

    for row in result.get("validators", []):
        add(
            f"validator: {row['label']}",
            row["ratio_to_peer"],
            f">= {row['target_ratio']:g}x oidc-spa",
            row["met"],
        )
    if "http" in result:
        for pair in http_pairs(result["http"]):
            where = f"HTTP {pair['path']} {pair['scheme']} c={pair['connections']}"
            if pair["path"] == "/api/me":
                goal = 1.5 if "DPoP" in pair["scheme"] else 1.0
                add(
                    where,
                    pair["ratio"],
                    f">= {goal:g}x Hono+oidc-spa",
                    pair["ratio"] is not None and pair["ratio"] >= goal,
                )
            if pair["auth_cost"] is not None and pair["scheme"].endswith("Bearer"):
                add(
                    f"{where}: auth cost vs OIDC_MODE=static",
                    pair["auth_cost"],
                    "< 10%",
                    pair["auth_cost"] < 0.10,
                )
    if "websocket" in result:
        ws = result["websocket"]
        add(
            "WebSocket write -> event p99, 1,000 sockets",
            ws["p99_ms"]["median"],
            "< 50 ms",
            ws["met"],
        )
    for row in result.get("scale", []):
        if row["todos"] == max(r["todos"] for r in result["scale"]):
            add(
                f"data scale {row['backend']}: p99 at {row['todos']:,} vs 10k",
                row["p99_vs_smallest"],
                "<= 1.5x",
                row["p99_vs_smallest"] <= 1.5,
            )
    for row in result.get("memory", []):
        add(f"memory: {row['structure']} (MB)", row["rss_delta_mb"], row["goal"], row["met"])
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
        "FastAPI+auth req/s",
        "ours/peer",
        "p50/p99 ms peer",
        "p50/p99 ms ours",
        "no-auth Hono",
        "no-auth FastAPI",
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
            fmt(pair["peer_off"]["rps"]["median"]) if pair["peer_off"] else "-",
            fmt(pair["static"]["rps"]["median"]) if pair["static"] else "-",
            f"{100 * pair['auth_cost']:.0f}%" if pair["auth_cost"] is not None else "-",
        ]
        for pair in http_pairs(http)
    ]
    return table(headers, body)


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
    if "http" in result:
        parts += [
            "",
            "2. HTTP, one worker (median (min-max) req/s; latency medians of runs)"
            + _load(result, "http"),
            _http(result["http"]),
        ]
    if "websocket" in result:
        ws = result["websocket"]
        parts += [
            "",
            "3. WebSocket fan-out" + _load(result, "websocket"),
            table(
                [
                    "sockets/users",
                    "write->event p50 ms",
                    "p99 ms",
                    "POST p50 ms",
                    "missing",
                    "RSS/socket (deflate)",
                    "RSS/socket (no deflate)",
                    "open time",
                ],
                [
                    [
                        f"{ws['sockets']}/{ws['users']}",
                        fmt_summary(ws["p50_ms"], 2),
                        fmt_summary(ws["p99_ms"], 2),
                        f"{ws['post_p50_ms']:.2f}",
                        str(ws["missing_events"]),
                        f"{ws['bytes_per_socket'] / 1024:.0f} KiB",
                        f"{ws['bytes_per_socket_without_deflate'] / 1024:.0f} KiB",
                        f"{ws['open_seconds']:.1f} s",
                    ]
                ],
            ),
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
    parts += ["", "Targets of issue 7", _targets(result["targets"])]
    if "data" in result:
        targets_11 = data_path_report.targets(result["data"], result.get("scale"))
        parts += ["", "Targets of issue 11 (data path)", _targets(targets_11)]
    for row in result.get("validators", []):
        if row.get("profile"):
            parts += [
                "",
                f"profile of auth, {row['label']} (missed):",
                render_profile(row["profile"]),
            ]
    for name, profile in result.get("http", {}).get("profiles", {}).items():
        parts += ["", f"profile of {name}:", render_profile(profile)]
    return "\n".join(parts)


def _targets(rows: list[dict[str, Any]]) -> str:
    return table(
        ["target", "measured", "goal", ""],
        [
            [
                t["target"],
                "-" if t["measured"] is None else f"{t['measured']:.3g}",
                t["goal"],
                "met" if t["met"] else "MISSED",
            ]
            for t in rows
        ],
    )
