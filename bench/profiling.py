"""py-spy profiles of a running server, summarised as the functions that cost most.

py-spy lives in ``bench/.venv`` (installed by ``bench/run.sh``), never in the project's
dependencies. ``record --format raw`` writes collapsed stacks ("frame;frame;... count");
the summary counts, per function, the samples where it is on the stack (inclusive) and
where it is the innermost frame (self).
"""

from __future__ import annotations

import collections
import contextlib
import os
import re
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from bench.cores import LOAD_CORE, on_core
from bench.stats import ROOT

PY_SPY = ROOT / "bench" / ".venv" / "bin" / "py-spy"
#: Frames worth reading in the inclusive view: our code and the costs around it (the
#: framework's spine, present in every stack, says nothing).
_INTERESTING = re.compile(
    r"\((auth|app|bench)/|logging/|asyncpg/|sqlmodel/|serialize_response"
    r"|solve_dependencies|cors\.py|body_limit|ESAlgorithm|RSAAlgorithm"
)
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def available() -> bool:
    return PY_SPY.exists()


@contextlib.contextmanager
def recording(
    pid: int,
    seconds: float,
    *,
    blocking: bool | None = None,
    options: Sequence[str] = (),
    summary: Callable[[str], dict[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Profile ``pid`` while the body runs (at most ``seconds``); fills the yielded dict
    with the summary when the body is done. ``options``: more of py-spy's; ``summary``
    reads its collapsed stacks (default: ``summarise``)."""
    if blocking is None:
        blocking = bool(os.environ.get("SPY_BLOCKING"))
    out = Path(tempfile.mkstemp(prefix="bench-pyspy-", suffix=".txt")[1])
    command = [
        str(PY_SPY),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        "250",
        "--format",
        "raw",
        "--output",
        str(out),
        # Non-blocking: the server is not paused per sample, so it runs at its usual speed
        # (blocking mode halves its throughput here) and idle threads are left out; the
        # price is that some stacks are read mid-change and lose their outer frames.
        *([] if blocking else ["--nonblocking"]),
        *options,
    ]
    process = subprocess.Popen(
        on_core(LOAD_CORE, command), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    result: dict[str, Any] = {}
    try:
        yield result
    finally:
        process.wait(seconds + 30)
        read = summary or summarise
        result.update(read(out.read_text()) if out.exists() else {"error": "no output"})
        out.unlink(missing_ok=True)


def _label(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


def summarise(
    collapsed: str,
    top: int = 120,
    *,
    label: Callable[[str], str] = _label,
    keep: Callable[[list[str]], bool] | None = None,
) -> dict[str, Any]:
    """Own and inclusive shares of the samples, each frame named by ``label``; with
    ``keep``, only the stacks (lists of labels, outermost first) it accepts count."""
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [label(frame) for frame in stack.split(";")]
        if keep is not None and not keep(frames):
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count

    def share(counter: collections.Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / max(total, 1), 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_pct": share(own), "inclusive_pct": share(inclusive)}


def render(profile: dict[str, Any], lines: int = 15) -> str:
    if "self_pct" not in profile:
        return f"  (no profile: {profile.get('error')})"
    out = [f"  {profile['samples']} samples; self %:"]
    out += [f"    {pct:5.1f}  {name}" for name, pct in profile["self_pct"][:lines]]
    out.append("  inclusive % (our code and the costs around it):")
    interesting = [(n, p) for n, p in profile["inclusive_pct"] if _INTERESTING.search(n)]
    out += [f"    {pct:5.1f}  {name}" for name, pct in interesting[:lines]]
    return "\n".join(out)


def profile_command(command: list[str], cwd: Path, core: int) -> tuple[str, dict[str, Any]]:
    """Run ``command`` under py-spy on ``core``; its stdout and the profile summary."""
    out = Path(tempfile.mkstemp(prefix="bench-pyspy-", suffix=".txt")[1])
    spy = [str(PY_SPY), "record", "--rate", "500", "--format", "raw", "--output", str(out), "--"]
    result = subprocess.run(
        ["taskset", "-c", str(core), *spy, *command],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    profile = summarise(out.read_text()) if out.exists() else {"error": result.stderr[-500:]}
    out.unlink(missing_ok=True)
    return result.stdout, profile
