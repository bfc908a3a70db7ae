"""The verifier for synchronous code: WSGI frameworks (Flask, Django), workers (Celery).

    verifier = SyncAuthenticator()                    # OIDC_* from the environment
    principal = verifier.authenticate(wsgi_request(environ))     # or Refusal on AuthError
    principal = verifier.authenticate_token(token)               # a token from a queue

It is not a second verifier: it runs the package's one authenticator (the same steps,
key cache, token cache and replay store as the ASGI adapters) on an event loop of its
own, in a background thread, and waits for each answer. A verified token costs a
dictionary lookup there, plus the hop between threads (tens of microseconds).

Settings are read and checked when the object is made, so a configuration that cannot
work stops the application's import. The loop starts on first use (or ``start()``), in
the process that uses it: after a fork (gunicorn's workers, with or without
``--preload``) the child starts its own, since threads do not survive a fork. (Start it
in the workers, not before the fork: forking a process that runs threads can leave
their locks held in the child.)
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import Coroutine, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from ._credentials import HttpRequest
from ._environment import read_settings
from ._errors import AuthError, Check, ServiceUnavailable
from ._factory import check_settings
from ._lifecycle import running_authenticator
from ._logs import library_logger
from ._principal import Principal
from ._refusal import Refusal, log_refusal
from ._refusal_log import RefusalLog
from ._replay import ReplayStore
from ._settings import AuthSettings
from ._verifier import Authenticator

__all__ = ["SyncAuthenticator", "wsgi_request"]

T = TypeVar("T")

logger = library_logger("sync")

# The request headers the verifier reads, as WSGI names them (PEP 3333).
_WSGI_HEADERS = {
    "HTTP_HOST": "host",
    "HTTP_AUTHORIZATION": "authorization",
    "HTTP_DPOP": "dpop",
    "HTTP_FORWARDED": "forwarded",
    "HTTP_X_FORWARDED_PROTO": "x-forwarded-proto",
    "HTTP_X_FORWARDED_HOST": "x-forwarded-host",
}
# RFC 3986 §3.3: what a path may hold unencoded.
_PATH_SAFE = "/:@!$&'()*+,;=-._~%"


def wsgi_request(environ: Mapping[str, Any]) -> HttpRequest:
    """The framework-agnostic view of a WSGI request (``flask.request.environ``,
    ``django_request.META``). The path is the one the client sent where the server
    keeps it (``RAW_URI``, ``REQUEST_URI``), which a DPoP proof's ``htu`` names.

    A WSGI server joins repeated header fields with commas: two ``Authorization``
    headers reach the verifier as one malformed value, and are refused as such.
    """
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        path = urlsplit(raw).path if raw.startswith(("http://", "https://")) else raw
        path = path.partition("?")[0]
    else:
        # PEP 3333: PATH_INFO holds the decoded bytes as latin-1 characters.
        decoded = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        path = quote(decoded.encode("latin-1"), safe=_PATH_SAFE)
    return HttpRequest(
        method=environ["REQUEST_METHOD"],
        scheme=environ.get("wsgi.url_scheme", "http"),
        path=path or "/",
        headers=[(name, environ[key]) for key, name in _WSGI_HEADERS.items() if key in environ],
        query=environ.get("QUERY_STRING", ""),
        peer=environ.get("REMOTE_ADDR"),
    )


class SyncAuthenticator:
    """The package's authenticator, for code that cannot await.

    ``settings`` default to ``AuthSettings()`` (the ``OIDC_*`` environment), read and
    checked when the object is made (``ConfigurationError``); ``production`` keeps the
    development modes from starting. Each call waits at
    most ``timeout`` seconds (default: twice the HTTP timeout for the issuer, which a key
    lookup may need), after which it fails closed with 503.
    """

    def __init__(
        self,
        settings: AuthSettings | None = None,
        *,
        production: bool = True,
        replay: ReplayStore | None = None,
        timeout: float | None = None,
    ) -> None:
        # Read and checked now, so a configuration that cannot work stops the import of
        # the application (a WSGI server's start), not its first request.
        self._settings = settings or read_settings()
        check_settings(self._settings, production=production)
        self._production = production
        self._replay = replay
        self._timeout = timeout
        self._lock = threading.Lock()
        self._refusals = RefusalLog()
        self._runner: _LoopThread | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the loop thread and the authenticator (keys loaded) now, in this
        process. Idempotent.

        Raises:
            ConfigurationError: unsafe or incomplete settings.
        """
        self._running()

    def close(self) -> None:
        """Close the authenticator and stop its thread (a later call starts them again)."""
        with self._lock:
            runner, self._runner = self._runner, None
        if runner is not None and runner.pid == os.getpid():
            runner.stop()

    def __enter__(self) -> SyncAuthenticator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _running(self) -> _LoopThread:
        runner = self._runner
        if runner is not None and runner.pid == os.getpid():
            return runner
        with self._lock:
            runner = self._runner
            if runner is None or runner.pid != os.getpid():  # none yet, or a parent's
                runner = _LoopThread(
                    self._settings, production=self._production, replay=self._replay
                )
                self._runner = runner
            return runner

    # -- verification ---------------------------------------------------------------------

    @property
    def authenticator(self) -> Authenticator:
        """The running authenticator (its ``status()``, ``is_ready()``, ``stats()`` are
        safe to read from any thread)."""
        return self._running().authenticator

    @property
    def settings(self) -> AuthSettings:
        return self._settings

    def authenticate(self, request: HttpRequest) -> Principal:
        """The principal of a request (``wsgi_request(environ)``): credentials, token,
        scheme binding and DPoP proof, as ``Authenticator.authenticate``.

        Raises:
            AuthError: the request is refused; ``refusal(error)`` is the answer.
        """
        runner = self._running()
        return self._wait(runner, runner.authenticator.authenticate(request))

    def authenticate_token(self, token: str) -> Principal:
        """The principal of a bare token (from a message queue, a job's arguments): the
        token is verified, no proof is (see ``Authenticator.authenticate_token``).

        Raises:
            AuthError: the token is not acceptable.
        """
        runner = self._running()
        return self._wait(runner, runner.authenticator.authenticate_token(token))

    def response_headers(self) -> list[tuple[str, str]]:
        """Headers for a successful answer (a fresh ``DPoP-Nonce`` when nonces are on)."""
        return self.authenticator.response_headers()

    def refusal(self, error: AuthError) -> Refusal:
        """The HTTP answer to ``error``: status, headers (a challenge per scheme) and a
        problem document, for any framework's response class. Logged as every adapter
        logs a refusal (its check, never the token)."""
        log_refusal(logger, self._refusals, error)
        return Refusal.of(error, self._settings)

    def _wait(self, runner: _LoopThread, work: Coroutine[Any, Any, T]) -> T:
        timeout = self._timeout or 2 * runner.authenticator.settings.http_timeout_seconds
        future = runner.submit(work)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise ServiceUnavailable(
                f"verification did not finish within {timeout:g} seconds",
                check=Check.ISSUER_UNREACHABLE,
            ) from None


class _LoopThread:
    """An event loop in a daemon thread, running one authenticator from start to close."""

    def __init__(
        self, settings: AuthSettings, *, production: bool, replay: ReplayStore | None
    ) -> None:
        self.pid = os.getpid()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="auth.sync", daemon=True)
        self._thread.start()
        self._stack = contextlib.AsyncExitStack()
        try:
            self.authenticator: Authenticator = self.submit(
                self._stack.enter_async_context(
                    running_authenticator(settings, production=production, replay=replay)
                )
            ).result()
        except BaseException:
            self._halt()
            raise

    def submit(self, work: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(work, self.loop)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.submit(self._stack.aclose()).result(10)
        self._halt()

    def _halt(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()
