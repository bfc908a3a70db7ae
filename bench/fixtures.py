"""The tokens and proofs every benchmark validates, minted by one loopback test issuer.

Both sides (the Python validators and the oidc-spa peer) read the same fixture file,
so they verify byte-for-byte the same access tokens against the same discovery + JWKS.
Tokens are what ``auth.testing.TestIssuer`` mints: header ``typ: at+jwt`` and a
``kid``; ``aud`` = [todo-api, account]; ``client_id``/``azp``, ``jti``, ``scope``,
Keycloak-style roles. oidc-spa accepts them unchanged (it ignores ``typ`` and needs a
``kid``), so nothing is minted differently for the peer.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from auth.testing import DpopKey, TestIssuer
from tests.services import free_port, serve_in_thread

AUDIENCE = "todo-api"
#: Benchmark tokens outlive the whole run (the issuer's default is 300 s).
TOKEN_LIFETIME = 4 * 3600


@contextlib.contextmanager
def loopback_issuer(realm: str = "bench") -> Iterator[TestIssuer]:
    """A test issuer serving discovery + JWKS on http://127.0.0.1:<port>/realms/<realm>.

    Served from a thread of the calling process (the orchestrator, pinned to the load
    core); the measured processes fetch the JWKS once at start and never again.
    """
    port = free_port()
    issuer = TestIssuer(f"http://127.0.0.1:{port}/realms/{realm}", audience=AUDIENCE)
    issuer.cache_control = "max-age=86400"
    with serve_in_thread(issuer.asgi_app(), port):
        yield issuer


def _exp() -> int:
    return int(time.time()) + TOKEN_LIFETIME


def token_batches(issuer: TestIssuer, alg: str, *, batches: int, size: int) -> list[list[str]]:
    """``batches`` lists of ``size`` distinct tokens (distinct subjects and jti)."""
    return [
        [issuer.token(f"user-{b}-{n}", alg=alg, exp=_exp()) for n in range(size)]
        for b in range(batches)
    ]


def proof_batches(
    key: DpopKey, token: str, url: str, *, batches: int, size: int, method: str = "GET"
) -> list[list[str]]:
    """Fresh DPoP proofs (distinct jti, iat = now) for ``method url`` bound to ``token``."""
    return [
        [key.proof(method, url, access_token=token) for _ in range(size)] for _ in range(batches)
    ]


def write_json(path: Path, value: Any) -> Path:
    path.write_text(json.dumps(value))
    return path


def validator_fixture(issuer: TestIssuer, *, runs: int, new_tokens: int) -> dict[str, Any]:
    """Tokens for the Bearer cases of the validator benchmark (DPoP is made per process,
    right before it starts, so that its proofs are fresh: see ``dpop_fixture``)."""
    batches = runs + 1  # one warm-up batch, then one batch per run
    return {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "minted_at": time.time(),
        "cases": {
            "rs256_repeated": {"token": issuer.token("spa-user", alg="RS256", exp=_exp())},
            "es256_repeated": {"token": issuer.token("spa-user", alg="ES256", exp=_exp())},
            "rs256_new": {
                "batches": token_batches(issuer, "RS256", batches=batches, size=new_tokens)
            },
            "es256_new": {
                "batches": token_batches(issuer, "ES256", batches=batches, size=new_tokens)
            },
        },
    }


def dpop_fixture(
    issuer: TestIssuer, key: DpopKey, token: str, *, runs: int, proofs: int
) -> dict[str, Any]:
    """One DPoP-bound ES256 token and fresh proofs for ``GET https://api.bench/api/me``."""
    url = "http://api.bench/api/me"
    return {
        "issuer": issuer.issuer,
        "audience": issuer.audience,
        "cases": {
            "dpop": {
                "token": token,
                "method": "GET",
                "url": url,
                "batches": proof_batches(key, token, url, batches=runs + 1, size=proofs),
            }
        },
    }
