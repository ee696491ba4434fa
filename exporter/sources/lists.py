"""Lists that change slowly (OCP clusters and tenants, Cloud instances), read less often.

A list is read again when it is LIST_REFRESH_SECONDS old, or sooner when keeping it one more
poll could make what it tells (names, ids, statuses) older than `stale_after` by the time
that poll ends: `age + interval > stale_after`. So no series derived from a list is ever
older than `stale_after`, and with the default settings an OCP target (2m interval, 6m
stale_after) reads its lists every 3rd poll, a Cloud target (5m, 15m) every 2nd. The task
lists and overviews, which change when a backup runs, are read every poll.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

LIST_REFRESH_SECONDS = 600.0


@dataclass(frozen=True)
class _Read(Generic[T]):
    items: T
    read_at: float


class SlowLists(Generic[T]):
    """Lists by key (one per target, or one per cluster), each with when it was read."""

    def __init__(self, interval: float, stale_after: float) -> None:
        self._interval = interval
        self._stale_after = stale_after
        self._lists: dict[Hashable, _Read[T]] = {}

    async def get(
        self, key: Hashable, now: float, read: Callable[[], Awaitable[T]]
    ) -> tuple[T, float]:
        """The list and when it was read: the cached one while it is fresh enough, else
        `read()` (whose failure propagates: the cached list is then dropped)."""
        cached = self._lists.get(key)
        if cached is not None and not self._due(cached.read_at, now):
            return cached.items, cached.read_at
        self._lists.pop(key, None)
        items = await read()
        self._lists[key] = _Read(items, now)
        return items, now

    def keep_only(self, keys: Iterable[Hashable]) -> None:
        """Forget the lists of keys no longer wanted (a cluster gone from OCP)."""
        wanted = set(keys)
        self._lists = {k: v for k, v in self._lists.items() if k in wanted}

    def _due(self, read_at: float, now: float) -> bool:
        age = now - read_at
        return age >= LIST_REFRESH_SECONDS or age + self._interval > self._stale_after
