"""Scenarios that reach what real obshell agents answer by version and by state.

- `versions`: cluster i runs obshell 4.2.3, 4.2.5, 4.2.6, 4.3.0, 4.3.2, 4.4.2, 4.5 in turn (at
  least one cluster each): no backup API before 4.2.4, the overviews from 4.2.4, the job
  history, archive and restore lists from 4.3.2, unknown routes answered 400 (code 1000)
  before 4.3.1 and 404 from it; each cluster has a finished restore. Auth as each version:
  the agent password (`--agent-password`) from 4.2.6, where `/api/v1/info` has `security`
  (before, `X-OCS-Agent-Header` is ignored); a header the agent cannot decrypt gets 401 code
  10008 (as a wrong password) before 4.3.1, errCode DecryptFailed from it (code 1 from 4.4.2);
  512-bit keys before 4.4.2, 1024-bit from it.
- `archive-stopped`: the first tenants' archive rounds are INTERRUPTED, STOP and SUSPENDING
  (obshell's /backup/log/tasks leaves them out while /backup/info keeps their checkpoint and
  a growing delay); the others archive normally.
- `full-failing`: FULL backups fail while the incrementals succeed (for a day on the first
  tenant, six on the second); the third takes its backups PLUS ARCHIVELOG and its next job
  waits as INIT with a NULL start time.

Every timestamp these worlds hold at their start is in the past.
"""

from __future__ import annotations

import random

from simulator.obshell import versions
from simulator.world import (
    DAY,
    GIB,
    HOUR,
    MIB,
    ArchivePlan,
    BackupPlan,
    Cluster,
    RestoreJob,
    Tenant,
    World,
    destination,
    new_tenant,
)

SCENARIOS = ("versions", "archive-stopped", "full-failing")
DEFAULT_VERSION = "4.4.2.0"
INTERVAL = 6 * HOUR
HISTORY_RUNS = 40  # ten days of backups every six hours
STOPPED_STATES = ("INTERRUPTED", "STOP", "SUSPENDING")
FULL_FAILING_DAYS = (1.0, 6.0)


def build_world(
    scenario: str,
    *,
    start: float,
    clusters: int,
    tenants: int,
    seed: int,
    password: str,
    agent_password: str | None,
) -> World:
    """Build the world of one of `SCENARIOS` as it stands at `start`."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    world = World(start=start, seed=seed)
    count = max(clusters, len(versions.MODELLED_VERSIONS)) if scenario == "versions" else clusters
    for index in range(count):
        rng = random.Random(f"{seed}/{scenario}/{index}")  # noqa: S311 - a world, not secrets
        version = (
            versions.MODELLED_VERSIONS[index % len(versions.MODELLED_VERSIONS)]
            if scenario == "versions"
            else DEFAULT_VERSION
        )
        cluster = Cluster(index, f"obcluster-{index}", version, password, agent_password)
        cluster.started_at = start - rng.uniform(1, 30) * DAY
        for position in range(tenants):
            cluster.tenants.append(_tenant(scenario, cluster, position, rng, start))
        if scenario == "versions" and cluster.tenants:
            cluster.restores.append(_finished_restore(cluster, cluster.tenants[0], start))
        world.clusters.append(cluster)
    return world


def _tenant(
    scenario: str, cluster: Cluster, position: int, rng: random.Random, start: float
) -> Tenant:
    tenant = new_tenant(cluster, position, rng, start)
    name = tenant.name
    data_bytes = rng.randint(8, 32) * GIB
    latest = start - rng.uniform(0.3, 0.8) * INTERVAL  # finished well before `start`
    first_start = latest - HISTORY_RUNS * INTERVAL
    plan = BackupPlan(
        first_start=first_start,
        path=destination(cluster.name, name, "data"),
        interval=INTERVAL,
        data_bytes=data_bytes,
        rate=64 * MIB,
        macro_blocks=data_bytes // (2 * MIB),
    )
    if scenario == "full-failing" and position < len(FULL_FAILING_DAYS):
        plan.failing_since = start - FULL_FAILING_DAYS[position] * DAY
        plan.failing_types = ("FULL",)
    elif scenario == "full-failing" and position == len(FULL_FAILING_DAYS):
        plan.plus_archivelog = True
        plan.queued = INTERVAL  # the next job is always waiting, with a NULL start
    tenant.backup = plan
    archive = ArchivePlan(
        round_start=start - 7 * DAY,
        path=destination(cluster.name, name, "clog"),
        round_id=rng.randint(1, 5),
        lag=rng.uniform(1.0, 4.0),
    )
    if scenario == "archive-stopped" and position < len(STOPPED_STATES):
        archive.stall_at = start - 600.0 * (position + 1)
        archive.stopped_as = STOPPED_STATES[position]
    tenant.archive = archive
    return tenant


def _finished_restore(cluster: Cluster, source: Tenant, start: float) -> RestoreJob:
    plan = source.backup
    return RestoreJob(
        job_id=1,
        tenant_name=f"{source.name}_r1",
        tenant_id=cluster.allocate_tenant_id(),
        backup_tenant_name=source.name,
        backup_tenant_id=source.tenant_id,
        backup_cluster_name=cluster.name,
        start=start - 2 * DAY,
        duration=HOUR,
        restore_until=start - 2 * DAY - HOUR,
        tablets=plan.tablets if plan else 600,
        total_bytes=plan.data_bytes if plan else 20 * GIB,
    )
