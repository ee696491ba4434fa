"""What a scrape costs as series grow, and whether it grows with the number of scrapers.

In-process: time to render the exposition after a change, to serve it unchanged, and
prometheus_client's own `generate_latest` over the same families (what a collector that renders
per scrape would pay). Out of process: an exporter serving a fleet, scraped by 1 and by 50
concurrent clients; its CPU per scrape from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import httpx
from prometheus_client import exposition
from prometheus_client.core import Metric

from bench.fleet import free_port, write_config
from exporter.collector import ExporterState, collect
from exporter.exposition import Exposition
from exporter.snapshot import (
    BackupTask,
    Cluster,
    ClusterIdentity,
    LogBackup,
    TargetData,
    TargetHealth,
    TargetSnapshot,
    Tenant,
)


class _Families:
    """prometheus_client's Collector protocol over families built once, for `generate_latest`."""

    def __init__(self, metrics: list[Metric]) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        """Yield the families."""
        yield from self._metrics


def synthetic_targets(targets: int, tenants: int, now: float) -> list[TargetSnapshot]:
    """Hand-built snapshots of a fleet: every tenant with a task, log backup and recovery point."""
    task = BackupTask(
        status="COMPLETED", raw_status="COMPLETED", backup_set_id=7, task_id=7, job_id=7,
        incarnation=1, encryption_mode="NONE", path="oss://bucket/backup/data", comment="",
        output_rate_bytes=1.5e8, input_bytes=10**11, output_bytes=4 * 10**10, extra_meta_bytes=0,
        tablets=900, finished_tablets=900, macro_blocks=40_000, finished_macro_blocks=40_000,
        files=300, result_code=0, start=now - 4000, end=now - 1000, start_scn=now - 4000,
        end_scn=now - 1000,
    )  # fmt: skip
    snapshots = []
    for t in range(targets):
        tenant_list = tuple(
            Tenant(
                name=f"tenant{i}",
                tenant_id=1002 + 2 * i,
                tenant_status="NORMAL",
                backup_task=task,
                last_success=now - 1000,
                last_failure=now - 90000,
                log_backup=LogBackup(
                    checkpoint=now - 3, delay=3.0, status="DOING", raw_status="DOING"
                ),
                recovery_point=now - 3,
            )
            for i in range(tenants)
        )
        cluster = Cluster(
            identity=ClusterIdentity(f"cluster{t}", str(100000 + t), "4.3.5.0"), tenants=tenant_list
        )
        health = TargetHealth(
            up=True, last_success=now, last_duration=0.2, last_attempt=now, polls_total=5
        )
        snapshots.append(
            TargetSnapshot(
                name=f"t{t}",
                source="obshell",
                labels=(("site", "hz"),),
                health=health,
                data=TargetData(clusters=(cluster,), polled_at=now),
                stale_after=180,
            )
        )
    return snapshots


def in_process(targets: int, tenants: int) -> dict[str, float]:
    """Render timings over synthetic snapshots (seconds), and the sample count."""
    now = time.time()
    fleet = synthetic_targets(targets, tenants, now)
    state = ExporterState(True, now)
    exposition_cache = Exposition(lambda _now: fleet, lambda: state)
    started = time.perf_counter()
    body = exposition_cache.body(open_metrics=False, gzipped=False)
    changed = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(100):
        exposition_cache.body(open_metrics=False, gzipped=False)
    unchanged = (time.perf_counter() - started) / 100
    exposition_cache.body(open_metrics=False, gzipped=True)  # compressed once per change
    started = time.perf_counter()
    for _ in range(100):
        exposition_cache.body(open_metrics=False, gzipped=True)
    unchanged_gzip = (time.perf_counter() - started) / 100
    # Once a second a scrape reads the process_* series again: with gzip, it continues a copy
    # of the compressor that took the (unchanged) data part.
    started = time.perf_counter()
    for _ in range(100):
        exposition_cache._runtime_read_at = float("-inf")  # as if a second had passed
        exposition_cache.body(open_metrics=False, gzipped=True)
    runtime_refresh_gzip = (time.perf_counter() - started) / 100
    started = time.perf_counter()
    for _ in range(100):
        exposition_cache._runtime_read_at = float("-inf")
        exposition_cache.body(open_metrics=False, gzipped=False)
    runtime_refresh = (time.perf_counter() - started) / 100
    # Between two scrapes, a share of the targets finishes a poll: with a 30 s interval and
    # a 15 s scrape interval, about half; render after 10 % changed as the common case.
    for index in range(0, len(fleet), 10):
        fleet[index] = dataclasses.replace(fleet[index])
    started = time.perf_counter()
    exposition_cache.body(open_metrics=False, gzipped=False)
    partly = time.perf_counter() - started
    metrics = collect(fleet, state)
    started = time.perf_counter()
    exposition.generate_latest(_Families(metrics))
    reference = time.perf_counter() - started
    samples = sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))
    return {
        "samples": samples,
        "render_all_changed": changed,
        "render_10pct_changed": partly,
        "unchanged": unchanged,
        "unchanged_gzip": unchanged_gzip,
        "runtime_refresh": runtime_refresh,
        "runtime_refresh_gzip": runtime_refresh_gzip,
        "generate_latest": reference,
    }


def _cpu_of(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _hammer(url: str, clients: int, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=clients)) as session:

        async def scraper() -> None:
            while time.monotonic() < deadline:
                started = time.monotonic()
                async with session.get(url, headers={"Accept-Encoding": "gzip"}) as response:
                    await response.read()
                    assert response.status == 200
                latencies.append(time.monotonic() - started)

        await asyncio.gather(*(scraper() for _ in range(clients)))
    return latencies


def out_of_process(base: str, targets: int, seconds: float) -> dict[str, dict[str, float]]:
    """An exporter process polling `targets` agents, scraped by 1 then 50 clients."""
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), base, targets)
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{port}", "--log.level", "error"],
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            time.sleep(3)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:  # wait until every target has data
                try:
                    text = httpx.get(url, timeout=30).text
                except httpx.HTTPError:
                    continue
                if text.count("oceanbase_cluster_info{") >= targets:
                    break
                time.sleep(1)
            for clients in (1, 50):
                cpu = _cpu_of(process.pid)
                latencies = sorted(asyncio.run(_hammer(url, clients, seconds)))
                used = _cpu_of(process.pid) - cpu
                results[str(clients)] = {
                    "scrapes": len(latencies),
                    "cpu_ms_per_scrape": 1000 * used / len(latencies),
                    "p50_ms": 1000 * latencies[len(latencies) // 2],
                    "p99_ms": 1000 * latencies[int(len(latencies) * 0.99)],
                }
        finally:
            process.terminate()
            process.wait(timeout=10)
    return results


def main() -> None:
    """Print in-process render timings as JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=250)
    parser.add_argument("--tenants", type=int, default=10)
    args = parser.parse_args()
    print(json.dumps(in_process(args.targets, args.tenants)))


if __name__ == "__main__":
    main()
