"""The embedded stand-in's clock. moto runs no task, moves no deployment and fires no
schedule; the simulations in this package that do it for the embedded default all read the
time here, so a test moves it by hand (`advance`) and the demo can run it faster than real
time (`RECONCILER_EMBEDDED_SPEED=60`: a minute a second). Never used outside `embedded`.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta

SPEED_ENV = "RECONCILER_EMBEDDED_SPEED"
# what the demo and `serve --local` run at unless told: a 35 s migration takes about a second
LOCAL_SPEED = 30.0


class Clock:
    """UTC now: real time since `start`, times `speed`, plus whatever was `advance`d."""

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._real0 = time.monotonic()
        self._start = start or datetime.now(UTC)
        self._speed = speed
        self._offset = 0.0

    def now(self) -> datetime:
        with self._lock:
            elapsed = (time.monotonic() - self._real0) * self._speed + self._offset
            return self._start + timedelta(seconds=elapsed)

    def advance(self, seconds: float) -> datetime:
        """Move time forward (tests); what is due by then happens on the next look."""
        with self._lock:
            self._offset += seconds
        return self.now()

    @property
    def speed(self) -> float:
        """Embedded seconds per real second."""
        return self._speed

    def set_speed(self, speed: float) -> None:
        now = self.now()
        with self._lock:
            self._start, self._real0, self._offset, self._speed = now, time.monotonic(), 0.0, speed


def _speed() -> float:
    try:
        return max(float(os.environ.get(SPEED_ENV, "1")), 0.0)
    except ValueError:
        return 1.0


CLOCK = Clock(speed=_speed())


def local_speed() -> None:
    """For people watching (demo, `serve --local`): `LOCAL_SPEED`, unless the environment
    sets a speed."""
    if SPEED_ENV not in os.environ:
        CLOCK.set_speed(LOCAL_SPEED)


__all__ = ["CLOCK", "LOCAL_SPEED", "SPEED_ENV", "Clock", "local_speed"]
