"""The browser tier: headless Chromium (Playwright) driving the built SPA of
``frontend-mock/`` (oidc-spa, DPoP) against a real Keycloak and the real API.

The SPA is served from a temporary copy of ``frontend-mock/dist`` on
``http://127.0.0.1:5173`` exactly, the redirect URI Keycloak knows for ``todo-spa``,
with a ``config.js`` pointing it at the test Keycloak and API. When a test fails, every
page it opened leaves a screenshot and its console log in ``artifacts/``.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from starlette.staticfiles import StaticFiles

from tests.browser.spa import ARTIFACTS, STEP_TIMEOUT_MS, Spa, headless_chromium
from tests.services import ROOT, ApiProcess, KeycloakServer, api_process, serve_in_thread

AUDIENCE = "todo-api"
SPA_PORT = 5173  # fixed: Keycloak's redirect URIs for todo-spa name this port
SPA_URL = f"http://127.0.0.1:{SPA_PORT}"
DIST = ROOT / "frontend-mock" / "dist"

expect.set_options(timeout=STEP_TIMEOUT_MS)


# -- servers (package scope: port 5173 and the API are released when the tier ends) ---


@pytest.fixture(scope="package")
def api(keycloak: KeycloakServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    """The API trusting the Keycloak realm, allowing the SPA's origin through CORS, with
    the login from /docs (the realm's todo-swagger client)."""
    env = {
        "OIDC_ISSUER_URI": keycloak.issuer(),
        "OIDC_AUDIENCE": AUDIENCE,
        "CORS_ORIGINS": SPA_URL,
        "APP_ENV": "production",
        "OIDC_SWAGGER_CLIENT_ID": "todo-swagger",
    }
    with api_process(env, workdir=tmp_path_factory.mktemp("browser-api")) as process:
        yield process


def _check_spa_port_is_free() -> None:
    """Fail loudly when something listens on the SPA's port: Keycloak redirects there, so
    no other port will do, and another server there would answer in our place."""
    with socket.socket() as probe:
        # SO_REUSEADDR: a previous run's TIME_WAIT connections do not count as "taken";
        # a listening socket still does.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", SPA_PORT))
        except OSError as exc:
            pytest.fail(
                f"port {SPA_PORT} on 127.0.0.1 is taken ({exc.strerror}): the browser tests "
                f"serve the SPA at {SPA_URL}, the redirect URI Keycloak knows for todo-spa. "
                "Stop whatever listens there (`npm run dev`, `make run-spa-mock`, another "
                "test run).",
                pytrace=False,
            )


@pytest.fixture(scope="package")
def spa_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the built SPA to configure. Checked before Keycloak starts, as is the
    port, so that a missing build or a taken port fails in seconds, not after a minute."""
    if not (DIST / "index.html").is_file():
        pytest.fail(
            "frontend-mock/dist/index.html is missing: run `make frontend` "
            "(npm ci and npm run build in frontend-mock/)",
            pytrace=False,
        )
    _check_spa_port_is_free()
    site = tmp_path_factory.mktemp("spa") / "dist"
    shutil.copytree(DIST, site)
    return site


@pytest.fixture(scope="package")
def spa(spa_site: Path, keycloak: KeycloakServer, api: ApiProcess) -> Iterator[str]:
    """The built SPA on http://127.0.0.1:5173, configured for this Keycloak and API."""
    # oidcMock/oidcDpop explicit: a dist left by `make run-spa-mock` is a mock build.
    runtime_config = {
        "oidcIssuerUri": keycloak.issuer(),
        "apiUrl": api.base_url,
        "oidcMock": "false",
        "oidcDpop": "enforced",
    }
    (spa_site / "config.js").write_text(
        f"window.__TODO_SPA_CONFIG__ = {json.dumps(runtime_config)};\n", encoding="utf-8"
    )
    _check_spa_port_is_free()  # again: Keycloak took a while to start
    with serve_in_thread(StaticFiles(directory=spa_site, html=True), SPA_PORT) as url:
        yield url


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium. Package scope, not session: while it lives, the sync API keeps
    its event loop marked as running on this thread, which asyncio tests refuse."""
    with headless_chromium() as chromium:
        yield chromium


# -- pages, and evidence when a test fails ---------------------------------------------

_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item,
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture
def spa_browser(
    request: pytest.FixtureRequest,
    browser: Browser,
    spa: str,
    api: ApiProcess,
    keycloak: KeycloakServer,
) -> Iterator[Spa]:
    """Pages on the SPA; on failure their screenshots and console logs go to artifacts/."""
    session = Spa(browser, spa, api.base_url, keycloak.url)
    try:
        yield session
    finally:
        if request.node.stash.get(_FAILED, False):
            ARTIFACTS.mkdir(exist_ok=True)
            stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
            for tab in session.tabs:
                tab.screenshot_and_console(ARTIFACTS / f"{stem}-{tab.name}")
        session.close()
