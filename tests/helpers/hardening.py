"""What the hardening tests share: flow-style obshell targets with a password file, and the
exporter and the simulator as processes of their own, whose logs go to files."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from exporter.poller import Poller
from tests.hardening.raw_agent import RawAgent
from tests.helpers.exposition import Samples, samples
from tests.helpers.process import free_port
from tests.helpers.simulator import StartSimulator as StartSimulator  # one of the fixtures' types

PASSWORD = "hardening-root-pass"
# The hardening fixtures' types (the fixtures themselves are in tests/hardening/conftest.py).
StartAgent = Callable[..., Awaitable[RawAgent]]
PollerFor = Callable[[Path], Poller]


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL when it has not exited within 15 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


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
        await asyncio.to_thread(_stop, self.process)
        self._log.close()
        return self.log_file.read_text()


StartExporter = Callable[..., Awaitable[ExporterProcess]]


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
        await asyncio.to_thread(_stop, self.process)
        self._log.close()
