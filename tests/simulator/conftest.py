"""Fixtures for the simulator's tests: simulators on loopback, stopped after each test."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import pytest

from exporter.sources.obshell.auth import HybridAuth
from simulator import Simulator
from tests.httpx_auth import AsHttpxAuth

PASSWORD = "root-pass"
StartSimulator = Callable[..., Awaitable[Simulator]]
# Clients share one SSL context (making one costs ~20 ms) and each simulator has one of each kind.
_SSL_CONTEXT = ssl.create_default_context()
_SIGNED: WeakKeyDictionary[Simulator, httpx.AsyncClient] = WeakKeyDictionary()
_PLAIN: WeakKeyDictionary[Simulator, httpx.AsyncClient] = WeakKeyDictionary()


@pytest.fixture
async def start_simulator() -> AsyncIterator[StartSimulator]:
    """Start simulators with any constructor arguments; all are stopped at teardown."""
    started: list[Simulator] = []

    async def start(**kwargs: Any) -> Simulator:
        simulator = Simulator(**kwargs)
        await simulator.start()
        started.append(simulator)
        _SIGNED[simulator] = signed_client(simulator.base_url)
        _PLAIN[simulator] = httpx.AsyncClient(base_url=simulator.base_url, verify=_SSL_CONTEXT)
        return simulator

    yield start
    for simulator in started:
        await _SIGNED.pop(simulator).aclose()
        await _PLAIN.pop(simulator).aclose()
        await simulator.stop()


@pytest.fixture
async def sim(start_simulator: StartSimulator) -> Simulator:
    """The demo scenario: one cluster, three tenants, seed 1."""
    return await start_simulator()


def signed_client(base_url: str, password: str = PASSWORD, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that signs like the exporter does (HybridAuth)."""
    auth = AsHttpxAuth(HybridAuth(lambda: password, **kwargs), verify=_SSL_CONTEXT)
    return httpx.AsyncClient(base_url=base_url, auth=auth, verify=_SSL_CONTEXT)


def signed(sim: Simulator) -> httpx.AsyncClient:
    """The simulator's client signing with the right root password."""
    return _SIGNED[sim]


def plain(sim: Simulator) -> httpx.AsyncClient:
    """The simulator's client that sends no auth header."""
    return _PLAIN[sim]


async def get_json(sim: Simulator, path: str, base_url: str | None = None) -> dict[str, Any]:
    """GET `path` (of cluster 0, or of the agent at `base_url`) signed; the JSON body."""
    response = await signed(sim).get(f"{base_url}{path}" if base_url else path)
    document: dict[str, Any] = response.json()
    assert document["status"] == response.status_code
    return document
