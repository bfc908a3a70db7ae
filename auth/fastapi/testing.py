"""Testing helper: run a FastAPI application's routes as a given caller, no token needed.

    with override_principal(app, auth, roles=["admin"], scopes=["items:read"]):
        response = client.get("/items")

The route's own requirements still apply to that caller: ``Security(auth, scopes=...)``,
``auth.require_roles`` and friends answer 403 with the same challenges and body as in
production, so a test can prove a denial as well as an admission.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.security import SecurityScopes

from .._errors import AuthError
from .._principal import Principal
from . import OIDCAuth, check_scopes


def fake_principal(
    *,
    subject: str = "test-user",
    roles: Sequence[str] = (),
    scopes: Sequence[str] = (),
    **fields: Any,
) -> Principal:
    """A principal for tests; ``fields`` are any other ``Principal`` fields."""
    return Principal(
        subject=subject,
        issuer=fields.pop("issuer", "https://issuer.test"),
        roles=frozenset(roles),
        scopes=frozenset(scopes),
        **fields,
    )


@contextlib.contextmanager
def override_principal(
    app: FastAPI,
    auth: OIDCAuth,
    principal: Principal | None = None,
    *,
    subject: str = "test-user",
    roles: Sequence[str] = (),
    scopes: Sequence[str] = (),
) -> Iterator[Principal]:
    """Within the block, every dependency on ``auth`` (and ``auth.optional``) sees
    ``principal`` (by default one built from ``subject``, ``roles`` and ``scopes``)."""
    caller = principal or fake_principal(subject=subject, roles=roles, scopes=scopes)

    async def authenticated(request: Request, security_scopes: SecurityScopes) -> Principal:
        request.state.principal = caller
        try:
            check_scopes(caller, security_scopes.scopes)
        except AuthError as error:
            raise auth.refusal(request, error) from None
        return caller

    async def optional(request: Request) -> Principal:
        request.state.principal = caller
        return caller

    overrides = app.dependency_overrides
    keys: tuple[Callable[..., Any], ...] = (auth, auth.optional)
    saved = {key: overrides[key] for key in keys if key in overrides}
    overrides[auth] = authenticated
    overrides[auth.optional] = optional
    try:
        yield caller
    finally:
        for key in keys:
            overrides.pop(key, None)
        overrides.update(saved)
