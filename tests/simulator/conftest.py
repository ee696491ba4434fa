"""Fixtures for the simulator's tests: simulators on loopback, stopped after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from simulator import Simulator
from tests.helpers.simulator import StartSimulator, close_clients, open_clients


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators with any constructor arguments; all are stopped at teardown."""
    started: list[Simulator] = []

    async def start(**kwargs: Any) -> Simulator:
        simulator = Simulator(**kwargs)
        await simulator.start()
        started.append(simulator)
        open_clients(simulator)
        return simulator

    yield start
    for simulator in started:
        await close_clients(simulator)
        await simulator.stop()


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> Simulator:
    """The demo scenario: one cluster, three tenants, seed 1."""
    return await start_simulator()
