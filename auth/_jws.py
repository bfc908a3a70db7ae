"""Strict parsing of compact JWS (RFC 7515 §7.1) and signature checks (RFC 7518 §3).

Parsing is written here rather than taken from joserfc because joserfc's parser (1.8)
accepts duplicate JSON members, keeping the last (RFC 7515 §4 and RFC 7519 §4 let a
parser refuse them, and parsers that keep the first would read another token), and
``NaN``/``Infinity``, which are not JSON (RFC 8259 §6). joserfc does refuse
non-canonical base64url, and its 512-byte cap on protected headers (too small for a
DPoP proof carrying an RSA ``jwk``) is a setting, ``JWSRegistry.max_header_length``:
neither is a reason on its own. ``tests/auth/test_jws.py`` has a canary that fails when
joserfc starts refusing duplicates and ``NaN``, so this choice is revisited on upgrade.
The token is parsed once. Keys are joserfc's (``auth._jwk`` imports them, and a joserfc
key keeps its ``cryptography`` public key object, made once per key); a signature is
checked by ``cryptography`` on that object, as joserfc's algorithms do it, without their
per-call key-use lookups and padding objects.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc.jwk import ECKey, OKPKey, RSAKey

from ._json_nesting import json_nesting_exceeds

Key = RSAKey | ECKey | OKPKey

#: Asymmetric JWS algorithms this package can verify, with the key each one needs:
#: (JWK ``kty``, allowed ``crv`` values or ``None`` for RSA). RFC 8725 §3.1-3.2.
KEY_REQUIREMENTS: dict[str, tuple[str, frozenset[str] | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "PS384": ("RSA", None),
    "PS512": ("RSA", None),
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
}
SUPPORTED_ALGORITHMS = tuple(KEY_REQUIREMENTS)

_TO_STANDARD_ALPHABET = bytes.maketrans(b"-_+/=", b"+/!!!")
_B64URL_VALUE = {
    char: index
    for index, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
# Unpadded length mod 4 -> mask of the last character's bits that carry no data.
_UNUSED_BITS = {0: 0, 2: 0b1111, 3: 0b11}
# A JSON escape of a UTF-16 surrogate (high or low); rare, so only then is the value
# checked for unpaired ones.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class Defect(StrEnum):
    """What is wrong with a value ``MalformedJws`` refuses; callers map it to their
    ``auth._errors.Check`` (the same defect is a different check in a token and a proof)."""

    SIZE = "size"  # longer than the caller's cap
    FORMAT = "format"  # not ASCII, not three segments, empty signature
    BASE64URL = "base64url"  # foreign characters, padding, non-canonical encoding
    JSON = "json"  # not strict JSON, or not an object
    DUPLICATE_MEMBER = "duplicate_member"  # a JSON member name given twice
    KEY = "key"  # a JWK of an unsupported type, or with invalid values
    KEY_SIZE = "key_size"  # an RSA modulus or exponent outside the accepted bounds
    KEY_USE = "key_use"  # use other than sig, key_ops without verify or with repeats
    KEY_VULNERABLE = "key_vulnerable"  # a modulus known to be factorable (ROCA)
    PRIVATE_KEY = "private_key"  # a JWK carrying private or symmetric key material


class MalformedJws(ValueError):
    """The value is not a well-formed compact JWS (or JWK); the message says why and
    ``defect`` says it in a stable form."""

    def __init__(self, message: str, defect: Defect) -> None:
        super().__init__(message)
        self.defect = defect


@dataclass(frozen=True, slots=True)
class CompactJws:
    """A parsed, not yet verified, compact JWS whose payload is a JSON object."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def header_segment(self) -> str:
        """The header as it was encoded (the first segment)."""
        return self.signing_input.partition(b".")[0].decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """Decode unpadded base64url, refusing padding, foreign characters and non-canonical
    encodings (RFC 7515 §2; RFC 4648 §3.5 lets a decoder reject non-zero pad bits)."""
    if len(segment) % 4 == 1:
        raise MalformedJws("invalid base64url", Defect.BASE64URL)
    try:
        # The URL-safe alphabet mapped onto the standard one; "+", "/" and "=" onto a
        # character outside it, so that strict decoding refuses them as it refuses any
        # other foreign character (a regular expression over the segment cost as much
        # as the decoding).
        standard = segment.encode("ascii").translate(_TO_STANDARD_ALPHABET)
        raw = binascii.a2b_base64(standard + b"=" * (-len(segment) % 4), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise MalformedJws("invalid base64url", Defect.BASE64URL) from exc
    # Canonical: the bits of the last character that encode no byte must be zero (four
    # of them when the length is 4n+2, two when 4n+3), or several strings decode alike.
    unused_bits = _UNUSED_BITS[len(segment) % 4]
    if unused_bits and _B64URL_VALUE[segment[-1]] & unused_bits:
        raise MalformedJws("non-canonical base64url", Defect.BASE64URL)
    return raw


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise MalformedJws("duplicate JSON member", Defect.DUPLICATE_MEMBER)
    return obj


def _reject_constant(name: str) -> None:
    raise MalformedJws(f"{name} is not JSON", Defect.JSON)


_STRICT_JSON = json.JSONDecoder(
    object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
)


def json_object(raw: bytes) -> dict[str, Any]:
    """Parse strict JSON (RFC 8259, no duplicate members, no NaN, no unpaired surrogate
    escapes per RFC 7493 §2.1, nested at most ``MAX_JSON_NESTING`` deep) that must be an
    object."""
    # A 16 KiB token can nest thousands of arrays: bounded before the parser recurses,
    # the same on every interpreter (auth._json_nesting).
    if json_nesting_exceeds(raw):
        raise MalformedJws("JSON nested too deeply", Defect.JSON)
    try:
        text = raw.decode("utf-8")
        value = _STRICT_JSON.decode(text)
    except MalformedJws:
        raise
    except ValueError as exc:  # UnicodeDecodeError, JSONDecodeError, int digit limit
        raise MalformedJws("invalid JSON", Defect.JSON) from exc
    if _SURROGATE_ESCAPE.search(text):
        # "\ud800" parses to a str that cannot be encoded as UTF-8, which breaks
        # whatever later hashes or stores it. Only a pair may form a character.
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise MalformedJws("unpaired surrogate in JSON string", Defect.JSON) from exc
    if not isinstance(value, dict):
        raise MalformedJws("JSON value is not an object", Defect.JSON)
    return value


def parse_compact(value: str, *, max_length: int) -> CompactJws:
    """Split and decode a compact JWS without verifying it (RFC 7515 §5.2 steps 1-7).

    The length cap is applied before anything else is done with the value, so an
    oversized value costs nothing to refuse. Does not check ``alg``, ``typ`` or the
    signature: callers run those as their own named steps.

    Raises:
        MalformedJws: too long, not three base64url segments, not JSON objects.
    """
    if len(value) > max_length:
        raise MalformedJws(f"longer than {max_length} characters", Defect.SIZE)
    if not value.isascii():
        raise MalformedJws("not ASCII", Defect.FORMAT)
    parts = value.split(".")
    if len(parts) != 3:
        # Five segments would be a JWE; anything else is not a JWS either.
        raise MalformedJws("not a compact JWS (expected three segments)", Defect.FORMAT)
    header_b64, payload_b64, signature_b64 = parts
    header = json_object(b64url_decode(header_b64))
    payload = json_object(b64url_decode(payload_b64))
    signature = b64url_decode(signature_b64)
    if not signature:
        raise MalformedJws("empty signature", Defect.FORMAT)
    return CompactJws(
        header=header,
        payload=payload,
        signing_input=f"{header_b64}.{payload_b64}".encode("ascii"),
        signature=signature,
    )


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256,
    "384": hashes.SHA384,
    "512": hashes.SHA512,
}
_PKCS1 = padding.PKCS1v15()
_EDDSA = frozenset({"EdDSA", "Ed25519", "Ed448"})
# RFC 7518 §3.5: the salt is as long as the hash, and MGF1 uses the same hash.
_PSS = {
    size: padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=hash_type().digest_size)
    for size, hash_type in _HASHES.items()
}


def signature_is_valid(jws: CompactJws, alg: str, key: Key) -> bool:
    """Verify the JWS signature of ``alg`` (RFC 7518 §3.3-3.5, RFC 8037 §3.1, RFC 9864)
    with the key's ``cryptography`` public key; never raises. Whether ``key`` may
    verify ``alg`` at all (type, curve, size, use) is the caller's check
    (``auth._jwk.key_fits_algorithm``; ``import_public_key`` refuses a key not for
    verifying)."""
    signature, message = jws.signature, jws.signing_input
    family, size = alg[:2], alg[2:]
    try:
        public = key.public_key
        if family in ("RS", "PS") and isinstance(public, rsa.RSAPublicKey):
            scheme = _PKCS1 if family == "RS" else _PSS[size]
            public.verify(signature, message, scheme, _HASHES[size]())
        elif family == "ES" and isinstance(public, ec.EllipticCurvePublicKey):
            # RFC 7518 §3.4: R and S as fixed-length big-endian octets, one after the other.
            length = (public.curve.key_size + 7) // 8
            if len(signature) != 2 * length:
                return False
            r = int.from_bytes(signature[:length], "big")
            s = int.from_bytes(signature[length:], "big")
            public.verify(encode_dss_signature(r, s), message, ec.ECDSA(_HASHES[size]()))
        elif alg in _EDDSA and isinstance(public, Ed25519PublicKey | Ed448PublicKey):
            public.verify(signature, message)
        else:
            return False
    except Exception:  # a malformed or wrong signature must read as invalid, not crash
        return False
    return True
