"""Running an authenticator: build it from settings, load the issuers' keys, and close
it (and the HTTP client made for it) on the way out. Every adapter runs one this way:
the FastAPI adapter per application, the ASGI middleware in its application's
lifespan, the synchronous façade on its own event loop thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx

from ._factory import create_authenticator
from ._replay import ReplayStore
from ._settings import AuthSettings
from ._verifier import Authenticator


@contextlib.asynccontextmanager
async def running_authenticator(
    settings: AuthSettings,
    *,
    production: bool,
    http_client: httpx.AsyncClient | None = None,
    replay: ReplayStore | None = None,
) -> AsyncIterator[Authenticator]:
    """The authenticator of ``settings``, started (a first key load that fails is
    logged and retried in the background, not raised: readiness reports it), and
    closed when the block ends. Without ``http_client`` one is made for discovery and
    JWKS, and closed too.

    Raises:
        ConfigurationError: unsafe or incomplete settings.
    """
    async with contextlib.AsyncExitStack() as stack:
        if http_client is None:
            http_client = await stack.enter_async_context(
                httpx.AsyncClient(timeout=settings.http_timeout_seconds)
            )
        authenticator = create_authenticator(
            settings, production=production, http_client=http_client, replay=replay
        )
        stack.push_async_callback(authenticator.aclose)
        await authenticator.start()
        yield authenticator
