"""Simulated time: the world's clock runs `speed` times as fast as the host's."""

from __future__ import annotations

import time


class SimClock:
    """Simulated seconds since the epoch = start + real elapsed x speed + manual advances.

    Only the backup world runs on this clock; auth expiry is checked against the host's real
    clock, because clients sign with theirs.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must not be negative")
        self.speed = speed
        self.start = time.time() if start is None else start
        self._origin = time.monotonic()
        self._advanced = 0.0

    def now(self) -> float:
        """The simulated time, in seconds since the epoch."""
        return self.start + (time.monotonic() - self._origin) * self.speed + self._advanced

    def advance(self, seconds: float) -> None:
        """Jump ahead, e.g. so a test sees an hour pass without waiting for it."""
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        self._advanced += seconds
