"""One process validating a new RS256 token and a new ES256 token in turn, for
``bench.profiles``: ``python -P bench/new_tokens.py FIXTURE``.

Run by its path with another tree's code on ``PYTHONPATH`` (``-P``: this folder is not
put on ``sys.path``), so the ``auth`` it validates with is that tree's; it imports nothing
of ``bench``, whose modules the tree may not have. Each call is what
``bench/validators.py``'s ``auth`` does on the new-token cases: ``authenticate`` on a
framework-agnostic request, the verifier built by ``create_authenticator`` as the app
builds it.

It validates until ``--seconds`` have passed or the tokens run out (the warm-up tokens
first, outside the timed loop ``timed``: a profile keeps the stacks under it), prints
one JSON line and exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from auth import AuthSettings, HttpRequest, create_authenticator

ALGS = ("RS256", "ES256")


async def validate(fixture: dict[str, Any], seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        settings = AuthSettings(issuer_uri=fixture["issuer"], audience=fixture["audience"])
        verifier = create_authenticator(settings, production=False, http_client=client)
        await verifier.start()

        async def call(token: str) -> None:
            headers = [("host", "api.bench"), ("authorization", f"Bearer {token}")]
            request = HttpRequest(
                method="GET", scheme="http", path="/api/me", headers=headers, peer="127.0.0.1"
            )
            await verifier.authenticate(request)

        for alg in ALGS:
            for token in fixture["warmup"][alg]:
                await call(token)
        return await timed(call, fixture["tokens"], seconds)


async def timed(
    call: Callable[[str], Awaitable[None]], tokens: dict[str, list[str]], seconds: float
) -> dict[str, Any]:
    """One token of each algorithm in turn, until ``seconds`` or the tokens run out."""
    spent = dict.fromkeys(ALGS, 0.0)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    for pair in zip(*(tokens[alg] for alg in ALGS), strict=True):
        for alg, token in zip(ALGS, pair, strict=True):
            before = time.perf_counter()
            await call(token)
            spent[alg] += time.perf_counter() - before
        count += 1
        if time.perf_counter() >= deadline:
            break
    return {
        "validations": 2 * count,
        "seconds": time.perf_counter() - start,
        "us_per_call": {alg: 1e6 * spent[alg] / max(count, 1) for alg in ALGS},
        "ran_out": count == len(tokens[ALGS[0]]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fixture", type=Path)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    result = asyncio.run(validate(json.loads(args.fixture.read_text()), args.seconds))
    print(json.dumps(result), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
