"""Do dead targets delay live ones? Live targets' poll gaps beside 0, 100 and 300 dead targets.

A dead target is a listener (in its own process) that accepts connections and never answers.
The live targets are the simulated fleet, each answer taking 20 ms. Every target has a 10 s
interval and a 9 s timeout, the worst case for a dead request holding whatever it holds. The
exporter's poller runs in this process for `--seconds`; it prints one JSON object: the live
targets' gaps between the starts of two polls (median, p95, max; the interval is start to
start, with a jitter of +-10%), their polls that failed or were incomplete, when every live
target had its first poll, and how many of the once-a-second `/-/healthy` checks failed.

Run by `python -m bench isolation`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.fleet import PASSWORD, agent_url, free_port
from exporter.config import load_config
from exporter.poller import Poller

INTERVAL = 10.0
TIMEOUT = 9.0


async def _hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError):
        await reader.read()  # until the client gives up
    writer.close()


async def _dead_listener(port: int) -> None:
    server = await asyncio.start_server(_hold, "127.0.0.1", port, backlog=4096)
    async with server:
        await server.serve_forever()


def _config(folder: Path, base: str, live: int, dead: int, dead_port: int) -> Path:
    secret = folder / "password"
    secret.write_text(PASSWORD)
    lines = [
        "concurrency: 32",
        f"defaults: {{interval: {INTERVAL:g}s, timeout: {TIMEOUT:g}s}}",
        "targets:",
    ]
    lines += [
        f"  - {{name: live{i}, source: obshell, url: '{agent_url(base, i)}',"
        f" password_file: {secret}}}"
        for i in range(live)
    ]
    lines += [
        f"  - {{name: dead{i}, source: obshell, url: 'http://127.0.0.1:{dead_port}',"
        f" password_file: {secret}}}"
        for i in range(dead)
    ]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _measure(config: Path, live: int, seconds: float) -> dict[str, float]:
    poller = Poller(load_config(config))
    names = [f"live{i}" for i in range(live)]
    starts: dict[str, list[float]] = {name: [] for name in names}
    seen = dict.fromkeys(names, 0)
    incomplete = 0
    started = time.monotonic()
    first_polls_done: float | None = None
    checks = failed = 0
    next_check = started + 1
    poller.start()
    try:
        while (now := time.monotonic()) - started < seconds:
            for name in names:
                health = poller.runners[name].health
                if health.polls != seen[name]:
                    seen[name] = health.polls
                    starts[name].append(now - (health.last_duration or 0.0))
                    incomplete += bool(health.last_error)
            if first_polls_done is None and all(seen.values()):
                first_polls_done = now - started
            if now >= next_check:
                checks += 1
                failed += bool(poller.healthy(time.time()))
                next_check += 1
            await asyncio.sleep(0.05)
    finally:
        await poller.stop()
    gaps = sorted(b - a for times in starts.values() for a, b in itertools.pairwise(times))
    return {
        "gaps": len(gaps),
        "incomplete": incomplete,
        "polls": sum(seen.values()),
        "median_gap": statistics.median(gaps) if gaps else float("nan"),
        "p95_gap": gaps[int(0.95 * (len(gaps) - 1))] if gaps else float("nan"),
        "max_gap": gaps[-1] if gaps else float("nan"),
        "first_polls_done": first_polls_done if first_polls_done is not None else float("nan"),
        "healthy_failed": failed,
        "healthy_checks": checks,
    }


def main() -> None:
    """Parse the arguments, measure, print JSON (or serve as the dead listener)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base")
    parser.add_argument("--live", type=int, default=50)
    parser.add_argument("--dead", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=70)
    parser.add_argument("--dead-listener", type=int, help="only listen on this port, forever")
    args = parser.parse_args()
    if args.dead_listener:
        asyncio.run(_dead_listener(args.dead_listener))
        return
    port = free_port()
    listener = subprocess.Popen(
        [sys.executable, "-m", "bench.isolation", "--dead-listener", str(port)]
    )
    try:
        time.sleep(1)
        with tempfile.TemporaryDirectory() as folder:
            config = _config(Path(folder), args.base, args.live, args.dead, port)
            print(json.dumps(asyncio.run(_measure(config, args.live, args.seconds))))
    finally:
        listener.terminate()
        listener.wait(timeout=10)


if __name__ == "__main__":
    main()
