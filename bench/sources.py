"""`python -m bench sources`: CPU per upstream request of OCP and Cloud targets, steady state.

The simulator (in another process, answering at once) serves one OCP and one Cloud account
with `--clusters` clusters of `--tenants` tenants each; N OCP and N Cloud targets poll it. The
first poll (connections, slow lists) is a warm-up; the second is measured, as a running
exporter spends its life in that state. Then the answers' decoding alone: the simulator's
answers to each source's routes, decoded again and again (the best of five rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from bench.fleet import fleet, process_cpu
from exporter.config import load_config
from exporter.poller import Poller
from exporter.sources.cloud import client as cloud_client
from exporter.sources.cloud import models as cm
from exporter.sources.envelope import Judge, UpstreamEnvelope, decode, parametrized
from exporter.sources.http import Response
from exporter.sources.ocp import client as ocp_client
from exporter.sources.ocp import models as om

TARGETS = 20
CLUSTERS = 5
TENANTS = 10
# The simulator's default accounts (simulator/ocp/auth.py, simulator/cloud/auth.py).
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


# One source's recorded answers: (envelope, judge, [(body, data model)]).
Recorded = tuple[type[UpstreamEnvelope[Any]], Judge, list[tuple[bytes, type[BaseModel]]]]


def _recorded(base: str) -> dict[str, Recorded]:
    """The simulator's answers to the routes a steady poll of each source asks."""
    ocp_auth = httpx.BasicAuth(OCP_USER, OCP_PASSWORD)
    cloud_auth = httpx.DigestAuth(CLOUD_KEY, CLOUD_SECRET)

    def get(path: str, auth: httpx.Auth, **params: str) -> bytes:
        return httpx.get(base + path, auth=auth, params=params, timeout=10).content

    clusters = get("/api/v2/ob/clusters", ocp_auth)
    cluster = om.Envelope[om.Paged[om.ObCluster]].model_validate_json(clusters)
    cid = cluster.data.contents[0].id if cluster.data else 0
    tenants = get(f"/api/v2/ob/clusters/{cid}/tenants", ocp_auth)
    tenant = om.Envelope[om.Paged[om.ObTenant]].model_validate_json(tenants)
    tasks = f"/api/v2/ob/clusters/{cid}/tenants/{tenant.data.contents[-1].id if tenant.data else 0}"
    instances = get("/api/v2/instances", cloud_auth, requestId=str(uuid.uuid4()))
    instance = cm.Envelope[cm.PagingData[cm.Instance]].model_validate_json(instances)
    iid = instance.data.dataList[0].instanceId if instance.data else ""
    cloud_get: Callable[[str], bytes] = lambda path: get(  # noqa: E731
        f"/api/v2/instances/{iid}{path}", cloud_auth, requestId=str(uuid.uuid4())
    )
    return {
        "ocp": (om.Envelope, ocp_client.judge, [
            (clusters, om.Paged[om.ObCluster]),
            (get(f"/api/v2/ob/clusters/{cid}/backup/overview", ocp_auth), om.ClusterBackupInfoDetail),
            (tenants, om.Paged[om.ObTenant]),
            (get(f"{tasks}/backup/task/dataBackupTasks", ocp_auth), om.Paged[om.DataBackupTask]),
            (get(f"{tasks}/backup/task/logBackupTasks", ocp_auth), om.Paged[om.LogBackupTask]),
        ]),
        "cloud": (cm.Envelope, cloud_client.judge, [
            (instances, cm.PagingData[cm.Instance]),
            (cloud_get("/backup/data/sets"), cm.PagingData[cm.BackupSet]),
            (cloud_get("/backup/restore/tenants"), cm.RestorableTenants),
        ]),
    }  # fmt: skip


def _decode_cost(recorded: Recorded, rounds: int = 5, repeat: int = 2000) -> tuple[float, float]:
    """CPU µs to decode one of the answers (best round), and their mean size in bytes."""
    envelope, judge, answers = recorded
    calls = [(Response(200, {}, body), parametrized(envelope, model)) for body, model in answers]
    best = float("inf")
    for _ in range(rounds):
        started = process_cpu()
        for _ in range(repeat):
            for response, parsed in calls:
                decode("/bench", response, parsed, judge)
        best = min(best, (process_cpu() - started) / (repeat * len(calls)))
    return best * 1e6, sum(len(body) for body, _ in answers) / len(answers)


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
        recorded = _recorded(base)
    print()
    print("| source | decode CPU µs per answer | mean answer bytes |")
    print("|---|---|---|")
    for source, answers in recorded.items():
        micros, size = _decode_cost(answers)
        print(f"| {source} | {micros:.1f} | {size:.0f} |", flush=True)


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
