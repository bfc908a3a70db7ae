"""Keeping tokens out of log lines (auth.redaction)."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from auth._redaction import (
    _JWT_RUN,
    _QUERY_SECRET,
    _SECRET_PARAMETERS,
    TokenRedactingFilter,
    _redact_jwt,
    install_token_redaction,
    redact,
    redact_target,
)
from tests.linear_time import assert_linear, fit

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"


@pytest.mark.parametrize(
    ("text", "secrets"),
    [
        (f'GET /todos?access_token={JWT} HTTP/1.1" 400', [JWT]),
        ("GET /todos?page=2&ACCESS_TOKEN=opaque-token-value&x=1", ["opaque-token-value"]),
        ("POST /cb?id_token=abc123&refresh_token=def456", ["abc123", "def456"]),
        ("GET /live?dpop=proof-value HTTP/1.1", ["proof-value"]),
        ("GET /x?To\u212aen=kelvin-sign-value", ["kelvin-sign-value"]),  # (?i) folds K to k
        (f"Authorization: Bearer {JWT}", [JWT]),
        (f"dpop proof {JWT}.", [JWT]),
    ],
)
def test_token_values_are_redacted(text: str, secrets: list[str]) -> None:
    redacted = redact(text)
    assert all(secret not in redacted for secret in secrets)
    assert "[redacted" in redacted


def test_other_text_is_untouched() -> None:
    text = "GET /todos?page=2&sort=due HTTP/1.1 200 eyJ-not-a-jwt"
    assert redact(text) == text


@pytest.mark.parametrize(
    "text",
    [
        f"a=1&Id_Token=x&b={JWT}",
        f"token={JWT}&dpop={JWT}.tail",
        "tokens=kept token =kept x_token=gone DPOP=gone",
        "TO\u212aEN=gone =token= dpop==x",
        "\u0130d_token=x \u2028 caf\u00e9 eyJ.eyJ.",
        "",
    ],
)
def test_redact_equals_both_regexes_applied_in_order(text: str) -> None:
    queried = _QUERY_SECRET.sub(r"\1[redacted]", text)
    assert redact(text) == _JWT_RUN.sub(_redact_jwt, queried)


@pytest.mark.parametrize(
    "text",
    [
        # A JWE (five segments) is redacted whole, not its first three segments only.
        f"{JWT}.ZW5j.dGFn",
        f"x{JWT}y",
        f"Bearer {JWT}.",
    ],
)
def test_a_token_is_redacted_to_the_end_of_its_run(text: str) -> None:
    redacted = redact(text)
    assert "eyJ" not in redacted
    assert "ZW5j" not in redacted


JWT_LINE = f'GET /api/ws?access_token={JWT}&session=1 HTTP/1.1" 400 '
PLAIN = fit(JWT_LINE + "the quick brown fox jumps over the lazy dog " * 16)


@pytest.mark.parametrize(
    ("name", "worst"),
    [
        ("eyJ without dots", fit("eyJ")),
        ("eyJ with one dot each", fit("eyJa.")),
        ("eyJ and dots", fit("eyJ.")),
        ("dots then eyJ", fit(".eyJ")),
        ("secret names", fit("token=")),
        ("secret names without =", fit("access_token")),
        ("a long secret value", "dpop=" + fit("a")),
        ("mixed", fit("access_token=eyJ.")),
    ],
)
def test_redaction_takes_time_linear_in_its_input(name: str, worst: str) -> None:
    # The same size of plain text, with a token and a secret parameter in it, goes
    # through the same patterns; before, 64 KiB of "eyJ" took 1.1 s (232x).
    assert_linear(redact, worst={name: worst}, plain=PLAIN)


def test_the_substring_test_never_skips_a_secret_parameter() -> None:
    # redact runs the (?i) regex only when "token=" or "dpop=" is in text.lower(): sound
    # when every name ends that way and every character (?i) takes for one of their
    # letters lower-cases to that letter (U+212A KELVIN SIGN does, to "k").
    assert all(name.endswith(("token", "dpop")) for name in _SECRET_PARAMETERS)
    every_character = "".join(map(chr, range(sys.maxunicode + 1)))
    for letter in set("token=dpop="):
        matched = re.findall(f"(?i){re.escape(letter)}", every_character)
        assert {character.lower() for character in matched} == {letter}


def test_the_filter_redacts_message_and_arguments() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        "%s %s?%s",
        ("GET", "/todos", f"token={JWT}"),
        None,
    )
    assert TokenRedactingFilter().filter(record) is True
    assert JWT not in record.getMessage()
    assert record.getMessage() == "GET /todos?token=[redacted]"


def test_install_is_idempotent_and_defaults_to_uvicorn(caplog: pytest.LogCaptureFixture) -> None:
    name = "tests.auth.redaction"
    logger = logging.getLogger(name)
    try:
        install_token_redaction(name)
        install_token_redaction(name)
        assert sum(isinstance(f, TokenRedactingFilter) for f in logger.filters) == 1
        with caplog.at_level(logging.INFO, logger=name):
            logger.info("request with %s", JWT)
        assert JWT not in caplog.text
        assert "[redacted-jwt]" in caplog.text
    finally:
        for existing in list(logger.filters):
            logger.removeFilter(existing)

    defaults = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    before = [list(default.filters) for default in defaults]
    try:
        install_token_redaction()
        for default in defaults:
            assert any(isinstance(f, TokenRedactingFilter) for f in default.filters)
    finally:
        for default, filters in zip(defaults, before, strict=True):
            default.filters[:] = filters


def _uvicorn_record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.INFO, __file__, 1, msg, args, None)


@pytest.mark.parametrize(
    ("msg", "args"),
    [
        ('%s - "WebSocket %s" [accepted]', ("127.0.0.1:5000", "/api/ws?ticket=T1&session=S1")),
        ('%s - "WebSocket %s" 403', ("127.0.0.1:5000", "/api/ws?ticket=T1&session=S1")),
        ('%s - "WebSocket %s" %d', ("127.0.0.1:5000", "/api/ws?ticket=T1&session=S1", 401)),
        ('%s - "%s %s HTTP/%s" %d', ("127.0.0.1:5000", "GET", "/cb?code=T1&state=S1", "1.1", 200)),
    ],
    ids=["websocket accepted", "websocket 403", "websocket denied", "access line"],
)
def test_uvicorns_request_lines_keep_query_names_and_lose_their_values(
    msg: str, args: tuple[object, ...]
) -> None:
    # Served by a bare `uvicorn app.main:app`, these are uvicorn's lines; a ticket, a
    # code or a session id is redacted like a token, as in the application's access line.
    record = _uvicorn_record(msg, *args)
    TokenRedactingFilter().filter(record)
    line = record.getMessage()
    assert "T1" not in line
    assert "S1" not in line
    assert "=[redacted]&" in line


def test_uvicorns_request_lines_carry_a_bounded_target() -> None:
    target = "/" + "p" * 8000 + "?" + "&".join(f"n{i}=v" for i in range(2000))
    record = _uvicorn_record('%s - "WebSocket %s" [accepted]', "127.0.0.1:5000", target)
    TokenRedactingFilter().filter(record)
    assert len(record.getMessage()) < 1024 + 21 * 80


def test_a_target_keeps_at_most_twenty_names_of_64_characters() -> None:
    query = "&".join(["n" * 100 + "=v"] + [f"n{i}=v" for i in range(100)])
    redacted = redact_target("/p", query)
    names = redacted.partition("?")[2].split("&")
    assert len(names) == 20
    assert names[0] == "n" * 64 + "=[redacted]"
    assert redact_target("/p?a=1&&b") == "/p?a=[redacted]&b=[redacted]"
    assert redact_target("/" + "x" * 5000) == "/" + "x" * 1023
