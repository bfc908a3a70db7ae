"""The request verifier (auth.verifier): credentials -> token -> scheme binding -> proof."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from auth._errors import (
    Check,
    InvalidDpopProof,
    InvalidRequest,
    InvalidToken,
    ServiceUnavailable,
    UseDpopNonce,
)
from auth._jwks import JwksCache
from auth._jws import Key
from auth._replay import MemoryReplayStore
from auth._verifier import Authenticator, TokenVerifier
from auth.testing import DpopKey, TestIssuer
from tests.auth.fakes import API_URL, FakeClock, http_request, settings_for
from tests.auth.refusals import refused

Mint = Callable[..., str]
Prove = Callable[..., str]


class CountingJwks(JwksCache):
    """The real cache, counting how often a token's key is asked for."""

    lookups = 0

    async def key_for(self, kid: str | None, alg: str) -> Key:
        self.lookups += 1
        return await super().key_for(kid, alg)


def _bearer(token: str, **kwargs: Any) -> Any:
    return http_request(authorization=[f"Bearer {token}"], **kwargs)


def _dpop(token: str, proof: str | None, **kwargs: Any) -> Any:
    return http_request(
        authorization=[f"DPoP {token}"], proofs=[] if proof is None else [proof], **kwargs
    )


def test_the_verifier_is_an_authenticator(verifier: TokenVerifier) -> None:
    assert isinstance(verifier, TokenVerifier)
    authenticator: Authenticator = verifier
    assert authenticator.mode.value == "verify"


def test_an_issuer_and_an_audience_are_required(jwks: JwksCache, issuer: TestIssuer) -> None:
    with pytest.raises(ValueError, match="issuer and an audience"):
        TokenVerifier(settings_for(issuer, audience=None), keys=jwks, replay=MemoryReplayStore())


async def test_a_bearer_token_authenticates(verifier: TokenVerifier, mint: Mint) -> None:
    principal = await verifier.authenticate(_bearer(mint("alice")))
    assert principal.subject == "alice"
    assert principal.roles == {"todo-user"}
    assert not principal.dpop_bound


async def test_a_dpop_bound_token_with_its_proof_authenticates(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    principal = await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token)))
    assert principal.dpop_jkt == dpop_key.jkt


async def test_a_verified_token_is_not_verified_again(
    issuer: TestIssuer, http_client: Any, clock: FakeClock, mint: Mint
) -> None:
    keys = CountingJwks(
        client=http_client, issuer=issuer.issuer, discovery_uri=issuer.discovery_uri, clock=clock
    )
    verifier = TokenVerifier(
        settings_for(issuer), keys=keys, replay=MemoryReplayStore(), clock=clock
    )
    token = mint()
    for _ in range(5):
        await verifier.authenticate(_bearer(token))
    assert keys.lookups == 1
    await verifier.aclose()


async def test_a_cached_token_expires_with_the_token(
    verifier: TokenVerifier, mint: Mint, clock: FakeClock
) -> None:
    token = mint(exp=int(clock.now) + 60)
    await verifier.authenticate(_bearer(token))
    clock.advance(60 + 29)  # within the 30-second leeway
    await verifier.authenticate(_bearer(token))
    clock.advance(1)
    with refused(Check.EXP, InvalidToken):
        await verifier.authenticate(_bearer(token))


async def test_a_cached_token_whose_key_left_the_issuers_keys_is_refused(
    verifier: TokenVerifier, jwks: JwksCache, issuer: TestIssuer, mint: Mint
) -> None:
    token = mint()
    await verifier.authenticate(_bearer(token))
    old_kid = issuer.current_kid["RS256"]
    issuer.add_key("RS256")
    issuer.remove_key(old_kid)
    await jwks.refresh()
    with refused(Check.KID, InvalidToken):
        await verifier.authenticate(_bearer(token))


async def test_the_proof_is_checked_on_every_request_even_for_a_cached_token(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(dpop_key=dpop_key)
    proof = prove(dpop_key, access_token=token)
    await verifier.authenticate(_dpop(token, proof))
    with refused(Check.DPOP_REPLAY, InvalidDpopProof):
        await verifier.authenticate(_dpop(token, proof))
    await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token)))


async def test_errors_are_reported_in_the_scheme_the_client_used(
    verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    token = mint(aud="another-api", dpop_key=dpop_key)
    with refused(Check.AUD, InvalidToken) as caught:
        await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token)))
    assert caught.value.scheme == "DPoP"
    with refused(Check.AUD, InvalidToken) as caught:
        await verifier.authenticate(_bearer(mint(aud="another-api")))
    assert caught.value.scheme == "Bearer"


async def test_keys_unavailable_is_service_unavailable(
    verifier: TokenVerifier, issuer: TestIssuer, mint: Mint
) -> None:
    issuer.available = False
    with refused(Check.KEYS_UNAVAILABLE, ServiceUnavailable):
        await verifier.authenticate(_bearer(mint()))
    assert not verifier.is_ready()


async def test_start_loads_the_keys_and_status_reports_them(
    verifier: TokenVerifier, issuer: TestIssuer
) -> None:
    assert not verifier.is_ready()
    await verifier.start()
    assert verifier.is_ready()
    status = verifier.status()
    assert status["mode"] == "verify"
    assert status["issuer"] == issuer.issuer
    assert status["keys_loaded"] is True
    await verifier.aclose()


async def test_a_non_ascii_token_is_refused_not_a_crash(verifier: TokenVerifier) -> None:
    with refused(Check.FORMAT, InvalidToken):
        await verifier.authenticate_token("eyJ\u00e9.a.b")


async def test_the_public_url_sets_the_expected_htu(
    make_verifier: Callable[..., TokenVerifier], mint: Mint, prove: Prove, dpop_key: DpopKey
) -> None:
    verifier = make_verifier(public_url="https://public.example")
    token = mint(dpop_key=dpop_key)
    internal = {"url": "http://10.0.0.3:8000/todos"}
    proof = prove(dpop_key, url="https://public.example/todos", access_token=token)
    await verifier.authenticate(_dpop(token, proof, **internal))
    proof = prove(dpop_key, url="http://10.0.0.3:8000/todos", access_token=token)
    with refused(Check.DPOP_HTU, InvalidDpopProof):
        await verifier.authenticate(_dpop(token, proof, **internal))


class TestNonces:
    @pytest.fixture
    def verifier(self, make_verifier: Callable[..., TokenVerifier]) -> TokenVerifier:
        return make_verifier(dpop_nonce=True, dpop_nonce_secret="nonce-secret")

    async def test_responses_carry_a_fresh_nonce(self, verifier: TokenVerifier) -> None:
        [(name, value)] = verifier.response_headers()
        assert name == "DPoP-Nonce"
        assert value

    async def test_a_proof_without_the_nonce_is_asked_for_one(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        with refused(Check.DPOP_NONCE, UseDpopNonce) as caught:
            await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token)))
        assert isinstance(caught.value, UseDpopNonce)
        proof = prove(dpop_key, access_token=token, nonce=caught.value.nonce)
        await verifier.authenticate(_dpop(token, proof))

    async def test_a_nonce_goes_stale_on_the_verifiers_clock(
        self,
        verifier: TokenVerifier,
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        clock: FakeClock,
    ) -> None:
        [(_, nonce)] = verifier.response_headers()
        clock.advance(2 * 300)
        token = mint(dpop_key=dpop_key)
        with refused(Check.DPOP_NONCE, UseDpopNonce):
            await verifier.authenticate(
                _dpop(token, prove(dpop_key, access_token=token, nonce=nonce))
            )

    async def test_without_nonces_no_header_is_added(
        self, make_verifier: Callable[..., TokenVerifier]
    ) -> None:
        assert make_verifier().response_headers() == []


class TestVerifyProof:
    """Application-level proofs (a WebSocket's first message) go through the same checks."""

    async def test_a_proof_for_the_upgrade_request_is_accepted_once(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        principal = await verifier.authenticate_token(token)
        upgrade = http_request(url="https://api.example/live")
        proof = prove(dpop_key, url="https://api.example/live", access_token=token)
        await verifier.verify_proof(principal, token=token, proof=proof, request=upgrade)
        with refused(Check.DPOP_REPLAY, InvalidDpopProof):
            await verifier.verify_proof(principal, token=token, proof=proof, request=upgrade)

    async def test_a_proof_for_another_url_is_refused(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        principal = await verifier.authenticate_token(token)
        proof = prove(dpop_key, url=API_URL, access_token=token)
        with refused(Check.DPOP_HTU, InvalidDpopProof):
            await verifier.verify_proof(
                principal,
                token=token,
                proof=proof,
                request=http_request(url="https://api.example/live"),
            )

    @pytest.mark.parametrize("public_url", [None, "https://api.example"])
    async def test_a_host_that_names_another_url_is_an_invalid_request(
        self,
        make_verifier: Callable[..., TokenVerifier],
        mint: Mint,
        prove: Prove,
        dpop_key: DpopKey,
        public_url: str | None,
    ) -> None:
        # RFC 9449 §4.3 step 9 for the WebSocket's auth.dpop proof: a GET proof made for
        # /todos must not open a socket at /live through "Host: api.example/todos?".
        verifier = make_verifier(public_url=public_url)
        token = mint(dpop_key=dpop_key)
        principal = await verifier.authenticate_token(token)
        proof = prove(dpop_key, url=API_URL, access_token=token)
        upgrade = http_request(
            url="https://api.example/live", headers=[("host", "api.example/todos?")]
        )
        with refused(Check.HOST, InvalidRequest) as caught:
            await verifier.verify_proof(principal, token=token, proof=proof, request=upgrade)
        assert caught.value.scheme == "DPoP"

    async def test_an_unbound_principal_has_no_proof_to_check(
        self, verifier: TokenVerifier, mint: Mint, prove: Prove, dpop_key: DpopKey
    ) -> None:
        token = mint()
        principal = await verifier.authenticate_token(token)
        with refused(Check.SCHEME_BINDING, InvalidToken):
            await verifier.verify_proof(
                principal,
                token=token,
                proof=prove(dpop_key, access_token=token),
                request=http_request(),
            )


async def test_dpop_required_refuses_a_valid_bearer_token(
    make_verifier: Callable[..., TokenVerifier],
    mint: Mint,
    prove: Prove,
    dpop_key: DpopKey,
) -> None:
    verifier = make_verifier(dpop_required=True)
    with pytest.raises(InvalidToken) as caught:
        await verifier.authenticate(_bearer(mint()))
    assert (caught.value.check, caught.value.scheme) == (Check.SCHEME_BINDING, "Bearer")
    with pytest.raises(InvalidToken):
        await verifier.authenticate_token(mint())  # a WebSocket's token alike
    token = mint(dpop_key=dpop_key)
    await verifier.authenticate(_dpop(token, prove(dpop_key, access_token=token)))


async def test_auth0_namespaced_role_claims_are_read_by_their_name(
    make_verifier: Callable[..., TokenVerifier], mint: Mint
) -> None:
    # OIDC_ROLE_CLAIMS=https://example.com/roles used to be read as a (broken) JSON
    # Pointer and silently yield no roles.
    verifier = make_verifier(role_claims="https://example.com/roles realm_access.roles")
    token = mint(**{"https://example.com/roles": ["editor"]})
    principal = await verifier.authenticate(_bearer(token))
    assert principal.roles == {"editor", "todo-user"}


async def test_scopes_may_be_read_from_a_nested_claim(
    make_verifier: Callable[..., TokenVerifier], mint: Mint
) -> None:
    verifier = make_verifier(scope_claims="scope ext.permissions")
    token = mint(ext={"permissions": ["todo:write"]})
    principal = await verifier.authenticate(_bearer(token))
    assert principal.scopes == {"openid", "profile", "email", "todo:write"}


@pytest.mark.parametrize("value", [None, 3, [1], {"a": "b"}])
async def test_a_malformed_nested_scope_claim_is_refused(
    make_verifier: Callable[..., TokenVerifier], mint: Mint, value: object
) -> None:
    verifier = make_verifier(scope_claims="scope ext.permissions")
    with refused(Check.SCOPE, InvalidToken):
        await verifier.authenticate(_bearer(mint(ext={"permissions": value})))
