"""A simulated fleet in its own process, so its CPU is not counted as the exporter's."""

from __future__ import annotations

import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PASSWORD = "bench-root-password"
TENANTS = 10


def process_cpu() -> float:
    """User + system CPU seconds of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def fleet(clusters: int, latency: float, tenants: int = TENANTS) -> Iterator[str]:
    """Run `oceanbase-backup-simulator` with `clusters` agents; yield its base URL."""
    # Imported here: bench.poll_cycle measures the peak RSS of a process that imports this
    # module, and the exporter itself never imports httpx (1.6 MB beside aiohttp).
    import httpx

    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", "--listen", f"127.0.0.1:{port}",
         "--scenario", "healthy", "--clusters", str(clusters), "--tenants", str(tenants),
         "--latency", str(latency), "--password", PASSWORD],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/api/v1/info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("simulator did not start")
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def agent_url(base: str, index: int) -> str:
    """The simulator's URL of agent `index`."""
    return f"{base}/obshell/{index}"


def write_config(
    folder: Path, base: str, targets: int, concurrency: int | None = None, interval: str = "60s"
) -> Path:
    """An exporter config polling the first `targets` agents of the fleet at `base`
    (`concurrency` None: the exporter's default)."""
    secret = folder / "password"
    secret.write_text(PASSWORD)
    lines = [] if concurrency is None else [f"concurrency: {concurrency}"]
    lines += [f"defaults: {{timeout: 30s, interval: {interval}}}", "targets:"]
    lines += [
        f"  - {{name: t{i}, source: obshell, url: '{agent_url(base, i)}', password_file: {secret}}}"
        for i in range(targets)
    ]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
