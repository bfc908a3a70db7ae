"""RFC 9068 §4 access-token validation, step by step (auth._access_token, run in order
by auth._token_steps)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from auth._access_token import (
    MAX_NUMERIC_DATE,
    AccessTokenPolicy,
    check_audience,
    check_required_claims,
    check_time_claims,
    confirmation_thumbprint,
    numeric_date,
)
from auth._errors import Check, InvalidToken, ServiceUnavailable
from auth._jws import SUPPORTED_ALGORITHMS, Key
from auth._token_steps import verify_access_token
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.fakes import T0
from tests.auth.refusals import refused

NOW = T0


class RecordingKeys:
    """A key resolver over the test issuer's keys that records every lookup."""

    def __init__(self, issuer: TestIssuer) -> None:
        self.issuer = issuer
        self.lookups: list[tuple[str | None, str]] = []

    async def key_for(self, kid: str | None, alg: str) -> Key:
        self.lookups.append((kid, alg))
        if kid not in self.issuer.keys:
            raise InvalidToken("the token's key id is not published by the issuer", check=Check.KID)
        return self.issuer.keys[kid][1]


class UnavailableKeys:
    async def key_for(self, kid: str | None, alg: str) -> Key:
        raise ServiceUnavailable("down", check=Check.KEYS_UNAVAILABLE)


@pytest.fixture
def keys(issuer_template: TestIssuer) -> RecordingKeys:
    return RecordingKeys(issuer_template)


@pytest.fixture
def policy(issuer_template: TestIssuer) -> AccessTokenPolicy:
    return AccessTokenPolicy(
        issuer=issuer_template.issuer,
        audiences=(issuer_template.audience,),
        algorithms=frozenset(SUPPORTED_ALGORITHMS),
        leeway=30,
    )


def _token(issuer: TestIssuer, *, header: dict[str, Any] | None = None, **claims: Any) -> str:
    timing = {"iat": int(NOW), "exp": int(NOW) + 300}
    return issuer.token(header=header, **(timing | claims))


async def _verify(token: str, policy: AccessTokenPolicy, keys: Any, now: float = NOW) -> Any:
    return await verify_access_token(token, policy=policy, keys=keys, now=now)


async def test_a_valid_token_yields_its_claims(
    issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
) -> None:
    verified = await _verify(_token(issuer_template), policy, keys)
    assert verified.claims["sub"] == "alice"
    assert verified.kid == issuer_template.current_kid["RS256"]
    assert verified.expires_at == NOW + 300
    assert verified.jkt is None
    assert keys.lookups == [(verified.kid, "RS256")]


async def test_an_es256_token_verifies_with_its_key(
    issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
) -> None:
    token = issuer_template.token(alg="ES256", iat=int(NOW), exp=int(NOW) + 60)
    assert (await _verify(token, policy, keys)).claims["sub"] == "alice"


async def test_a_dpop_bound_token_carries_its_thumbprint(
    issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
) -> None:
    holder = DpopKey()
    token = issuer_template.token(dpop_key=holder, iat=int(NOW), exp=int(NOW) + 60)
    assert (await _verify(token, policy, keys)).jkt == holder.jkt


class TestAudience:
    @pytest.mark.parametrize("aud", ["todo-api", ["account", "todo-api"], ["todo-api"]])
    def test_our_audience_alone_or_in_an_array_is_accepted(self, aud: object) -> None:
        check_audience({"aud": aud}, ("todo-api",))

    @pytest.mark.parametrize("aud", ["account", ["account", "other"], "todo-api-2", "TODO-API"])
    def test_another_audience_is_refused(self, aud: object) -> None:
        with refused(Check.AUD, InvalidToken):
            check_audience({"aud": aud}, ("todo-api",))

    @pytest.mark.parametrize("aud", [None, [], ["todo-api", 1], 1, {"todo-api": True}])
    def test_a_malformed_audience_is_refused(self, aud: object) -> None:
        with refused(Check.AUD, InvalidToken):
            check_audience({} if aud is None else {"aud": aud}, ("todo-api",))


class TestTimeClaims:
    @pytest.mark.parametrize(
        "value",
        [
            True,
            False,
            "1750000000",
            float("nan"),
            float("inf"),
            -1,
            MAX_NUMERIC_DATE + 1,
            10**30,
            10**400,
            [1],
            {"t": 1},
        ],
        ids=[
            "true",
            "false",
            "string",
            "nan",
            "inf",
            "negative",
            "year-10000",
            "huge-int",
            "int-beyond-float",
            "array",
            "object",
        ],
    )
    def test_a_numeric_date_must_be_a_finite_number_in_range(self, value: object) -> None:
        with refused(Check.EXP, InvalidToken):
            numeric_date({"exp": value}, "exp")

    def test_fractional_numeric_dates_are_accepted(self) -> None:
        assert numeric_date({"exp": 1.5}, "exp") == 1.5
        assert numeric_date({}, "exp") is None

    @pytest.mark.parametrize("missing", [Check.EXP, Check.IAT])
    def test_exp_and_iat_are_required(self, missing: Check) -> None:
        claims = {"exp": NOW + 60, "iat": NOW}
        del claims[missing]
        with refused(missing, InvalidToken):
            check_time_claims(claims, now=NOW, leeway=30)

    def test_an_expired_token_is_accepted_within_the_leeway_only(self) -> None:
        claims = {"exp": NOW - 29, "iat": NOW - 300}
        assert check_time_claims(claims, now=NOW, leeway=30) == NOW - 29
        with refused(Check.EXP, InvalidToken):
            check_time_claims({**claims, "exp": NOW - 30}, now=NOW, leeway=30)
        with refused(Check.EXP, InvalidToken):
            check_time_claims(claims, now=NOW, leeway=0)

    def test_nbf_in_the_future_beyond_the_leeway_is_refused(self) -> None:
        claims = {"exp": NOW + 300, "iat": NOW, "nbf": NOW + 30}
        check_time_claims(claims, now=NOW, leeway=30)
        with refused(Check.NBF, InvalidToken):
            check_time_claims({**claims, "nbf": NOW + 31}, now=NOW, leeway=30)

    def test_iat_in_the_future_beyond_the_leeway_is_refused(self) -> None:
        check_time_claims({"exp": NOW + 300, "iat": NOW + 30}, now=NOW, leeway=30)
        with refused(Check.IAT, InvalidToken):
            check_time_claims({"exp": NOW + 300, "iat": NOW + 31}, now=NOW, leeway=30)


STRICT = AccessTokenPolicy(issuer="i", audiences=("a",), algorithms=frozenset({"RS256"}))


class TestRequiredClaims:
    BASE: dict[str, Any] = {"sub": "alice", "jti": "j-1", "client_id": "spa"}  # noqa: RUF012

    def test_azp_stands_in_for_client_id(self) -> None:
        check_required_claims({"sub": "alice", "jti": "j-1", "azp": "spa"}, STRICT)

    @pytest.mark.parametrize("alias", ["cid", "appid"])
    def test_other_aliases_count_only_where_the_policy_names_them(self, alias: str) -> None:
        claims = {"sub": "alice", "jti": "j-1", alias: "spa"}
        with refused(Check.CLIENT_ID, InvalidToken):
            check_required_claims(claims, STRICT)
        relaxed = replace(STRICT, client_id_claims=("client_id", alias))
        check_required_claims(claims, relaxed)

    def test_jti_and_client_id_may_be_absent_where_the_policy_says_so(self) -> None:
        relaxed = replace(STRICT, required_claims=frozenset())
        check_required_claims({"sub": "alice"}, relaxed)
        # ...but when present they must still be well formed.
        with refused(Check.JTI, InvalidToken):
            check_required_claims({"sub": "alice", "jti": 7}, relaxed)
        with refused(Check.CLIENT_ID, InvalidToken):
            check_required_claims({"sub": "alice", "azp": ""}, relaxed)

    @pytest.mark.parametrize("scp", ["a b", ["a", "b"], []])
    def test_scp_is_a_string_or_a_list_of_strings(self, scp: object) -> None:
        policy = replace(STRICT, scope_claims=("scope", "scp"))
        check_required_claims({**self.BASE, "scp": scp}, policy)

    @pytest.mark.parametrize("scp", [7, [1], [""], {"a": 1}, None])
    def test_a_malformed_scp_is_refused(self, scp: object) -> None:
        policy = replace(STRICT, scope_claims=("scope", "scp"))
        with refused(Check.SCOPE, InvalidToken):
            check_required_claims({**self.BASE, "scp": scp}, policy)

    @pytest.mark.parametrize("name", [Check.SUB, Check.JTI, Check.CLIENT_ID])
    @pytest.mark.parametrize("value", [None, "", 42, "x" * 1025, ["alice"]])
    def test_sub_jti_and_client_id_are_non_empty_strings(self, name: Check, value: object) -> None:
        claims = {**self.BASE, name: value}
        if value is None:
            del claims[name]
        with refused(name, InvalidToken):
            check_required_claims(claims, STRICT)

    @pytest.mark.parametrize("subject", ["x" * 256, "ali\x00ce", "ali\nce", "\u200b" * 3])
    def test_sub_is_printable_and_at_most_255_characters(self, subject: str) -> None:
        # OpenID Connect Core §2: sub "MUST NOT exceed 255 ASCII characters".
        check_required_claims({**self.BASE, "sub": "x" * 255}, STRICT)
        with refused(Check.SUB, InvalidToken):
            check_required_claims({**self.BASE, "sub": subject}, STRICT)

    def test_scope_must_be_a_string(self) -> None:
        check_required_claims({**self.BASE, "scope": "openid todo"}, STRICT)
        with refused(Check.SCOPE, InvalidToken):
            check_required_claims({**self.BASE, "scope": ["openid"]}, STRICT)


class TestConfirmation:
    def test_an_unbound_token_has_no_thumbprint(self) -> None:
        assert confirmation_thumbprint({}) is None

    def test_unregistered_cnf_members_are_ignored(self) -> None:
        # Keycloak 26 sends {"jkt": ..., "kc-jkt-type": "DPoP"}.
        jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        assert confirmation_thumbprint({"cnf": {"jkt": jkt, "kc-jkt-type": "DPoP"}}) == jkt

    def test_a_jkt_is_returned(self) -> None:
        jkt = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"  # RFC 9449 §6.1, Figure 9
        assert confirmation_thumbprint({"cnf": {"jkt": jkt}}) == jkt

    @pytest.mark.parametrize(
        "cnf",
        [
            {"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"},
            {},
            {"jwk": {"kty": "EC"}},
            {
                "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
                "x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2",
            },
            "jkt",
            ["jkt"],
        ],
        ids=["mtls", "empty", "jwk", "jkt-and-mtls", "string", "array"],
    )
    def test_other_confirmation_methods_are_refused(self, cnf: object) -> None:
        # RFC 7800 / RFC 8705 bindings cannot be checked here; accepting them would
        # turn a sender-constrained token into a bearer one.
        with refused(Check.CNF, InvalidToken):
            confirmation_thumbprint({"cnf": cnf})

    @pytest.mark.parametrize(
        "jkt", ["", "short", "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I=", 5]
    )
    def test_a_malformed_jkt_is_refused(self, jkt: object) -> None:
        with refused(Check.CNF, InvalidToken):
            confirmation_thumbprint({"cnf": {"jkt": jkt}})


class TestOrderOfChecks:
    async def test_the_key_is_not_looked_up_for_a_disallowed_algorithm(
        self, issuer_template: TestIssuer, keys: RecordingKeys
    ) -> None:
        policy = AccessTokenPolicy(
            issuer=issuer_template.issuer, audiences=("todo-api",), algorithms=frozenset({"ES256"})
        )
        with refused(Check.ALG, InvalidToken):
            await _verify(_token(issuer_template), policy, keys)
        assert keys.lookups == []

    @pytest.mark.parametrize(
        ("header", "check"),
        [
            ({"typ": "JWT"}, Check.TYP),
            ({"crit": ["exp"]}, Check.CRIT),
            ({"jku": "https://evil.example/jwks"}, Check.EMBEDDED_KEY),
            ({"kid": 5}, Check.KID),
        ],
        ids=["typ", "crit", "jku", "kid"],
    )
    async def test_header_checks_run_before_the_key_lookup(
        self,
        issuer_template: TestIssuer,
        policy: AccessTokenPolicy,
        keys: RecordingKeys,
        header: dict[str, Any],
        check: Check,
    ) -> None:
        with refused(check, InvalidToken):
            await _verify(_token(issuer_template, header=header), policy, keys)
        assert keys.lookups == []

    async def test_the_signature_is_checked_before_any_claim(
        self, issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
    ) -> None:
        token = _token(issuer_template, aud="another-api", exp=1, jti=None)
        other_signature = _token(issuer_template).rsplit(".", 1)[1]
        forged = token.rsplit(".", 1)[0] + "." + other_signature
        with refused(Check.SIGNATURE, InvalidToken):
            await _verify(forged, policy, keys)

    async def test_an_untrusted_issuer_is_refused_before_the_key_lookup(
        self, issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
    ) -> None:
        # As the verifier does with several issuers: nothing is looked up (or fetched)
        # for a token naming an issuer other than the policy's.
        token = _token(issuer_template, iss="https://evil.example")
        with refused(Check.ISS, InvalidToken):
            await _verify(token, policy, keys)
        assert keys.lookups == []

    async def test_an_unavailable_key_source_is_service_unavailable(
        self, issuer_template: TestIssuer, policy: AccessTokenPolicy
    ) -> None:
        with refused(Check.KEYS_UNAVAILABLE, ServiceUnavailable):
            await _verify(_token(issuer_template), policy, UnavailableKeys())

    async def test_descriptions_never_repeat_token_content(
        self, issuer_template: TestIssuer, policy: AccessTokenPolicy, keys: RecordingKeys
    ) -> None:
        marker = "INJECTED<script>"
        hostile: dict[Check, Any] = {
            Check.ISS: marker,
            Check.AUD: marker,
            Check.SUB: f"{marker}\n",
            Check.EXP: marker,
        }
        for check, value in hostile.items():
            with refused(check, InvalidToken) as caught:
                await _verify(_token(issuer_template, **{check: value}), policy, keys)
            assert marker not in caught.value.description
        _, key = issuer_template.keys[issuer_template.current_kid["RS256"]]
        token = sign_compact({"alg": marker, "typ": "at+jwt"}, {}, key, "RS256")
        with refused(Check.ALG, InvalidToken) as caught:
            await _verify(token, policy, keys)
        assert marker not in caught.value.description
