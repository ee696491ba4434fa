"""What one poll of one target may use: time until its deadline, and a claim on shared slots.

Every target has a `PollBudget`, shared by its poller, its HTTP client and its source. Three
rules keep a slow or dead upstream from costing any other target:

- **A poll has a deadline** (its interval): requests still waiting then fail with reason
  `deadline` and later ones are not made, so a poll returns what it got by then.
- **A poll's first request is its own.** Until the upstream has answered once in this poll, the
  poll's requests wait only on the target's own `max_concurrency` and `timeout`; they take
  neither a shared poll slot nor a shared request slot. A target that accepts connections and
  never answers therefore never occupies anything another target needs.
- **Shared slots are leases** (`LeasedSlots`): a poll or a request that holds one longer than
  its lease gives it back and carries on under its target's own limits. The shared caps exist
  to bound our own work in flight (parsed answers, tasks, CPU bursts that would make other
  requests miss their timeouts); a request waiting on a silent upstream does none of that work.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class LeasedSlots:
    """A semaphore whose holders give their slot back after `lease` seconds at the latest."""

    def __init__(self, size: int, lease: float) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self._lease = lease

    async def take(self) -> _Slot:
        """Wait for a slot; the caller gives it back with `give_back()` (or the lease does)."""
        await self._semaphore.acquire()
        return _Slot(self._semaphore, self._lease)

    @contextlib.asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Hold a slot for the block, or until the lease ends if that comes first."""
        slot = await self.take()
        try:
            yield
        finally:
            slot.give_back()


class _Slot:
    """One slot of a LeasedSlots, given back once: by its holder or when its lease ends."""

    def __init__(self, semaphore: asyncio.Semaphore, lease: float) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore
        self._timer = asyncio.get_running_loop().call_later(lease, self.give_back)

    def give_back(self) -> None:
        """Release the slot (no-op the second time)."""
        self._timer.cancel()
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None


class PollBudget:
    """One target's claim on time and shared slots, renewed at the start of each poll.

    Outside a poll (a source used on its own, as tests do) there is no deadline and no shared
    poll slot: the budget then limits nothing.
    """

    def __init__(
        self, poll_slots: LeasedSlots | None = None, request_slots: LeasedSlots | None = None
    ) -> None:
        self._poll_slots = poll_slots
        self.request_slots = request_slots
        self._deadline: float | None = None
        self._answered = False
        self._slot: _Slot | None = None
        self._slot_taken = False
        self._slot_lock = asyncio.Lock()

    def begin(self, seconds: float) -> None:
        """A poll starts: it has `seconds` in all, and no claim on shared slots yet."""
        self.end()
        self._deadline = time.monotonic() + seconds
        self._answered = False
        self._slot_taken = False

    def end(self) -> None:
        """The poll ended: give back its shared poll slot if it still holds one."""
        if self._slot is not None:
            self._slot.give_back()
            self._slot = None

    def remaining(self) -> float | None:
        """Seconds left until the poll's deadline (may be negative); None without a deadline."""
        if self._deadline is None:
            return None
        return self._deadline - time.monotonic()

    def expired(self) -> bool:
        """True once the poll's deadline has passed."""
        remaining = self.remaining()
        return remaining is not None and remaining <= 0

    def answered(self) -> None:
        """The upstream answered a request of this poll: later requests use shared slots."""
        self._answered = True

    async def admit(self) -> bool:
        """Before a request: True when it must also take a shared request slot.

        Until the upstream has answered, the request is the target's own affair. After that,
        the poll first takes a shared poll slot (once per poll; held until the poll ends or
        its lease does), and each request a shared request slot.
        """
        if not self._answered:
            return False
        if self._poll_slots is not None and not self._slot_taken:
            async with self._slot_lock:  # the poll's concurrent requests wait for one slot
                if not self._slot_taken:
                    self._slot = await self._poll_slots.take()
                    self._slot_taken = True
        return self.request_slots is not None
