"""One exporter poll cycle over N targets, in a fresh process: wall time, CPU, requests, RSS.

Run by `python -m bench`; prints one JSON object. The first cycle (keys, connections, every
job history) is a warm-up; the next `--cycles` are measured, as a running exporter spends its
life in that state, and their medians are printed (one cycle's CPU moves by 10-20 % on shared
cores). The peak RSS is the whole run's, warm-up included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bench.fleet import process_cpu, write_config
from exporter.config import load_config
from exporter.poller import Poller

try:
    from exporter.gc_policy import tune
except ImportError:  # a baseline from before it: CPython's defaults

    def tune() -> None:
        """Nothing to do."""


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _requests(poller: Poller) -> int:
    return sum(sum(r.stats.requests.values()) for r in poller.runners.values())


async def _measure(config: Path, cycles: int) -> dict[str, float]:
    poller = Poller(load_config(config))
    tune()  # what the exporter's main() does before polling
    rss_before = _rss_mb()
    walls: list[float] = []
    cpus: list[float] = []
    counts: list[int] = []
    failed = 0
    try:
        await poller.poll_all_once()
        for _ in range(cycles):
            requests_before = _requests(poller)
            cpu, wall = process_cpu(), time.monotonic()
            # Counted and dropped at once: results kept into the next cycle would hold a second
            # generation of every snapshot, which a running exporter never does (+9 MB at 1,000).
            failed += sum(1 for r in await poller.poll_all_once() if not r.complete)
            walls.append(time.monotonic() - wall)
            cpus.append(process_cpu() - cpu)
            counts.append(_requests(poller) - requests_before)
    finally:
        await poller.stop()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "requests": statistics.median(counts),
        "failed": failed,
        "rss_mb": rss_mb,
        "rss_before_mb": rss_before,
    }


def main() -> None:
    """Parse the arguments, measure, print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--targets", type=int, required=True)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the exporter's")
    # Long enough for the warm-up cycle of 1,000 targets to finish on a busy machine: a poll
    # cut by its deadline would leave the measured cycle doing the warm-up's work.
    parser.add_argument("--interval", default="5m")
    parser.add_argument("--cycles", type=int, default=3, help="steady cycles measured")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(
            Path(folder), args.base, args.targets, args.concurrency, args.interval
        )
        print(json.dumps(asyncio.run(_measure(config, args.cycles))))


if __name__ == "__main__":
    main()
