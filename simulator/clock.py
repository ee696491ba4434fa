"""Simulated time: the host's clock, with simulated work compressed by `speed`.

The simulator never reports the future: every timestamp it serves is at or before the real
clock, so that Prometheus' `time() - x` stays a true age. To make things happen sooner, the
world is built with its durations (backup runs and intervals, restores, tenant churn) divided
by `speed` instead of letting its clock run ahead.
"""

from __future__ import annotations

import time


class SimClock:
    """The world's clock: the host's real time, or frozen at `start` with `speed` 0.

    `advance` jumps ahead, so that a test sees an hour pass without waiting for it; only
    tests use it, and only they see timestamps ahead of the real clock. Auth expiry is checked
    against the host's real clock too, because clients sign with theirs.
    """

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        if speed < 0:
            raise ValueError("speed must not be negative")
        self.speed = speed
        self.start = time.time() if start is None else start
        self._advanced = 0.0

    def now(self) -> float:
        """The simulated time, in seconds since the epoch: never ahead of the real clock
        unless a test advanced it."""
        if self.speed == 0:
            return self.start + self._advanced
        return time.time() + self._advanced

    def advance(self, seconds: float) -> None:
        """Jump ahead (tests only)."""
        if seconds < 0:
            raise ValueError("simulated time only moves forward")
        self._advanced += seconds
