"""The doctor walks the verifier's own steps (auth._steps, auth._diagnosis): the same
sequence, the same order, and the same refusal as the verifier on every token."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

import httpx
import pytest

from auth._diagnosis import Diagnosis, ProofRequest, Report
from auth._dpop import access_token_hash
from auth._errors import AuthError, Check, InvalidDpopProof, InvalidToken
from auth._fixes import ID_JWT_FIX, OTHER_JWT_FIX
from auth._proof_steps import DPOP_STEPS
from auth._report import render, report_json
from auth._steps import Outcome, Step, run_steps, walk_steps
from auth._token_steps import ACCESS_TOKEN_STEPS
from auth._verifier import TokenVerifier
from auth.testing import DpopKey, TestIssuer, sign_compact
from tests.auth.attacks import (
    bearer_request,
    claims_now,
    dpop_request,
    hmac_token,
    issuer_key,
    raw_json,
    segment,
    sign_raw,
)
from tests.auth.fakes import API_URL, FakeClock, IdpTransport, settings_for
from tests.auth.test_attacks_parsing import HOSTILE_NUMBERS, NOT_JSON

Mint = Callable[..., str]


async def diagnose(
    issuer: TestIssuer,
    clock: FakeClock,
    token: str,
    proof: ProofRequest | None = None,
    **settings: Any,
) -> Report:
    transport = IdpTransport(issuer)
    async with httpx.AsyncClient(transport=transport) as client:
        report = await Diagnosis(settings_for(issuer, **settings), now=clock.now).run(
            token, client, proof=proof
        )
    assert transport.unexpected == []
    return report


async def refusal(verifier: TokenVerifier, request: Any) -> Check | None:
    try:
        await verifier.authenticate(request)
    except AuthError as error:
        return error.check
    return None


class TestOneSequence:
    async def test_the_report_is_the_verifiers_sequence_in_its_order(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint
    ) -> None:
        report = await diagnose(issuer, clock, mint())
        steps = [finding.step for finding in report.findings]
        assert steps == [
            "parse",
            *(step.name for step in ACCESS_TOKEN_STEPS),
            "scheme",
            "principal",
        ]

    async def test_a_proof_adds_the_proof_sequence_in_its_order(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
    ) -> None:
        token = mint(dpop_key=dpop_key)
        proof = dpop_key.proof("GET", API_URL, access_token=token, iat=clock.now)
        report = await diagnose(issuer, clock, token, ProofRequest(proof, "GET", API_URL))
        steps = [finding.step for finding in report.findings]
        tail = ["dpop.parse", *(step.name for step in DPOP_STEPS), "principal"]
        assert steps[-len(tail) :] == tail
        assert report.decided_by is None, render(report)

    async def test_run_steps_stops_at_the_first_failure_and_a_walk_goes_on(self) -> None:
        seen: list[str] = []

        def passes(name: str) -> Step[list[str]]:
            return Step(name, lambda state: state.append(name))

        def fails(state: list[str]) -> None:
            state.append("b")
            raise InvalidToken("no", check=Check.AUD)

        async def waits(state: list[str]) -> None:
            state.append("d")

        steps: tuple[Step[list[str]], ...] = (
            passes("a"),
            Step("b", fails),
            Step("c", lambda state: state.append("c"), needs=("b",)),
            Step("d", waits),
        )
        with pytest.raises(InvalidToken):
            await run_steps(steps, seen)
        assert seen == ["a", "b"]
        seen.clear()
        walked = await walk_steps(steps, seen)
        assert seen == ["a", "b", "d"]
        assert [(w.step.name, w.outcome) for w in walked] == [
            ("a", Outcome.PASS),
            ("b", Outcome.FAIL),
            ("c", Outcome.SKIP),
            ("d", Outcome.PASS),
        ]
        assert walked[2].missing == ("b",)

    async def test_a_walk_reports_every_failure_and_skips_what_needs_a_failed_step(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint
    ) -> None:
        token = mint(header={"crit": ["exp"]}, aud="another-api", exp=int(clock.now) - 600)
        findings = {f.step: f for f in (await diagnose(issuer, clock, token)).findings}
        assert findings["header"].outcome is Outcome.FAIL
        assert findings["key"].outcome is Outcome.SKIP
        assert findings["signature"].outcome is Outcome.SKIP
        assert findings["aud"].outcome is Outcome.FAIL
        assert findings["time"].outcome is Outcome.FAIL
        assert findings["principal"].outcome is Outcome.SKIP


def _attack_tokens(issuer: TestIssuer, clock: FakeClock) -> dict[str, str]:
    now = int(clock.now)
    kid, _ = issuer_key(issuer)
    good = issuer.token(iat=now, exp=now + 300)
    header, payload, _ = good.split(".")
    other_signature = issuer.token("bob", iat=now, exp=now + 300).rsplit(".", 1)[1]

    def mint(**claims: Any) -> str:
        return issuer.token(**({"iat": now, "exp": now + 300} | claims))

    return {
        "accepted": good,
        "not-a-jwt": "opaque-reference-token",
        "jwe": "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..aXY.Y2lwaGVy.dGFn",
        "hs256": hmac_token(
            {"alg": "HS256", "typ": "at+jwt", "kid": kid}, claims_now(issuer, clock), b"secret"
        ),
        "alg-none": f"{segment({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.c2ln",
        "typ-jwt": mint(header={"typ": "JWT"}),
        "crit": mint(header={"crit": ["exp"]}),
        "jku": mint(header={"jku": "https://evil.example/jwks"}),
        "unknown-kid": mint(header={"kid": "nobody"}),
        "forged-signature": f"{header}.{payload}.{other_signature}",
        "untrusted-issuer": mint(iss="https://evil.example"),
        "issuer-with-slash": mint(iss=issuer.issuer + "/"),
        "audience": mint(aud="another-api"),
        "expired": mint(exp=now - 600),
        "future": mint(iat=now + 600),
        "no-jti": mint(jti=None),
        "no-sub": mint(sub=None),
        "mtls-bound": mint(cnf={"x5t#S256": "x" * 43}),
        "dpop-bound-as-bearer": mint(cnf={"jkt": DpopKey().jkt}),
    }


ATTACKS = list(_attack_tokens(TestIssuer(), FakeClock()))


class TestSameVerdictAsTheVerifier:
    @pytest.mark.parametrize("name", ATTACKS)
    async def test_the_doctor_refuses_where_and_as_the_verifier_does(
        self, verifier: TokenVerifier, issuer: TestIssuer, clock: FakeClock, name: str
    ) -> None:
        token = _attack_tokens(issuer, clock)[name]
        expected = await refusal(verifier, bearer_request(token))
        report = await diagnose(issuer, clock, token)
        decided_by = report.decided_by
        assert (decided_by.check if decided_by else None) == (expected and expected.value), render(
            report
        )
        assert (name == "accepted") is (expected is None)

    @pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
    @pytest.mark.parametrize("literal", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
    async def test_hostile_numeric_dates_are_diagnosed_never_a_crash(
        self,
        verifier: TokenVerifier,
        issuer: TestIssuer,
        clock: FakeClock,
        claim: str,
        literal: str,
    ) -> None:
        kid, _ = issuer_key(issuer)
        claims = {k: v for k, v in claims_now(issuer, clock).items() if k != claim}
        token = sign_raw(
            issuer,
            json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": kid}).encode(),
            raw_json(f'"{claim}":{literal}', claims),
        )
        expected = Check.JSON if literal in NOT_JSON else Check(claim)
        assert await refusal(verifier, bearer_request(token)) is expected
        report = await diagnose(issuer, clock, token)
        assert report.decided_by is not None
        assert report.decided_by.check == expected.value
        text = render(report)
        document = json.loads(report_json(report, exit_code=1, show_claims=True))
        if literal not in NOT_JSON:
            (time,) = [f for f in document["findings"] if f["step"] == "time"]
            assert time["outcome"] == "fail"
            assert time["times"][claim] in ("out of range", "not a number")
            assert f"({time['times'][claim]})" in text

    async def test_a_bound_token_without_a_proof_fails_the_scheme_binding(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
    ) -> None:
        report = await diagnose(issuer, clock, mint(dpop_key=dpop_key))
        assert report.decided_by is not None
        assert (report.decided_by.step, report.decided_by.check) == ("scheme", "scheme_binding")

    async def test_an_unbound_token_with_a_proof_fails_the_scheme_binding(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint, dpop_key: DpopKey
    ) -> None:
        token = mint()
        proof = dpop_key.proof("GET", API_URL, access_token=token, iat=clock.now)
        report = await diagnose(issuer, clock, token, ProofRequest(proof, "GET", API_URL))
        assert report.decided_by is not None
        assert report.decided_by.check == "scheme_binding"


def _proofs(key: DpopKey, token: str, clock: FakeClock) -> dict[str, tuple[str, str, str]]:
    """name -> (proof, method, url) of the request it is presented with."""
    now = clock.now

    def proof(method: str = "GET", url: str = API_URL, **kwargs: Any) -> str:
        kwargs.setdefault("access_token", token)
        return key.proof(method, url, **({"iat": now} | kwargs))

    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.public_jwk}
    unsigned_claims = {"jti": "j", "htm": "GET", "htu": API_URL, "iat": now}
    return {
        "accepted": (proof(), "GET", API_URL),
        "method": (proof("POST"), "GET", API_URL),
        "url": (proof(url=API_URL + "/other"), "GET", API_URL),
        "stale": (proof(iat=now - 600), "GET", API_URL),
        "another-token": (proof(access_token="another"), "GET", API_URL),
        "another-key": (
            DpopKey().proof("GET", API_URL, access_token=token, iat=now),
            "GET",
            API_URL,
        ),
        "typ": (proof(header={"typ": "jwt"}), "GET", API_URL),
        "no-ath": (
            sign_compact(header, unsigned_claims, key.key, "ES256"),
            "GET",
            API_URL,
        ),
        "garbage": ("not.a.proof", "GET", API_URL),
    }


PROOFS = list(_proofs(DpopKey(), "t", FakeClock()))


@pytest.fixture
def doctor(issuer: TestIssuer, clock: FakeClock) -> Callable[..., Any]:
    """``diagnose`` with this test's issuer and clock."""
    return lambda token, proof=None: diagnose(issuer, clock, token, proof)


@pytest.mark.parametrize("name", PROOFS)
async def test_the_doctor_refuses_a_proof_where_and_as_the_verifier_does(
    verifier: TokenVerifier, doctor: Callable[..., Any], mint: Mint, dpop_key: DpopKey, name: str
) -> None:
    token = mint(dpop_key=dpop_key)
    proof, method, url = _proofs(dpop_key, token, FakeClock())[name]
    try:
        await verifier.authenticate(dpop_request(token, proof, method=method, url=url))
        expected = None
    except InvalidDpopProof as error:
        expected = error.check.value
    report = await doctor(token, ProofRequest(proof, method, url))
    decided_by = report.decided_by
    assert (decided_by.check if decided_by else None) == expected, render(report)
    assert (name == "accepted") is (expected is None)


@pytest.mark.parametrize("literal", HOSTILE_NUMBERS.values(), ids=HOSTILE_NUMBERS.keys())
async def test_a_hostile_proof_iat_is_diagnosed_as_the_verifier_refuses_it(
    verifier: TokenVerifier, doctor: Callable[..., Any], mint: Mint, dpop_key: DpopKey, literal: str
) -> None:
    token = mint(dpop_key=dpop_key)
    header = json.dumps({"typ": "dpop+jwt", "alg": "ES256", "jwk": dpop_key.public_jwk})
    payload = raw_json(
        f'"iat":{literal}',
        {"jti": "j", "htm": "GET", "htu": API_URL, "ath": access_token_hash(token)},
    )
    proof = sign_compact(header.encode(), payload, dpop_key.key, "ES256")
    expected = Check.DPOP_JSON if literal in NOT_JSON else Check.DPOP_IAT
    with pytest.raises(InvalidDpopProof) as caught:
        await verifier.authenticate(dpop_request(token, proof))
    assert caught.value.check is expected
    report = await doctor(token, ProofRequest(proof, "GET", API_URL))
    assert report.decided_by is not None
    assert report.decided_by.check == expected.value
    render(report)
    json.loads(report_json(report, exit_code=1, show_claims=True), parse_constant=pytest.fail)


class TestTokenKind:
    """ID, refresh and logout tokens are refused at the ``typ`` step by what they carry
    (``auth._token_kind``): the doctor reports them there, with the verifier's refusal,
    the claims that gave them away, and what to send instead."""

    RELAXED: ClassVar[dict[str, Any]] = {"accepted_typ": ("at+jwt", "jwt")}

    def _id_token(self, mint: Mint) -> str:
        # Keycloak's ID token: typ JWT, the client as audience, nonce and auth_time.
        return mint(header={"typ": "JWT"}, typ="ID", nonce="n-0S6_WzA2Mj", auth_time=1)

    async def _both(
        self,
        make_verifier: Callable[..., TokenVerifier],
        issuer: TestIssuer,
        clock: FakeClock,
        token: str,
    ) -> tuple[AuthError | None, Report]:
        try:
            await make_verifier(**self.RELAXED).authenticate(bearer_request(token))
            refused = None
        except AuthError as error:
            refused = error
        return refused, await diagnose(issuer, clock, token, **self.RELAXED)

    @pytest.mark.parametrize(
        "claims",
        [
            {"typ": "ID", "nonce": "n-0S6_WzA2Mj"},
            {"nonce": "n-0S6_WzA2Mj", "auth_time": 1},
            {"typ": "Bearer", "nonce": "n-0S6_WzA2Mj", "sid": "08a5019c"},
            {"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"},
        ],
        ids=["payload-typ-ID", "nonce-auth_time", "nonce-beside-Bearer", "at_hash"],
    )
    async def test_an_id_token_is_reported_at_typ_with_the_verifiers_refusal(
        self,
        make_verifier: Callable[..., TokenVerifier],
        issuer: TestIssuer,
        clock: FakeClock,
        mint: Mint,
        claims: dict[str, Any],
    ) -> None:
        token = mint(header={"typ": "JWT"}, **claims)
        refused, report = await self._both(make_verifier, issuer, clock, token)
        assert isinstance(refused, InvalidToken)
        assert refused.check is Check.TYP
        decided_by = report.decided_by
        assert decided_by is not None, render(report)
        assert (decided_by.step, decided_by.check) == ("typ", "typ")
        assert (decided_by.description, decided_by.status) == (
            refused.description,
            refused.status_code,
        )
        assert decided_by.fix == ID_JWT_FIX
        carried = [name for name in ("nonce", "auth_time", "sid") if name in claims]
        assert decided_by.values.get("id_token_claims", []) == carried
        assert "Send the access_token" in render(report)

    async def test_keycloaks_own_access_token_with_sid_and_auth_time_passes_typ(
        self,
        make_verifier: Callable[..., TokenVerifier],
        issuer: TestIssuer,
        clock: FakeClock,
        mint: Mint,
    ) -> None:
        # Keycloak's access tokens carry sid and auth_time, and say Bearer in the payload.
        token = mint(header={"typ": "JWT"}, typ="Bearer", sid="08a5019c", auth_time=1)
        refused, report = await self._both(make_verifier, issuer, clock, token)
        assert refused is None
        (typ,) = [finding for finding in report.findings if finding.step == "typ"]
        assert typ.passed, render(report)
        assert typ.values["id_token_claims"] == ["auth_time", "sid"]
        assert typ.values["id_token_claims_allowed"] == ["auth_time", "sid"]
        assert report.verdict.value == "accepted"

    async def test_a_refresh_token_is_reported_at_typ_as_another_kind(
        self,
        make_verifier: Callable[..., TokenVerifier],
        issuer: TestIssuer,
        clock: FakeClock,
        mint: Mint,
    ) -> None:
        token = mint(header={"typ": "JWT"}, typ="Refresh")
        refused, report = await self._both(make_verifier, issuer, clock, token)
        assert refused is not None
        assert refused.check is Check.TYP
        assert report.decided_by is not None
        assert (report.decided_by.step, report.decided_by.fix) == ("typ", OTHER_JWT_FIX)

    async def test_a_typ_the_profile_refuses_keeps_the_providers_fix(
        self, issuer: TestIssuer, clock: FakeClock, mint: Mint
    ) -> None:
        # Strict Keycloak: typ JWT itself is refused, whatever the payload carries.
        report = await diagnose(issuer, clock, self._id_token(mint))
        assert report.decided_by is not None
        assert report.decided_by.step == "typ"
        assert report.decided_by.fix not in (ID_JWT_FIX, OTHER_JWT_FIX)
        assert "at+jwt" in (report.decided_by.fix or "")
