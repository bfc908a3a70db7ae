"""Log lines a client can cause over and over, written at most once per interval.

A probe polling ``/readyz`` while a part is down, or a host whose connections keep
stalling, would otherwise write one line per call. ``ThrottledLog`` writes a line when
what it reports changes (its ``key``), else at most once per ``interval`` seconds, and
says how many it left out meanwhile.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable


class ThrottledLog:
    def __init__(
        self,
        logger: logging.Logger,
        *,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._logger = logger
        self._interval = interval
        self._clock = clock
        self._key: Hashable = None
        self._next = float("-inf")
        self._left_out = 0

    def log(self, level: int, key: Hashable, message: str, *args: object) -> bool:
        """Write ``message`` unless the same ``key`` was written less than ``interval``
        ago; True when it was written."""
        now = self._clock()
        if key == self._key and now < self._next:
            self._left_out += 1
            return False
        if self._left_out:
            message += " (%d more like it in the last %gs)"
            args = (*args, self._left_out, self._interval)
        self._logger.log(level, message, *args)
        self._key, self._next, self._left_out = key, now + self._interval, 0
        return True
