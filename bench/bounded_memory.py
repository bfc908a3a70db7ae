"""Section 5: bounded memory of the DPoP replay store and the verified-token cache.

``python -m bench.bounded_memory replay|token_cache|token_cache_values`` runs one
structure in a fresh process and prints JSON: RSS before, after 1M distinct inserts,
peak, the entry count, and the cap its docstring documents.

* ``replay``: ``MemoryReplayStore()`` with its default cap (1M entries), 1M distinct
  proof ids through ``first_use`` (keys made by ``replay_key`` as the verifier makes
  them, 90 s TTL), then one more, which must be refused (store full -> 503), not stored.
* ``token_cache``: ``VerifiedTokenCache`` at the verifier's default size (100k) under 1M
  distinct token digests, one shared value: the bookkeeping the docstring sizes.
* ``token_cache_values``: the same with a distinct realistic ``Principal`` per token
  (``principal_from_claims`` on the test issuer's claims), as the verifier stores.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

from auth._errors import ServiceUnavailable
from auth._principal import Principal, principal_from_claims
from auth._replay import MemoryReplayStore, replay_key
from auth._settings import AuthSettings
from auth._token_cache import VerifiedTokenCache
from auth.testing import TestIssuer
from bench.cores import MEASURED_CORE, on_core, rss_bytes
from bench.stats import ROOT

DISTINCT = 1_000_000
MIB = 2**20
MB = 1_000_000


def _rss() -> int:
    gc.collect()
    return rss_bytes(os.getpid())


def replay() -> dict[str, Any]:
    store = MemoryReplayStore()
    before = _rss()
    jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"

    async def fill() -> bool:
        for n in range(DISTINCT):
            if not await store.first_use(replay_key(jkt, f"jti-{n}"), ttl_seconds=90):
                raise AssertionError("a distinct proof was seen as a replay")
        try:
            await store.first_use(replay_key(jkt, "one-too-many"), ttl_seconds=90)
        except ServiceUnavailable:
            return True
        return False

    started = time.perf_counter()
    refused = asyncio.run(fill())
    seconds = time.perf_counter() - started
    after = _rss()
    return {
        "structure": "MemoryReplayStore (default cap 1,000,000)",
        "inserted": DISTINCT,
        "entries": len(store),
        "refused_when_full": refused,
        "rss_delta_mib": (after - before) / MIB,
        "rss_delta_mb": (after - before) / MB,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes_per_entry": (after - before) / len(store),
        "documented": "about 205 bytes per entry, so under 210 MB",
        "goal": "<= 210 MB and refuses the 1,000,001st",
        "inserts_per_s": DISTINCT / seconds,
    }


def _principals() -> Any:
    issuer = TestIssuer()
    settings = AuthSettings(issuer_uri=issuer.issuer, audience=issuer.audience)
    profile = settings.trusted_issuers()[0].profile
    for n in range(DISTINCT):
        claims = issuer.claims(f"user-{n}")
        yield principal_from_claims(
            claims, profile=profile, groups_claim=settings.groups_claim, dpop_jkt=None
        )


#: The signing key's RFC 7638 thumbprint: one string, shared by every token it signed.
THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def token_cache(*, distinct_values: bool) -> dict[str, Any]:
    max_entries = AuthSettings().token_cache_max_entries
    cache: VerifiedTokenCache[Principal | None] = VerifiedTokenCache(max_entries=max_entries)
    before = _rss()
    values = _principals() if distinct_values else iter(lambda: None, object())
    expires = time.time() + 3600
    for n in range(DISTINCT):
        digest = hashlib.sha256(b"token-%d" % n).digest()
        cache.put(
            digest, next(values), expires_at=expires, kid="es256-kid", key_thumbprint=THUMBPRINT
        )
    after = _rss()
    per_entry = (after - before) / len(cache)
    cap = 3_000 if distinct_values else 500
    return {
        "structure": f"VerifiedTokenCache (max_entries {max_entries:,})"
        + (", realistic Principal values" if distinct_values else ", bookkeeping only"),
        "inserted": DISTINCT,
        "entries": len(cache),
        "rss_delta_mib": (after - before) / MIB,
        "rss_delta_mb": (after - before) / MB,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes_per_entry": per_entry,
        "documented": "about 500 bytes per entry besides the value; about 2.9 KB with a "
        "Keycloak-sized Principal: 20,000 entries under 60 MB",
        "goal": f"entries <= {max_entries:,}, <= {cap * max_entries / MB:.0f} MB",
    }


def measure(structure: str) -> dict[str, Any]:
    """Run one structure in a fresh process on the measured core."""
    result = subprocess.run(
        on_core(MEASURED_CORE, [sys.executable, "-m", "bench.bounded_memory", structure]),
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=1200,
    )
    figures: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    max_entries = AuthSettings().token_cache_max_entries
    if structure == "replay":
        figures["met"] = figures["rss_delta_mb"] <= 210 and figures["refused_when_full"]
    else:
        per_entry_cap = 500 if structure == "token_cache" else 3_000
        bounded = figures["entries"] <= max_entries
        figures["met"] = bounded and figures["rss_delta_mb"] <= per_entry_cap * max_entries / MB
    return figures


def run(log: Any = print) -> list[dict[str, Any]]:
    rows = []
    for structure in ("replay", "token_cache", "token_cache_values"):
        figures = measure(structure)
        log(
            f"  memory {figures['structure']}: {figures['entries']:,} entries, "
            f"+{figures['rss_delta_mb']:.0f} MB ({figures['bytes_per_entry']:.0f} B/entry)"
        )
        rows.append(figures)
    return rows


if __name__ == "__main__":
    which = sys.argv[1]
    if which == "replay":
        output = replay()
    else:
        output = token_cache(distinct_values=which == "token_cache_values")
    print(json.dumps(output))
