"""Validator throughput on one core: ``python -m bench.validators IMPL CASE FIXTURE``.

Prints one JSON line: validations per second for each timed run (after one warm-up).
The orchestrator runs this pinned with ``taskset -c``; the peer's twin is
``peer/validate.mjs``. Cases (see ``fixtures.py``):

* ``*_repeated``: the same Bearer token on every call, as a SPA sends it, for at least
  ``--seconds`` per run;
* ``*_new``: a batch of distinct tokens per run, each validated once;
* ``dpop``: one DPoP-bound ES256 token and a fresh proof per call, replay check included.

``auth`` is this project's ``TokenVerifier.authenticate`` on a framework-agnostic request
(header parsing included, as oidc-spa's ``extractRequestAuthContext`` is on the peer's
side); the others are in ``baselines.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from auth import AuthSettings, HttpRequest, create_authenticator
from bench.baselines import BASELINES

Call = Callable[[Any], Awaitable[object]]


async def auth_call(
    fixture: dict[str, Any], case: dict[str, Any], client: httpx.AsyncClient
) -> Call:
    settings = AuthSettings(issuer_uri=fixture["issuer"], audience=fixture["audience"])
    verifier = create_authenticator(settings, production=False, http_client=client)
    await verifier.start()
    if "url" in case:
        token, url = case["token"], case["url"]

        target = urlsplit(url)

        async def dpop(proof: str) -> object:
            headers = [
                ("host", target.netloc),
                ("authorization", f"DPoP {token}"),
                ("dpop", proof),
            ]
            request = HttpRequest(
                method="GET",
                scheme=target.scheme,
                path=target.path,
                headers=headers,
                peer="127.0.0.1",
            )
            return await verifier.authenticate(request)

        return dpop

    async def bearer(token: str) -> object:
        headers = [("host", "api.bench"), ("authorization", f"Bearer {token}")]
        request = HttpRequest(
            method="GET", scheme="http", path="/api/me", headers=headers, peer="127.0.0.1"
        )
        return await verifier.authenticate(request)

    return bearer


async def baseline_call(
    name: str, fixture: dict[str, Any], case: dict[str, Any], client: httpx.AsyncClient
) -> Call:
    discovery = (await client.get(f"{fixture['issuer']}/.well-known/openid-configuration")).json()
    jwks = (await client.get(discovery["jwks_uri"])).json()
    baseline = BASELINES[name](jwks, fixture["issuer"], fixture["audience"])
    if "url" in case:
        token, method, url = case["token"], case["method"], case["url"]

        async def dpop(proof: str) -> object:
            return baseline.dpop(token, proof, method, url)

        return dpop

    async def bearer(token: str) -> object:
        return baseline.bearer(token)

    return bearer


async def timed_batch(call: Call, items: list[str]) -> float:
    start = time.perf_counter()
    for item in items:
        await call(item)
    return len(items) / (time.perf_counter() - start)


async def timed_repeat(call: Call, item: str, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while True:
        for _ in range(200):
            await call(item)
        count += 200
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return count / elapsed


async def measure(
    impl: str, case_name: str, fixture: dict[str, Any], seconds: float
) -> list[float]:
    case = fixture["cases"][case_name]
    async with httpx.AsyncClient() as client:
        if impl == "auth":
            call = await auth_call(fixture, case, client)
        else:
            call = await baseline_call(impl, fixture, case, client)
        if "batches" in case:
            return [await timed_batch(call, batch) for batch in case["batches"]][1:]
        runs = fixture.get("runs", 5)
        return [await timed_repeat(call, case["token"], seconds) for _ in range(runs + 1)][1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=["auth", "pyjwt", "joserfc", "floor"])
    parser.add_argument("case")
    parser.add_argument("fixture", type=Path)
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    fixture = json.loads(args.fixture.read_text())
    runs = asyncio.run(measure(args.impl, args.case, fixture, args.seconds))
    print(json.dumps({"ops_per_s": runs}))


if __name__ == "__main__":
    main()
