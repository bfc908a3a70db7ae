"""Development modes that need no identity provider. Never for production.

* ``decode_only``: the token's claims are read and its structure, ``exp`` and the
  DPoP scheme binding are checked, but **the signature is not**: anyone can forge any
  identity. For a front end that already logs in somewhere, while the API's real
  issuer is not reachable.
* ``static``: every request is the fixed identity from the ``OIDC_STATIC_*`` settings,
  whatever it carries (nothing at all included).

Both refuse to be created when the application is configured as production; see
``auth._factory``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ._access_token import (
    MAX_TOKEN_LENGTH,
    check_time_claims,
    confirmation_thumbprint,
    is_valid_subject,
    parse_token,
)
from ._credentials import HttpRequest, extract_credentials
from ._errors import Check, InvalidToken
from ._logs import library_logger
from ._principal import Principal, principal_from_claims
from ._settings import AuthMode, AuthSettings
from ._stats import AuthStats

logger = library_logger("mock")

BANNER = (
    "\n" + "!" * 78 + "\n"
    "!!  OIDC_MODE={mode}: requests are NOT authenticated. Development only.\n"
    "!!  {what}\n" + "!" * 78
)


class _MockBase:
    mode: AuthMode
    what: str

    def __init__(self, settings: AuthSettings, *, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock

    async def start(self) -> None:
        logger.warning(BANNER.format(mode=self.mode.value, what=self.what))

    async def aclose(self) -> None:
        return None

    def status(self) -> dict[str, Any]:
        return {"mode": self.mode.value, "keys_loaded": False, "warning": "development mode"}

    def is_ready(self) -> bool:
        return True

    def stats(self) -> AuthStats:
        return AuthStats()  # nothing cached, fetched or remembered

    def response_headers(self) -> list[tuple[str, str]]:
        return []

    async def verify_proof(
        self, principal: Principal, *, token: str, proof: str, request: HttpRequest
    ) -> None:
        return None


class DecodeOnlyAuthenticator(_MockBase):
    """Reads claims without checking the signature (``OIDC_MODE=decode_only``)."""

    mode = AuthMode.DECODE_ONLY
    what = "Token signatures are not checked: any forged token is accepted."

    async def authenticate(self, request: HttpRequest) -> Principal:
        credentials = extract_credentials(request)
        principal = await self.authenticate_token(credentials.token)
        if (credentials.scheme == "DPoP") != principal.dpop_bound:
            raise InvalidToken(
                "the token's DPoP binding does not match the scheme",
                check=Check.SCHEME_BINDING,
                scheme=credentials.scheme,
            )
        return principal

    async def authenticate_token(self, token: str) -> Principal:
        claims = parse_token(token, max_length=MAX_TOKEN_LENGTH).payload
        check_time_claims(claims, now=self._clock(), leeway=self.settings.leeway_seconds)
        if not is_valid_subject(claims.get("sub")):
            raise InvalidToken("the token lacks a valid sub claim", check=Check.SUB)
        issuer = claims.get("iss")
        if not (isinstance(issuer, str) and 0 < len(issuer) <= 255):
            raise InvalidToken("the token lacks a valid iss claim", check=Check.ISS)
        # The shapes of the configured issuer (the first, with several), or of
        # OIDC_PROVIDER's profile when no issuer is configured.
        trusted = self.settings.trusted_issuers()
        profile = trusted[0].profile if trusted else self.settings.profile()
        return principal_from_claims(
            claims,
            profile=profile,
            groups_claim=self.settings.groups_claim,
            dpop_jkt=confirmation_thumbprint(claims),
        )


class StaticIdentityAuthenticator(_MockBase):
    """Every request is one configured identity (``OIDC_MODE=static``)."""

    mode = AuthMode.STATIC
    what = "Every request, with or without a token, is the static development identity."

    def __init__(self, settings: AuthSettings, *, clock: Callable[[], float] = time.time) -> None:
        super().__init__(settings, clock=clock)
        self._principal = Principal(
            subject=settings.static_subject,
            issuer="urn:todo:static-development-identity",
            client_id="development",
            name=settings.static_name,
            email=settings.static_email,
            username=settings.static_subject,
            roles=frozenset(settings.static_roles),
        )

    async def authenticate(self, request: HttpRequest) -> Principal:
        return self._principal

    async def authenticate_token(self, token: str) -> Principal:
        return self._principal
