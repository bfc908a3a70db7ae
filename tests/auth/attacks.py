"""What the attack suites share (tests/auth/test_attacks_*.py): requests as an adapter
builds them, refusals asserted by check, and hand-made tokens (raw JSON, HMAC, RSA JWKs)
that no well-behaved library would produce."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import serialization

from auth._access_token import AccessTokenPolicy
from auth._credentials import HttpRequest
from auth._errors import (
    AuthError,
    Check,
    InvalidToken,
)
from auth._jws import SUPPORTED_ALGORITHMS, b64url_encode
from auth._verifier import TokenVerifier
from auth.testing import TestIssuer, sign_compact
from tests.auth.fakes import FakeClock, http_request
from tests.auth.refusals import refused

#: The conftest fixtures: mint a token, make a proof, build a verifier with overrides.
Mint = Callable[..., str]
Prove = Callable[..., str]
MakeVerifier = Callable[..., TokenVerifier]


def bearer_request(token: str, **kwargs: Any) -> HttpRequest:
    return http_request(authorization=[f"Bearer {token}"], **kwargs)


def dpop_request(token: str, *proofs: str, **kwargs: Any) -> HttpRequest:
    return http_request(authorization=[f"DPoP {token}"], proofs=list(proofs), **kwargs)


async def refused_by(
    verifier: TokenVerifier,
    request: HttpRequest,
    check: Check,
    error: type[AuthError] = InvalidToken,
) -> AuthError:
    """``verifier`` refuses ``request`` with ``error`` carrying ``check``."""
    with refused(check, error) as caught:
        await verifier.authenticate(request)
    return caught.value


def token_policy(issuer: TestIssuer) -> AccessTokenPolicy:
    return AccessTokenPolicy(
        issuer=issuer.issuer,
        audiences=(issuer.audience,),
        algorithms=frozenset(SUPPORTED_ALGORITHMS),
    )


def issuer_key(issuer: TestIssuer, alg: str = "RS256") -> tuple[str, Any]:
    kid = issuer.current_kid[alg]
    return kid, issuer.keys[kid][1]


def claims_now(issuer: TestIssuer, clock: FakeClock, **overrides: Any) -> dict[str, Any]:
    return issuer.claims(iat=int(clock.now), exp=int(clock.now) + 300, **overrides)


def sign_raw(issuer: TestIssuer, header: bytes, payload: bytes, alg: str = "RS256") -> str:
    _, key = issuer_key(issuer, alg)
    return sign_compact(header, payload, key, alg)


def segment(value: dict[str, Any]) -> str:
    return b64url_encode(json.dumps(value).encode())


def json_bytes(value: dict[str, Any]) -> bytes:
    return json.dumps(value).encode()


def raw_json(raw_members: str, members: dict[str, Any]) -> bytes:
    """A JSON object text: hand-written ``raw_members`` (duplicates, NaN...) first."""
    return ("{" + raw_members + "," + json.dumps(members)[1:]).encode()


def hmac_token(header: dict[str, Any], payload: dict[str, Any], secret: bytes) -> str:
    signing_input = f"{segment(header)}.{segment(payload)}"
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    mac = hmac.new(secret, signing_input.encode(), digest[header["alg"]]).digest()
    return f"{signing_input}.{b64url_encode(mac)}"


def public_key_secrets(key: Any) -> dict[str, bytes]:
    public = key.get_op_key("verify")
    return {
        "spki-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pkcs1-pem": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "jwk-json": json.dumps(key.as_dict(private=False)).encode(),
        "jwk-json-compact": json.dumps(key.as_dict(private=False), separators=(",", ":")).encode(),
    }


def int_b64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rsa_jwk(n: int, e: int = 65537, **members: Any) -> dict[str, Any]:
    return {"kty": "RSA", "n": int_b64(n), "e": int_b64(e), **members}
