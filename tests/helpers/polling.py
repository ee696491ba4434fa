"""Polling in the test's own process: a poller stopped however the test ends, one poll's
exposition."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from exporter.collector import collect
from exporter.config import Config, load_config
from exporter.exposition import render
from exporter.poller import Poller
from tests.helpers.exposition import Samples, samples


@asynccontextmanager
async def running_poller(config: Config | Path) -> AsyncIterator[Poller]:
    """A poller for `config` (a Config or a config file), stopped (HTTP clients closed) at
    the end of the block."""
    poller = Poller(config if isinstance(config, Config) else load_config(config))
    try:
        yield poller
    finally:
        await poller.stop()


def rendered(poller: Poller, now: float | None = None) -> Samples:
    """What /metrics would show for the poller's targets at `now`."""
    return samples(render(collect(poller.snapshots(now), None), open_metrics=False).decode())


async def poll_once(poller: Poller) -> Samples:
    """Poll every target once and parse the exposition users would scrape."""
    await poller.poll_all_once()
    return rendered(poller)


async def scrape(config: Path) -> Samples:
    """Load `config`, poll once in this process, and return the parsed exposition."""
    async with running_poller(config) as poller:
        return await poll_once(poller)
