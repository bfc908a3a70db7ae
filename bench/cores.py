"""Which core does what: measured processes on one core, load and orchestration on the other."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

MEASURED_CORE = 0
LOAD_CORE = 1


def pin(pid: int, core: int) -> None:
    """Pin every thread of ``pid`` (threads started later inherit it from their parent)."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(ProcessLookupError):
            os.sched_setaffinity(int(task.name), {core})


def on_core(core: int, command: list[str]) -> list[str]:
    return ["taskset", "-c", str(core), *command]


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` now (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise LookupError(f"no VmRSS for {pid}")
