"""What the poller needs of a source, whatever upstream it speaks."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from exporter.snapshot import TargetData
from exporter.sources.errors import DeadlinePassed, PollError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class PollResult:
    """One poll's outcome: data (None when nothing usable came back) and every failure."""

    data: TargetData | None
    errors: tuple[PollError, ...] = field(default=())

    @property
    def complete(self) -> bool:
        """True when every supported endpoint answered."""
        return self.data is not None and not self.errors


class Source(Protocol):
    """One configured target's upstream. `poll` must not raise for upstream failures."""

    async def poll(self) -> PollResult:
        """Ask the upstream for everything once and build a fresh TargetData."""
        ...

    def endpoint_support(self) -> Mapping[str, bool]:
        """Which optional endpoints the upstream has, as learned so far."""
        ...


async def poll_collecting_errors(
    poll: Callable[[list[PollError]], Awaitable[TargetData | None]],
) -> PollResult:
    """Run a source's poll: failures it tolerates go in the list, one it cannot ends it."""
    errors: list[PollError] = []
    try:
        data = await poll(errors)
    except PollError as exc:
        errors.append(exc)
        data = None
    return PollResult(data=data, errors=_one_for_requests_not_made(errors))


def _one_for_requests_not_made(errors: list[PollError]) -> tuple[PollError, ...]:
    """Requests refused after the deadline are one error, not one per tenant and route."""
    refused = sum(1 for e in errors if isinstance(e, DeadlinePassed))
    if not refused:
        return tuple(errors)
    message = f"{refused} requests not made: the poll reached its deadline"
    kept = [e for e in errors if not isinstance(e, DeadlinePassed)]
    return (*kept, PollError("deadline", "", message))


async def fan_out(items: Sequence[T], work: Callable[[T], Awaitable[R]], width: int) -> list[R]:
    """`work` on every item, `width` at a time (the target's max_concurrency), in order.

    Not one task per item up front: a cluster of 50,000 tenants would hold 200,000 waiting
    coroutines (and their memory) at once, all queued on the same per-target request limit
    anyway. The first exception (an auth failure) ends the fan-out: the other workers are
    cancelled, not left running.
    """
    results: list[R | None] = [None] * len(items)
    position = iter(range(len(items)))

    async def worker() -> None:
        for index in position:
            results[index] = await work(items[index])

    workers = [asyncio.ensure_future(worker()) for _ in range(min(width, len(items)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return results  # type: ignore[return-value]  # every slot was filled, or we raised
