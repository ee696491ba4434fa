"""What the poller needs of a source, whatever upstream it speaks."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from exporter.snapshot import TargetData
from exporter.sources.errors import DeadlinePassed, PollError, Reason
from exporter.sources.http import Auth, UpstreamHTTP

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


# What a source's build function gets: an UpstreamHTTP for the target, given its auth.
HttpFactory = Callable[[Auth | None], UpstreamHTTP]
# Failures that end a poll: a wrong credential fails every other request too (and repeated
# failed logins can lock root@sys), so nothing more is asked.
FATAL: frozenset[Reason] = frozenset({"auth"})


class PollingSource(ABC):
    """What every source shares: `poll` collects the tolerated failures of `_poll`, and
    `endpoint_support` tells what `_support` has learned (route template: has it)."""

    def __init__(self) -> None:
        self._support: dict[str, bool] = {}

    def endpoint_support(self) -> Mapping[str, bool]:
        """Which optional endpoints the upstream has, as learned so far."""
        return dict(self._support)

    async def poll(self) -> PollResult:
        """Poll everything once; failures become PollErrors in the result, never exceptions."""
        return await poll_collecting_errors(self._poll)

    @abstractmethod
    async def _poll(self, errors: list[PollError]) -> TargetData | None:
        """One poll: tolerated failures go in `errors`, a fatal one is raised."""


def tolerate(exc: PollError, errors: list[PollError], fatal: Collection[Reason] = FATAL) -> None:
    """The failure policy of every source: record a failure the poll goes on without, and
    re-raise one of the `fatal` reasons, which ends the poll."""
    if exc.reason in fatal:
        raise exc
    errors.append(exc)


async def tolerated(
    call: Awaitable[T], errors: list[PollError], fatal: Collection[Reason] = FATAL
) -> T | None:
    """`await call`; None when it failed with a failure `tolerate` records."""
    try:
        return await call
    except PollError as exc:
        tolerate(exc, errors, fatal)
        return None


def settle(outcomes: Sequence[object], errors: list[PollError]) -> None:
    """The policy over the outcomes of `gather(..., return_exceptions=True)`: the first fatal
    failure (or bug) is raised before anything is recorded; else every failure is recorded."""
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not (
            isinstance(outcome, PollError) and outcome.reason not in FATAL
        ):
            raise outcome
    errors.extend(outcome for outcome in outcomes if isinstance(outcome, PollError))


def fill(route: str, **segments: str) -> str:
    """The path of a route template: each `:name` replaced by the (already encoded) value."""
    for name, value in segments.items():
        route = route.replace(f":{name}", value)
    return route


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
