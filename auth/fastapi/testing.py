"""Testing helper: run a FastAPI application's routes as a given caller, no token needed.

    with override_principal(app, auth, roles=["admin"], scopes=["items:read"]):
        with TestClient(app) as client:     # the lifespan needs no OIDC settings now
            response = client.get("/items")

While the block lasts every request and WebSocket upgrade of ``app`` is that caller
(``auth.authenticate_websocket`` included), with or without credentials, and the
lifespan does not start an authenticator: it gets a stand-in that answers with the
caller. The route's own requirements still apply: ``Security(auth, scopes=...)``,
``auth.require_roles`` and friends answer 403 with the same challenges and body as in
production, so a test can prove a denial as well as an admission.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from starlette.applications import Starlette

from .._principal import Principal
from . import OIDCAuth
from ._running import OverriddenAuthenticator


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
    app: Starlette,
    auth: OIDCAuth,
    principal: Principal | None = None,
    *,
    subject: str = "test-user",
    roles: Sequence[str] = (),
    scopes: Sequence[str] = (),
) -> Iterator[Principal]:
    """Within the block, every request and WebSocket of ``app`` that ``auth`` would
    authenticate is ``principal`` (by default one built from ``subject``, ``roles`` and
    ``scopes``); on the way out, whatever was there before is back."""
    caller = principal or fake_principal(subject=subject, roles=roles, scopes=scopes)
    previous = auth._override(app, OverriddenAuthenticator(caller, auth.settings))
    try:
        yield caller
    finally:
        auth._override(app, previous)
