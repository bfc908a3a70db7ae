"""Why is this token refused? The verifier's own steps, walked one by one on a token (and
its DPoP proof), each reported with the values it looked at and, for a failure, the fix.
Used by ``python -m auth.doctor``.

Nothing here checks anything by itself: the verifier is built from the settings as in
production (``auth._factory``), the token's issuer and policy are chosen by the
verifier, and the checks are the sequences it runs (``ACCESS_TOKEN_STEPS``, the scheme
binding, ``DPOP_STEPS``), walked with ``auth._steps.walk_steps`` so that a report goes
on past the first failure. A check added to a sequence is reported here with no change.

A report never shows the signature or the token itself: only header parameters and
claim values.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import httpx

from . import _proof_steps, _token_steps
from ._access_token import MAX_TOKEN_LENGTH, parse_token
from ._dpop import parse_proof
from ._errors import AuthError, Scheme
from ._factory import create_authenticator
from ._fixes import fix_for, shape_fix, token_kind_fix, token_shape
from ._htu import normalise_url
from ._jwks import JwksCache
from ._jws import CompactJws
from ._profiles import Provider, TrustedIssuer
from ._proof_steps import ProofUnderCheck
from ._settings import AuthMode, AuthSettings
from ._steps import Outcome, Walked, walk_steps
from ._token_steps import TokenUnderCheck
from ._verifier import TokenVerifier


@dataclass(frozen=True, slots=True)
class Finding:
    """One step of the walk: its outcome, the values it looked at, and for a failure the
    refusal (check code, RFC error, description) and the fix."""

    step: str
    outcome: Outcome
    values: Mapping[str, Any] = field(default_factory=dict)
    #: The ``auth.Check`` code of the refusal, as the server logs it.
    check: str | None = None
    #: The RFC error code the server answers with (``invalid_token``...).
    error: str | None = None
    status: int | None = None
    description: str | None = None
    #: For a failure, what fixes it; for a pass, advice worth reading.
    fix: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASS


class Verdict(StrEnum):
    """What the server would do with the request."""

    ACCEPTED = "accepted"
    #: A check refused it (401, or 400 for a malformed request or proof).
    REFUSED = "refused"
    #: A check could not be made (the issuer's keys could not be fetched): the server
    #: would answer 503.
    UNDECIDED = "undecided"


@dataclass(frozen=True, slots=True)
class ProofRequest:
    """A DPoP proof and the request it was presented with."""

    proof: str
    method: str
    url: str


@dataclass(frozen=True, slots=True)
class Report:
    findings: tuple[Finding, ...]
    provider: Provider
    #: The trusted issuer the token names, when it names one.
    issuer: str | None = None
    #: The parsed header and payload, when the token parses (never the signature).
    header: Mapping[str, Any] | None = None
    claims: Mapping[str, Any] | None = None

    @property
    def decided_by(self) -> Finding | None:
        """The first step that did not pass: the one the server would answer with."""
        return next(
            (f for f in self.findings if f.outcome in (Outcome.FAIL, Outcome.UNAVAILABLE)), None
        )

    @property
    def verdict(self) -> Verdict:
        decided_by = self.decided_by
        if decided_by is None:
            return Verdict.ACCEPTED
        return Verdict.REFUSED if decided_by.outcome is Outcome.FAIL else Verdict.UNDECIDED


class Diagnosis:
    """Walks the verifier's steps on one token (and proof) and reports each."""

    def __init__(self, settings: AuthSettings, *, now: float | None = None) -> None:
        # Server nonces are checked only when their secret is shared: without one, the
        # server's nonces cannot be told from any other string here.
        self.nonces_unknown = settings.dpop_nonce and settings.dpop_nonce_secret is None
        self.settings = settings.model_copy(
            update={"mode": AuthMode.VERIFY, "dpop_nonce": not self.nonces_unknown}
            if settings.dpop_nonce
            else {"mode": AuthMode.VERIFY}
        )
        self.now = int(time.time()) if now is None else now
        self.provider = settings.provider
        self.trusted = tuple(issuer.issuer for issuer in self.settings.trusted_issuers())

    async def run(
        self, token: str, client: httpx.AsyncClient, *, proof: ProofRequest | None = None
    ) -> Report:
        """Every step on ``token``, with keys fetched through ``client``; with ``proof``,
        the scheme binding and every proof step too.

        Raises:
            ValueError: ``proof.url`` is not an absolute http(s) URL.
        """
        htu = normalise_url(proof.url) if proof is not None else ""
        findings: list[Finding] = []
        try:
            jws = parse_token(token, max_length=MAX_TOKEN_LENGTH)
        except AuthError as error:
            shape = token_shape(token)
            values = {"length": len(token), "segments": token.count(".") + 1, "shape": shape}
            fix = shape_fix(shape, self.provider) or fix_for(error.check, self.provider)
            findings.append(_failed("parse", values, error, fix))
            return Report(tuple(findings), self.provider)
        header: dict[str, Any] = {
            name: jws.header[name] for name in ("alg", "typ", "kid") if name in jws.header
        }
        findings.append(Finding("parse", Outcome.PASS, {**header, "length": len(token)}))
        verifier = self._verifier(client)
        try:
            return await self._walk(verifier, jws, token, findings, proof=proof, htu=htu)
        finally:
            await verifier.aclose()  # a tenant's key set keeps a refresh task

    async def _walk(
        self,
        verifier: TokenVerifier,
        jws: CompactJws,
        token: str,
        findings: list[Finding],
        *,
        proof: ProofRequest | None,
        htu: str,
    ) -> Report:
        token_state = verifier.token_under_check(jws)
        token_state.now = self.now
        key_set = await self._load_keys(token_state)
        walked = await walk_steps(_token_steps.ACCESS_TOKEN_STEPS, token_state)
        # The issuer the verifier chose for the token (none: it names no trusted one).
        issuer_passed = any(w.step.name == "issuer" and w.passed for w in walked)
        issuer = verifier.trusted_issuer(token_state.policy.issuer) if issuer_passed else None
        if issuer is not None:
            self.provider = issuer.provider
        findings += (self._token_finding(w, token_state, key_set) for w in walked)
        token_passed = all(w.passed for w in walked)
        cnf_passed = any(w.step.name == "cnf" and w.passed for w in walked)
        findings.append(self._scheme(verifier, token_state, cnf_passed, proof is not None))
        if proof is not None:
            findings += await self._proof(verifier, token, token_state, proof, htu)
        if token_passed and all(finding.passed for finding in findings) and issuer:
            findings.append(self._principal(verifier, token_state, issuer))
        else:
            skipped = "not built: the request is not accepted"
            findings.append(Finding("principal", Outcome.SKIP, description=skipped))
        return Report(
            tuple(findings),
            self.provider,
            issuer=issuer.issuer if issuer else None,
            header=jws.header,
            claims=jws.payload,
        )

    def _verifier(self, client: httpx.AsyncClient) -> TokenVerifier:
        verifier = create_authenticator(self.settings, production=False, http_client=client)
        assert isinstance(verifier, TokenVerifier)  # noqa: S101 (mode is verify: see __init__)
        return verifier

    async def _load_keys(self, token: TokenUnderCheck) -> dict[str, Any]:
        # Only the chosen issuer's keys, as the verifier would: nothing is fetched for a
        # token naming an issuer this API does not trust.
        keys = token.keys
        if not isinstance(keys, JwksCache):
            return {}
        await keys.refresh()
        status = keys.status()
        if keys.keys is None:
            return {"jwks": "not loaded", "error": status["last_error"]}
        return {"published": sorted(keys.keys.by_kid), "without_kid": len(keys.keys.without_kid)}

    def _token_finding(
        self, walked: Walked[TokenUnderCheck], token: TokenUnderCheck, key_set: Mapping[str, Any]
    ) -> Finding:
        name = walked.step.name
        extra: dict[str, Any] = {}
        if name == "issuer":
            extra = {"trusted": list(self.trusted)}
        elif name == "key":
            extra = dict(key_set)
        finding = self._finding(walked, token, extra, header=token.jws.header, claims=token.claims)
        if name == "typ" and finding.outcome is Outcome.FAIL:
            kind = token_kind_fix(token.jws.header, token.claims, token.policy.accepted_typ)
            return finding if kind is None else replace(finding, fix=kind)
        if name == "issuer" and not finding.passed:
            iss = token.claims.get("iss")
            if isinstance(iss, str) and any(
                trusted.rstrip("/") == iss.rstrip("/") for trusted in self.trusted
            ):
                note = "it differs from a trusted issuer only by a trailing slash: compared exactly"
                return replace(finding, description=f"{finding.description} ({note})")
        return finding

    def _finding(
        self,
        walked: Walked[Any],
        state: Any,
        extra: Mapping[str, Any],
        *,
        header: Mapping[str, Any],
        claims: Mapping[str, Any],
    ) -> Finding:
        step = walked.step
        if walked.outcome is Outcome.SKIP:
            return Finding(
                step.name,
                Outcome.SKIP,
                description=f"not checked: needs {' and '.join(walked.missing)}",
            )
        values = {**step.shows(state), **extra}
        if walked.error is None:
            return Finding(step.name, Outcome.PASS, values, fix=_NOTES.get(step.name))
        error = walked.error
        fix = fix_for(
            error.check, self.provider, header=header, claims=claims, trusted=self.trusted
        )
        return _failed(step.name, values, error, fix, walked.outcome)

    def _scheme(
        self, verifier: TokenVerifier, token: TokenUnderCheck, cnf_passed: bool, with_proof: bool
    ) -> Finding:
        if not cnf_passed:
            return Finding("scheme", Outcome.SKIP, description="not checked: needs cnf")
        scheme: Scheme = "DPoP" if with_proof else "Bearer"
        values = {
            "scheme": scheme,
            "bound": token.jkt is not None,
            "dpop_required": self.settings.dpop_required,
        }
        try:
            verifier.check_scheme(scheme, token.jkt)
        except AuthError as error:
            return _failed("scheme", values, error, fix_for(error.check, self.provider))
        return Finding("scheme", Outcome.PASS, values)

    async def _proof(
        self,
        verifier: TokenVerifier,
        token: str,
        token_state: TokenUnderCheck,
        request: ProofRequest,
        htu: str,
    ) -> list[Finding]:
        try:
            jws = parse_proof([request.proof], max_length=verifier.proofs.policy.max_length)
        except AuthError as error:
            values = {"length": len(request.proof)}
            return [_failed("dpop.parse", values, error, fix_for(error.check, self.provider))]
        header: dict[str, Any] = {
            name: jws.header[name] for name in ("typ", "alg") if name in jws.header
        }
        findings = [Finding("dpop.parse", Outcome.PASS, {**header, "length": len(request.proof)})]
        proof = verifier.proofs.under_check(
            jws,
            method=request.method,
            htu=htu,
            access_token=token,
            bound_jkt=token_state.jkt or "",
            now=self.now,
        )
        walked = await walk_steps(_proof_steps.DPOP_STEPS, proof)
        findings += (self._proof_finding(w, proof) for w in walked)
        return findings

    def _proof_finding(self, walked: Walked[ProofUnderCheck], proof: ProofUnderCheck) -> Finding:
        finding = self._finding(walked, proof, {}, header=proof.jws.header, claims=proof.claims)
        if walked.step.name == "dpop.nonce" and self.nonces_unknown:
            return replace(
                finding,
                fix="the server requires nonces (OIDC_DPOP_NONCE) but without "
                "OIDC_DPOP_NONCE_SECRET the doctor cannot tell a current one: not checked",
            )
        return finding

    def _principal(
        self, verifier: TokenVerifier, token: TokenUnderCheck, issuer: TrustedIssuer
    ) -> Finding:
        principal = verifier.principal_of(token.verified())
        profile = issuer.profile
        values = {
            "subject": principal.subject,
            "client_id": principal.client_id,
            "scopes": sorted(principal.scopes),
            "roles": sorted(principal.roles),
            "role_claims": list(profile.role_claims),
        }
        fix = None if principal.roles else "no roles found: point OIDC_ROLE_CLAIMS at your roles"
        return Finding("principal", Outcome.PASS, values, fix=fix)


# Advice on steps that pass but that the doctor cannot check as the server does.
_NOTES: dict[str, str] = {
    "dpop.replay": "checked against the doctor's own store only: the server's replay "
    "store may have seen this proof (a proof is good for one request)",
}


def _failed(
    step: str,
    values: Mapping[str, Any],
    error: AuthError,
    fix: str | None,
    outcome: Outcome | None = None,
) -> Finding:
    """A step that failed with ``error``: ``outcome`` as the walk found it, or (for a
    check made outside a walk) told by the error's status."""
    if outcome is None:
        outcome = Outcome.UNAVAILABLE if error.status_code == 503 else Outcome.FAIL
    return Finding(
        step,
        outcome,
        values,
        check=error.check.value,
        error=error.error,
        status=error.status_code,
        description=error.description,
        fix=fix,
    )
