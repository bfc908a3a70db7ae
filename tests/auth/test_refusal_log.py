"""Refusals visible without logging set-up, rate-limited, without token content
(auth._refusal_log)."""

from __future__ import annotations

import logging

import pytest

from auth._errors import (
    Check,
    InsufficientScope,
    InvalidToken,
    MissingCredentials,
    ServiceUnavailable,
)
from auth._refusal_log import RefusalLog
from tests.auth.fakes import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "auth.refusals"]


def test_the_first_refusal_at_a_check_is_a_warning(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = RefusalLog(clock=clock)
    with caplog.at_level(logging.DEBUG, logger="auth.refusals"):
        log.record(InvalidToken("the token is meant for another audience", check=Check.AUD))
    assert _lines(caplog) == [
        (
            logging.WARNING,
            "auth refused a request at check aud (invalid_token, 401): "
            "the token is meant for another audience",
        )
    ]


def test_further_refusals_at_that_check_are_counted_not_logged(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    log = RefusalLog(clock=clock, interval=60)
    with caplog.at_level(logging.DEBUG, logger="auth.refusals"):
        for _ in range(5):
            log.record(InvalidToken("expired", check=Check.EXP))
            clock.advance(10)
        log.record(InsufficientScope("requires the scope a", check=Check.REQUIRED_SCOPE))
        clock.advance(20)  # 70 s after the first exp line
        log.record(InvalidToken("expired", check=Check.EXP))
    messages = [message for _, message in _lines(caplog)]
    assert messages == [
        "auth refused a request at check exp (invalid_token, 401): expired",
        "auth refused a request at check required_scope (insufficient_scope, 403): "
        "requires the scope a",
        "auth refused a request at check exp (invalid_token, 401): expired; "
        "4 more at this check in the last 70 s",
    ]


def test_requests_without_credentials_are_not_warnings(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    # A client that has not logged in yet is not something to fix.
    with caplog.at_level(logging.DEBUG, logger="auth.refusals"):
        RefusalLog(clock=clock).record(
            MissingCredentials("no credentials", check=Check.CREDENTIALS)
        )
    assert _lines(caplog) == [
        (
            logging.INFO,
            "auth refused a request at check credentials (no credentials, 401): no credentials",
        )
    ]


def test_an_outage_refusal_is_a_warning_too(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="auth.refusals"):
        RefusalLog(clock=clock).record(
            ServiceUnavailable("keys not loaded", check=Check.KEYS_UNAVAILABLE)
        )
    ((level, message),) = _lines(caplog)
    assert level == logging.WARNING
    assert "keys_unavailable (temporarily_unavailable, 503)" in message


def test_a_warning_reaches_stderr_with_no_logging_set_up(
    clock: FakeClock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # What plain `uvicorn items:app` gives: no handler on the root logger, so Python's
    # last-resort handler (WARNING and above, to stderr) prints the line.
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(logging.getLogger("auth"), "handlers", [])
    monkeypatch.setattr(logging.getLogger("auth.refusals"), "handlers", [])
    RefusalLog(clock=clock).record(InvalidToken("the token has expired", check=Check.EXP))
    assert "auth refused a request at check exp (invalid_token, 401): the token has expired" in (
        capsys.readouterr().err
    )
