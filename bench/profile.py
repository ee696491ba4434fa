"""Where a steady poll cycle's CPU goes: cProfile's top entries and the time spent in GC.

`python -m bench.profile --targets 1000` runs a simulated fleet (20 ms answers), a warm-up
cycle, then profiles the second cycle and prints the top entries by own time, and how many
collections of each generation ran and how much CPU they took. `--sort ''` measures without
cProfile (whose overhead doubles the CPU); `--default-gc` keeps CPython's GC settings.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.fleet import fleet, process_cpu, write_config
from exporter.config import load_config
from exporter.gc_policy import tune
from exporter.poller import Poller


class _GCClock:
    """Counts collections per generation and the time they take (gc.callbacks)."""

    def __init__(self) -> None:
        self.count = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.process_time()
        else:
            generation = int(info["generation"])
            self.count[generation] += 1
            self.seconds[generation] += time.process_time() - self._started


async def _measure(config: Path, sort: str, top: int, tune_gc: bool) -> None:
    poller = Poller(load_config(config))
    if tune_gc:
        tune()  # what the exporter's main() does before polling
    clock = _GCClock()
    try:
        await poller.poll_all_once()
        gc.callbacks.append(clock)
        profile = cProfile.Profile()
        cpu, wall = process_cpu(), time.monotonic()
        if sort:
            profile.enable()
        await poller.poll_all_once()
        profile.disable()
        wall, cpu = time.monotonic() - wall, process_cpu() - cpu
        gc.callbacks.remove(clock)
        requests = sum(sum(r.stats.requests.values()) for r in poller.runners.values())
    finally:
        await poller.stop()
    if sort:
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(sort).print_stats(top)
        print(out.getvalue())
    print(f"cycle {wall:.2f} s, CPU {cpu:.2f} s (profiled), {requests} requests in both cycles")
    for generation in range(3):
        print(
            f"gc gen{generation}: {clock.count[generation]} collections,"
            f" {clock.seconds[generation] * 1000:.0f} ms"
        )
    print(f"objects tracked by gc: {len(gc.get_objects())}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def main() -> None:
    """Parse the arguments, run the fleet, profile, print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--sort", default="tottime", help="'' to measure without cProfile")
    parser.add_argument("--default-gc", action="store_true", help="CPython's GC settings")
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    with fleet(args.targets, args.latency) as base, tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), base, args.targets, None, "5m")
        asyncio.run(_measure(config, args.sort, args.top, not args.default_gc))


if __name__ == "__main__":
    main()
