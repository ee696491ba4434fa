"""What the poller needs of a source, whatever upstream it speaks."""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from exporter.snapshot import TargetData
from exporter.sources.budget import PollBudget
from exporter.sources.errors import PollError

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
    return PollResult(data=data, errors=tuple(errors))


async def fan_out(
    items: Sequence[T], work: Callable[[T], Awaitable[R]], budget: PollBudget
) -> list[R | None]:
    """`work` on every item, `budget.width` at a time, results in the items' order.

    Not one task per item up front: a cluster of 50,000 tenants would hold 200,000 waiting
    coroutines (and their memory) at once, all queued on the same per-target request limit
    anyway. Once the poll's deadline has passed no new item starts; its result is None (the
    requests cut at the deadline say so in the poll's errors). The first exception (an auth
    failure) ends the fan-out: the other workers are cancelled, not left running.
    """
    results: list[R | None] = [None] * len(items)
    position = iter(range(len(items)))

    async def worker() -> None:
        for index in position:
            if budget.expired():
                return
            results[index] = await work(items[index])

    workers = [asyncio.ensure_future(worker()) for _ in range(min(budget.width, len(items)))]
    try:
        await asyncio.gather(*workers)
    finally:
        for task in workers:
            task.cancel()
    return results


@functools.cache
def parametrized(generic: Any, model: type[Any]) -> Any:
    """`generic[model]` made once: pydantic builds a class per subscription (~50 µs), too
    much to pay on every upstream response."""
    return generic[model]


def json_or_none(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (or nests deeper than Python's stack)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None
