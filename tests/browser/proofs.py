"""What the browser's requests carried: DPoP proofs (RFC 9449) read back from the wire.

The API verifies proofs; these checks look at them from the client's side, to show that
oidc-spa (not this project) produced what the API expects.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlsplit

from joserfc.jwk import ECKey
from playwright.sync_api import Request

from auth._dpop import access_token_hash


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload of a compact JWS, unverified."""
    header, payload, _signature = token.split(".")
    return _b64url_json(header), _b64url_json(payload)


def _b64url_json(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def check_dpop_proof(proof: str, *, access_token: str, htm: str, htu: str) -> None:
    """A proof for ``htm htu`` bound to ``access_token`` (section 4.2), signed by the key
    the token is bound to (``cnf.jkt``, section 6.1)."""
    header, claims = jwt_parts(proof)
    assert header["typ"] == "dpop+jwt"
    assert header["alg"] == "ES256"
    assert "d" not in header["jwk"], "the proof must carry the public key only"
    assert (claims["htm"], claims["htu"]) == (htm, htu)
    assert claims["ath"] == access_token_hash(access_token)
    assert claims["jti"]
    assert isinstance(claims["iat"], int)
    token_claims = jwt_parts(access_token)[1]
    assert token_claims["cnf"]["jkt"] == ECKey.import_key(header["jwk"]).thumbprint()


def check_dpop_request(request: Request) -> str:
    """The request left the browser as ``Authorization: DPoP <token>`` with a ``DPoP``
    proof for its method and URL (query excluded, section 4.2). Returns the token."""
    headers = request.all_headers()
    scheme, _, access_token = headers.get("authorization", "").partition(" ")
    assert scheme == "DPoP", f"{request.method} {request.url}: Authorization is {scheme!r}"
    assert "dpop" in headers, f"{request.method} {request.url}: no DPoP header"
    htu = urlsplit(request.url)._replace(query="", fragment="").geturl()
    check_dpop_proof(headers["dpop"], access_token=access_token, htm=request.method, htu=htu)
    return access_token
