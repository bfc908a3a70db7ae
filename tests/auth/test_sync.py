"""The synchronous façade (auth.sync): a WSGI request read as the verifier needs it, and
the package's one authenticator run on a loop thread, from any thread and after a fork."""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import pytest

from auth import ServiceUnavailable
from auth._errors import Check, ConfigurationError, InvalidRequest
from auth._verifier import TokenVerifier
from auth.sync import SyncAuthenticator, wsgi_request
from auth.testing import DpopKey, TestIssuer, serve
from tests.auth.fakes import IsolatedSettings
from tests.auth.refusals import refused


def _environ(**overrides: Any) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "wsgi.url_scheme": "https",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/items",
        "QUERY_STRING": "",
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_HOST": "api.example",
    }
    environ.update(overrides)
    return environ


class TestWsgiRequest:
    def test_the_headers_the_verifier_reads_in_lower_case(self) -> None:
        request = wsgi_request(
            _environ(HTTP_AUTHORIZATION="Bearer t", HTTP_DPOP="p", HTTP_COOKIE="c=1")
        )
        assert request.headers == [
            ("host", "api.example"),
            ("authorization", "Bearer t"),
            ("dpop", "p"),
        ]
        assert (request.method, request.scheme, request.peer) == ("GET", "https", "10.0.0.1")

    def test_the_path_is_the_one_the_client_sent(self) -> None:
        # A DPoP proof names the URL as sent: escapes kept, the query apart.
        raw = wsgi_request(_environ(PATH_INFO="/caf\xc3\xa9", RAW_URI="/caf%C3%A9?x=1"))
        assert (raw.path, raw.query) == ("/caf%C3%A9", "")
        # Without the raw target, PEP 3333's latin-1 path is escaped back.
        rebuilt = wsgi_request(_environ(SCRIPT_NAME="/api", PATH_INFO="/caf\xc3\xa9"))
        assert rebuilt.path == "/api/caf%C3%A9"
        absolute = wsgi_request(_environ(REQUEST_URI="https://api.example/a%2Fb?q"))
        assert absolute.path == "/a%2Fb"

    def test_a_token_in_the_query_is_seen_and_refused(
        self, verifier_sync: SyncAuthenticator
    ) -> None:
        request = wsgi_request(_environ(QUERY_STRING="access_token=abc"))
        with refused(Check.QUERY_TOKEN, InvalidRequest):
            verifier_sync.authenticate(request)


@pytest.fixture
def verifier_sync(oidc_issuer: TestIssuer) -> Iterator[SyncAuthenticator]:
    with SyncAuthenticator(IsolatedSettings(**_trusting(oidc_issuer))) as verifier:
        yield verifier


def _trusting(issuer: TestIssuer) -> dict[str, str]:
    return {"issuer_uri": issuer.issuer, "audience": issuer.audience}


def test_it_runs_the_one_verifier_and_its_token_cache(
    verifier_sync: SyncAuthenticator, oidc_issuer: TestIssuer
) -> None:
    assert isinstance(verifier_sync.authenticator, TokenVerifier)
    token = oidc_issuer.token("ann")
    assert verifier_sync.authenticate_token(token).subject == "ann"
    hits = verifier_sync.authenticator.stats().token_cache
    assert hits is not None
    verifier_sync.authenticate_token(token)
    again = verifier_sync.authenticator.stats().token_cache
    assert again is not None
    assert again.hits == hits.hits + 1  # the same cache the async adapters use


def test_a_dpop_request_is_checked_with_its_proof(
    verifier_sync: SyncAuthenticator, oidc_issuer: TestIssuer
) -> None:
    key = DpopKey()
    token = oidc_issuer.token("ann", dpop_key=key)
    environ = _environ(
        HTTP_AUTHORIZATION=f"DPoP {token}",
        HTTP_DPOP=key.proof("GET", "https://api.example/items", access_token=token),
    )
    assert verifier_sync.authenticate(wsgi_request(environ)).dpop_jkt == key.jkt
    with refused(Check.DPOP_REPLAY):
        verifier_sync.authenticate(wsgi_request(environ))


def test_many_threads_verify_at_once(
    verifier_sync: SyncAuthenticator, oidc_issuer: TestIssuer
) -> None:
    tokens = [oidc_issuer.token(f"user-{n}") for n in range(40)]
    with ThreadPoolExecutor(8) as pool:
        subjects = list(pool.map(lambda t: verifier_sync.authenticate_token(t).subject, tokens))
    assert subjects == [f"user-{n}" for n in range(40)]


def test_a_refusal_carries_the_challenges_and_is_logged(
    verifier_sync: SyncAuthenticator, oidc_issuer: TestIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    token = oidc_issuer.token(aud="x")
    with refused(Check.AUD) as caught:
        verifier_sync.authenticate(wsgi_request(_environ(HTTP_AUTHORIZATION=f"Bearer {token}")))
    with caplog.at_level(logging.INFO, logger="auth"):
        refusal = verifier_sync.refusal(caught.value)
    logged = [record.getMessage() for record in caplog.records]
    assert any("aud" in line for line in logged)
    assert not any(token[:20] in line for line in logged)
    assert refusal.status == 401
    names = [name for name, _ in refusal.headers]
    assert names.count("WWW-Authenticate") == 2


def test_an_impossible_configuration_is_refused_when_made() -> None:
    with pytest.raises(ConfigurationError, match="OIDC_ISSUER_URI"):
        SyncAuthenticator(IsolatedSettings())


class _SlowKeys:
    """An issuer whose key set answers only once released, while ``slow`` is set."""

    def __init__(self) -> None:
        self.issuer: TestIssuer | None = None
        self.slow = threading.Event()
        self.released = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan" or self.issuer is None:
            return  # no lifespan to run; nothing served before the issuer is made
        if scope["path"].endswith("/certs") and self.slow.is_set():
            await anyio.to_thread.run_sync(self.released.wait, 10)
        await self.issuer.asgi_app()(scope, receive, send)


def test_a_verification_that_takes_too_long_fails_closed() -> None:
    slow = _SlowKeys()
    with serve(slow) as base:
        issuer = slow.issuer = TestIssuer(f"{base}/realms/slow")
        settings = IsolatedSettings(**_trusting(issuer))
        with SyncAuthenticator(settings, timeout=0.5) as verifier:
            assert verifier.authenticate_token(issuer.token("ann")).subject == "ann"
            # A key the verifier has not seen: it looks the key set up again, slowly.
            slow.slow.set()
            issuer.add_key("RS256")
            try:
                with refused(Check.ISSUER_UNREACHABLE, ServiceUnavailable):
                    verifier.authenticate_token(issuer.token("ann"))
            finally:
                slow.released.set()


def test_after_a_fork_the_child_runs_its_own_loop(
    verifier_sync: SyncAuthenticator, oidc_issuer: TestIssuer
) -> None:
    verifier_sync.start()  # the parent's loop thread, which the child will not have
    token = oidc_issuer.token("kid-of-fork")
    read, write = os.pipe()
    with warnings.catch_warnings():
        # Python 3.12+ warns that forking a process with threads may leave their locks
        # held in the child: that process is what this test is about.
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: verify, report, leave without running pytest's teardown
        try:
            subject = verifier_sync.authenticate_token(token).subject
            os.write(write, subject.encode())
        finally:
            os._exit(0)
    os.close(write)
    try:
        with os.fdopen(read, "rb") as pipe:
            assert pipe.read() == b"kid-of-fork"
    finally:
        os.waitpid(pid, 0)
    assert verifier_sync.authenticate_token(token).subject == "kid-of-fork"
