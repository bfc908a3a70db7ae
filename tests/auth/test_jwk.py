"""Importing public JWKs and the rules they must meet (auth.jwk): RFC 7517 §4,
RFC 7518 §6, RFC 8725 §3.1, and the ROCA fingerprint (auth.roca)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc.errors import SecurityWarning
from joserfc.jwk import ECKey, RSAKey

from auth._jwk import import_public_key, key_fits_algorithm
from auth._jws import Defect, b64url_encode
from auth._roca import has_roca_fingerprint
from auth.testing import DpopKey
from tests.auth.refusals import malformed
from tests.auth.vectors import (
    RFC7638_JWK,
    RFC7638_THUMBPRINT,
    ROCA_FAKE_MODULUS,
    ROCA_MODULUS,
)


def _short_rsa_jwk(bits: int) -> dict[str, str | list[str]]:
    short = rsa.generate_private_key(65537, bits)
    numbers = short.public_key().public_numbers()
    return {
        "kty": "RSA",
        "n": b64url_encode(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url_encode(numbers.e.to_bytes(3, "big")),
    }


class TestImportPublicKey:
    def test_rfc7638_example_key_has_the_published_thumbprint(self) -> None:
        # RFC 7638 §3.1: the thumbprint covers only the required members (e, kty, n).
        key = import_public_key(RFC7638_JWK)
        assert key.thumbprint() == RFC7638_THUMBPRINT

    def test_optional_members_do_not_change_the_thumbprint(self) -> None:
        bare = {name: RFC7638_JWK[name] for name in ("kty", "n", "e")}
        assert import_public_key(bare).thumbprint() == RFC7638_THUMBPRINT

    @pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "oth", "k"])
    def test_private_or_symmetric_members_are_refused(self, member: str) -> None:
        with malformed(Defect.PRIVATE_KEY):
            import_public_key({**RFC7638_JWK, member: "AQAB"})

    @pytest.mark.parametrize(
        ("member", "value"),
        [("ext", "false"), ("ext", "true"), ("ext", 0), ("ext", None), ("alg", 1), ("alg", None)],
    )
    def test_a_malformed_ext_or_alg_member_is_refused(self, member: str, value: object) -> None:
        with malformed(Defect.KEY_USE):
            import_public_key({**RFC7638_JWK, member: value})

    @pytest.mark.parametrize("ext", [True, False])
    def test_a_boolean_ext_member_is_accepted(self, ext: bool) -> None:
        assert import_public_key({**RFC7638_JWK, "ext": ext}).thumbprint() == RFC7638_THUMBPRINT

    def test_a_private_ec_key_is_refused(self) -> None:
        private = ECKey.generate_key("P-256").as_dict(private=True)
        with malformed(Defect.PRIVATE_KEY):
            import_public_key(dict(private))

    @pytest.mark.parametrize("kty", ["oct", "XYZ", None, 1])
    def test_unsupported_key_types_are_refused(self, kty: object) -> None:
        with malformed(Defect.KEY):
            import_public_key({"kty": kty})

    def test_rsa_keys_below_2048_bits_are_refused(self) -> None:
        with malformed(Defect.KEY_SIZE):
            import_public_key(_short_rsa_jwk(1024))

    @pytest.mark.parametrize(
        "jwk",
        [
            {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
            {"kty": "EC", "crv": "P-999", "x": "AAAA", "y": "AAAA"},
            {"kty": "RSA", "n": 42, "e": "AQAB"},
            {"kty": "OKP", "crv": "Ed25519"},
        ],
        ids=["point-not-on-curve", "unknown-curve", "modulus-not-string", "missing-x"],
    )
    def test_invalid_key_values_are_refused(self, jwk: dict[str, object]) -> None:
        with malformed(Defect.KEY):
            import_public_key(jwk)


class TestKeyFitsAlgorithm:
    def test_ec_key_fits_only_its_curve(self) -> None:
        key = DpopKey("ES256").key
        public = import_public_key(dict(key.as_dict(private=False)))
        assert key_fits_algorithm(public, "ES256")
        assert not key_fits_algorithm(public, "ES384")
        assert not key_fits_algorithm(public, "RS256")

    def test_rsa_key_fits_rs_and_ps_but_not_ec_or_hmac(self) -> None:
        key = import_public_key({name: RFC7638_JWK[name] for name in ("kty", "n", "e")})
        assert key_fits_algorithm(key, "RS256")
        assert key_fits_algorithm(key, "PS256")
        assert not key_fits_algorithm(key, "ES256")
        assert not key_fits_algorithm(key, "HS256")
        assert not key_fits_algorithm(key, "none")

    def test_a_key_alg_member_pins_the_algorithm(self) -> None:
        # RFC 8725 §3.1: each key is used with exactly one algorithm when it says so.
        key = import_public_key(RFC7638_JWK)
        assert key_fits_algorithm(key, "RS256")
        assert not key_fits_algorithm(key, "PS256")

    def test_a_short_rsa_key_never_fits(self) -> None:
        # Imported around our own guard to show the second check in key_fits_algorithm.
        with pytest.warns(SecurityWarning):
            key = RSAKey.import_key(_short_rsa_jwk(1024))
        assert not key_fits_algorithm(key, "RS256")


class TestRocaFingerprint:
    """CVE-2017-15361: Nemec et al., "The Return of Coppersmith's Attack", CCS 2017."""

    def test_the_detectors_published_vulnerable_modulus_is_flagged(self) -> None:
        assert has_roca_fingerprint(ROCA_MODULUS)

    def test_a_modulus_that_only_passes_the_per_prime_test_is_not_flagged(self) -> None:
        # The detector's own "fake" modulus: every residue is a power of 65537, but no
        # single exponent gives them all; the discrete-logarithm test must see that.
        assert not has_roca_fingerprint(ROCA_FAKE_MODULUS)

    def test_freshly_generated_moduli_are_not_flagged(self) -> None:
        for _ in range(5):
            modulus = rsa.generate_private_key(65537, 2048).public_key().public_numbers().n
            assert not has_roca_fingerprint(modulus)

    def test_a_modulus_built_like_the_vulnerable_library_is_flagged(self) -> None:
        # p = k * M + (65537**a mod M) for the primorial M of the paper's §2.1: any
        # product of two such numbers carries the fingerprint, whatever their size.
        primorial = 1
        for candidate in range(2, 168):
            if all(candidate % divisor for divisor in range(2, candidate)):
                primorial *= candidate
        p = 12345 * primorial + pow(65537, 987, primorial)
        q = 67890 * primorial + pow(65537, 654, primorial)
        assert has_roca_fingerprint(p * q)
        assert not has_roca_fingerprint(p * q + 2)


class TestRsaBounds:
    @staticmethod
    def _jwk(bits: int, exponent: int) -> dict[str, str]:
        modulus = (1 << (bits - 1)) | 1
        return {
            "kty": "RSA",
            "n": b64url_encode(modulus.to_bytes((bits + 7) // 8, "big")),
            "e": b64url_encode(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")),
        }

    @pytest.mark.parametrize(
        ("bits", "exponent"), [(2048, 65537), (4096, 65537), (3072, 2**32 - 1), (2048, 65539)]
    )
    def test_keys_within_the_bounds_are_imported(self, bits: int, exponent: int) -> None:
        assert import_public_key(self._jwk(bits, exponent)).key_type == "RSA"

    @pytest.mark.parametrize(
        ("bits", "exponent"),
        [(2047, 65537), (4097, 65537), (2048, 3), (2048, 65535), (2048, 2**32 + 1)],
    )
    def test_keys_outside_the_bounds_are_refused_before_import(
        self, bits: int, exponent: int
    ) -> None:
        with malformed(Defect.KEY_SIZE):
            import_public_key(self._jwk(bits, exponent))

    def test_a_roca_modulus_is_refused(self) -> None:
        jwk = {"kty": "RSA", "n": b64url_encode(ROCA_MODULUS.to_bytes(256, "big")), "e": "AQAB"}
        with malformed(Defect.KEY_VULNERABLE):
            import_public_key(jwk)
