"""The order of the DPoP proof checks: ``DPOP_STEPS``, the one sequence a verifier's
``ProofChecker`` runs and the doctor walks (``auth._diagnosis``).

Each step binds one check of ``auth._dpop`` (its rule and RFC section are in that
function's docstring) to ``ProofUnderCheck``, the state a proof carries through the
sequence, and says which values the check looks at, for the doctor's report. The
``ProofChecker`` holds what is fixed for one verifier (policy, replay store, proof-key
cache, server nonces); each request brings the rest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, NotRequired, TypedDict, Unpack

from ._access_token import is_numeric_date
from ._dpop import (
    DpopPolicy,
    DpopProof,
    ProofKeyCache,
    check_freshness,
    check_key_binding,
    check_method,
    check_nonce,
    check_proof_algorithm,
    check_proof_signature,
    check_proof_type,
    check_replay,
    check_target_uri,
    check_token_hash,
    parse_proof,
    proof_key,
    required_proof_claims,
)
from ._errors import Check, InvalidDpopProof
from ._jws import CompactJws, Key, b64url_encode
from ._nonce import DpopNonces
from ._replay import ReplayStore
from ._steps import Absent, Step, member, run_steps


@dataclass(slots=True)
class ProofUnderCheck:
    """A parsed proof on its way through ``DPOP_STEPS``: the request and token it must
    match, the checker whose policy applies, and what the steps have found so far."""

    jws: CompactJws
    checker: ProofChecker
    #: The request's method and its URL as ``auth._htu`` normalises it.
    method: str
    htu: str
    #: ``ath`` the presented access token hashes to, and ``cnf.jkt`` it is bound to.
    ath: str
    bound_jkt: str
    now: float
    alg: str = ""
    key: Key | None = None
    jkt: str = ""
    jti: str = ""
    htm: str = ""
    claimed_htu: str = ""
    iat: float = 0.0

    @property
    def claims(self) -> Mapping[str, Any]:
        return self.jws.payload


def _type(proof: ProofUnderCheck) -> None:
    check_proof_type(proof.jws.header)


def _algorithm(proof: ProofUnderCheck) -> None:
    proof.alg = check_proof_algorithm(proof.jws.header, proof.checker.policy.algorithms)


def _key(proof: ProofUnderCheck) -> None:
    proof.key, proof.jkt = proof_key(proof.jws, proof.alg, proof.checker.key_cache)


def _signature(proof: ProofUnderCheck) -> None:
    if proof.key is None:  # unreachable after the jwk step; fail closed all the same
        raise InvalidDpopProof("the proof carries no jwk", check=Check.DPOP_JWK)
    check_proof_signature(proof.jws, proof.alg, proof.key)


def _claims(proof: ProofUnderCheck) -> None:
    proof.jti, proof.htm, proof.claimed_htu = required_proof_claims(proof.claims)


def _method(proof: ProofUnderCheck) -> None:
    check_method(proof.htm, proof.method)


def _target(proof: ProofUnderCheck) -> None:
    check_target_uri(proof.claimed_htu, proof.htu)


def _nonce(proof: ProofUnderCheck) -> None:
    check_nonce(proof.claims, proof.checker.nonces)


def _freshness(proof: ProofUnderCheck) -> None:
    policy = proof.checker.policy
    proof.iat = check_freshness(
        proof.claims, now=proof.now, max_age=policy.max_age, leeway=policy.leeway
    )


def _token_hash(proof: ProofUnderCheck) -> None:
    check_token_hash(proof.claims, proof.ath)


def _binding(proof: ProofUnderCheck) -> None:
    check_key_binding(proof.jkt, proof.bound_jkt)


async def _replay(proof: ProofUnderCheck) -> None:
    checker = proof.checker
    await check_replay(
        checker.replay,
        jkt=proof.jkt,
        jti=proof.jti,
        iat=proof.iat,
        now=proof.now,
        policy=checker.policy,
    )


def _iat_values(proof: ProofUnderCheck) -> dict[str, Any]:
    policy = proof.checker.policy
    iat = member(proof.claims, "iat")
    values = {"iat": iat, "now": proof.now, "max_age": policy.max_age, "leeway": policy.leeway}
    if is_numeric_date(iat):
        values["age"] = round(proof.now - iat)
    return values


#: The checks of a DPoP proof after parsing, in the order the verifier runs them
#: (``ProofChecker.verify``) and the doctor reports them (``auth._diagnosis``). The
#: replay store is last: only a proof that passed everything else occupies a slot.
DPOP_STEPS: tuple[Step[ProofUnderCheck], ...] = (
    Step(
        "dpop.typ",
        _type,
        lambda p: {"typ": member(p.jws.header, "typ"), "crit": "crit" in p.jws.header},
    ),
    Step(
        "dpop.alg",
        _algorithm,
        lambda p: {
            "alg": member(p.jws.header, "alg"),
            "accepted": sorted(p.checker.policy.algorithms),
        },
    ),
    Step(
        "dpop.jwk",
        _key,
        lambda p: {"kty": _jwk_member(p, "kty"), "crv": _jwk_member(p, "crv"), "jkt": p.jkt},
        needs=("dpop.alg",),
    ),
    Step("dpop.signature", _signature, lambda p: {"alg": p.alg}, needs=("dpop.jwk",)),
    Step(
        "dpop.claims",
        _claims,
        lambda p: {
            "jti": "present" if "jti" in p.claims else "absent",
            "htm": member(p.claims, "htm"),
            "htu": member(p.claims, "htu"),
        },
    ),
    Step(
        "dpop.htm",
        _method,
        lambda p: {"htm": member(p.claims, "htm"), "method": p.method},
        needs=("dpop.claims",),
    ),
    Step(
        "dpop.htu",
        _target,
        lambda p: {"htu": member(p.claims, "htu"), "url": p.htu},
        needs=("dpop.claims",),
    ),
    Step(
        "dpop.nonce",
        _nonce,
        lambda p: {
            "nonce": "present" if "nonce" in p.claims else "absent",
            "required": p.checker.nonces is not None,
        },
    ),
    Step("dpop.iat", _freshness, _iat_values),
    Step(
        "dpop.ath",
        _token_hash,
        lambda p: {"ath": member(p.claims, "ath"), "expected": p.ath},
    ),
    Step(
        "dpop.jkt",
        _binding,
        lambda p: {"jkt": p.jkt, "cnf.jkt": p.bound_jkt},
        needs=("dpop.jwk",),
    ),
    Step(
        "dpop.replay",
        _replay,
        lambda p: {"jti": p.jti, "jkt": p.jkt},
        needs=("dpop.jwk", "dpop.claims", "dpop.iat"),
    ),
)


def _jwk_member(proof: ProofUnderCheck, name: str) -> Any:
    jwk = proof.jws.header.get("jwk")
    return member(jwk, name) if isinstance(jwk, dict) else Absent.ABSENT


class ProofBinding(TypedDict):
    """What a proof must match: the request (``method``, ``htu`` as
    ``auth._htu.normalise_url`` gives it), the token it comes with and the key that
    token is bound to, and the time. ``access_token_digest`` is the token's SHA-256 when
    the caller already has it (the verifier hashes every token for its cache); ``ath``
    is derived from it."""

    method: str
    htu: str
    access_token: str
    bound_jkt: str
    now: float
    access_token_digest: NotRequired[bytes | None]


@dataclass(eq=False)
class ProofChecker:
    """The RFC 9449 §4.3 checks of one verifier: its policy, replay store, proof-key
    cache and server nonces are fixed once, and each request brings the rest."""

    policy: DpopPolicy
    _: KW_ONLY
    replay: ReplayStore
    nonces: DpopNonces | None = None
    key_cache: ProofKeyCache = field(default_factory=ProofKeyCache)

    def under_check(self, jws: CompactJws, **binding: Unpack[ProofBinding]) -> ProofUnderCheck:
        """A parsed proof with the request and token it must match (``ProofBinding``)."""
        digest = (
            binding.get("access_token_digest")
            or hashlib.sha256(binding["access_token"].encode("ascii")).digest()
        )
        # Positional: a dataclass's __init__ takes keywords at about twice the cost,
        # and this runs for every proof.
        return ProofUnderCheck(
            jws,
            self,
            binding["method"],
            binding["htu"],
            b64url_encode(digest),
            binding["bound_jkt"],
            binding["now"],
        )

    async def verify(self, values: Sequence[str], **binding: Unpack[ProofBinding]) -> DpopProof:
        """Run every RFC 9449 §4.3 check on the ``DPoP`` header ``values`` presented
        with a token, for the request it names (``ProofBinding``).

        Raises:
            InvalidDpopProof: the first failed check.
            UseDpopNonce: nonces are on and the proof lacks a current one.
            ServiceUnavailable: the replay store cannot answer.
        """
        jws = parse_proof(values, max_length=self.policy.max_length)
        proof = self.under_check(jws, **binding)
        await run_steps(DPOP_STEPS, proof)
        return DpopProof(jkt=proof.jkt, jti=proof.jti, iat=proof.iat)
