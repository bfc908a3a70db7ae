"""Figures and tables: min / median / max of repeated runs, ratios, the printed table."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def summary(values: Sequence[float]) -> dict[str, Any]:
    """min / median / max of the timed runs (the warm-up is already dropped)."""
    return {
        "min": min(values),
        "median": statistics.median(values),
        "max": max(values),
        "runs": list(values),
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` in [0, 1])."""
    ordered = sorted(values)
    rank = max(1, round(fraction * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def paired_ratio(ours: Sequence[float], peer: Sequence[float]) -> float | None:
    """Median of the per-round ratios ours/peer. Runs of one round are seconds apart, so
    pairing them cancels slow changes in the machine's background load."""
    pairs = [o / p for o, p in zip(ours, peer, strict=True) if p]
    return statistics.median(pairs) if pairs else None


def fmt(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100_000:
        return f"{value / 1000:,.0f}k"
    return f"{value:,.{digits}f}"


def fmt_summary(value: dict[str, Any] | None, digits: int = 0) -> str:
    """``median (min-max)``."""
    if not value:
        return "-"
    return (
        f"{fmt(value['median'], digits)} ({fmt(value['min'], digits)}-{fmt(value['max'], digits)})"
    )


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    line = "  ".join("-" * width for width in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths, strict=True)), line]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(out)


def git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "node": node.stdout.strip(),
        "commit": git("rev-parse", "--short", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--", "auth", "app")),
    }


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
