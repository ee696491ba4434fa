"""What one poll of one target may use: time until its deadline, and a claim on shared slots.

Every target has a `PollBudget`, shared by its poller, its HTTP client and its source. Four
rules keep a slow or dead upstream from costing any other target:

- **A poll has a deadline** (its interval): requests still waiting then fail with reason
  `deadline` and later ones are not made, so a poll returns what it got by then. Time spent
  queued for a shared poll slot, behind other targets, does not count: a busy exporter makes
  polls late, not cut.
- **A silent upstream's requests are its own.** A poll whose upstream gave no answer in the
  previous poll takes neither a shared poll slot nor a shared request slot until it answers in
  this one: its requests wait only on the target's own `max_concurrency` and `timeout`. A target
  that accepts connections and never answers therefore occupies nothing another target needs
  for longer than one lease, once. Every other poll (its upstream answered last time, or it was
  never polled) queues for its poll slot before it starts, so a cycle's polls do not all open
  their first request at once: 1,000 first requests in flight together, each with its
  connection, task chain and parsed answer, were the largest part of a cycle's peak memory.
- **A request's shared slot is a lease** (`SharedSlots`): a request that has waited on its
  upstream for `lease` seconds gives its slot back and carries on under its target's own
  limits. The shared caps exist to bound our own work in flight (parsed answers, tasks, CPU
  bursts that would make other requests miss their timeouts); a request waiting on a silent
  upstream does none of that work.
- **A stalled poll gives back its poll slot**: when one of its requests outlives the lease, the
  upstream has stalled, and the poll no longer holds a place other targets queue for.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class SharedSlots:
    """A semaphore shared by every target; a holder may be given a lease on its slot."""

    def __init__(self, size: int, lease: float | None = None) -> None:
        self._semaphore = asyncio.Semaphore(size)
        self._lease = lease

    async def take(self, expired: Callable[[], None] | None = None) -> Slot:
        """Wait for a slot, given back by `give_back()` or, with a lease, when it ends (then
        `expired` is called)."""
        await self._semaphore.acquire()
        return Slot(self._semaphore, self._lease, expired)


class Slot:
    """One slot of a SharedSlots, given back once: by its holder or when its lease ends."""

    def __init__(
        self,
        semaphore: asyncio.Semaphore,
        lease: float | None,
        expired: Callable[[], None] | None,
    ) -> None:
        self._semaphore: asyncio.Semaphore | None = semaphore
        self._expired = expired
        self._timer = (
            asyncio.get_running_loop().call_later(lease, self._end_lease)
            if lease is not None
            else None
        )

    def give_back(self) -> None:
        """Release the slot (no-op the second time)."""
        if self._timer is not None:
            self._timer.cancel()
        if self._semaphore is not None:
            self._semaphore.release()
            self._semaphore = None

    def _end_lease(self) -> None:
        self.give_back()
        if self._expired is not None:
            self._expired()


class PollBudget:
    """One target's claim on time and shared slots, renewed at the start of each poll.

    Outside a poll (a source used on its own, as tests do) there is no deadline and no shared
    poll slot: the budget then limits nothing.
    """

    def __init__(
        self, poll_slots: SharedSlots | None = None, request_slots: SharedSlots | None = None
    ) -> None:
        self._poll_slots = poll_slots
        self.request_slots = request_slots
        self._deadline: float | None = None
        self._backstop: asyncio.Timeout | None = None
        # Outside a poll: whether the last poll had an answer (a target never polled is
        # presumed to answer, so that the first cycle's polls also queue).
        self._answered = True
        self._slot: Slot | None = None
        self._slot_taken = False
        self._slot_lock = asyncio.Lock()

    async def begin(self, seconds: float, backstop: asyncio.Timeout | None = None) -> None:
        """A poll starts: it has `seconds` in all (the `backstop` moves with its deadline).

        Unless the upstream was silent in the previous poll, this first waits for the poll's
        shared slot (the wait does not count against its deadline).
        """
        self.end()
        self._deadline = time.monotonic() + seconds
        self._backstop = backstop
        presumed_answering, self._answered = self._answered, False
        self._slot_taken = False
        if presumed_answering and self._poll_slots is not None:
            await self._queue_for_poll_slot(self._poll_slots)

    def end(self) -> None:
        """The poll ended: give back its shared poll slot if it still holds one."""
        self.stalled()

    def stalled(self) -> None:
        """The upstream stopped answering mid-poll: give back the poll slot."""
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

        In a poll that started without its slot (its upstream was silent last time), requests
        are the target's own affair until the upstream answers. After that, the poll takes a
        shared poll slot (once per poll, waiting its turn behind other targets without its
        deadline running). Once a poll holds or held its slot, each request takes a shared
        request slot, whose lease ending gives the poll slot back (`stalled`).
        """
        if not (self._answered or self._slot_taken):
            return False
        if self._poll_slots is not None and not self._slot_taken:
            async with self._slot_lock:  # the poll's concurrent requests wait for one slot
                if not self._slot_taken:
                    await self._queue_for_poll_slot(self._poll_slots)
        return self.request_slots is not None

    async def _queue_for_poll_slot(self, slots: SharedSlots) -> None:
        """Wait for a poll slot with the deadline and its backstop stopped meanwhile."""
        backstop = self._backstop
        when = backstop.when() if backstop is not None else None
        if backstop is not None:
            backstop.reschedule(None)
        queued = time.monotonic()
        try:
            self._slot = await slots.take()
            self._slot_taken = True
        finally:
            waited = time.monotonic() - queued
            if self._deadline is not None:
                self._deadline += waited
            if backstop is not None and when is not None:
                backstop.reschedule(when + waited)
