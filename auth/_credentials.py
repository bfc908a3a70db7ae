"""Finding the access token in a request (RFC 6750 §2, RFC 9449 §7.1).

Only the ``Authorization`` header is accepted, with the ``Bearer`` or ``DPoP`` scheme.
Every value of a repeated header is read (not the first), so two ``Authorization`` or
two ``DPoP`` headers are seen as what they are: an invalid request. A token in the
query string is refused (RFC 6750 §2.3 is optional and leaks tokens into logs), and
the form-body method (§2.2) is not read at all.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from ._errors import Check, InvalidRequest, MissingCredentials, Scheme

# RFC 7235 token68.
_TOKEN68 = re.compile(r"[A-Za-z0-9\-._~+/]++=*+")
_SCHEMES: dict[str, Scheme] = {"bearer": "Bearer", "dpop": "DPoP"}


@dataclass(slots=True)  # not frozen: a frozen dataclass's __init__ is slower, per request
class HttpRequest:
    """What the verifier needs from an HTTP request, whatever the framework.

    ``scheme`` is ``http`` or ``https`` as the server received the request (a WebSocket
    upgrade gives the scheme of its http(s) URL); ``path`` is the request's path exactly
    as sent (percent-escapes kept, latin-1 decoded), without the query, which is
    ``query``. ``headers`` holds every header the verifier reads as (lower-case name,
    value), repeats included: ``host``, ``authorization``, ``dpop`` and the forwarded
    headers. ``peer`` is the address of the direct client (a proxy, when there is one).
    The request's URL is built from these by ``auth._htu``, never taken from a header.
    """

    method: str
    scheme: str
    path: str
    headers: Sequence[tuple[str, str]]
    query: str = ""
    peer: str | None = None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


@dataclass(slots=True)  # not frozen: its __init__ is slower, and this is per request
class Credentials:
    scheme: Scheme
    token: str
    proofs: tuple[str, ...]


def _token_in_query(query: str) -> bool:
    return "access_token" in query and any(
        name == "access_token" for name, _ in parse_qsl(query, keep_blank_values=True)
    )


def check_token_syntax(credentials: Credentials) -> None:
    """The token is ``token68`` (RFC 7235 §2.1), as RFC 6750 §2.1 requires.

    Separate from ``extract_credentials`` because a token found in the verified-token
    cache is known to be well-formed: the regular expression over a kilobyte of token
    was a third of the cost of a cached request.

    Raises:
        InvalidRequest: anything else in the credentials (spaces, commas, quotes...).
    """
    if not _TOKEN68.fullmatch(credentials.token):
        raise InvalidRequest(
            "the credentials are malformed", check=Check.TOKEN68, scheme=credentials.scheme
        )


def extract_credentials(request: HttpRequest) -> Credentials:
    """The scheme, token and DPoP proofs of ``request``; the token's syntax is checked
    by ``check_token_syntax``.

    Raises:
        MissingCredentials: no ``Authorization`` header of a supported scheme.
        InvalidRequest: repeated ``Authorization``, malformed credentials, a token in
            the query string, or the DPoP scheme without a ``DPoP`` header.
    """
    # One pass over the few headers the adapter passed (host, authorization, dpop...).
    values: list[str] = []
    found_proofs: list[str] = []
    for name, value in request.headers:
        if name == "authorization":
            values.append(value)
        elif name == "dpop":
            found_proofs.append(value)
    proofs = tuple(found_proofs) if found_proofs else ()
    in_query = _token_in_query(request.query) if request.query else False
    if not values:
        if in_query:
            raise InvalidRequest(
                "access tokens are not accepted in the query string", check=Check.QUERY_TOKEN
            )
        raise MissingCredentials("the request carries no access token", check=Check.CREDENTIALS)
    if len(values) > 1:
        raise InvalidRequest(
            "more than one Authorization header", check=Check.DUPLICATE_CREDENTIALS
        )
    raw_scheme, _, token = values[0].strip().partition(" ")
    scheme = _SCHEMES.get(raw_scheme.lower())
    if scheme is None:
        raise MissingCredentials(
            "the authorization scheme is not Bearer or DPoP", check=Check.CREDENTIALS
        )
    token = token.strip()
    if not token:
        raise InvalidRequest("the credentials are malformed", check=Check.TOKEN68, scheme=scheme)
    if in_query:
        raise InvalidRequest(
            "the access token is sent by more than one method",
            check=Check.DUPLICATE_CREDENTIALS,
            scheme=scheme,
        )
    if scheme == "DPoP" and not proofs:
        raise InvalidRequest(
            "the DPoP scheme requires a DPoP proof header", check=Check.DPOP_MISSING, scheme=scheme
        )
    return Credentials(scheme=scheme, token=token, proofs=proofs)
