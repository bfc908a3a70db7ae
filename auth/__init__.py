"""Offline validation of OIDC access tokens for resource servers.

RFC 9068 JWT access tokens, RFC 9449 DPoP proofs with replay detection, discovery and
JWKS rotation, RFC 6750 / 9449 errors, development modes, and adapters: FastAPI
(``auth.fastapi``), any ASGI application (``auth.asgi``), synchronous code and WSGI
(``auth.sync``), and tests (``auth.testing``, the pytest plugin ``auth.pytest_plugin``).
Framework-agnostic at its core; never imports the application.
"""

from ._authorization import check_any_role, check_roles, check_scopes
from ._credentials import HttpRequest
from ._environment import read_settings
from ._errors import (
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
from ._factory import check_settings, create_authenticator
from ._host_guard import HostGuard
from ._json_nesting import json_nesting_exceeds
from ._list_setting import parse_list_setting
from ._origin import IpNetwork, client_address, is_trusted_proxy
from ._principal import Principal
from ._problem import problem_document, problem_json
from ._profiles import Provider
from ._redaction import TokenRedactingFilter, install_token_redaction, redact, redact_target
from ._refusal import Refusal
from ._replay import MemoryReplayStore, ReplayStore
from ._settings import AuthMode, AuthSettings, IssuerSettings
from ._verifier import Authenticator, TokenVerifier

__all__ = [
    "AuthError",
    "AuthMode",
    "AuthSettings",
    "Authenticator",
    "Check",
    "ConfigurationError",
    "HostGuard",
    "HttpRequest",
    "InsufficientScope",
    "InvalidDpopProof",
    "InvalidRequest",
    "InvalidToken",
    "IpNetwork",
    "IssuerSettings",
    "MemoryReplayStore",
    "MissingCredentials",
    "Principal",
    "Provider",
    "Refusal",
    "ReplayStore",
    "ServiceUnavailable",
    "TokenRedactingFilter",
    "TokenVerifier",
    "UseDpopNonce",
    "check_any_role",
    "check_roles",
    "check_scopes",
    "check_settings",
    "client_address",
    "create_authenticator",
    "install_token_redaction",
    "is_trusted_proxy",
    "json_nesting_exceeds",
    "parse_list_setting",
    "problem_document",
    "problem_json",
    "read_settings",
    "redact",
    "redact_target",
]
