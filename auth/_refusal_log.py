"""Refusals a person can see without setting up logging, and never a flood of them.

A framework adapter records each refusal here. The first refusal at a check (``aud``,
``exp``...) is logged at WARNING on the ``<package>.refusals`` logger, which Python's
last-resort handler prints to stderr when nothing is configured (plain ``uvicorn
items:app``); further refusals at that check within ``interval`` seconds are only
counted, and the next line says how many there were. A line carries the check, the RFC
error, the status and the package's own description: never token content, which no
description holds.

Route the lines elsewhere as any logger's: ``logging.getLogger("oidc_resource_server.
refusals")`` (``auth.refusals`` in this repository) takes handlers, a level, or
``propagate = False``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ._errors import AuthError, Check
from ._logs import PACKAGE, library_logger

#: A request without credentials is a client that has not logged in yet, not a
#: misconfiguration: counted at INFO only.
_QUIET_CHECKS = frozenset({Check.CREDENTIALS})


class RefusalLog:
    """At most one line per check per ``interval`` seconds, counting the others."""

    def __init__(
        self,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        logger: logging.Logger | None = None,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._logger = logger or library_logger("refusals")
        #: check -> (when its last line was written, refusals counted since).
        self._last: dict[Check, tuple[float, int]] = {}

    def record(self, error: AuthError) -> None:
        now = self._clock()
        last = self._last.get(error.check)
        if last is not None and now - last[0] < self._interval:
            self._last[error.check] = (last[0], last[1] + 1)
            return
        self._last[error.check] = (now, 0)
        more = (
            f"; {last[1]} more at this check in the last {now - last[0]:.0f} s"
            if last is not None and last[1]
            else ""
        )
        level = logging.INFO if error.check in _QUIET_CHECKS else logging.WARNING
        self._logger.log(
            level,
            "%s refused a request at check %s (%s, %d): %s%s",
            PACKAGE,
            error.check.value,
            error.error or "no credentials",
            error.status_code,
            error.description,
            more,
        )
