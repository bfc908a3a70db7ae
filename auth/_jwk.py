"""Importing a public JWK, and the rules a key must meet to verify anything here
(RFC 7517 §4, RFC 7518 §6, RFC 8725 §3.1).

One function for both kinds of key this package meets: the issuer's (JWKS) and the
client's (a DPoP proof's ``jwk``). Every rule runs on the JWK members, before joserfc
imports the key, so a key that breaks one costs no cryptography:

- public only: no private or symmetric members (RFC 9449 §4.3 step 7; joserfc would
  import a private key and verify with it);
- ``use``, when present, is ``sig``; ``key_ops``, when present, is a list of distinct
  strings containing ``verify`` (RFC 7517 §4.2-4.3); ``ext``, when present, is a
  boolean (W3C Web Cryptography API §19, registered in the IANA JWK parameters; panva/
  jose refuses ``"ext": "false"`` too) and ``alg`` a string (RFC 7517 §4.4);
- RSA: a modulus of 2048 (RFC 7518 §3.3) to 4096 bits and an odd public exponent in
  [65537, 2**32): the lower bound is FIPS 186-5 §A.1.1's, the upper bounds cap the work
  a sender can make a verification cost (a 3071-bit exponent costs five signatures);
- RSA: no ROCA fingerprint (CVE-2017-15361, ``auth._roca``): such a modulus can be
  factored, so its signatures prove nothing.
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.jwk import JWKRegistry, RSAKey

from ._jws import KEY_REQUIREMENTS, Defect, Key, MalformedJws, b64url_decode
from ._roca import has_roca_fingerprint

MIN_RSA_BITS = 2048
MAX_RSA_BITS = 4096
MIN_RSA_EXPONENT = 65537
MAX_RSA_EXPONENT = 2**32 - 1
# RFC 7517 §4 and RFC 7518 §6: members that only a private or symmetric key carries.
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})


def _check_usage(jwk: dict[str, Any]) -> None:
    # Presence, not .get(...) is None: "use": null is a malformed member, not an absent one.
    if "ext" in jwk and not isinstance(jwk["ext"], bool):
        raise MalformedJws("ext is not a boolean", Defect.KEY_USE)
    if "alg" in jwk and not isinstance(jwk["alg"], str):
        raise MalformedJws("alg is not a string", Defect.KEY_USE)
    if "use" in jwk and jwk["use"] != "sig":
        raise MalformedJws("use is not sig", Defect.KEY_USE)
    if "key_ops" in jwk:
        key_ops = jwk["key_ops"]
        if (
            not isinstance(key_ops, list)
            or not all(isinstance(operation, str) for operation in key_ops)
            or len(set(key_ops)) != len(key_ops)  # RFC 7517 §4.3: no duplicates
            or "verify" not in key_ops
        ):
            raise MalformedJws("key_ops lacks verify or is malformed", Defect.KEY_USE)


def _rsa_integer(jwk: dict[str, Any], member: str) -> int:
    value = jwk.get(member)
    if not isinstance(value, str):
        raise MalformedJws("invalid key", Defect.KEY)
    try:
        return int.from_bytes(b64url_decode(value), "big")
    except MalformedJws:
        raise MalformedJws("invalid key", Defect.KEY) from None


def _check_rsa(jwk: dict[str, Any]) -> None:
    modulus, exponent = _rsa_integer(jwk, "n"), _rsa_integer(jwk, "e")
    if not MIN_RSA_BITS <= modulus.bit_length() <= MAX_RSA_BITS:
        raise MalformedJws(
            f"RSA modulus outside {MIN_RSA_BITS}-{MAX_RSA_BITS} bits", Defect.KEY_SIZE
        )
    if exponent % 2 == 0 or not MIN_RSA_EXPONENT <= exponent <= MAX_RSA_EXPONENT:
        raise MalformedJws("RSA exponent is not odd in [65537, 2**32)", Defect.KEY_SIZE)
    if has_roca_fingerprint(modulus):
        raise MalformedJws("RSA modulus has the ROCA fingerprint", Defect.KEY_VULNERABLE)


def import_public_key(jwk: dict[str, Any]) -> Key:
    """Import a public JWK of type RSA, EC or OKP that may verify signatures.

    Raises:
        MalformedJws: private or symmetric members, unsupported ``kty``, a ``use`` or
            ``key_ops`` that excludes verifying, an RSA key out of bounds or with the
            ROCA fingerprint, invalid values.
    """
    if PRIVATE_KEY_MEMBERS & jwk.keys():
        raise MalformedJws("key contains private or symmetric key material", Defect.PRIVATE_KEY)
    kty = jwk.get("kty")
    if kty not in ("RSA", "EC", "OKP"):
        raise MalformedJws("unsupported key type", Defect.KEY)
    _check_usage(jwk)
    if kty == "RSA":
        _check_rsa(jwk)  # before import: joserfc imports short RSA keys with a warning only
    try:
        key = JWKRegistry.import_key(jwk)
    except Exception as exc:  # joserfc raises several types for bad key values
        raise MalformedJws("invalid key", Defect.KEY) from exc
    if key.is_private:
        raise MalformedJws("key is private", Defect.PRIVATE_KEY)
    return key  # type: ignore[return-value]


def key_fits_algorithm(key: Key, alg: str) -> bool:
    """True when ``key`` may verify ``alg`` (RFC 8725 §3.1): the key type and curve match,
    an ``alg`` member on the key agrees, RSA keys have at least 2048 bits."""
    requirement = KEY_REQUIREMENTS.get(alg)
    if requirement is None:
        return False
    kty, curves = requirement
    if key.key_type != kty:
        return False
    if curves is not None and key.curve_name not in curves:  # type: ignore[union-attr]
        return False
    if key.alg is not None and key.alg != alg:
        return False
    if isinstance(key, RSAKey):
        public = key.public_key
        if not isinstance(public, rsa.RSAPublicKey) or public.key_size < MIN_RSA_BITS:
            return False
    return True
