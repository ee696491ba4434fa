"""`python -m bench sources`: CPU per upstream request of OCP and Cloud targets, steady state.

The simulator (in another process, answering at once) serves one OCP and one Cloud account
with `--clusters` clusters of `--tenants` tenants each; N OCP and N Cloud targets poll it. The
first poll (connections, slow lists) is a warm-up; the second is measured, as a running
exporter spends its life in that state. Prints one JSON object per source (one line each).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from bench.fleet import fleet, process_cpu
from exporter.config import load_config
from exporter.poller import Poller

TARGETS = 20
CLUSTERS = 5
TENANTS = 10
# The simulator's default accounts (exporter.simulator.ocp_auth / cloud_auth).
OCP_USER, OCP_PASSWORD = "admin", "ocp-pass"
CLOUD_KEY, CLOUD_SECRET = "cloud-access-key-id", "cloud-access-key-secret"


def _config(folder: Path, base: str, source: str, targets: int) -> Path:
    lines = ["defaults: {timeout: 30s, interval: 5m}", "targets:"]
    for i in range(targets):
        if source == "ocp":
            auth = f"username: {OCP_USER}, password: {OCP_PASSWORD}"
        else:
            auth = f"access_key_id: {CLOUD_KEY}, access_key_secret: {CLOUD_SECRET}"
        lines.append(f"  - {{name: {source}{i}, source: {source}, url: '{base}', {auth}}}")
    path = folder / f"{source}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


async def _measure(config: Path) -> dict[str, float]:
    poller = Poller(load_config(config))
    try:
        await poller.poll_all_once()
        before = sum(sum(r.stats.requests.values()) for r in poller.runners.values())
        cpu, wall = process_cpu(), time.monotonic()
        results = await poller.poll_all_once()
        wall, cpu = time.monotonic() - wall, process_cpu() - cpu
        requests = sum(sum(r.stats.requests.values()) for r in poller.runners.values()) - before
    finally:
        await poller.stop()
    failed = sum(1 for r in results if not r.complete)
    return {"wall": wall, "cpu": cpu, "requests": requests, "failed": failed}


def run(targets: int = TARGETS, clusters: int = CLUSTERS, tenants: int = TENANTS) -> None:
    """Measure each source in turn against one simulator; print a markdown table."""
    print(
        f"{targets} targets per source, {clusters} clusters x {tenants} tenants each,"
        " simulator answering at once, one steady poll measured"
    )
    print()
    print("| source | requests | poll s | CPU s | CPU ms per request | incomplete polls |")
    print("|---|---|---|---|---|---|")
    with fleet(clusters, 0.0, tenants=tenants) as base, tempfile.TemporaryDirectory() as folder:
        for source in ("ocp", "cloud"):
            config = _config(Path(folder), base, source, targets)
            r = asyncio.run(_measure(config))
            per_request = r["cpu"] / r["requests"] * 1000 if r["requests"] else float("nan")
            print(
                f"| {source} | {r['requests']:.0f} | {r['wall']:.2f} | {r['cpu']:.3f}"
                f" | {per_request:.3f} | {r['failed']:.0f} |",
                flush=True,
            )


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=TARGETS)
    parser.add_argument("--clusters", type=int, default=CLUSTERS)
    parser.add_argument("--tenants", type=int, default=TENANTS)
    args = parser.parse_args()
    run(args.targets, args.clusters, args.tenants)


if __name__ == "__main__":
    main()
