"""Is this an access token? The header ``typ`` (RFC 9068 §4 step 1; RFC 8725 §3.11), and
what still tells other JWTs apart when a provider profile accepts ``typ: JWT`` or none.

``at+jwt`` is the only type that says "access token" by itself. A profile that accepts
``JWT`` or no ``typ`` (Entra, Okta, Zitadel...) would, by the header alone, also accept
the provider's other JWTs, so these stay refused by what they carry:

* ID tokens (OpenID Connect Core §2): ``at_hash``, ``c_hash`` or ``s_hash`` (hashes of
  the tokens an ID token is issued beside); ``nonce``, ``auth_time`` and ``sid``, claims
  of ID tokens (Core §2, Front-Channel Logout §3) that RFC 9068 does not give access
  tokens; or Keycloak's payload ``typ: ID``. A provider whose documentation shows some
  of the latter three in its access tokens says so in its profile, with the claim only
  its access tokens carry (``IdClaimsInAccessTokens``: Keycloak, Okta, authentik).
  Beyond these markers an ID token is refused by its audience (its ``aud`` is the
  client's id) or, where an API's audience is a client id too (Entra v2), by the
  profile's required client id: Entra's ID tokens carry neither ``azp`` nor ``appid``.
* Logout tokens (OpenID Connect Back-Channel Logout §2.4) and other Security Event
  Tokens (RFC 8417 §2.2): an ``events`` claim; Keycloak's payload ``typ: Logout``.
* Refresh tokens: Keycloak's are JWTs with payload ``typ: Refresh`` or ``Offline``
  (their ``aud`` is the issuer, refused too); other providers' are opaque.
* DPoP proofs (RFC 9449 §4.2): ``typ: dpop+jwt`` is never accepted, and a proof
  carries ``htm``/``htu`` claims and its key in the header (refused as an embedded key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ._errors import Check, InvalidToken
from ._profiles import TYP_ABSENT, IdClaimsInAccessTokens, normalise_typ

#: The ``typ`` that needs no further evidence (RFC 9068 §2.1).
AT_JWT = "at+jwt"
# Claims only other kinds of JWT carry (see the module docstring).
_OTHER_TOKEN_CLAIMS = ("at_hash", "c_hash", "s_hash", "events", "htm", "htu")
# Claims of ID tokens that some providers put in their access tokens too (profiles).
ID_TOKEN_CLAIMS = ("nonce", "auth_time", "sid")
# Keycloak's payload "typ" of its access tokens; "ID", "Refresh", "Logout"... are not.
_ACCESS_TOKEN_PAYLOAD_TYPES = frozenset({"bearer", "dpop"})


def header_type(header: Mapping[str, Any]) -> str:
    """The header ``typ`` as compared: normalised, or ``absent``.

    Raises:
        InvalidToken: ``typ`` is present but not a string.
    """
    typ = header.get("typ", None)
    if "typ" not in header:
        return TYP_ABSENT
    if not isinstance(typ, str):
        raise InvalidToken("the token's typ header is malformed", check=Check.TYP)
    return normalise_typ(typ)


def check_type(
    header: Mapping[str, Any],
    claims: Mapping[str, Any],
    *,
    accepted: frozenset[str],
    id_claims: Sequence[IdClaimsInAccessTokens] = (),
) -> None:
    """The header ``typ`` is one of ``accepted``; unless it is ``at+jwt``, the payload
    carries nothing that marks another kind of JWT: no ID-token claim either, unless
    one of ``id_claims`` (the profile's) permits those present.

    Raises:
        InvalidToken: with ``Check.TYP``.
    """
    typ = header_type(header)
    if typ not in accepted:
        raise InvalidToken(
            f"the token is not an access token (typ must be {' or '.join(sorted(accepted))})",
            check=Check.TYP,
        )
    if typ == AT_JWT:
        return
    # A null payload typ is refused like any other non-access-token value.
    payload_typ = claims.get("typ")
    if "typ" in claims and not (
        isinstance(payload_typ, str) and payload_typ.lower() in _ACCESS_TOKEN_PAYLOAD_TYPES
    ):
        raise InvalidToken("the token is not an access token", check=Check.TYP)
    if any(name in claims for name in _OTHER_TOKEN_CLAIMS):
        raise InvalidToken("the token is not an access token", check=Check.TYP)
    present = [name for name in ID_TOKEN_CLAIMS if name in claims]
    if present and not any(allowance.permits(present, claims) for allowance in id_claims):
        raise InvalidToken(
            "the token is not an access token (it carries claims of an ID token)",
            check=Check.TYP,
        )
