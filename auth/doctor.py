"""``python -m auth.doctor``: why is this token refused?

    python -m auth.doctor --issuer https://idp.example/realms/todo --audience todo-api TOKEN
    echo "$TOKEN" | python -m auth.doctor            # issuer etc. from the OIDC_* settings
    python -m auth.doctor --client-id svc --client-secret ...   # obtains a token itself

Runs every check of the verifier in order (``auth._diagnosis``) and prints each as PASS or
FAIL with the header and claim values involved (never the signature, never the token),
and for each failure the setting or Keycloak client attribute that fixes it. With
``--client-id`` it first obtains a token by the client-credentials grant through
authlib's OAuth 2 client (the ``doctor`` extra). Exits 0 when the token would be
accepted, 1 when it would be refused, 2 on a usage or configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import ValidationError

from ._diagnosis import Diagnosis, Finding
from ._discovery import FetchError, fetch_json
from ._settings import AuthSettings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        # The package's name as imported: auth here, oidc_resource_server from the wheel.
        prog=f"python -m {__package__}.doctor",
        description="Explain why an access token is refused.",
    )
    parser.add_argument("token", nargs="?", help="the access token; '-' or absent: stdin")
    parser.add_argument("--issuer", help="OIDC_ISSUER_URI (default: the OIDC_* environment)")
    parser.add_argument("--audience", help="OIDC_AUDIENCE (space-separated)")
    parser.add_argument("--provider", help="OIDC_PROVIDER: keycloak, auth0, entra, ...")
    parser.add_argument("--discovery-uri", help="OIDC_DISCOVERY_URI")
    parser.add_argument("--client-id", help="obtain a token with the client-credentials grant")
    parser.add_argument("--client-secret", help="the client's secret (with --client-id)")
    parser.add_argument("--scope", help="scopes to ask for (with --client-id)")
    parser.add_argument("--resource", help="RFC 8707 resource indicator (with --client-id)")
    return parser


def _settings(args: argparse.Namespace) -> AuthSettings:
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("issuer_uri", args.issuer),
            ("audience", args.audience),
            ("provider", args.provider),
            ("discovery_uri", args.discovery_uri),
        )
        if value is not None
    }
    return AuthSettings(**overrides)


async def obtain_token(
    settings: AuthSettings,
    *,
    client_id: str,
    client_secret: str,
    scope: str | None,
    resource: str | None,
) -> str:
    """A token from the (first) issuer's token endpoint by the client-credentials grant.

    Raises:
        FetchError: discovery failed or names no token endpoint.
        authlib.integrations.base_client.OAuthError: the server refused the client.
    """
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    trusted = settings.trusted_issuers()[0]
    async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http:
        document, _ = await fetch_json(http, trusted.discovery_uri)
    endpoint = document.get("token_endpoint")
    if not isinstance(endpoint, str):
        raise FetchError("the discovery document names no token_endpoint")
    extra = {"resource": resource} if resource else {}
    async with AsyncOAuth2Client(client_id, client_secret, scope=scope) as oauth:
        token = await oauth.fetch_token(endpoint, grant_type="client_credentials", **extra)
    access_token: str = token["access_token"]
    return access_token


def render(findings: Sequence[Finding]) -> str:
    lines = []
    for number, finding in enumerate(findings, 1):
        lines.append(
            f"{number:2} {'PASS' if finding.passed else 'FAIL'} {finding.check:<9} {finding.detail}"
        )
        if finding.fix:
            lines.append(f"{'':17}{'fix' if not finding.passed else 'note'}: {finding.fix}")
    failed = [finding.check for finding in findings if not finding.passed]
    lines.append(f"result: refused at {failed[0]}" if failed else "result: accepted")
    return "\n".join(lines)


async def _main(args: argparse.Namespace) -> int:
    try:
        settings = _settings(args)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}", file=sys.stderr)
        return 2
    if not settings.trusted_issuers():
        print("error: no issuer: pass --issuer and --audience, or set OIDC_*", file=sys.stderr)
        return 2
    if args.client_id:
        try:
            import authlib  # noqa: F401 (checked here for a clear message)
        except ImportError:
            print("error: --client-id needs authlib: install the 'doctor' extra", file=sys.stderr)
            return 2
        token = await obtain_token(
            settings,
            client_id=args.client_id,
            client_secret=args.client_secret or "",
            scope=args.scope,
            resource=args.resource,
        )
    elif args.token and args.token != "-":  # noqa: S105 ("-" means stdin)
        token = args.token
    else:
        token = sys.stdin.read().strip()
    async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as client:
        findings = await Diagnosis(settings).run(token.removeprefix("Bearer "), client)
    print(render(findings))
    return 0 if all(finding.passed for finding in findings) else 1


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
