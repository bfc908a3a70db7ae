"""Errors that carry RFC codes, and the ``WWW-Authenticate`` challenges they render to.

Codes come from RFC 6750 §3.1 (``invalid_request``, ``invalid_token``,
``insufficient_scope``) and RFC 9449 §7.1 / §8 (``invalid_dpop_proof``,
``use_dpop_nonce``). Only a framework adapter turns these into HTTP responses; the
rendering of challenges lives here so every adapter renders them the same way.

Every error also carries a ``Check``: the stable name of the one check that refused
the request, for logs, metrics and tests. The RFC code says what a client should do;
the check says which rule fired. Checks are never sent to clients (responses stay
terse). The catalogue, with RFC sections, is in ``auth/README.md`` ("Error codes").
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from enum import StrEnum
from typing import ClassVar, Literal, Self

Scheme = Literal["Bearer", "DPoP"]

# RFC 6750 §3: error_description and scope may only use these characters.
_NOT_QUOTABLE = re.compile(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]")


class Check(StrEnum):
    """The check that refused a request: a stable identifier, one per rule.

    Values never change once published (dashboards and alerts key on them); the
    ``dpop.`` prefix marks checks of the DPoP proof rather than of the access token.
    """

    # The request and its credentials (RFC 6750 §2, RFC 9449 §7.1, RFC 9112 §3.2).
    CREDENTIALS = "credentials"
    DUPLICATE_CREDENTIALS = "duplicate_credentials"
    QUERY_TOKEN = "query_token"  # noqa: S105 (a check name, not a secret)
    TOKEN68 = "token68"
    HOST = "host"
    DPOP_MISSING = "dpop.missing"
    # The access token (RFC 7515, RFC 7519, RFC 9068 §4, RFC 8725).
    SIZE = "size"
    FORMAT = "format"
    BASE64URL = "base64url"
    JSON = "json"
    DUPLICATE_MEMBER = "duplicate_member"
    ALG = "alg"
    TYP = "typ"
    CRIT = "crit"
    EMBEDDED_KEY = "embedded_key"
    KID = "kid"
    KEY = "key"
    SIGNATURE = "signature"
    ISS = "iss"
    AUD = "aud"
    EXP = "exp"
    NBF = "nbf"
    IAT = "iat"
    SUB = "sub"
    TID = "tid"
    JTI = "jti"
    CLIENT_ID = "client_id"
    SCOPE = "scope"
    CNF = "cnf"
    SCHEME_BINDING = "scheme_binding"
    # The DPoP proof (RFC 9449 §4.3, §9, §11.1).
    DPOP_HEADER = "dpop.header"
    DPOP_SIZE = "dpop.size"
    DPOP_FORMAT = "dpop.format"
    DPOP_BASE64URL = "dpop.base64url"
    DPOP_JSON = "dpop.json"
    DPOP_DUPLICATE_MEMBER = "dpop.duplicate_member"
    DPOP_TYP = "dpop.typ"
    DPOP_CRIT = "dpop.crit"
    DPOP_ALG = "dpop.alg"
    DPOP_JWK = "dpop.jwk"
    DPOP_JWK_PRIVATE = "dpop.jwk_private"
    DPOP_JWK_SIZE = "dpop.jwk_size"
    DPOP_JWK_USE = "dpop.jwk_use"
    DPOP_JWK_VULNERABLE = "dpop.jwk_vulnerable"
    DPOP_SIGNATURE = "dpop.signature"
    DPOP_JTI = "dpop.jti"
    DPOP_HTM = "dpop.htm"
    DPOP_HTU = "dpop.htu"
    DPOP_NONCE = "dpop.nonce"
    DPOP_IAT = "dpop.iat"
    DPOP_ATH = "dpop.ath"
    DPOP_JKT = "dpop.jkt"
    DPOP_REPLAY = "dpop.replay"
    # Authorization of an authenticated caller (RFC 6750 §3.1).
    REQUIRED_ROLE = "required_role"
    REQUIRED_SCOPE = "required_scope"
    # A dependency of verification is down (fail closed).
    KEYS_UNAVAILABLE = "keys_unavailable"
    ISSUER_UNREACHABLE = "issuer_unreachable"
    ISSUER_MISCONFIGURED = "issuer_misconfigured"
    REPLAY_STORE = "replay_store"


class AuthError(Exception):
    """Base of every authentication or authorization failure.

    ``error`` is the RFC error code (``None`` when the request carried no credentials,
    RFC 6750 §3.1: no code is sent then). ``check`` names the rule that refused the
    request. ``description`` is for people and may change; code and check do not.
    ``scheme`` is the scheme the client used, so the error is reported in the
    challenge of that scheme.
    """

    error: ClassVar[str | None] = None
    status_code: ClassVar[int] = 401

    def __init__(self, description: str, *, check: Check, scheme: Scheme | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.check = check
        self.scheme: Scheme | None = scheme

    def with_scheme(self, scheme: Scheme) -> Self:
        """This error attributed to ``scheme``: itself when it already names a scheme,
        else a copy that does (the original is left as it was: an error may be kept
        and raised again, as the FastAPI adapter does within one request)."""
        if self.scheme is not None:
            return self
        attributed = copy.copy(self)
        attributed.scheme = scheme
        return attributed

    def __copy__(self) -> Self:
        # BaseException's copy calls the class with ``args`` alone, which the keyword-only
        # ``check`` of these classes cannot take: copy the instance's fields instead.
        duplicate = self.__class__.__new__(self.__class__)
        duplicate.__dict__.update(self.__dict__)
        duplicate.args = self.args
        return duplicate


class MissingCredentials(AuthError):
    """The request carries no credentials of a supported scheme (RFC 6750 §3.1)."""


class InvalidRequest(AuthError):
    """Malformed request: duplicated headers, a token in the query, a DPoP scheme without proof."""

    error = "invalid_request"
    status_code = 400


class InvalidToken(AuthError):
    """The access token is expired, revoked, malformed or invalid for another reason."""

    error = "invalid_token"


class InvalidDpopProof(AuthError):
    """The DPoP proof is missing, malformed, replayed or does not match the request."""

    error = "invalid_dpop_proof"

    def __init__(self, description: str, *, check: Check) -> None:
        super().__init__(description, check=check, scheme="DPoP")


class UseDpopNonce(AuthError):
    """The proof lacks the server nonce, or carries a stale one (RFC 9449 §9)."""

    error = "use_dpop_nonce"

    def __init__(self, description: str, *, nonce: str) -> None:
        super().__init__(description, check=Check.DPOP_NONCE, scheme="DPoP")
        self.nonce = nonce


class InsufficientScope(AuthError):
    """The principal is authenticated but lacks a required role or scope."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, description: str, *, check: Check, scope: Sequence[str] = ()) -> None:
        super().__init__(description, check=check)
        self.scope = tuple(scope)


class ServiceUnavailable(AuthError):
    """A dependency of verification is unreachable: fail closed with 503, not 401 or 500.

    Raised when signing keys were never loaded, when the issuer cannot be reached to
    resolve a key id it has not been seen to publish, or when the replay store is down.
    """

    error = "temporarily_unavailable"
    status_code = 503
    retry_after_seconds: ClassVar[int] = 5


class ConfigurationError(Exception):
    """The configuration is unsafe or incomplete; start-up must stop."""


def _quoted(value: str) -> str:
    return '"' + _NOT_QUOTABLE.sub("", value) + '"'


def challenges(
    error: AuthError | None,
    *,
    realm: str | None,
    dpop_algorithms: Sequence[str],
    resource_metadata: str | None = None,
) -> list[str]:
    """Render the ``WWW-Authenticate`` challenges for ``error`` (RFC 6750 §3, RFC 9449 §7.1),
    each pointing at the protected resource metadata when its URL is given (RFC 9728 §5.1).

    Both schemes are always offered, so a client learns that DPoP is accepted and with
    which algorithms. The error code is attached to the challenge of the scheme the
    client used, and that challenge comes first; each attribute appears once.
    Descriptions are written by this package and never contain token content;
    characters RFC 6750 forbids are dropped anyway.
    """
    # realm is optional (RFC 6750 §3); sent only when configured.
    bearer = [f"realm={_quoted(realm)}"] if realm is not None else []
    dpop = [f"realm={_quoted(realm)}"] if realm is not None else []
    if resource_metadata is not None:
        bearer.append(f"resource_metadata={_quoted(resource_metadata)}")
        dpop.append(f"resource_metadata={_quoted(resource_metadata)}")
    if error is not None and error.error is not None and error.status_code != 503:
        target = dpop if error.scheme == "DPoP" else bearer
        target.append(f"error={_quoted(error.error)}")
        target.append(f"error_description={_quoted(error.description)}")
        if isinstance(error, InsufficientScope) and error.scope:
            target.append(f"scope={_quoted(' '.join(error.scope))}")
    dpop.append(f"algs={_quoted(' '.join(dpop_algorithms))}")
    rendered = [" ".join(("Bearer", ", ".join(bearer))).rstrip(), "DPoP " + ", ".join(dpop)]
    # The challenge carrying the error comes first: clients that read one challenge (or
    # the joined header's first scheme, as requests-oauth2client does to follow a
    # use_dpop_nonce) find it.
    return rendered[::-1] if error is not None and error.scheme == "DPoP" else rendered
