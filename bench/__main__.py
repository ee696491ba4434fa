"""`python -m bench`: the whole benchmark suite, one table with the references side by side.

Every measurement runs in a fresh process against a simulator in another process, each agent
answering after a fixed 20 ms, so that what is measured is the client, not the server.

`python -m bench isolation` (about 4 minutes): live targets' poll gaps beside 0, 100 and 300
dead ones. `python -m bench tenants`: peak RSS of one target with 1k, 10k and 50k tenants.
`python -m bench cost [--baseline CHECKOUT]`: how a steady-state poll's requests, CPU and
memory grow with tenants and targets, and with a baseline checkout its poll cycles before and
after side by side, beside two bare aiohttp fan-outs: as many GETs of the unauthenticated
`/api/v1/info`, and the steady cycle's own requests replayed, signed (bench.routes).
`python -m bench sources`: CPU per request of OCP and Cloud targets, and per answer decoded.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import scrape, sources
from bench.fleet import TENANTS, fleet
from bench.isolation import INTERVAL, TIMEOUT

LATENCY = 0.02
SIZES = (10, 100, 1000)
SDK_SIZES = (10, 100)  # 1000 targets one after another would take ~15 minutes
HTTPX_SIZES = (10, 100)  # httpx's own transport: ~4 ms CPU a request, minutes at 1000


def _run(module: str, *args: str, code: str | None = None) -> dict[str, float]:
    """Run `python -m module args` in a fresh process; `code` is a folder whose `exporter`
    package replaces ours (the baseline of a before/after run), beside our `bench`."""
    env = None
    if code is not None:  # `-m` puts the working directory first on the path: run from there
        env = {**os.environ, "PYTHONPATH": code}
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True, text=True, check=True, env=env, cwd=code,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _baseline_code(checkout: str, folder: str) -> str:
    """A folder importing `exporter` from `checkout` and `bench` from here."""
    here = Path(__file__).resolve().parent
    Path(folder, "exporter").symlink_to(Path(checkout).resolve() / "exporter")
    Path(folder, "bench").symlink_to(here)
    return folder


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.1f} {five:.1f} {fifteen:.1f}"


def _default_concurrency(code: str | None) -> int:
    """The `concurrency` default of the exporter in `code` (ours when None)."""
    probe = "from exporter.config import Config; print(Config.model_fields['concurrency'].default)"
    env = None if code is None else {**os.environ, "PYTHONPATH": code}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env, cwd=code
    )
    return int(out.stdout.strip())


def compare(sizes: list[int], baseline: str) -> None:
    """Poll cycles before (the `baseline` checkout) and after, side by side (markdown)."""
    with tempfile.TemporaryDirectory() as folder:
        code = _baseline_code(baseline, folder)
        width = {"before": _default_concurrency(code), "after": _default_concurrency(None)}
        print(
            f"fleet: N obshell targets x {TENANTS} tenants, {LATENCY * 1000:.0f} ms per upstream"
            f" answer; default concurrency before {width['before']}, after {width['after']}"
        )
        print()
        print(
            "| targets | requests before / after | poll s before / after | bare aiohttp s: /info"
            " / same requests | after / bare: /info / same | CPU ms/req before / after"
            " | aiohttp CPU ms/req: /info / same | after / aiohttp: /info / same"
            " | CPU ms per tenant per poll before / after | peak RSS MB before / after | load |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for size in sizes:
            with fleet(size, LATENCY) as base:
                common = ("--base", base, "--targets", str(size))
                old = _run("bench.poll_cycle", *common, code=code)
                new = _run("bench.poll_cycle", *common)
                width_arg = ("--client", "aiohttp", "--concurrency", str(width["after"]))
                bare = _run(
                    "bench.fanout", *common, "--requests", str(int(new["requests"])), *width_arg
                )
                urls = str(Path(folder, "urls.json"))
                _run("bench.routes", *common, "--out", urls)
                same = _run("bench.fanout", *common, "--requests", "0", "--urls", urls, *width_arg)
            per_req = [r["cpu"] / r["requests"] * 1000 for r in (old, new, bare, same)]
            per_tenant = [r["cpu"] / (size * TENANTS) * 1000 for r in (old, new)]
            cells = [
                str(size),
                f"{old['requests']:.0f} / {new['requests']:.0f}",
                f"{old['wall']:.2f} / {new['wall']:.2f}",
                f"{bare['wall']:.2f} / {same['wall']:.2f}",
                f"{new['wall'] / bare['wall']:.2f}x / {new['wall'] / same['wall']:.2f}x",
                f"{per_req[0]:.3f} / {per_req[1]:.3f}",
                f"{per_req[2]:.3f} / {per_req[3]:.3f}",
                f"{per_req[1] / per_req[2]:.2f}x / {per_req[1] / per_req[3]:.2f}x",
                f"{per_tenant[0]:.3f} / {per_tenant[1]:.3f}",
                f"{old['rss_mb']:.0f} / {new['rss_mb']:.0f}",
                _load(),
            ]
            print("| " + " | ".join(cells) + " |", flush=True)


GROWTH_TENANTS = (1, 10, 100, 1000)
GROWTH_TARGETS = (10, 100, 1000)


def growth() -> None:
    """How a steady-state poll's cost grows with tenants and targets, with slopes (markdown).

    The simulator answers at once here: requests, CPU and memory do not depend on latency.
    """
    print(
        "| cluster | requests per poll | CPU s per poll | peak RSS MB | RSS growth in the poll MB |"
    )
    print("|---|---|---|---|---|")
    rows: dict[str, list[tuple[int, dict[str, float]]]] = {"tenants": [], "targets": []}
    for tenants in GROWTH_TENANTS:
        with fleet(1, 0.0, tenants=tenants) as base:
            r = _run("bench.poll_cycle", "--base", base, "--targets", "1")
        rows["tenants"].append((tenants, r))
        _growth_row(f"1 target x {tenants} tenants", r)
    for targets in GROWTH_TARGETS:
        with fleet(targets, 0.0) as base:
            r = _run("bench.poll_cycle", "--base", base, "--targets", str(targets))
        rows["targets"].append((targets, r))
        _growth_row(f"{targets} targets x {TENANTS} tenants", r)
    print()
    for unit, points in rows.items():
        (x0, first), (x1, last) = points[0], points[-1]
        run = x1 - x0
        if run <= 0:
            continue
        print(
            f"slope per {unit[:-1]}: {(last['requests'] - first['requests']) / run:.2f} requests,"
            f" {(last['cpu'] - first['cpu']) / run * 1000:.3f} ms CPU,"
            f" {(last['rss_mb'] - first['rss_mb']) / run * 1024:.1f} KB peak RSS per poll"
        )
    print(f"({_load()})")


def _growth_row(label: str, r: dict[str, float]) -> None:
    print(
        f"| {label} | {r['requests']:.0f} | {r['cpu']:.3f} | {r['rss_mb']:.0f} "
        f"| {r['rss_mb'] - r['rss_before_mb']:.1f} |",
        flush=True,
    )


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
    parser.add_argument(
        "suite",
        nargs="?",
        choices=["all", "isolation", "tenants", "cost", "sources"],
        default="all",
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument(
        "--baseline",
        metavar="CHECKOUT",
        help="a checkout of the code before (`git worktree add /tmp/before REV`): `cost` then"
        " prints its poll cycles beside ours",
    )
    args = parser.parse_args()
    if args.suite == "isolation":
        isolation()
        return
    if args.suite == "tenants":
        tenants()
        return
    if args.suite == "sources":
        sources.run()
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.suite == "cost":
        if args.baseline:
            compare(sizes, args.baseline)
            print()
        growth()
        return
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
            common = (
                "--base", base, "--targets", str(size), "--requests", count,
                "--concurrency", str(_default_concurrency(None)),
            )  # fmt: skip
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
