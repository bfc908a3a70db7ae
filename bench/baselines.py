"""The Python baselines of the validator benchmark, each doing the same checks as a
careful but ordinary resource server built on that library:

* ``pyjwt``: ``jwt.get_unverified_header`` for the kid, then ``jwt.decode`` with
  ``algorithms``, ``audience``, ``issuer``, ``leeway`` and required claims. No cache.
* ``joserfc``: ``jwt.decode`` with a ``KeySet`` and ``algorithms``, then
  ``JWTClaimsRegistry(...).validate`` (PITFALLS: decode alone checks no claim). No cache.
* ``floor``: base64url + orjson + one ``cryptography`` verify + the same claim checks,
  with a plain dict of already-verified tokens (token -> claims, expiry checked): the
  least work a correct validator can do in Python.

Each also checks header ``typ`` and, for DPoP, the proof (RFC 9449 §4.3: typ, alg, jwk,
signature, htm, htu, iat window, ath, cnf.jkt) with a replay set.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from typing import Any

import jwt as pyjwt
import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jwt as jrjwt
from joserfc.jwk import ECKey, KeySet

LEEWAY = 30
DPOP_MAX_AGE = 60


class Refused(Exception):
    """A baseline refused a token the benchmark expected to pass."""


def _b64(segment: str | bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + ("=" * (-len(segment) % 4)))  # type: ignore[operator]


def ec_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 thumbprint of a public EC JWK."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


class Baseline:
    """Shared DPoP steps once the proof's claims and key thumbprint are known."""

    def __init__(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        self.issuer, self.audience = issuer, audience
        self.seen: dict[str, float] = {}

    def bearer(self, token: str) -> dict[str, Any]:
        raise NotImplementedError

    def proof(self, proof: str) -> tuple[dict[str, Any], str]:
        """(claims, jkt) of a proof whose typ, alg and signature were checked."""
        raise NotImplementedError

    def dpop(self, token: str, proof: str, method: str, url: str) -> dict[str, Any]:
        claims = self.bearer(token)
        proof_claims, jkt = self.proof(proof)
        now = time.time()
        iat = proof_claims["iat"]
        if (
            proof_claims["htm"] != method
            or proof_claims["htu"] != url
            or not now - DPOP_MAX_AGE - LEEWAY <= iat <= now + LEEWAY
            or proof_claims["ath"] != ath(token)
            or jkt != claims["cnf"]["jkt"]
        ):
            raise Refused("proof")
        replay_key = f"{jkt}:{proof_claims['jti']}"
        if replay_key in self.seen:
            raise Refused("replayed")
        self.seen[replay_key] = now + DPOP_MAX_AGE + LEEWAY
        return claims


class PyJwt(Baseline):
    def __init__(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        super().__init__(jwks, issuer, audience)
        self.keys = {jwk["kid"]: pyjwt.PyJWK(jwk) for jwk in jwks["keys"]}

    def bearer(self, token: str) -> dict[str, Any]:
        header = pyjwt.get_unverified_header(token)
        if header.get("typ") != "at+jwt":
            raise Refused("typ")
        key = self.keys[header["kid"]]
        return pyjwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=self.audience,
            issuer=self.issuer,
            leeway=LEEWAY,
            options={"require": ["exp", "iat", "sub", "jti"]},
        )

    def proof(self, proof: str) -> tuple[dict[str, Any], str]:
        header = pyjwt.get_unverified_header(proof)
        if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
            raise Refused("proof header")
        key = pyjwt.PyJWK(header["jwk"], algorithm="ES256")
        claims = pyjwt.decode(
            proof,
            key.key,
            algorithms=["ES256"],
            leeway=LEEWAY,
            options={"require": ["iat", "jti", "htm", "htu"], "verify_aud": False},
        )
        return claims, ec_thumbprint(header["jwk"])


class Joserfc(Baseline):
    def __init__(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        super().__init__(jwks, issuer, audience)
        self.keys = KeySet.import_key_set(jwks)
        self.registry = jrjwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            sub={"essential": True},
            jti={"essential": True},
        )
        self.proof_registry = jrjwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iat={"essential": True},
            jti={"essential": True},
            htm={"essential": True},
            htu={"essential": True},
        )

    def bearer(self, token: str) -> dict[str, Any]:
        decoded = jrjwt.decode(token, self.keys, algorithms=["RS256", "ES256"])
        if decoded.header.get("typ") != "at+jwt":
            raise Refused("typ")
        self.registry.validate(decoded.claims)
        return decoded.claims

    def proof(self, proof: str) -> tuple[dict[str, Any], str]:
        header = json.loads(_b64(proof.split(".", 1)[0]))
        if header.get("typ") != "dpop+jwt":
            raise Refused("proof header")
        key = ECKey.import_key(header["jwk"])
        decoded = jrjwt.decode(proof, key, algorithms=["ES256"])
        self.proof_registry.validate(decoded.claims)
        return decoded.claims, key.thumbprint()


def _public_key(jwk: dict[str, Any]) -> Any:
    if jwk["kty"] == "RSA":
        n, e = (int.from_bytes(_b64(jwk[name]), "big") for name in ("n", "e"))
        return rsa.RSAPublicNumbers(e, n).public_key()
    x, y = (int.from_bytes(_b64(jwk[name]), "big") for name in ("x", "y"))
    return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()


def _verify(key: Any, alg: str, signing_input: bytes, signature: bytes) -> None:
    if alg == "RS256":
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        key.verify(encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA256()))
    else:
        raise Refused("alg")


class Floor(Baseline):
    def __init__(self, jwks: dict[str, Any], issuer: str, audience: str) -> None:
        super().__init__(jwks, issuer, audience)
        self.keys = {jwk["kid"]: (jwk["alg"], _public_key(jwk)) for jwk in jwks["keys"]}
        self.verified: dict[str, tuple[dict[str, Any], float]] = {}
        self.proof_keys: dict[str, tuple[Any, str]] = {}

    def bearer(self, token: str) -> dict[str, Any]:
        entry = self.verified.get(token)
        if entry is not None and entry[1] > time.time():
            return entry[0]
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = orjson.loads(_b64(header_b64))
        alg, key = self.keys[header["kid"]]
        if header.get("alg") != alg or header.get("typ") != "at+jwt":
            raise Refused("header")
        try:
            _verify(key, alg, f"{header_b64}.{payload_b64}".encode(), _b64(signature_b64))
        except InvalidSignature:
            raise Refused("signature") from None
        claims = orjson.loads(_b64(payload_b64))
        now = time.time()
        if (
            claims["iss"] != self.issuer
            or self.audience not in claims["aud"]
            or claims["exp"] <= now - LEEWAY
            or claims["iat"] > now + LEEWAY
            or not claims.get("sub")
        ):
            raise Refused("claims")
        self.verified[token] = (claims, claims["exp"] + LEEWAY)
        return claims

    def proof(self, proof: str) -> tuple[dict[str, Any], str]:
        header_b64, payload_b64, signature_b64 = proof.split(".")
        header = orjson.loads(_b64(header_b64))
        if header.get("typ") != "dpop+jwt" or header.get("alg") != "ES256":
            raise Refused("proof header")
        jwk_text = orjson.dumps(header["jwk"], option=orjson.OPT_SORT_KEYS)
        cached = self.proof_keys.get(jwk_text)  # type: ignore[call-overload]
        if cached is None:
            cached = self.proof_keys[jwk_text] = (  # type: ignore[index]
                _public_key(header["jwk"]),
                ec_thumbprint(header["jwk"]),
            )
        try:
            _verify(cached[0], "ES256", f"{header_b64}.{payload_b64}".encode(), _b64(signature_b64))
        except InvalidSignature:
            raise Refused("proof signature") from None
        return orjson.loads(_b64(payload_b64)), cached[1]


BASELINES: dict[str, type[Baseline]] = {"pyjwt": PyJwt, "joserfc": Joserfc, "floor": Floor}
