"""The request verifier: fixes the order of the steps and binds them to one request.

    credentials -> access token (RFC 9068, cached) -> scheme binding -> DPoP proof (RFC 9449)

A token under the ``Bearer`` scheme must not be DPoP-bound (RFC 9449 §7.2: accepting
it would downgrade a sender-constrained token to a bearer one); a token under the
``DPoP`` scheme must be, and must come with a valid proof on every request.

Several issuers may be trusted (``OIDC_ISSUERS``). The token's ``iss``, read before
anything is verified, only selects one of the configured issuers, each with its own
policy and key set; a token naming any other issuer is refused without a network call,
and no URL taken from a token is ever fetched. A multi-tenant issuer (a template with
``{tenantid}``) selects an allowed tenant the same way, whose keys are loaded from the
configured template on first use (``auth._tenants``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import _token_steps
from ._access_token import (
    MAX_TOKEN_LENGTH,
    AccessTokenPolicy,
    VerifiedAccessToken,
    check_algorithm,
    parse_token,
    unverified_issuer,
)
from ._credentials import HttpRequest, check_token_syntax, extract_credentials
from ._dpop import DpopPolicy
from ._errors import AuthError, Check, InvalidRequest, InvalidToken, Scheme, ServiceUnavailable
from ._htu import expected_htu
from ._issuer_health import explain, misconfiguration
from ._jwks import JwksCache
from ._jws import CompactJws
from ._logs import library_logger
from ._nonce import DpopNonces
from ._origin import InvalidOrigin
from ._principal import Principal, principal_from_claims
from ._profiles import TrustedIssuer
from ._proof_steps import ProofChecker
from ._replay import ReplayStore
from ._settings import AuthMode, AuthSettings
from ._stats import AuthStats, ReportsReplayStats
from ._steps import run_steps
from ._tenants import TenantIssuers
from ._token_cache import VerifiedTokenCache
from ._token_kind import check_type
from ._token_steps import TokenUnderCheck

logger = library_logger("verifier")


class Authenticator(Protocol):
    """What a framework adapter calls; the real verifier and the mock modes implement it."""

    mode: AuthMode
    settings: AuthSettings

    async def start(self) -> None: ...
    async def aclose(self) -> None: ...
    def status(self) -> dict[str, Any]: ...
    def is_ready(self) -> bool: ...
    def stats(self) -> AuthStats: ...
    def response_headers(self) -> list[tuple[str, str]]: ...

    async def authenticate(self, request: HttpRequest) -> Principal:
        """The principal of a request.

        Raises:
            AuthError: any failure, carrying its RFC code.
        """
        ...

    async def authenticate_token(self, token: str) -> Principal:
        """The principal of a token received outside an Authorization header (a
        WebSocket subprotocol). No proof is checked: see ``verify_proof``.

        Raises:
            AuthError: the token is not acceptable.
        """
        ...

    async def verify_proof(
        self, principal: Principal, *, token: str, proof: str, request: HttpRequest
    ) -> None:
        """Check a DPoP proof made for ``request`` but received outside its headers (an
        application-level proof in a WebSocket's first message: RFC 9449 has no place
        for a proof in a browser's upgrade request). Same checks, same replay store.

        Raises:
            AuthError: the proof is not acceptable.
        """
        ...


@dataclass(frozen=True, slots=True)
class _Issuer:
    """One trusted issuer: its settings, the policy its tokens are checked with, its keys."""

    trusted: TrustedIssuer
    policy: AccessTokenPolicy
    keys: JwksCache


def token_policy(trusted: TrustedIssuer, settings: AuthSettings) -> AccessTokenPolicy:
    """The access-token policy for one trusted issuer."""
    profile = trusted.profile
    return AccessTokenPolicy(
        issuer=trusted.issuer,
        audiences=trusted.audiences,
        algorithms=frozenset(settings.algorithms),
        leeway=settings.leeway_seconds,
        accepted_typ=frozenset(profile.accepted_typ),
        required_claims=frozenset(profile.required_claims),
        client_id_claims=profile.client_id_claims,
        scope_claims=profile.scope_claims,
        id_claims=(
            ()
            if profile.id_claims_in_access_tokens is None
            else (profile.id_claims_in_access_tokens,)
        ),
    )


def untrusted_policy(policies: Iterable[AccessTokenPolicy]) -> AccessTokenPolicy:
    """The policy a token naming no trusted issuer is checked with: what any trusted
    issuer accepts (``alg``, ``typ``, the ID-token claims a profile allows in access
    tokens), so it is refused for what it is first, as with a single issuer, then by the
    ``issuer`` step. It matches no issuer and no audience."""
    policies = tuple(policies)
    return AccessTokenPolicy(
        issuer="",
        audiences=(),
        algorithms=frozenset(alg for policy in policies for alg in policy.algorithms),
        accepted_typ=frozenset(typ for policy in policies for typ in policy.accepted_typ),
        id_claims=tuple(dict.fromkeys(a for policy in policies for a in policy.id_claims)),
    )


class TokenVerifier:
    """Offline verification of OIDC access tokens and DPoP proofs (``OIDC_MODE=verify``)."""

    mode = AuthMode.VERIFY

    def __init__(
        self,
        settings: AuthSettings,
        *,
        keys: JwksCache | Mapping[str, JwksCache],
        replay: ReplayStore,
        clock: Callable[[], float] = time.time,
        tenant_keys: Callable[[TrustedIssuer], JwksCache] | None = None,
        stop_if_misconfigured: bool = False,
    ) -> None:
        """``keys``: the key set of each trusted issuer (by issuer), or of the only one;
        ``tenant_keys`` builds a tenant's key set, for multi-tenant issuers.
        ``stop_if_misconfigured``: ``start`` raises when a provider's answer can never
        work (``auth._issuer_health``) instead of retrying in the background."""
        trusted = settings.trusted_issuers()
        if not trusted:
            raise ValueError("TokenVerifier needs an issuer and an audience")
        plain = [issuer for issuer in trusted if not issuer.is_template]
        templates = [issuer for issuer in trusted if issuer.is_template]
        key_sets = {plain[0].issuer: keys} if isinstance(keys, JwksCache) and plain else keys
        if not isinstance(key_sets, Mapping) or set(key_sets) != {i.issuer for i in plain}:
            raise ValueError("TokenVerifier needs one key set per trusted issuer")
        if templates and tenant_keys is None:
            raise ValueError("TokenVerifier needs tenant_keys for a multi-tenant issuer")
        self.settings = settings
        self._stop_if_misconfigured = stop_if_misconfigured
        self._issuers = {
            issuer.issuer: _Issuer(
                trusted=issuer, policy=token_policy(issuer, settings), keys=key_sets[issuer.issuer]
            )
            for issuer in plain
        }

        def tenant_issuer(tenant: TrustedIssuer) -> _Issuer:
            assert tenant_keys is not None  # noqa: S101 (checked above)
            return _Issuer(tenant, token_policy(tenant, settings), tenant_keys(tenant))

        self._tenants = [
            TenantIssuers(
                template,
                build=tenant_issuer,
                max_tenants=settings.max_tenants,
                cooldown=settings.jwks_refetch_cooldown_seconds,
            )
            for template in templates
        ]
        self._replay = replay
        self._clock = clock
        # Templates included: a tenant's token is refused for what it is first too.
        self._untrusted = untrusted_policy(token_policy(issuer, settings) for issuer in trusted)
        self._nonces: DpopNonces | None = None
        if settings.dpop_nonce:
            secret = settings.dpop_nonce_secret
            self._nonces = DpopNonces(
                secret=secret.get_secret_value().encode() if secret else None,
                lifetime_seconds=settings.dpop_nonce_lifetime_seconds,
                clock=clock,
            )
        #: The DPoP checks with this verifier's policy, replay store and nonces.
        self.proofs = ProofChecker(
            DpopPolicy(
                algorithms=frozenset(settings.algorithms),
                max_age=settings.dpop_max_age_seconds,
                leeway=settings.leeway_seconds,
            ),
            replay=replay,
            nonces=self._nonces,
        )
        self._cache: VerifiedTokenCache[Principal] = VerifiedTokenCache(
            max_entries=settings.token_cache_max_entries
        )

    async def start(self) -> None:
        """Load every issuer's keys once. A provider that does not answer is retried in
        the background; one whose answer can never work too, unless
        ``stop_if_misconfigured``.

        Raises:
            ConfigurationError: ``stop_if_misconfigured`` and a provider's answer can
                never work; the sentence names the setting and the fix.
        """
        # Each issuer's first load at once: one slow IdP does not delay the others.
        await asyncio.gather(*(issuer.keys.start() for issuer in self._issuers.values()))
        if not self._stop_if_misconfigured:
            return
        refusal = misconfiguration((i.trusted, i.keys) for i in self._issuers.values())
        if refusal is not None:
            for issuer in self._issuers.values():
                await issuer.keys.aclose()
            raise refusal

    async def aclose(self) -> None:
        for issuer in self._issuers.values():
            await issuer.keys.aclose()
        for tenants in self._tenants:
            await tenants.aclose()
        await self._replay.aclose()

    def _issuer_status(self, issuer: _Issuer) -> dict[str, Any]:
        status = issuer.keys.status()
        problem = issuer.keys.problem
        if problem is not None and problem.misconfigured:
            status["fix"] = explain(issuer.trusted, problem)  # the setting to change
        return status

    def status(self) -> dict[str, Any]:
        """Readiness detail: ``state`` is ``ready``, ``unavailable`` (a provider does not
        answer), ``misconfigured`` (its answer can never work: ``fix`` says what to
        change) or ``starting``; with several issuers, each issuer's own under
        ``issuers``, and the worst of them at the top."""
        if len(self._issuers) == 1 and not self._tenants:
            (issuer,) = self._issuers.values()
            return {"mode": self.mode.value, "issuer": issuer.trusted.issuer} | (
                self._issuer_status(issuer)
            )
        issuers = {name: self._issuer_status(issuer) for name, issuer in self._issuers.items()}
        issuers |= {tenants.template.issuer: tenants.status() for tenants in self._tenants}
        states = {status["state"] for status in issuers.values()}
        worst = next(
            (state for state in ("misconfigured", "unavailable", "starting") if state in states),
            "ready",
        )
        return {
            "mode": self.mode.value,
            "state": worst,
            "keys_loaded": self.is_ready(),
            "issuers_without_keys": [
                name for name, issuer in self._issuers.items() if issuer.keys.keys is None
            ],
            "issuers": issuers,
        }

    def is_ready(self) -> bool:
        """True once the signing keys of at least one trusted issuer are loaded and no
        issuer is misconfigured (a multi-tenant issuer's keys are loaded per tenant, on
        first use, and do not count).

        With several issuers, one whose identity provider is unreachable does not make
        the whole API not ready: every instance waits on the same provider, so taking
        instances out of rotation would not bring that issuer's keys closer and would
        refuse every other issuer's callers too. Its own tokens get 503 until its keys
        load; ``status()`` names it (``issuers_without_keys``). A misconfigured issuer is
        different: its answer can never work until an operator changes a setting, so the
        deployment is reported not ready."""
        issuers = list(self._issuers.values())
        if any(issuer.keys.state() == "misconfigured" for issuer in issuers):
            return False
        return not issuers or any(issuer.keys.keys is not None for issuer in issuers)

    def _key_sets(self) -> list[JwksCache]:
        tenants = [entry.keys for t in self._tenants for entry in t.entries()]
        return [issuer.keys for issuer in self._issuers.values()] + tenants

    def stats(self) -> AuthStats:
        replay = self._replay
        return AuthStats(
            token_cache=self._cache.stats(),
            key_sets=tuple(keys.stats() for keys in self._key_sets()),
            replay=replay.stats() if isinstance(replay, ReportsReplayStats) else None,
            nonces=self._nonces.stats() if self._nonces else None,
        )

    def response_headers(self) -> list[tuple[str, str]]:
        # RFC 9449 §9: a fresh nonce may be handed out on any response.
        return [("DPoP-Nonce", self._nonces.current())] if self._nonces else []

    async def authenticate(self, request: HttpRequest) -> Principal:
        credentials = extract_credentials(request)
        digest = VerifiedTokenCache.digest(credentials.token)
        try:
            principal = self._cached(credentials.token, digest)
            if principal is None:
                check_token_syntax(credentials)
                principal = await self._verify(credentials.token, digest)
        except AuthError as exc:
            raise exc.with_scheme(credentials.scheme) from None
        self.check_scheme(credentials.scheme, principal.dpop_jkt)
        if credentials.scheme == "DPoP":
            await self._check_proof(
                principal, credentials.token, credentials.proofs, request, digest
            )
        return principal

    async def authenticate_token(self, token: str) -> Principal:
        digest = VerifiedTokenCache.digest(token)
        principal = self._cached(token, digest) or await self._verify(token, digest)
        # A bound token's proof comes later (verify_proof): only OIDC_DPOP_REQUIRED here.
        self._refuse_unbound_if_required(principal.dpop_jkt, scheme="Bearer")
        return principal

    def check_scheme(self, scheme: Scheme, dpop_jkt: str | None) -> None:
        """A token bound to a DPoP key (``dpop_jkt``) comes under the ``DPoP`` scheme, an
        unbound one under ``Bearer``: accepting a bound token as a bearer one would
        downgrade it (RFC 9449 §7.2). With ``OIDC_DPOP_REQUIRED`` a bearer token, however
        valid, is not enough (RFC 9449 §7.1; advertised as
        ``dpop_bound_access_tokens_required``, RFC 9728 §2).

        Raises:
            InvalidToken: with ``Check.SCHEME_BINDING``.
        """
        if scheme == "DPoP":
            if dpop_jkt is None:
                raise InvalidToken(
                    "the token is not DPoP-bound; send it with the Bearer scheme",
                    check=Check.SCHEME_BINDING,
                    scheme="DPoP",
                )
        elif dpop_jkt is not None:
            raise InvalidToken(
                "a DPoP-bound token must be sent with the DPoP scheme",
                check=Check.SCHEME_BINDING,
                scheme="Bearer",
            )
        self._refuse_unbound_if_required(dpop_jkt, scheme=scheme)

    def _refuse_unbound_if_required(self, dpop_jkt: str | None, *, scheme: Scheme) -> None:
        if self.settings.dpop_required and dpop_jkt is None:
            raise InvalidToken(
                "this resource requires DPoP-bound tokens",
                check=Check.SCHEME_BINDING,
                scheme=scheme,
            )

    async def verify_proof(
        self, principal: Principal, *, token: str, proof: str, request: HttpRequest
    ) -> None:
        await self._check_proof(
            principal, token, (proof,), request, VerifiedTokenCache.digest(token)
        )

    async def _check_proof(
        self,
        principal: Principal,
        token: str,
        proofs: tuple[str, ...],
        request: HttpRequest,
        digest: bytes | None,
    ) -> None:
        if principal.dpop_jkt is None:
            raise InvalidToken(
                "the token is not DPoP-bound", check=Check.SCHEME_BINDING, scheme="DPoP"
            )
        try:
            htu = expected_htu(
                scheme=request.scheme,
                path=request.path,
                headers=request.headers,
                peer=request.peer,
                public_url=self.settings.public_url,
                trusted_proxies=self.settings.trusted_proxies,
            )
        except InvalidOrigin as exc:
            # RFC 9112 §3.2: a malformed Host is a bad request, never a guess at a URL.
            raise InvalidRequest(
                f"the request's origin is invalid: {exc}", check=Check.HOST, scheme="DPoP"
            ) from None
        await self.proofs.verify(
            proofs,
            method=request.method,
            htu=htu,
            access_token=token,
            bound_jkt=principal.dpop_jkt,
            now=self._clock(),
            access_token_digest=digest,
        )

    def _cached(self, token: str, digest: bytes | None) -> Principal | None:
        """The principal of a token verified before, if it is still good: not expired, and
        the key that verified it still the one its kid (or its lack of one) resolves to,
        so removing or replacing a key takes effect at the next JWKS refresh."""
        if digest is None:
            return None
        cached = self._cache.get(digest, now=self._clock())
        if cached is None:
            return None
        issuer = self._issuers.get(cached.value.issuer) or self._loaded_tenant(cached.value.issuer)
        keys = issuer.keys.keys if issuer is not None else None
        if keys is not None and keys.publishes(cached.kid, cached.key_thumbprint):
            return cached.value
        self._cache.discard(digest)
        return None

    def _loaded_tenant(self, iss: str) -> _Issuer | None:
        for tenants in self._tenants:
            if (entry := tenants.loaded(iss)) is not None:
                return entry
        return None

    async def _tenant_issuer(self, iss: str, claims: Mapping[str, Any]) -> _Issuer:
        for tenants in self._tenants:
            tenant = tenants.tenant_of(iss)
            if tenant is not None:
                return await tenants.resolve(tenant, claims)
        # Decided from configuration alone: nothing is fetched for an unknown issuer.
        raise InvalidToken(
            "the token was issued by an issuer this API does not trust", check=Check.ISS
        )

    async def _choose_tenant(self, token: TokenUnderCheck) -> None:
        """The ``issuer`` step for a token whose ``iss`` names no configured issuer: the
        tenant of a multi-tenant template, resolved (``auth._tenants``), whose own policy
        the token must then fit as well (``alg``, ``typ``: the steps before ran with what
        any trusted issuer accepts)."""
        jws = token.jws
        issuer = await self._tenant_issuer(unverified_issuer(jws) or "", jws.payload)
        check_algorithm(jws.header, issuer.policy.algorithms)
        check_type(
            jws.header,
            jws.payload,
            accepted=issuer.policy.accepted_typ,
            id_claims=issuer.policy.id_claims,
        )
        token.policy, token.keys = issuer.policy, issuer.keys

    def token_under_check(self, jws: CompactJws) -> TokenUnderCheck:
        """A parsed token with the policy and keys of the issuer its ``iss`` names (or,
        for any other issuer, none: the ``issuer`` step refuses it, or resolves it as a
        tenant of a multi-tenant issuer)."""
        return self._under_check(jws, self._issuers.get(unverified_issuer(jws) or ""))

    def _under_check(self, jws: CompactJws, issuer: _Issuer | None) -> TokenUnderCheck:
        if issuer is not None:
            # Positional: a dataclass's __init__ takes keywords at about twice the cost.
            return TokenUnderCheck(jws, issuer.policy, issuer.keys, self._clock())
        choose = self._choose_tenant if self._tenants else None
        return TokenUnderCheck(
            jws, policy=self._untrusted, keys=None, now=self._clock(), choose_issuer=choose
        )

    def _issuer_of(self, iss: str) -> _Issuer:
        issuer = self._issuers.get(iss) or self._loaded_tenant(iss)
        if issuer is None:  # a tenant evicted since the issuer step chose it
            raise ServiceUnavailable(
                "the tenant's issuer was unloaded; retry", check=Check.ISSUER_UNREACHABLE
            )
        return issuer

    def trusted_issuer(self, iss: str) -> TrustedIssuer | None:
        """The configured issuer, or loaded tenant, whose ``iss`` is ``iss``."""
        issuer = self._issuers.get(iss) or self._loaded_tenant(iss)
        return issuer.trusted if issuer is not None else None

    def principal_of(self, verified: VerifiedAccessToken) -> Principal:
        """The caller a verified token names, read as its issuer's profile says.

        Raises:
            ServiceUnavailable: its tenant was unloaded meanwhile (rare; retry).
        """
        return principal_from_claims(
            verified.claims,
            profile=self._issuer_of(verified.claims["iss"]).trusted.profile,
            groups_claim=self.settings.groups_claim,
            dpop_jkt=verified.jkt,
        )

    async def _verify(self, token: str, digest: bytes | None) -> Principal:
        jws = parse_token(token, max_length=MAX_TOKEN_LENGTH)
        issuer = self._issuers.get(unverified_issuer(jws) or "")
        checked = self._under_check(jws, issuer)
        # The module's sequence, looked up at each call: a step added to it is enforced.
        await run_steps(_token_steps.ACCESS_TOKEN_STEPS, checked)
        verified = checked.verified()
        if issuer is None:  # the tenant the issuer step chose
            issuer = self._issuer_of(verified.claims["iss"])
        principal = principal_from_claims(
            verified.claims,
            profile=issuer.trusted.profile,
            groups_claim=self.settings.groups_claim,
            dpop_jkt=verified.jkt,
        )
        keys = issuer.keys.keys
        if digest is not None and keys is not None:
            self._cache.put(
                digest,
                principal,
                expires_at=verified.expires_at + self.settings.leeway_seconds,
                kid=verified.kid,
                key_thumbprint=keys.thumbprint_of(verified.key),
            )
        return principal
