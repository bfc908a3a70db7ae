"""Offline validation of OIDC access tokens for resource servers.

RFC 9068 JWT access tokens, RFC 9449 DPoP proofs with replay detection, discovery and
JWKS rotation, RFC 6750 / 9449 errors, development modes, and a FastAPI adapter
(``auth.fastapi``). Framework-agnostic at its core; never imports the application.
"""

from auth.credentials import HttpRequest
from auth.errors import (
    AuthError,
    Check,
    ConfigurationError,
    InsufficientScope,
    InvalidDpopProof,
    InvalidRequest,
    InvalidToken,
    MissingCredentials,
    ServiceUnavailable,
    UseDpopNonce,
)
from auth.factory import create_authenticator
from auth.principal import Principal
from auth.profiles import Provider
from auth.redaction import TokenRedactingFilter, install_token_redaction
from auth.replay import MemoryReplayStore, ReplayStore
from auth.settings import AuthMode, AuthSettings, IssuerSettings
from auth.verifier import Authenticator, TokenVerifier

__all__ = [
    "AuthError",
    "AuthMode",
    "AuthSettings",
    "Authenticator",
    "Check",
    "ConfigurationError",
    "HttpRequest",
    "InsufficientScope",
    "InvalidDpopProof",
    "InvalidRequest",
    "InvalidToken",
    "IssuerSettings",
    "MemoryReplayStore",
    "MissingCredentials",
    "Principal",
    "Provider",
    "ReplayStore",
    "ServiceUnavailable",
    "TokenRedactingFilter",
    "TokenVerifier",
    "UseDpopNonce",
    "create_authenticator",
    "install_token_redaction",
]
