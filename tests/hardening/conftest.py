"""Fixtures for the hardening suite: simulators, raw agents and exporter processes on loopback,
each stopped when its test ends."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from exporter.config import load_config
from exporter.poller import Poller
from simulator import Simulator
from tests.hardening.raw_agent import RawAgent
from tests.helpers.hardening import PASSWORD, ExporterProcess, SimulatorProcess


@pytest.fixture
async def start_simulator() -> AsyncIterator[Callable[..., Awaitable[Simulator]]]:
    """Start simulators (Simulator's arguments; the password is PASSWORD); stopped at teardown."""
    started: list[Simulator] = []

    async def start(**kwargs: Any) -> Simulator:
        simulator = Simulator(**{"password": PASSWORD, **kwargs})
        await simulator.start("127.0.0.1", 0)
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


@pytest.fixture
async def start_agent() -> AsyncIterator[Callable[..., Awaitable[RawAgent]]]:
    """Start raw agents (RawAgent's arguments); stopped at teardown."""
    started: list[RawAgent] = []

    async def start(**kwargs: Any) -> RawAgent:
        agent = await RawAgent(**kwargs).start()
        started.append(agent)
        return agent

    yield start
    for agent in started:
        await agent.stop()


@pytest.fixture
async def poller_for() -> AsyncIterator[Callable[[Path], Poller]]:
    """Pollers for config files, stopped (HTTP clients closed) at teardown."""
    made: list[Poller] = []

    def make(config: Path) -> Poller:
        poller = Poller(load_config(config))
        made.append(poller)
        return poller

    yield make
    for poller in made:
        await poller.stop()


@pytest.fixture
async def start_exporter(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[ExporterProcess]]]:
    """Start exporter processes (config path, extra flags); stopped at teardown."""
    started: list[ExporterProcess] = []

    async def start(config: Path, *extra: str) -> ExporterProcess:
        process = ExporterProcess(config, tmp_path / f"exporter-{len(started)}.log", *extra)
        started.append(process)
        await process.wait_ready()
        return process

    yield start
    for process in started:
        await process.stop()


@pytest.fixture
def quiet_simulator() -> Iterator[None]:
    """Silence the simulator's aiohttp server, which logs every request the exporter gave up on
    (a tested timeout) with a traceback: those lines are the fake agent's, not the exporter's."""
    server_log = logging.getLogger("aiohttp.server")
    level = server_log.level
    server_log.setLevel(logging.CRITICAL)
    yield
    server_log.setLevel(level)


@pytest.fixture
async def start_simulator_process(
    tmp_path: Path,
) -> AsyncIterator[Callable[..., Awaitable[SimulatorProcess]]]:
    """Start simulator processes (command line arguments); stopped at teardown."""
    started: list[SimulatorProcess] = []

    async def start(*args: str) -> SimulatorProcess:
        process = SimulatorProcess(tmp_path / f"simulator-{len(started)}.log", *args)
        started.append(process)
        await process.wait_ready()
        return process

    yield start
    for process in started:
        await process.stop()
