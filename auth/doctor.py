"""``python -m auth.doctor``: why is this token refused?

    python -m auth.doctor --issuer https://idp.example/realms/todo --audience todo-api TOKEN
    echo "$TOKEN" | python -m auth.doctor            # issuer etc. from the OIDC_* settings
    python -m auth.doctor --json --show-claims TOKEN # a report for programs, with the claims
    python -m auth.doctor --proof "$PROOF" --method POST --url https://api.example/todos TOKEN
    OIDC_DOCTOR_CLIENT_SECRET=... python -m auth.doctor --client-id svc   # obtains a token

Walks the verifier's own steps (``auth._diagnosis``) and prints each as PASS, FAIL, N/A
(could not be checked) or SKIP, with the header and claim values involved (never the
signature, never the token), times in ISO 8601 beside their epoch values, and for each
failure the setting or the identity provider's setting that fixes it.

With ``--client-id`` it first obtains a token by the client-credentials grant through
authlib's OAuth 2 client (the ``doctor`` extra). The client secret is never an argument
(the process list and shell history would keep it): it comes from the environment
variable ``OIDC_DOCTOR_CLIENT_SECRET``, from stdin with ``--client-secret -``, or from a
prompt on a terminal. ``--client-secret`` with any other value is refused.

Exit codes, one meaning each:

    0  accepted: the server would accept the request
    1  refused: a check refused it (the report says which, and the fix)
    2  usage or configuration error: nothing was checked
    3  undecided: the issuer's keys (or, with --client-id, a token) could not be
       obtained; the server would answer 503
    4  internal error: a bug in the doctor (the message says what, please report it)
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
import traceback
from collections.abc import Sequence
from enum import IntEnum
from typing import Any

import httpx
from pydantic import ValidationError

from ._diagnosis import Diagnosis, ProofRequest, Report, Verdict
from ._discovery import FetchError, fetch_json
from ._environment import DOCTOR_CLIENT_SECRET, settings_error, unknown_variables
from ._htu import normalise_url
from ._report import error_json, render, report_json
from ._settings import AuthSettings

#: Where ``--client-id`` reads the client's secret from, unless ``--client-secret -``.
CLIENT_SECRET_VARIABLE = DOCTOR_CLIENT_SECRET
_STDIN = "-"


class ExitCode(IntEnum):
    ACCEPTED = 0
    REFUSED = 1
    USAGE = 2
    UNDECIDED = 3
    INTERNAL_ERROR = 4


class UsageError(Exception):
    """The command line or the settings cannot work; nothing was checked."""


class NoToken(Exception):
    """With ``--client-id``: the issuer did not issue a token."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        # The package's name as imported: auth here, oidc_resource_server from the wheel.
        prog=f"python -m {__package__}.doctor",
        description="Explain why an access token is refused: every check of the verifier, "
        "in order, with its values and its fix.",
        epilog="exit codes: 0 accepted, 1 refused, 2 usage or configuration error, "
        "3 undecided (the issuer's keys or a token could not be obtained), 4 internal error",
    )
    parser.add_argument("token", nargs="?", help="the access token; '-' or absent: stdin")
    parser.add_argument("--issuer", help="OIDC_ISSUER_URI (default: the OIDC_* environment)")
    parser.add_argument("--audience", help="OIDC_AUDIENCE (space-separated)")
    parser.add_argument("--provider", help="OIDC_PROVIDER: keycloak, auth0, entra, okta, ...")
    parser.add_argument("--discovery-uri", help="OIDC_DISCOVERY_URI")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--show-claims",
        action="store_true",
        help="print the token's header and payload too (never the signature)",
    )
    proof = parser.add_argument_group("DPoP (RFC 9449)")
    proof.add_argument("--proof", help="the DPoP proof sent with the token")
    proof.add_argument("--method", default="GET", help="the request's method (default GET)")
    proof.add_argument("--url", help="the request's URL (required with --proof)")
    grant = parser.add_argument_group("obtaining a token (client credentials)")
    grant.add_argument("--client-id", help="obtain a token with the client-credentials grant")
    grant.add_argument(
        "--client-secret",
        metavar="-",
        help=f"'-': read the client's secret from stdin (else ${CLIENT_SECRET_VARIABLE}, "
        "else a prompt); a secret given here would stay in the process list and shell history",
    )
    grant.add_argument("--scope", help="scopes to ask for (with --client-id)")
    grant.add_argument("--resource", help="RFC 8707 resource indicator (with --client-id)")
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
    # A misspelt OIDC_* variable would otherwise be ignored without a word.
    for sentence in unknown_variables(AuthSettings, os.environ):
        print(f"warning: {sentence}", file=sys.stderr)
    try:
        settings = AuthSettings(**overrides)
    except ValidationError as exc:
        raise UsageError(str(settings_error(exc))) from None
    if not settings.trusted_issuers():
        raise UsageError("no issuer: pass --issuer and --audience, or set OIDC_*")
    return settings


def client_secret(args: argparse.Namespace) -> str:
    """The client's secret, from stdin (``--client-secret -``), the environment, or a
    prompt, never from the command line.

    Raises:
        UsageError: a secret on the command line, or none to be had.
    """
    if args.client_secret not in (None, _STDIN):
        raise UsageError(
            "--client-secret takes no secret (it would stay in the process list and the "
            f"shell history): set {CLIENT_SECRET_VARIABLE}, or pass --client-secret - and "
            "write the secret on stdin"
        )
    if args.client_secret == _STDIN:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif CLIENT_SECRET_VARIABLE in os.environ:
        secret = os.environ[CLIENT_SECRET_VARIABLE]
    elif sys.stdin.isatty():
        secret = getpass.getpass(f"client secret of {args.client_id}: ")
    else:
        raise UsageError(
            f"--client-id needs the client's secret: set {CLIENT_SECRET_VARIABLE}, or pass "
            "--client-secret - and write it on stdin"
        )
    if not secret:
        raise UsageError("the client secret is empty")
    return secret


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
        NoToken: discovery failed, names no token endpoint, or the server issued none.
    """
    from authlib.integrations.base_client import OAuthError
    from authlib.integrations.httpx_client import AsyncOAuth2Client

    trusted = settings.trusted_issuers()[0]
    try:
        async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http:
            document, _ = await fetch_json(http, trusted.discovery_uri)
        endpoint = document.get("token_endpoint")
        if not isinstance(endpoint, str):
            raise NoToken("the discovery document names no token_endpoint")
        extra = {"resource": resource} if resource else {}
        async with AsyncOAuth2Client(
            client_id, client_secret, scope=scope, timeout=settings.http_timeout_seconds
        ) as oauth:
            token = await oauth.fetch_token(endpoint, grant_type="client_credentials", **extra)
    except (FetchError, OAuthError, httpx.HTTPError) as exc:
        raise NoToken(f"no token from the issuer: {exc}") from None
    access_token = token.get("access_token")
    if not isinstance(access_token, str):
        raise NoToken("the token response holds no access_token")
    return access_token


def _proof_request(args: argparse.Namespace) -> ProofRequest | None:
    if args.proof is None:
        if args.url is not None:
            raise UsageError("--url is for a DPoP proof: pass --proof too")
        return None
    if args.url is None:
        raise UsageError("--proof needs --url, the URL the request was sent to")
    try:
        normalise_url(args.url)
    except ValueError as exc:
        raise UsageError(f"--url: {exc}") from None
    return ProofRequest(proof=args.proof.strip(), method=args.method, url=args.url)


async def _token(args: argparse.Namespace, settings: AuthSettings) -> str:
    if args.client_id:
        try:
            import authlib  # noqa: F401 (checked here for a clear message)
        except ImportError:
            raise UsageError("--client-id needs authlib: install the 'doctor' extra") from None
        return await obtain_token(
            settings,
            client_id=args.client_id,
            client_secret=client_secret(args),
            scope=args.scope,
            resource=args.resource,
        )
    if args.client_secret is not None:
        raise UsageError("--client-secret is for --client-id")
    if args.token and args.token != _STDIN:
        return str(args.token)
    return sys.stdin.read()


def _without_scheme(token: str) -> str:
    token = token.strip()
    scheme, _, rest = token.partition(" ")
    return rest.strip() if scheme.lower() in ("bearer", "dpop") and rest else token


#: The exit code of each verdict.
EXIT_CODES = {
    Verdict.ACCEPTED: ExitCode.ACCEPTED,
    Verdict.REFUSED: ExitCode.REFUSED,
    Verdict.UNDECIDED: ExitCode.UNDECIDED,
}


async def diagnose(args: argparse.Namespace) -> tuple[Report, ExitCode]:
    """The report on the token the arguments name, and the exit code it means.

    Raises:
        UsageError: the arguments or the settings cannot work.
        NoToken: with ``--client-id``, no token was issued.
    """
    settings = _settings(args)
    proof = _proof_request(args)
    token = _without_scheme(await _token(args, settings))
    if not token:
        raise UsageError("no token: pass it as an argument or on stdin")
    async with httpx.AsyncClient(timeout=settings.http_timeout_seconds) as client:
        report = await Diagnosis(settings).run(token, client, proof=proof)
    return report, EXIT_CODES[report.verdict]


def _fail(args: argparse.Namespace, message: str, code: ExitCode) -> int:
    if args.json:
        print(error_json(message, exit_code=code))
    print(f"error: {message}", file=sys.stderr)
    return code


async def _main(args: argparse.Namespace) -> int:
    try:
        report, code = await diagnose(args)
    except UsageError as exc:
        return _fail(args, str(exc), ExitCode.USAGE)
    except NoToken as exc:
        return _fail(args, str(exc), ExitCode.UNDECIDED)
    except Exception as exc:  # a bug: say so, and never exit as if the token were refused
        traceback.print_exc()
        message = f"internal error ({type(exc).__name__}): {exc}; please report it"
        return _fail(args, message, ExitCode.INTERNAL_ERROR)
    if args.json:
        print(report_json(report, exit_code=code, show_claims=args.show_claims))
    else:
        print(render(report, show_claims=args.show_claims))
    return code


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(_main(_parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
