"""Fixtures for the hardening suite: simulators, raw agents and exporter processes on loopback,
each stopped when its test ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from exporter.collector import collect
from exporter.config import load_config
from exporter.exposition import render
from exporter.poller import Poller
from simulator import Simulator
from tests.conftest import free_port, samples
from tests.hardening.raw_agent import RawAgent

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
PASSWORD = "hardening-root-pass"


def rendered(poller: Poller, now: float | None = None) -> Samples:
    """What /metrics would show for the poller's targets at `now`."""
    return samples(render(collect(poller.snapshots(now), None), open_metrics=False).decode())


def secret_file(folder: Path, password: str = PASSWORD, name: str = "pw") -> Path:
    """A password file holding `password`."""
    path = folder / name
    path.write_text(password)
    return path


def target_line(name: str, url: str, secret: Path, extra: str = "") -> str:
    """One obshell target of a config's `targets:` list, in flow style; `extra` adds keys."""
    return (
        f"  - {{name: {name}, source: obshell, url: '{url}', password_file: '{secret}'{extra}}}\n"
    )


def write_config(folder: Path, lines: list[str]) -> Path:
    """A config file whose `targets:` are `lines`."""
    path = folder / "config.yaml"
    path.write_text("targets:\n" + "".join(lines))
    return path


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


class ExporterProcess:
    """The exporter as its own process on loopback, its log in a file (a pipe nobody reads
    would fill up and stall it). It waits asynchronously, so that simulators in the test's
    event loop keep serving meanwhile."""

    def __init__(self, config: Path, log_file: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = log_file
        self._log = log_file.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{self.port}", *extra],
            stdout=self._log, stderr=self._log,
        )  # fmt: skip
        self.client = httpx.AsyncClient(base_url=self.url, timeout=10)

    async def wait_ready(self, seconds: float = 20) -> None:
        """Wait until it answers /-/ready (any status: it is serving)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log()
            with contextlib.suppress(httpx.HTTPError):
                await self.client.get("/-/ready")
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the exporter did not start serving:\n" + self.log())

    async def metrics(self) -> Samples:
        """One scrape of /metrics, which must succeed."""
        response = await self.client.get("/metrics")
        assert response.status_code == 200, response.text
        return samples(response.text)

    async def until(
        self, check: Callable[[Samples], bool], seconds: float = 15, every: float = 0.2
    ) -> Samples:
        """Scrape until `check` holds; the last scrape (the assertion names what never held)."""
        deadline = time.monotonic() + seconds
        parsed = await self.metrics()
        while not check(parsed):
            assert time.monotonic() < deadline, f"never held: {check.__doc__ or check}"
            await asyncio.sleep(every)
            parsed = await self.metrics()
        return parsed

    def status(self, field: str) -> int:
        """A `/proc/PID/status` field in kB (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise KeyError(field)

    def cpu_seconds(self) -> float:
        """User plus system CPU time the process used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log(self) -> str:
        """Everything it logged so far."""
        self._log.flush()
        return self.log_file.read_text()

    async def stop(self) -> str:
        """SIGTERM, wait (bounded), and return the whole log."""
        await self.client.aclose()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()
        return self.log_file.read_text()


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


class SimulatorProcess:
    """`oceanbase-backup-simulator` in its own process, so a test's own event loop (scrapers)
    does not compete with it for the GIL."""

    def __init__(self, log_file: Path, *args: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = log_file.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--listen", f"127.0.0.1:{self.port}",
             "--password", PASSWORD, *args],
            stdout=self._log, stderr=self._log,
        )  # fmt: skip

    def agent_url(self, index: int) -> str:
        """Cluster `index`'s agent."""
        return f"{self.base_url}/obshell/{index}"

    async def wait_ready(self, seconds: float = 20) -> None:
        """Wait until it accepts connections."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the simulator exited"
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the simulator did not start")

    async def stop(self) -> None:
        """SIGTERM, and wait (bounded)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.process.wait, 15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


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
