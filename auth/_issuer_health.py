"""An identity provider that is down, or a configuration that can never work.

A provider that does not answer (no connection, a timeout, a 5xx) is waited out: cached
keys keep working, the key set is fetched again with a backoff, and readiness says
``unavailable``. A provider that answers with something that can never work as configured
(discovery 404, another issuer, a JWKS without a usable key; ``auth._discovery.Problem``)
is a configuration to fix: readiness says ``misconfigured``, and by default in
production start-up stops (``OIDC_IF_MISCONFIGURED``) with the sentence ``explain``
writes, which names the setting and the fix, as the doctor does.
"""

from __future__ import annotations

from collections.abc import Iterable

from ._discovery import FetchError, Problem
from ._errors import ConfigurationError
from ._jwks import JwksCache
from ._profiles import TrustedIssuer

_EXAMPLE_ISSUERS = (
    "Keycloak https://host/realms/<realm>, Auth0 https://<tenant>.<region>.auth0.com/, "
    "Entra ID https://login.microsoftonline.com/<tenant id>/v2.0, "
    "Okta https://<org>.okta.com/oauth2/default"
)


def _setting(trusted: TrustedIssuer) -> str:
    return "OIDC_DISCOVERY_URI" if trusted.discovery_configured else trusted.source


def explain(trusted: TrustedIssuer, error: FetchError) -> str:
    """One sentence: what the provider answered, and the setting that fixes it."""
    source, issuer, problem = trusted.source, trusted.issuer, error.problem
    in_list = source.startswith("the OIDC_ISSUERS")
    if problem is Problem.ISSUER_MISMATCH:
        found = error.found_issuer
        named = f"{source} names {issuer}" if in_list else f"{source} is {issuer}"
        if not isinstance(found, str):
            return (
                f"{named}, but the discovery document at {error.url} names no issuer: "
                "point it at an OpenID provider"
            )
        slash = (
            " (they differ by a trailing slash, which counts)"
            if found.rstrip("/") == issuer.rstrip("/")
            else ""
        )
        target = "that entry's issuer" if in_list else source
        return (
            f"{named}, but the provider's discovery document names the issuer {found}{slash}: "
            f"set {target} to {found} exactly, as its tokens carry it in iss"
        )
    if problem is Problem.NOT_FOUND and error.document == "discovery":
        if trusted.discovery_configured:
            return (
                f"OIDC_DISCOVERY_URI: GET {error.url} answered {error.status}: set it to the "
                "provider's /.well-known/openid-configuration URL"
            )
        target = "that entry's issuer" if in_list else "it"
        return (
            f"{source}: GET {error.url} answered {error.status}, so {issuer} is not an OpenID "
            f"provider's issuer: set {target} to the issuer exactly as the provider names it "
            f"({_EXAMPLE_ISSUERS})"
        )
    if problem is Problem.NOT_FOUND:
        return (
            f"the JWKS {error.url} named by the discovery document of {issuer} answered "
            f"{error.status}: check the provider, or that {_setting(trusted)} names its "
            "own discovery document"
        )
    if problem is Problem.NOT_JSON:
        return (
            f"{_setting(trusted)}: {error}: it names something other than an OpenID "
            f"provider (a login page?); set it to the issuer ({_EXAMPLE_ISSUERS})"
        )
    if problem is Problem.NO_JWKS_URI:
        return (
            f"{_setting(trusted)}: the discovery document at {error.url} has no acceptable "
            f"jwks_uri ({error}); an https issuer must publish its keys over https"
        )
    if problem is Problem.NO_USABLE_KEY:
        if "OIDC_ALGORITHMS" in str(error):
            return f"{error}: add one of the key's algorithms to OIDC_ALGORITHMS"
        return (
            f"{error}: the provider of {issuer} must publish an asymmetric signing key "
            "(RSA of 2048 to 4096 bits, EC P-256/384/521 or Ed25519) with use sig"
        )
    # Down, not wrong: the same sentence as the log line.
    return f"{error} (the provider of {issuer} is unreachable or failing; retrying)"


def misconfiguration(
    key_sets: Iterable[tuple[TrustedIssuer, JwksCache]],
) -> ConfigurationError | None:
    """The refusal to start, when a provider's answer at start-up can never work."""
    sentences = [
        explain(trusted, keys.problem)
        for trusted, keys in key_sets
        if keys.keys is None and keys.problem is not None and keys.problem.misconfigured
    ]
    if not sentences:
        return None
    return ConfigurationError(
        "; ".join(sentences)
        + " (set OIDC_IF_MISCONFIGURED=retry to start anyway and keep retrying)"
    )
