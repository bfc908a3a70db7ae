"""The open-file limit python -m app raises for its connections (app.server.open_files)."""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterator

import pytest

from app.server.open_files import SPARE, raise_open_file_limit


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield saved
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def test_the_soft_limit_is_raised_to_what_the_connections_need(limits: tuple[int, int]) -> None:
    _, hard = limits
    if hard != resource.RLIM_INFINITY and hard < 2 * SPARE + 10:
        pytest.fail(f"this machine's hard limit on open files ({hard}) is too low to test")
    resource.setrlimit(resource.RLIMIT_NOFILE, (SPARE, hard))
    assert raise_open_file_limit(SPARE + 10) == 2 * SPARE + 10
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == 2 * SPARE + 10
    # Never lowered.
    assert raise_open_file_limit(1) == 2 * SPARE + 10


def test_a_hard_limit_too_low_is_said_in_one_warning(
    limits: tuple[int, int], caplog: pytest.LogCaptureFixture
) -> None:
    _, hard = limits
    if hard == resource.RLIM_INFINITY:
        pytest.fail("this machine has no hard limit on open files to test against")
    resource.setrlimit(resource.RLIMIT_NOFILE, (SPARE, hard))
    with caplog.at_level(logging.WARNING, logger="app.server"):
        assert raise_open_file_limit(hard) == hard
    [warning] = caplog.records
    assert f"API_MAX_CONNECTIONS={hard}" in warning.getMessage()
