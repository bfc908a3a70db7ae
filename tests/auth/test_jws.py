"""Strict compact-JWS parsing and signature checks (auth.jws), and the facts about
joserfc that justify the parser."""

from __future__ import annotations

import base64
import functools
import itertools
import json
import math
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey
from joserfc.jws import JWSRegistry

from auth._jws import (
    KEY_REQUIREMENTS,
    SUPPORTED_ALGORITHMS,
    CompactJws,
    Defect,
    Key,
    b64url_decode,
    b64url_encode,
    json_object,
    parse_compact,
    signature_is_valid,
)
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.refusals import malformed


def _reference_decode(segment: str) -> bytes | None:
    """Unpadded base64url by its definition (RFC 4648 §5), None where it is not."""
    if len(segment) % 4 == 1 or not re.fullmatch(r"[A-Za-z0-9_-]*", segment):
        return None
    raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    return raw if b64url_encode(raw) == segment else None


class TestBase64url:
    def test_round_trip(self) -> None:
        for raw in (b"", b"\x00", b"ab", b"abc", b"\xff\xfe\xfd\xfc"):
            assert b64url_decode(b64url_encode(raw)) == raw

    @pytest.mark.parametrize(
        "segment",
        ["YQ==", "YQ=", "a+b/", "ab cd", "ab\ncd", "abcde", "ab.c", "\u00e9"],
        ids=[
            "padding",
            "short-padding",
            "plus-slash",
            "space",
            "newline",
            "length-1-mod-4",
            "dot",
            "non-ascii",
        ],
    )
    def test_foreign_characters_and_padding_are_refused(self, segment: str) -> None:
        with malformed(Defect.BASE64URL):
            b64url_decode(segment)

    def test_what_is_accepted_is_exactly_canonical_unpadded_base64url(self) -> None:
        # Every string of up to 4 characters over an alphabet with the awkward ones,
        # held to the definition: only [A-Za-z0-9_-], no length 4n+1, zero unused bits.
        alphabet = "AQB_-z+/= \n.\u00e9"
        for length in range(5):
            for chars in itertools.product(alphabet, repeat=length):
                segment = "".join(chars)
                expected = _reference_decode(segment)
                if expected is None:
                    with malformed(Defect.BASE64URL):
                        b64url_decode(segment)
                else:
                    assert b64url_decode(segment) == expected, segment

    def test_non_canonical_last_character_is_refused(self) -> None:
        # "YQ" is b"a"; "YR" decodes to the same byte with an unused low bit set.
        assert b64url_decode("YQ") == b"a"
        assert base64.urlsafe_b64decode("YR==") == b"a"
        with malformed(Defect.BASE64URL):
            b64url_decode("YR")


class TestJsonObject:
    def test_parses_an_object(self) -> None:
        assert json_object(b'{"a": 1, "b": [true, null]}') == {"a": 1, "b": [True, None]}

    @pytest.mark.parametrize(
        "raw",
        [b'{"a": 1, "a": 2}', b'{"o": {"x": 1, "x": 1}}'],
        ids=["top-level", "nested"],
    )
    def test_duplicate_members_are_refused(self, raw: bytes) -> None:
        with malformed(Defect.DUPLICATE_MEMBER):
            json_object(raw)

    @pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
    def test_non_json_constants_are_refused(self, constant: bytes) -> None:
        with malformed(Defect.JSON):
            json_object(b'{"exp": ' + constant + b"}")

    @pytest.mark.parametrize(
        "raw", [b"[1, 2]", b'"text"', b"42", b"null"], ids=["array", "string", "number", "null"]
    )
    def test_non_objects_are_refused(self, raw: bytes) -> None:
        with malformed(Defect.JSON):
            json_object(raw)

    @pytest.mark.parametrize(
        "raw",
        [b"\xff\xfe{}", b'{"a": ', b"", b'{"n": ' + b"9" * 5000 + b"}"],
        ids=["not-utf8", "truncated", "empty", "int-beyond-digit-limit"],
    )
    def test_invalid_json_is_malformed(self, raw: bytes) -> None:
        with malformed(Defect.JSON):
            json_object(raw)

    def test_deep_nesting_is_malformed_not_a_crash(self) -> None:
        # A 16 KiB token can nest thousands of arrays: the parser's recursion limit must
        # read as a malformed token (401), never escape as RecursionError (500).
        with malformed(Defect.JSON):
            json_object(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")

    def test_nesting_is_bounded_at_32_whatever_the_interpreter(
        self, parser_as_deep_as_python_313: None
    ) -> None:
        # Python 3.13 parses 5,000 nested arrays: the bound is explicit, not the
        # parser's recursion limit.
        with malformed(Defect.JSON):
            json_object(b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}")
        with malformed(Defect.JSON):
            json_object(b'{"a": ' + b"[" * 32 + b"]" * 32 + b"}")  # 33 levels
        assert json_object(b'{"a": ' + b"[" * 31 + b"]" * 31 + b"}")  # 32 levels

    @pytest.mark.parametrize("escape", [rb"\ud800", rb"\udfff", rb"x\ud83dy"])
    def test_lone_surrogates_are_refused(self, escape: bytes) -> None:
        # RFC 8725 §3.7 (UTF-8 only) and RFC 7493 §2.1: a string with an unpaired
        # surrogate cannot be encoded as UTF-8 and breaks whatever hashes or stores it.
        with malformed(Defect.JSON):
            json_object(b'{"jti": "' + escape + b'"}')

    def test_escaped_surrogate_pairs_are_characters(self) -> None:
        assert json_object(rb'{"name": "\ud83d\ude00"}') == {"name": "\U0001f600"}


class TestParseCompact:
    def test_parses_header_payload_and_signature(self) -> None:
        value = ".".join([b64url_encode(b'{"alg":"ES256"}'), b64url_encode(b'{"sub":"a"}'), "c2ln"])
        jws = parse_compact(value, max_length=1000)
        assert jws.header == {"alg": "ES256"}
        assert jws.payload == {"sub": "a"}
        assert jws.signature == b"sig"
        assert jws.signing_input == value.rsplit(".", 1)[0].encode()

    def test_length_cap_applies_before_anything_else(self) -> None:
        with malformed(Defect.SIZE):
            parse_compact("!" * 11, max_length=10)

    @pytest.mark.parametrize("value", ["a.b", "a.b.c.d", "a.b.c.d.e", "abc"])
    def test_anything_but_three_segments_is_refused(self, value: str) -> None:
        with malformed(Defect.FORMAT):
            parse_compact(value, max_length=1000)

    def test_non_ascii_is_refused(self) -> None:
        with malformed(Defect.FORMAT):
            parse_compact("e\u00e9.a.b", max_length=1000)

    def test_empty_signature_is_refused(self) -> None:
        value = f"{b64url_encode(b'{}')}.{b64url_encode(b'{}')}."
        with malformed(Defect.FORMAT):
            parse_compact(value, max_length=1000)


class TestSignatureIsValid:
    def test_valid_and_tampered_signatures(self, issuer_template: TestIssuer) -> None:
        token = issuer_template.token()
        kid = issuer_template.current_kid["RS256"]
        _, key = issuer_template.keys[kid]
        jws = parse_compact(token, max_length=16_384)
        assert signature_is_valid(jws, "RS256", key)
        tampered = parse_compact(
            token.rsplit(".", 1)[0] + "." + b64url_encode(b"\x00" * 256), max_length=16_384
        )
        assert not signature_is_valid(tampered, "RS256", key)

    def test_never_raises_on_garbage(self, issuer_template: TestIssuer) -> None:
        _, key = issuer_template.keys[issuer_template.current_kid["ES256"]]
        header = {"alg": "ES256"}
        for signature in (b"\x01", b"\x00" * 64, b"\xff" * 200):
            token = sign_compact(header, {}, key, "ES256").rsplit(".", 1)[0]
            jws = parse_compact(f"{token}.{b64url_encode(signature)}", max_length=1000)
            assert not signature_is_valid(jws, "ES256", key)
        # A key of the wrong type for the algorithm reads as invalid, not as a crash.
        jws = parse_compact(sign_compact(header, {}, key, "ES256"), max_length=1000)
        _, rsa_key = issuer_template.keys[issuer_template.current_kid["RS256"]]
        assert not signature_is_valid(jws, "ES256", rsa_key)

    def test_signature_input_is_the_encoded_segments(self) -> None:
        key = DpopKey("ES256")
        token = sign_compact(b'{"alg":"ES256"}', json.dumps({"a": 1}).encode(), key.key, "ES256")
        jws = parse_compact(token, max_length=1000)
        assert signature_is_valid(jws, "ES256", key.key)


@functools.cache
def _key_for(alg: str, number: int = 0) -> Key:
    """A private key fit for ``alg`` (``number`` tells two apart); made once per run."""
    kty, curves = KEY_REQUIREMENTS[alg]
    if kty == "RSA":
        return RSAKey.generate_key(2048)
    curve = sorted(curves or ())[0]
    return ECKey.generate_key(curve) if kty == "EC" else OKPKey.generate_key(curve)  # type: ignore[arg-type]


def _joserfc_verdict(jws_value: CompactJws, alg: str, key: Key) -> bool:
    try:
        return bool(
            JWSRegistry.algorithms[alg].verify(jws_value.signing_input, jws_value.signature, key)
        )
    except Exception:  # joserfc raises for a key of another type: that is a refusal
        return False


@pytest.mark.parametrize("alg", SUPPORTED_ALGORITHMS)
def test_every_verdict_is_the_one_joserfc_gives(alg: str) -> None:
    """Signatures are checked with cryptography directly; on every supported algorithm,
    valid, altered, truncated, extended, re-encoded and foreign signatures get the
    verdict joserfc's own implementation gives them."""
    key, other = _key_for(alg), _key_for(alg, 1)
    header, payload = b64url_encode(b'{"alg":"%s"}' % alg.encode()), b64url_encode(b"{}")
    message = f"{header}.{payload}".encode()
    signature = JWSRegistry.algorithms[alg].sign(message, key)
    half = len(signature) // 2
    candidates = [
        signature,
        signature[:-1],
        signature + b"\x00",
        signature[half:] + signature[:half],  # R and S swapped, for ECDSA
        b"\x00" * len(signature),
        *(
            signature[:i] + bytes([signature[i] ^ 1]) + signature[i + 1 :]
            for i in (0, half, len(signature) - 1)
        ),
    ]
    if alg.startswith("ES"):
        r = int.from_bytes(signature[:half], "big")
        s = int.from_bytes(signature[half:], "big")
        candidates.append(encode_dss_signature(r, s))  # DER, as X.509 writes it
    verdicts = []
    for candidate in candidates:
        compact = f"{header}.{payload}.{b64url_encode(candidate)}"
        parsed = parse_compact(compact, max_length=10_000)
        for verifier in (key, other, _key_for("RS256", 2), _key_for("ES256", 2)):
            public = type(verifier).import_key(verifier.as_dict(private=False))
            ours = signature_is_valid(parsed, alg, public)
            assert ours == _joserfc_verdict(parsed, alg, public), (alg, candidate, verifier)
            verdicts.append(ours)
    assert verdicts[0]  # the genuine signature, with its own key
    assert verdicts.count(True) == 1


class TestJoserfcCanary:
    """Why ``parse_compact`` exists: the facts about the locked joserfc it relies on.
    When one of these fails after an upgrade, revisit auth/_jws.py's own parser (and its
    module docstring), rather than adjusting the test."""

    @staticmethod
    def _token(header: bytes, payload: bytes) -> tuple[str, Any]:
        key = ECKey.generate_key("P-256")
        return sign_compact(header, payload, key, "ES256"), key

    def test_joserfc_still_accepts_duplicate_members_keeping_the_last(self) -> None:
        token, key = self._token(
            b'{"alg":"ES256","typ":"at+jwt","typ":"JWT"}', b'{"sub":"alice","sub":"admin"}'
        )
        decoded = jwt.decode(token, key, algorithms=["ES256"])
        assert decoded.header["typ"] == "JWT"
        assert decoded.claims["sub"] == "admin"
        with malformed(Defect.DUPLICATE_MEMBER):
            parse_compact(token, max_length=1000)

    def test_joserfc_still_accepts_nan(self) -> None:
        token, key = self._token(b'{"alg":"ES256"}', b'{"exp":NaN,"nbf":-Infinity}')
        claims = jwt.decode(token, key, algorithms=["ES256"]).claims
        assert math.isnan(claims["exp"])
        assert claims["nbf"] == -math.inf
        with malformed(Defect.JSON):
            parse_compact(token, max_length=1000)

    def test_joserfc_refuses_non_canonical_base64url_and_its_header_cap_is_a_setting(
        self,
    ) -> None:
        # The reasons this module no longer gives: true of joserfc 1.8.
        token, key = self._token(b'{"alg":"ES256"}', b"{}")
        signing_input, signature = token.rsplit(".", 1)
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        tweaked = signature[:-1] + alphabet[alphabet.index(signature[-1]) | 1]
        with pytest.raises(JoseError):
            jws.deserialize_compact(f"{signing_input}.{tweaked}", key, algorithms=["ES256"])
        assert JWSRegistry().max_header_length == 512
        registry = JWSRegistry()
        registry.max_header_length = 8192
        assert registry.max_header_length == 8192
