"""Driving the SPA of frontend-mock/ through its data-testid attributes (its README
lists them): pages that record what they logged and sent, Keycloak's login form, the
todo list and the live pane. Every wait is on a page state, never on a clock."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Locator,
    Page,
    Request,
    expect,
    sync_playwright,
)

from tests.services import ROOT

ARTIFACTS = ROOT / "artifacts"  # gitignored: screenshots and console logs of a run
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password"}
# Keycloak's first login after start-up compiles its templates and warms its caches:
# tens of seconds on a loaded two-core machine.
LOGIN_TIMEOUT_MS = 90_000
STEP_TIMEOUT_MS = 30_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def chromium_executable() -> str | None:
    """``CHROMIUM_EXECUTABLE``, else Debian's chromium if installed, else Playwright's own."""
    configured = os.environ.get("CHROMIUM_EXECUTABLE")
    if configured:
        return configured
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@contextlib.contextmanager
def headless_chromium() -> Iterator[Browser]:
    """Headless Chromium for the scope of a fixture. Not a session-wide one: while it
    lives, Playwright's sync API keeps its event loop marked as running on this thread,
    which asyncio tests refuse."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_executable(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Tab:
    """A page of the SPA, with its console, its API requests and its socket's frames."""

    page: Page
    name: str
    console: list[str] = field(default_factory=list)
    api_requests: list[Request] = field(default_factory=list)
    ws_frames_sent: list[str] = field(default_factory=list)

    def focus(self) -> Page:
        """Brings this tab to the front, as a user would before clicking in it. Chromium
        throttles animation frames in background tabs, and Playwright's actionability
        checks wait for frames: a click in a background tab waits a second or two."""
        self.page.bring_to_front()
        return self.page

    def screenshot_and_console(self, prefix: Path) -> None:
        with contextlib.suppress(Exception):  # the page may be gone with the failure
            self.page.screenshot(path=f"{prefix}.png", full_page=True)
        Path(f"{prefix}.console.log").write_text("\n".join(self.console) + "\n")


@dataclass
class Spa:
    """Opens SPA pages in browser contexts (one per user: contexts share no cookies or
    storage) and logs users in through Keycloak."""

    browser: Browser
    url: str
    api_url: str
    keycloak_url: str
    tabs: list[Tab] = field(default_factory=list)
    contexts: list[BrowserContext] = field(default_factory=list)

    def new_context(self) -> BrowserContext:
        context = self.browser.new_context(viewport={"width": 1280, "height": 1000})
        context.set_default_timeout(STEP_TIMEOUT_MS)
        context.set_default_navigation_timeout(LOGIN_TIMEOUT_MS)
        self.contexts.append(context)
        return context

    def open(self, name: str, context: BrowserContext | None = None) -> Tab:
        """A new page on the SPA, in ``context`` or in a context of its own."""
        page = (context or self.new_context()).new_page()
        tab = Tab(page, name)
        self.tabs.append(tab)
        page.on("console", lambda message: tab.console.append(_console_line(message)))
        page.on("pageerror", lambda error: tab.console.append(f"[pageerror] {error}"))
        page.on("request", lambda request: self._record(tab, request))
        page.on(
            "websocket",
            lambda ws: ws.on(
                "framesent",
                lambda data: tab.ws_frames_sent.append(
                    data if isinstance(data, str) else data.decode()
                ),
            ),
        )
        page.goto(self.url)
        return tab

    def _record(self, tab: Tab, request: Request) -> None:
        if request.url.startswith(f"{self.api_url}/") and request.method != "OPTIONS":
            tab.api_requests.append(request)

    def log_in(self, tab: Tab, user: str) -> bool:
        """From the SPA's start page through Keycloak's login form, back to a ready page
        whose live feed is subscribed. With a Keycloak session in the context already
        (another tab), Keycloak redirects straight back without showing the form.
        Returns whether Keycloak's login form was filled in."""
        page = tab.page
        form_shown = False
        settled = page.locator('body[data-state="logged-out"], body[data-state="ready"]')
        expect(settled).to_be_attached(timeout=LOGIN_TIMEOUT_MS)
        if page.locator("body").get_attribute("data-state") == "logged-out":
            page.get_by_test_id("login").click()
            # One locator for both outcomes: Keycloak's form, or the SPA back and ready.
            form = page.locator("#kc-form-login")
            expect(form.or_(page.locator('body[data-state="ready"]'))).to_be_attached(
                timeout=LOGIN_TIMEOUT_MS
            )
            if page.url.startswith(self.keycloak_url) and form.count():
                form_shown = True
                page.locator("#username").fill(user)
                page.locator("#password").fill(PASSWORDS[user])
                page.locator("#kc-login").click()
        expect(page.locator("body")).to_have_attribute(
            "data-state", "ready", timeout=LOGIN_TIMEOUT_MS
        )
        expect(page.get_by_test_id("user-username")).to_have_text(user)
        wait_live_ready(tab)
        return form_shown

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(Exception):
                context.close()


def wait_live_ready(tab: Tab) -> None:
    """The live socket is open and the server said ``ready``: it is subscribed now."""
    expect(tab.page.get_by_test_id("live-status")).to_have_attribute("data-status", "open")
    expect(tab.page.locator('[data-testid="live-event"][data-type="ready"]')).not_to_have_count(0)


def add_todo(tab: Tab, text: str) -> Locator:
    """Adds a todo through the form; returns its list item, located by id."""
    page = tab.focus()
    page.get_by_test_id("new-todo-input").fill(text)
    page.get_by_test_id("add-todo").click()
    expect(page.get_by_test_id("new-todo-input")).to_have_value("")  # cleared on 201
    added = page.get_by_test_id("todo-item").filter(has_text=text)
    expect(added).to_have_count(1)
    return todo_item(page, added.get_attribute("data-id") or "")


def todo_item(page: Page, todo_id: str) -> Locator:
    """The list item of one todo, whatever its text becomes."""
    return page.locator(f'[data-testid="todo-item"][data-id="{todo_id}"]')


def expect_own_write(todo: Locator, version: int) -> None:
    """This tab's write of ``version`` has been answered: the item holds its ETag.
    The live echo of the same write may arrive first and show the version without it,
    and a next write sent then would carry the previous ETag (and get a 412)."""
    expect(todo).to_have_attribute("data-version", str(version))
    expect(todo).to_have_attribute("data-etag", f'"{version}"')


def live_events(tab: Tab, kind: str, text: str = "") -> Locator:
    """Entries of the live pane of one type, optionally containing ``text``."""
    events = tab.page.locator(f'[data-testid="live-event"][data-type="{kind}"]')
    return events.filter(has_text=text) if text else events


def _console_line(message: ConsoleMessage) -> str:
    location = message.location
    where = f" ({location.get('url')}:{location.get('lineNumber')})" if location else ""
    return f"[{message.type}] {message.text}{where}"
