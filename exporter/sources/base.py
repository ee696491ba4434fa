"""What the poller needs of a source, whatever upstream it speaks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from exporter.snapshot import TargetData
from exporter.sources.errors import PollError


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
