"""Is a function's time linear in its input? A ratio measured in the test itself.

Absolute times depend on the machine; the time a function takes on crafted input
against the time it takes on ordinary input of the same size, both measured here and
now, does not. A function that backtracks quadratically on its worst case is hundreds
of times slower than on plain input at 64 KiB (a JWT pattern once took 1.1 s there
against 3 ms); a linear one stays within a small factor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

#: Inputs of this size tell quadratic from linear by two orders of magnitude.
SIZE = 64 * 1024
#: How much slower than plain input a worst case may be: a constant factor, with room
#: for a busy machine.
MAX_RATIO = 10.0


def fit(pattern: str, size: int = SIZE) -> str:
    """``pattern`` repeated to exactly ``size`` characters."""
    return (pattern * (size // max(len(pattern), 1) + 1))[:size]


def _seconds(function: Callable[[Any], object], argument: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function(argument)
        best = min(best, time.perf_counter() - started)
    return best


def worst_ratios(
    function: Callable[[Any], object],
    *,
    worst: Mapping[str, Any],
    plain: Any,
    repeat: int = 5,
) -> dict[str, float]:
    """Each worst case's time over the plain input's (best of ``repeat`` runs each)."""
    baseline = max(_seconds(function, plain, repeat), 1e-6)
    return {name: _seconds(function, value, repeat) / baseline for name, value in worst.items()}


def assert_linear(
    function: Callable[[Any], object],
    *,
    worst: Mapping[str, Any],
    plain: Any,
    max_ratio: float = MAX_RATIO,
) -> None:
    """Every worst case runs within ``max_ratio`` of the plain input's time."""
    ratios = worst_ratios(function, worst=worst, plain=plain)
    slow = {name: round(ratio, 1) for name, ratio in ratios.items() if ratio > max_ratio}
    assert not slow, f"worst cases over {max_ratio}x the plain input's time: {slow}"
