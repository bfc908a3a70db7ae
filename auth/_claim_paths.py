"""Where a claim is: a plain name, a dotted path or a JSON Pointer (RFC 6901).

``OIDC_ROLE_CLAIMS``, ``OIDC_SCOPE_CLAIMS`` and ``OIDC_GROUPS_CLAIM`` accept each form:

- ``roles``, ``scp``: a top-level claim;
- ``https://example.com/roles``, ``urn:zitadel:iam:org:project:roles``: a value with a
  URI scheme is one claim name, dots and slashes included (Auth0's namespaced claims);
- ``realm_access.roles``: a dotted path, each dot a step into an object;
- ``/realm_access/roles``, ``/https:~1~1example.com~1roles``: a JSON Pointer, for
  anything the other forms cannot say (a claim whose name has a dot: ``/a.b``).

A value that could mean two things is refused rather than guessed: ``realm_access/roles``
(a pointer without its leading ``/``, or a claim named with a slash?). So is one that
names nothing: an empty step (``a..b``, ``//``) or a ``~`` that is not ``~0`` or ``~1``.

Each value is kept in one canonical form: the claim's name when it is a top-level claim,
else a JSON Pointer; ``claim_value`` reads either.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

#: RFC 3986 §3.1: a scheme, then ":".
_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
#: RFC 6901 §3: "~" is only ever "~0" or "~1" in a pointer.
_BAD_ESCAPE = re.compile(r"~(?![01])")


def escape_token(name: str) -> str:
    """A claim name as one reference token of a JSON Pointer (RFC 6901 §3)."""
    return name.replace("~", "~0").replace("/", "~1")


def _unescape_token(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def parse_claim_reference(value: str) -> str:
    """The canonical form of one claim reference: the name of a top-level claim, or a
    JSON Pointer to a nested one.

    Raises:
        ValueError: the value is empty, ambiguous or not a valid pointer or path; the
            message says what to write instead.
    """
    if not value:
        raise ValueError("an empty claim name")
    if value.startswith("/"):
        if _BAD_ESCAPE.search(value):
            raise ValueError(f"{value!r}: in a JSON Pointer '~' must be written ~0 and '/' ~1")
        tokens = value[1:].split("/")
        if "" in tokens:
            raise ValueError(f"{value!r} has an empty step")
        name = _unescape_token(tokens[0])
        # One step is a top-level claim, kept as its name (unless the name itself starts
        # with "/", which would read as a pointer).
        return name if len(tokens) == 1 and not name.startswith("/") else value
    if _URI_SCHEME.match(value):
        return value  # one claim, named by a URI (Auth0's namespaced claims)
    if "/" in value:
        pointer = "/" + value
        named = "/" + escape_token(value)
        raise ValueError(
            f"{value!r} is ambiguous: write {pointer} for a JSON Pointer, or {named} for one "
            "claim whose name has a slash"
        )
    if "." in value:
        steps = value.split(".")
        if "" in steps:
            raise ValueError(f"{value!r} has an empty step")
        return "/" + "/".join(escape_token(step) for step in steps)
    return value


def claim_value(claims: Mapping[str, Any], reference: str, default: Any = None) -> Any:
    """The value at ``reference`` (a canonical reference: a top-level name or a JSON
    Pointer), or ``default`` where the path does not exist. A JSON ``null`` that is
    present is returned as None, not as ``default``."""
    if not reference.startswith("/"):
        return claims.get(reference, default)
    value: Any = claims
    for token in reference[1:].split("/"):
        if not isinstance(value, Mapping):
            return default
        name = _unescape_token(token)
        if name not in value:
            return default
        value = value[name]
    return value


def expand_audience(reference: str, audience: str) -> str:
    """``reference`` with ``{audience}`` replaced by ``audience``, escaped as a pointer
    token when ``reference`` is a pointer (Keycloak client ids may be URLs)."""
    replacement = escape_token(audience) if reference.startswith("/") else audience
    return reference.replace("{audience}", replacement)
