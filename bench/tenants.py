"""Peak memory of one obshell target with many tenants, in a fresh process.

The simulator (its own process) answers at once; the poll runs for at most `--seconds` (a
50,000-tenant poll makes 200,000 requests, far more than fit in a bench run): what grows with
the tenant count is what a poll holds in flight, and that shows from the fan-out's start.
Prints one JSON object: the process's peak RSS, its RSS before the poll, requests made.

Run by `python -m bench tenants`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
from pathlib import Path

from bench.fleet import PASSWORD, agent_url
from exporter.config import load_config
from exporter.poller import Poller


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _measure(config: Path, seconds: float) -> dict[str, float]:
    poller = Poller(load_config(config))
    before = _rss_mb()
    try:
        async with asyncio.timeout(seconds):
            await poller.poll_all_once()
    except TimeoutError:
        pass
    finally:
        requests = sum(sum(r.stats.requests.values()) for r in poller.runners.values())
        await poller.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_before_mb": before, "peak_rss_mb": peak, "requests": requests}


def main() -> None:
    """Parse the arguments, measure, print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--tenants", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        secret = Path(folder) / "password"
        secret.write_text(PASSWORD)
        config = Path(folder) / "config.yaml"
        config.write_text(
            "targets:\n"
            f"  - {{name: big, source: obshell, url: '{agent_url(args.base, 0)}',"
            f" password_file: {secret}, interval: 10m, timeout: 4m,"
            f" max_tenants: {args.tenants}}}\n"
        )
        print(json.dumps(asyncio.run(_measure(config, args.seconds))))


if __name__ == "__main__":
    main()
