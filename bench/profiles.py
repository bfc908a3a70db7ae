"""The profile's top lines of three paths of any source tree, to show a change before and
after: ``python -m bench.profiles [--tree PATH] [--seconds N]``.

1. ``GET /api/me`` as shipped: ``python -m app`` of the tree with its default settings
   (the access line on), ``OIDC_MODE=verify`` against the loopback test issuer, an ES256
   Bearer token, ``wrk -t1 -c32``;
2. a new token: the tree's ``auth`` validating a new RS256 token and a new ES256 token in
   turn, in one process (``bench/new_tokens.py``: what the validator benchmark's
   new-token cases do);
3. a write: ``POST /api/todos`` on the same server (SQLite), ``wrk -t1 -c32`` with a body
   (``bench/wrk/data.lua``, as ``bench/data_path.py`` sends it).

Every process runs the tree's code with the tree's own ``.venv`` when that imports it,
else this checkout's interpreter, pinned to the measured core. Each path is measured
first without the profiler (the rate printed), then recorded by py-spy from the other
core: in blocking mode, which pauses the process per sample but reads whole stacks
(non-blocking reads lose the outer frames of most asyncio stacks here, so total time
would be understated), one line per function (its first line). A thread waiting for
work is left out; the event loop's own C code (uvloop) shows as its caller's own time.
For each path: the top lines by own time and by total time.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from auth.testing import TestIssuer
from bench import profiling
from bench.cores import LOAD_CORE, MEASURED_CORE, on_core
from bench.data_path import cpu_seconds
from bench.fixtures import TOKEN_LIFETIME, loopback_issuer
from bench.http_load import wrk
from bench.servers import api_env, python_api
from bench.stats import ROOT, load_average

LINES = 12
CONNECTIONS = 32
POST_BODY = '{"text": "a todo written by wrk"}'
#: Validations per second the token batch is sized for (RS256 and ES256 in turn, both
#: counted), with room to spare; a tree faster than this runs out early and says so.
NEW_TOKEN_RATE = 14_000
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
_PYTHON_LIB = re.compile(r"^.*?/(?:site-packages|lib/python3\.\d+)/")
#: Frames that only carry the others (the interpreter's entry, the server's and the
#: event loop's run, a thread's start): left out of the total-time list, where they
#: would sit on top at 100 %.
_PLUMBING = re.compile(
    r"\((<frozen runpy>|asyncio/(runners|base_events|events)\.py|threading\.py"
    r"|uvicorn/(_compat|server|main)\.py|app/__main__\.py|app/server/cli\.py"
    r"|bench/new_tokens\.py)[:)]"
)
#: A thread waiting for work (py-spy's blocking mode cannot tell it is idle).
_WAITING = re.compile(r"^(Condition\.wait|Event\.wait|Queue\.get|Semaphore\.acquire) \(")


def interpreter(tree: Path) -> str:
    """The tree's own ``.venv`` interpreter when it imports the tree's ``app`` and
    ``auth``, else this one when it does."""
    check = "import app, auth; print(app.__file__); print(auth.__file__)"
    for python in (tree / ".venv" / "bin" / "python", Path(sys.executable)):
        if not python.exists():
            continue
        result = subprocess.run(
            [str(python), "-P", "-c", check],
            env={**os.environ, "PYTHONPATH": str(tree)},
            cwd=tempfile.gettempdir(),
            capture_output=True,
            text=True,
            check=False,
        )
        files = result.stdout.split()
        if result.returncode == 0 and all(Path(f).is_relative_to(tree) for f in files):
            return str(python)
    raise SystemExit(f"no interpreter here imports the app and auth of {tree}")


def frame_label(tree: Path) -> Callable[[str], str]:
    """``function (file:line)``, the file relative to the tree or to the Python library."""
    prefixes = tuple(f"{root}/" for root in {str(tree), str(ROOT)})

    def label(frame: str) -> str:
        match = _FRAME.match(frame.strip())
        if not match:
            return frame.strip()
        path = match.group("file")
        for prefix in prefixes:
            path = path.removeprefix(prefix)
        path = _PYTHON_LIB.sub("", path)
        line = f":{match.group('line')}" if match.group("line") else ""
        return f"{match.group('func')} ({path}{line})"

    return label


def report(title: str, figures: str, profile: dict[str, Any], lines: int = LINES) -> str:
    """The path's title and figures, then its top lines by own and by total time."""
    out = [f"{title}", f"  {figures}"]
    if "self_pct" not in profile:
        return "\n".join([*out, f"  (no profile: {profile.get('error')})"])
    out.append(f"  {profile['samples']} samples; own time %:")
    out += [f"    {pct:5.1f}  {name}" for name, pct in profile["self_pct"][:lines]]
    out.append("  total time % (frames that only pass the call on, and the loop's, left out):")
    out += [f"    {pct:5.1f}  {name}" for name, pct in profile["total_pct"][:lines]]
    return "\n".join(out)


def _http_figures(figures: dict[str, Any], cpu: float) -> str:
    cpu_us = 1e6 * cpu / max(figures["requests"], 1)
    failed = f", {figures['failed']} FAILED" if figures["failed"] else ""
    return (
        f"{figures['rps']:,.0f} req/s, p50 {figures['p50_ms']:.2f} ms, "
        f"p99 {figures['p99_ms']:.2f} ms, {cpu_us:.0f} us CPU a request{failed}"
    )


#: The HTTP paths: (path, wrk script, the script's environment).
HTTP_CELLS: dict[str, tuple[str, Path, dict[str, str]]] = {
    "me": ("/api/me", ROOT / "bench" / "wrk" / "load.lua", {}),
    "post": (
        "/api/todos",
        ROOT / "bench" / "wrk" / "data.lua",
        {"BENCH_METHOD": "POST", "BENCH_BODY": POST_BODY},
    ),
}


def passing_on(collapsed: str, label: Callable[[str], str], share: float = 0.97) -> set[str]:
    """The frames that pass the call on: in at least ``share`` of their samples, the
    same function is the next frame (a middleware's ``__call__``, a wrapper). The total
    time of such a chain is that of its last frame, which is the one worth a line."""
    callees: dict[str, collections.Counter[str | None]] = collections.defaultdict(
        collections.Counter
    )
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [label(frame) for frame in stack.split(";")]
        for frame, callee in zip(frames, [*frames[1:], None], strict=True):
            callees[frame][callee] += int(count_text)
    passing = set()
    for frame, counts in callees.items():
        callee, count = counts.most_common(1)[0]
        if callee is not None and count >= share * counts.total():
            passing.add(frame)
    return passing


def working(frames: list[str]) -> bool:
    return not _WAITING.match(frames[-1])


def summary(
    label: Callable[[str], str], keep: Callable[[list[str]], bool] = working
) -> Callable[[str], dict[str, Any]]:
    """py-spy's collapsed stacks to shares of the stacks ``keep`` accepts (default:
    waiting threads left out); ``total_pct`` is the inclusive share of the frames that do
    more than pass the call on."""

    def read(collapsed: str) -> dict[str, Any]:
        profile = profiling.summarise(collapsed, top=400, label=label, keep=keep)
        passing = passing_on(collapsed, label)
        profile["total_pct"] = [
            (name, pct)
            for name, pct in profile["inclusive_pct"]
            if name not in passing and not _PLUMBING.search(name)
        ]
        return profile

    return read


def http_paths(
    issuer: TestIssuer, tree: Path, python: str, seconds: int, label: Callable[[str], str]
) -> dict[str, tuple[str, dict[str, Any]]]:
    """``GET /api/me`` and ``POST /api/todos`` on one ``python -m app`` of ``tree``."""
    token = issuer.token("profile-user", alg="ES256", exp=int(time.time()) + TOKEN_LIFETIME)
    headers = {"Authorization": f"Bearer {token}"}
    results = {}
    env = api_env(issuer.issuer, issuer.audience)
    with python_api("api", env, root=tree, python=python) as server:
        for name, (path, script, script_env) in HTTP_CELLS.items():
            load = functools.partial(
                wrk,
                server.base_url + path,
                connections=CONNECTIONS,
                headers=headers,
                script=script,
                script_env=script_env,
            )
            load(seconds=1)  # warm-up
            before = cpu_seconds(server.pid)
            figures = load(seconds=seconds)
            cpu = cpu_seconds(server.pid) - before
            # The load outlasts the recording by a second: no idle sample at its end.
            with profiling.recording(
                server.pid,
                seconds,
                blocking=True,
                options=["--function"],
                summary=summary(label),
            ) as profile:
                load(seconds=seconds + 1)
            results[name] = (_http_figures(figures, cpu), profile)
    return results


def _validate(command: list[str], tree: Path) -> dict[str, Any]:
    result = subprocess.run(
        command,
        cwd=tempfile.gettempdir(),
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{command} failed:\n{result.stderr[-2000:]}")
    # py-spy, when it runs the process, prints its own lines after the process's.
    line = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("{"))
    figures: dict[str, Any] = json.loads(line)
    return figures


def new_token_path(
    issuer: TestIssuer, tree: Path, python: str, seconds: int, label: Callable[[str], str]
) -> tuple[str, dict[str, Any]]:
    """The tree's ``auth`` validating new RS256 and ES256 tokens in one process: once
    for the rate, once under py-spy (the same tokens: each process starts with an empty
    cache)."""
    exp = int(time.time()) + TOKEN_LIFETIME
    pairs = NEW_TOKEN_RATE * seconds // 2

    def mint(alg: str, count: int, prefix: str) -> list[str]:
        return [issuer.token(f"{prefix}-{n}", alg=alg, exp=exp) for n in range(count)]

    fixture = {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "warmup": {alg: mint(alg, 300, "warm") for alg in ("RS256", "ES256")},
        "tokens": {alg: mint(alg, pairs, "new") for alg in ("RS256", "ES256")},
    }
    path = Path(tempfile.mkstemp(prefix="bench-new-tokens-", suffix=".json")[1])
    path.write_text(json.dumps(fixture))
    child = [python, "-P", str(ROOT / "bench" / "new_tokens.py"), str(path)]
    child += ["--seconds", str(seconds)]
    out = Path(tempfile.mkstemp(prefix="bench-pyspy-", suffix=".txt")[1])
    spy = [str(profiling.PY_SPY), "record", "--rate", "250", "--function", "--format", "raw"]
    spy += ["--output", str(out), "--"]
    try:
        result = _validate(on_core(MEASURED_CORE, child), tree)
        _validate(on_core(LOAD_CORE, [*spy, *on_core(MEASURED_CORE, child)]), tree)
        # Start-up, discovery and the warm-up are left out: only the timed loop counts.
        timed = re.compile(r"^timed \(bench/new_tokens\.py")
        profile = summary(label, keep=lambda frames: any(map(timed.match, frames)))(out.read_text())
    finally:
        path.unlink()
        out.unlink(missing_ok=True)
    calls = ", ".join(f"{alg} {us:.0f} us" for alg, us in result["us_per_call"].items())
    figures = (
        f"{result['validations'] / result['seconds']:,.0f} validations/s over "
        f"{result['seconds']:.1f} s (a call: {calls})"
        + (" -- RAN OUT of tokens before the time was up" if result["ran_out"] else "")
    )
    return figures, profile


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="a checkout (default: this one)")
    parser.add_argument("--seconds", type=int, default=3, help="recorded seconds per path")
    args = parser.parse_args()
    if not profiling.available():
        raise SystemExit(f"py-spy is missing: {profiling.PY_SPY} (bash bench/run.sh installs it)")
    tree = args.tree.resolve()
    os.sched_setaffinity(0, {LOAD_CORE})
    python = interpreter(tree)
    label = frame_label(tree)
    commit = subprocess.run(
        ["git", "-C", str(tree), "log", "-1", "--format=%h %s"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    print(f"profiles of {tree} ({commit}), run by {python}")
    print(f"load average at start: {load_average()}; {args.seconds} s recorded per path\n")
    with loopback_issuer() as issuer:
        http = http_paths(issuer, tree, python, args.seconds, label)
        new_token = new_token_path(issuer, tree, python, args.seconds, label)
    titles = (
        ("GET /api/me as shipped, ES256 Bearer, wrk -t1 -c32", http["me"]),
        ("a new token: RS256 and ES256 in turn, one process", new_token),
        ("POST /api/todos as shipped, SQLite, wrk -t1 -c32", http["post"]),
    )
    for title, (figures, profile) in titles:
        print(report(title, figures, profile), end="\n\n")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
