"""Development modes (auth.mock): tested as modes, never used to bypass the verifier."""

from __future__ import annotations

import logging

import pytest

from auth._development import DecodeOnlyAuthenticator, StaticIdentityAuthenticator
from auth._errors import Check, InvalidToken, MissingCredentials
from auth._jws import b64url_encode
from auth._settings import AuthMode
from auth._verifier import Authenticator
from auth.testing import DpopKey
from tests.auth.fakes import T0, FakeClock, IsolatedSettings, http_request
from tests.auth.refusals import refused


def _unsigned(claims: dict[str, object]) -> str:
    header = b64url_encode(b'{"alg":"none","typ":"at+jwt"}')
    payload = b64url_encode(__import__("json").dumps(claims).encode())
    return f"{header}.{payload}.{b64url_encode(b'forged')}"


CLAIMS = {
    "iss": "https://anything.example",
    "sub": "mallory",
    "exp": T0 + 60,
    "iat": T0,
    "realm_access": {"roles": ["todo-admin"]},
}


@pytest.fixture
def decode_only() -> DecodeOnlyAuthenticator:
    return DecodeOnlyAuthenticator(
        IsolatedSettings(mode="decode_only", audience="todo-api"), clock=FakeClock()
    )


@pytest.fixture
def static() -> StaticIdentityAuthenticator:
    return StaticIdentityAuthenticator(
        IsolatedSettings(mode="static", static_subject="dev", static_roles="todo-user")
    )


def test_both_modes_are_authenticators(
    decode_only: DecodeOnlyAuthenticator, static: StaticIdentityAuthenticator
) -> None:
    modes: list[Authenticator] = [decode_only, static]
    assert [mode.mode for mode in modes] == [AuthMode.DECODE_ONLY, AuthMode.STATIC]
    for mode in modes:
        assert mode.is_ready()
        assert mode.response_headers() == []
        assert mode.status()["warning"] == "development mode"


class TestDecodeOnly:
    async def test_any_signature_is_accepted(self, decode_only: DecodeOnlyAuthenticator) -> None:
        request = http_request(authorization=[f"Bearer {_unsigned(CLAIMS)}"])
        principal = await decode_only.authenticate(request)
        assert principal.subject == "mallory"
        assert principal.roles == {"todo-admin"}

    async def test_expiry_is_still_checked(self, decode_only: DecodeOnlyAuthenticator) -> None:
        token = _unsigned({**CLAIMS, "exp": T0 - 3600})
        with refused(Check.EXP, InvalidToken):
            await decode_only.authenticate_token(token)

    @pytest.mark.parametrize("missing", [Check.SUB, Check.ISS])
    async def test_sub_and_iss_are_required(
        self, decode_only: DecodeOnlyAuthenticator, missing: Check
    ) -> None:
        claims = {name: value for name, value in CLAIMS.items() if name != missing}
        with refused(missing, InvalidToken):
            await decode_only.authenticate_token(_unsigned(claims))

    async def test_a_malformed_token_is_refused(self, decode_only: DecodeOnlyAuthenticator) -> None:
        with refused(Check.FORMAT, InvalidToken):
            await decode_only.authenticate_token("not-a-jwt")

    async def test_the_scheme_must_match_the_binding(
        self, decode_only: DecodeOnlyAuthenticator
    ) -> None:
        holder = DpopKey()
        bound = _unsigned({**CLAIMS, "cnf": {"jkt": holder.jkt}})
        with refused(Check.SCHEME_BINDING, InvalidToken):
            await decode_only.authenticate(http_request(authorization=[f"Bearer {bound}"]))
        with refused(Check.SCHEME_BINDING, InvalidToken):
            await decode_only.authenticate(
                http_request(authorization=[f"DPoP {_unsigned(CLAIMS)}"], proofs=["x.y.z"])
            )
        principal = await decode_only.authenticate(
            http_request(authorization=[f"DPoP {bound}"], proofs=["x.y.z"])
        )
        assert principal.dpop_jkt == holder.jkt

    @pytest.mark.parametrize("cnf", [None, 42, "jkt", {"x5t#S256": "x"}])
    async def test_a_confirmation_it_cannot_read_is_refused_not_read_as_unbound(
        self, decode_only: DecodeOnlyAuthenticator, cnf: object
    ) -> None:
        # The same rule as verify mode (RFC 9449 §6.1, RFC 7519 §4.1: null is a value).
        token = _unsigned({**CLAIMS, "cnf": cnf})
        with refused(Check.CNF, InvalidToken):
            await decode_only.authenticate(http_request(authorization=[f"Bearer {token}"]))

    async def test_credentials_are_still_required(
        self, decode_only: DecodeOnlyAuthenticator
    ) -> None:
        with refused(Check.CREDENTIALS, MissingCredentials):
            await decode_only.authenticate(http_request())

    async def test_start_warns_loudly(
        self, decode_only: DecodeOnlyAuthenticator, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="auth.mock"):
            await decode_only.start()
        assert "OIDC_MODE=decode_only" in caplog.text
        assert "NOT authenticated" in caplog.text
        await decode_only.aclose()


class TestStaticIdentity:
    async def test_every_request_is_the_configured_identity(
        self, static: StaticIdentityAuthenticator
    ) -> None:
        anonymous = await static.authenticate(http_request())
        with_garbage = await static.authenticate(http_request(authorization=["Bearer junk"]))
        assert anonymous is with_garbage
        assert anonymous.subject == "dev"
        assert anonymous.roles == {"todo-user"}
        assert anonymous.issuer.startswith("urn:")
        assert await static.authenticate_token("anything") is anonymous

    async def test_proofs_are_not_checked(self, static: StaticIdentityAuthenticator) -> None:
        principal = await static.authenticate(http_request())
        await static.verify_proof(principal, token="t", proof="p", request=http_request())

    async def test_start_warns_loudly(
        self, static: StaticIdentityAuthenticator, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="auth.mock"):
            await static.start()
        assert "OIDC_MODE=static" in caplog.text
