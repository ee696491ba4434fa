"""`python -m bench`: the whole benchmark suite, one table with the references side by side.

Every measurement runs in a fresh process against a simulator in another process, each agent
answering after a fixed 20 ms, so that what is measured is the client, not the server.

`python -m bench isolation` (about 4 minutes): live targets' poll gaps beside 0, 100 and 300
dead ones. `python -m bench tenants`: peak RSS of one target with 1k, 10k and 50k tenants.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time

from bench import scrape
from bench.fleet import TENANTS, fleet
from bench.isolation import INTERVAL, TIMEOUT

LATENCY = 0.02
SIZES = (10, 100, 1000)
SDK_SIZES = (10, 100)  # 1000 targets one after another would take ~15 minutes
HTTPX_SIZES = (10, 100)  # httpx's own transport: ~4 ms CPU a request, minutes at 1000


def _run(module: str, *args: str) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, "-m", module, *args], capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


ISOLATION_LIVE = 20
ISOLATION_DEAD = (0, 100, 300)
# Tenant count: seconds to poll. The simulator lists a tenant in 391 bytes: 40,000 is the most
# under the 16 MiB body cap; 50,000 (19.5 MB) shows the cap refusing the list.
TENANT_COUNTS = {1_000: 30, 10_000: 60, 40_000: 90, 50_000: 30}


def isolation() -> None:
    """Live targets' poll gaps beside dead ones (markdown table)."""
    print(
        f"{ISOLATION_LIVE} live targets x {TENANTS} tenants ({LATENCY * 1000:.0f} ms answers),"
        f" interval {INTERVAL:g} s, timeout {TIMEOUT:g} s, concurrency 32; dead targets accept"
        " and never answer"
    )
    print()
    print(
        "| dead targets | live polls (incomplete) | median gap s | p95 gap s | max gap s "
        "| every live target polled after s | /-/healthy failed |"
    )
    print("|---|---|---|---|---|---|---|")
    with fleet(ISOLATION_LIVE, LATENCY) as base:
        for dead in ISOLATION_DEAD:
            args = ("--base", base, "--live", str(ISOLATION_LIVE), "--dead", str(dead))
            r = _run("bench.isolation", *args)
            print(
                f"| {dead} | {r['polls']:.0f} ({r['incomplete']:.0f}) | {r['median_gap']:.1f} "
                f"| {r['p95_gap']:.1f} "
                f"| {r['max_gap']:.1f} | {r['first_polls_done']:.1f} "
                f"| {r['healthy_failed']:.0f} of {r['healthy_checks']:.0f} |",
                flush=True,
            )


def tenants() -> None:
    """Peak RSS of one target by tenant count (markdown table)."""
    print("| tenants | peak RSS MB | RSS before the poll MB | polled for s | requests made |")
    print("|---|---|---|---|---|")
    for count, seconds in TENANT_COUNTS.items():
        with fleet(1, 0.0, tenants=count) as base:
            args = ("--base", base, "--tenants", str(count), "--seconds", str(seconds))
            r = _run("bench.tenants", *args)
        print(
            f"| {count} | {r['peak_rss_mb']:.0f} | {r['rss_before_mb']:.0f} | {seconds} "
            f"| {r['requests']:.0f} |",
            flush=True,
        )


def main() -> None:
    """Run every benchmark and print the table (markdown)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("suite", nargs="?", choices=["all", "isolation", "tenants"], default="all")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args()
    if args.suite == "isolation":
        isolation()
        return
    if args.suite == "tenants":
        tenants()
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.monotonic()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"fleet: N obshell targets x {TENANTS} tenants, {LATENCY * 1000:.0f} ms per upstream answer"
    )
    print()
    print(
        "| targets | requests | exporter poll s | bare aiohttp s | bare httpx s | SDK loop s "
        "| exporter CPU s/1k req | aiohttp CPU s/1k req | httpx CPU s/1k req | exporter RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for size in sizes:
        with fleet(size, LATENCY) as base:
            ours = _run("bench.poll_cycle", "--base", base, "--targets", str(size))
            count = str(int(ours["requests"]))
            common = ("--base", base, "--targets", str(size), "--requests", count)
            bare = _run("bench.fanout", *common, "--client", "aiohttp")
            plain = (
                _run("bench.fanout", *common, "--client", "httpx") if size in HTTPX_SIZES else None
            )
            sdk = (
                _run("bench.sdk_loop", "--base", base, "--targets", str(size))
                if size in SDK_SIZES
                else None
            )
        cells = [
            str(size),
            count,
            f"{ours['wall']:.2f}",
            f"{bare['wall']:.2f}",
            f"{plain['wall']:.2f}" if plain else "—",
            f"{sdk['wall']:.1f} ({sdk['requests']:.0f} calls)" if sdk else "—",
            f"{ours['cpu'] / ours['requests'] * 1000:.3f}",
            f"{bare['cpu'] / bare['requests'] * 1000:.3f}",
            f"{plain['cpu'] / plain['requests'] * 1000:.3f}" if plain else "—",
            f"{ours['rss_mb']:.0f}",
        ]
        print("| " + " | ".join(cells) + " |", flush=True)
    print()
    print(
        "| samples | render, all changed s | render, 10% changed s | unchanged s | prometheus_client generate_latest s |"
    )
    print("|---|---|---|---|---|")
    for targets in (25, 250):
        r = scrape.in_process(targets, TENANTS)
        print(
            f"| {r['samples']} | {r['render_all_changed']:.3f} | {r['render_10pct_changed']:.3f} | "
            f"{r['unchanged']:.6f} | {r['generate_latest']:.3f} |",
            flush=True,
        )
    print()
    print("| scrapers | scrapes | exporter CPU ms/scrape | p50 ms | p99 ms |")
    print("|---|---|---|---|---|")
    with fleet(100, LATENCY) as base:
        for clients, r in scrape.out_of_process(base, 100, seconds=10).items():
            print(
                f"| {clients} | {r['scrapes']:.0f} | {r['cpu_ms_per_scrape']:.2f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} |"
            )
    print()
    print(f"suite took {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
