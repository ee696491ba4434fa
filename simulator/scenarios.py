"""Named scenarios: how a freshly built world looks and where it is heading.

- `demo`: a mix for a first look: most tenants healthy, one backup running, one tenant never
  backed up, one restore running.
- `healthy`: every tenant backed up on schedule, archive delays of a few seconds.
- `failing-backup`: the latest backups FAILED (result -4018, with a comment).
- `log-lag`: the first tenant's archive checkpoint stalls two minutes in, so its delay grows
  without bound; the second lags a steady quarter of an hour.
- `restore`: a finished restore, one that succeeds half an hour in and one that fails (its
  tenant is dropped).
- `churn`: besides the fixed tenants, tenants are created and dropped every couple of hours.
- `showcase`: what `oceanbase-backup-exporter --demo` serves. Within five minutes of its
  start, cluster 0 shows every kind of trouble beside a healthy tenant: `pay`'s backup fails
  and its archive lags a quarter of an hour, `erp`'s archive round is interrupted (obshell
  stops listing it), `crm` was never backed up, a restore succeeds and another fails. The
  other clusters are healthy but for a running backup and a running restore.

`speed` compresses simulated work (backup runs and their schedule, restores, churn) instead
of running the clock ahead: timestamps stay at or before the real now. What the alerts judge
against the real clock (an archive's lag, when the showcase's troubles happen) is not
compressed.

`simulator/fidelity.py` adds the scenarios that reach obshell's answers by version
and by state: `versions`, `archive-stopped`, `full-failing`.

Every cluster gets the scenario's mix; all choices come from a `random.Random` seeded with the
seed and the cluster's index, so a seed always builds the same world.
"""

from __future__ import annotations

import random
from typing import Literal

from simulator import fidelity, timeline
from simulator.world import (
    DAY,
    GIB,
    HOUR,
    MIB,
    TENANT_NAMES,
    ArchivePlan,
    BackupPlan,
    ChurnPlan,
    Cluster,
    RestoreJob,
    Tenant,
    World,
    destination,
    new_tenant,
)

SCENARIOS = ("demo", "healthy", "failing-backup", "log-lag", "restore", "churn", "showcase")
# Every scenario, those of fidelity.py included.
ALL_SCENARIOS: tuple[str, ...] = SCENARIOS + fidelity.SCENARIOS
DEFAULT_VERSION = "4.4.2.0"
BACKUP_INTERVAL = 6 * HOUR
HISTORY_RUNS = 28  # a week of backups every six hours before the scenario starts
LOG_STALL_AFTER = 120.0
LOG_LAG = 900.0
# The showcase's troubles, in real seconds after its start (not compressed: the alerts judge
# them against the real clock).
SHOWCASE_BACKUP_FAILS = 90.0
SHOWCASE_ARCHIVE_INTERRUPTED = 30.0
SHOWCASE_RESTORE_SUCCEEDS = 120.0
SHOWCASE_RESTORE_FAILS = 150.0

BackupRole = Literal["completed", "running", "never", "failing", "fails-soon"]
ArchiveRole = Literal["healthy", "stalled", "lagging", "interrupted", "none"]


def build_world(
    scenario: str,
    *,
    start: float,
    clusters: int = 1,
    tenants: int = 3,
    seed: int = 1,
    password: str = "root-pass",  # noqa: S107 - the simulator's documented demo password
    agent_password: str | None = None,
    speed: float = 1.0,
) -> World:
    """Build the world of `scenario` as it stands at `start`, its work compressed by `speed`."""
    if scenario not in ALL_SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(ALL_SCENARIOS)}")
    if scenario in fidelity.SCENARIOS:
        return fidelity.build_world(
            scenario,
            start=start,
            clusters=clusters,
            tenants=tenants,
            seed=seed,
            password=password,
            agent_password=agent_password,
        )

    world = World(start=start, seed=seed)
    pace = 1.0 / speed if speed > 0 else 1.0  # simulated seconds -> real seconds
    for index in range(clusters):
        rng = random.Random(f"{seed}/{index}")  # noqa: S311 - a world, not secrets
        cluster = Cluster(index, f"obcluster-{index}", DEFAULT_VERSION, password, agent_password)
        cluster.started_at = start - rng.uniform(1, 30) * DAY
        for position in range(tenants):
            backup_role, archive_role = _roles(scenario, position, index)
            cluster.tenants.append(
                _tenant(cluster, position, backup_role, archive_role, rng, start, pace)
            )
        cluster.restores = _restores(scenario, cluster, start, pace)
        if scenario == "churn":
            cluster.churn = ChurnPlan(
                epoch=start - 2 * HOUR * pace, slots=max(2, tenants), period=2 * HOUR * pace
            )
        world.clusters.append(cluster)
    return world


def _roles(scenario: str, position: int, cluster: int) -> tuple[BackupRole, ArchiveRole]:
    if scenario == "showcase":
        return _showcase_roles(position, cluster)
    if scenario == "demo" and position == 1:
        return "running", "healthy"
    if scenario == "demo" and position == 2:
        return "never", "none"
    if scenario == "failing-backup":
        return "failing", "healthy"
    if scenario == "log-lag" and position == 0:
        return "completed", "stalled"
    if scenario == "log-lag" and position == 1:
        return "completed", "lagging"
    return "completed", "healthy"


def _showcase_roles(position: int, cluster: int) -> tuple[BackupRole, ArchiveRole]:
    if cluster > 0:
        return ("running", "healthy") if position == 1 else ("completed", "healthy")
    roles: dict[int, tuple[BackupRole, ArchiveRole]] = {
        1: ("fails-soon", "lagging"),
        2: ("never", "none"),
        3: ("completed", "interrupted"),
    }
    return roles.get(position, ("completed", "healthy"))


def _tenant(
    cluster: Cluster,
    position: int,
    backup_role: BackupRole,
    archive_role: ArchiveRole,
    rng: random.Random,
    start: float,
    pace: float,
) -> Tenant:
    tenant = new_tenant(cluster, position, rng, start)
    name = tenant.name
    if backup_role != "never":
        tenant.backup = _backup_plan(cluster, name, backup_role, rng, start, pace)
        if backup_role == "fails-soon":
            _fail_at(tenant.backup, tenant.salt, start + SHOWCASE_BACKUP_FAILS)
    if archive_role != "none":
        stall_at = {
            "stalled": start + LOG_STALL_AFTER * pace,
            "interrupted": start + SHOWCASE_ARCHIVE_INTERRUPTED,
        }.get(archive_role)
        tenant.archive = ArchivePlan(
            round_start=start - 7 * DAY,
            path=destination(cluster.name, name, "clog"),
            round_id=rng.randint(1, 5),
            lag=LOG_LAG if archive_role == "lagging" else rng.uniform(1.0, 4.0),
            stall_at=stall_at,
            stopped_as="INTERRUPTED" if archive_role == "interrupted" else None,
        )
    return tenant


def _backup_plan(
    cluster: Cluster,
    name: str,
    role: BackupRole,
    rng: random.Random,
    start: float,
    pace: float,
) -> BackupPlan:
    # A running backup is big, so that it is still running a while after a demo starts.
    data_bytes = 200 * GIB if role in {"running", "fails-soon"} else rng.randint(8, 64) * GIB
    rate = rng.uniform(48, 96) * MIB / pace
    interval = BACKUP_INTERVAL * pace
    nominal = data_bytes / rate
    if role == "running":
        latest = start - 0.3 * nominal
    else:
        latest = start - 1.1 * nominal - rng.random() * (interval - 1.2 * nominal)
    return BackupPlan(
        first_start=latest - HISTORY_RUNS * interval,
        path=destination(cluster.name, name, "data"),
        interval=interval,
        data_bytes=data_bytes,
        rate=rate,
        tablets=rng.randint(200, 2000),
        macro_blocks=data_bytes // (2 * MIB),
        failing_since=latest - interval if role == "failing" else None,
    )


def _fail_at(plan: BackupPlan, salt: int, moment: float) -> None:
    """Move the schedule so that the run after the history fails at `moment`, and the runs
    after it fail too (the history before it succeeded)."""
    first_failure = plan.first_start + HISTORY_RUNS * plan.interval
    plan.failing_since = first_failure
    run = timeline.latest_run(plan, salt, first_failure)
    assert run is not None and run.failed
    shift = moment - run.end
    plan.first_start += shift
    plan.failing_since += shift


def _restores(scenario: str, cluster: Cluster, start: float, pace: float) -> list[RestoreJob]:
    source = cluster.tenants[0] if cluster.tenants else None
    if scenario == "demo" or (scenario == "showcase" and cluster.index > 0):
        return [_restore(cluster, source, 1, start - 0.3 * 2 * HOUR * pace, 2 * HOUR * pace)]
    if scenario == "showcase":
        # Both started before the showcase; one succeeds, the other fails half-way.
        succeeds, fails = SHOWCASE_RESTORE_SUCCEEDS, SHOWCASE_RESTORE_FAILS
        return [
            _restore(cluster, source, 1, start - succeeds, 2 * succeeds),
            _restore(cluster, source, 2, start - fails, 4 * fails, fail_at=0.5),
        ]
    if scenario == "restore":
        return [
            _restore(cluster, source, 1, start - 2 * DAY * pace, HOUR * pace),
            _restore(cluster, source, 2, start + 30 * pace, 30 * 60 * pace),
            _restore(cluster, source, 3, start + 60 * pace, 30 * 60 * pace, fail_at=0.55),
        ]
    return []


def _restore(
    cluster: Cluster,
    source: Tenant | None,
    job_id: int,
    begin: float,
    duration: float,
    fail_at: float | None = None,
) -> RestoreJob:
    source_name = source.name if source else TENANT_NAMES[0]
    plan = source.backup if source else None
    return RestoreJob(
        job_id=job_id,
        tenant_name=f"{source_name}_r{job_id}",
        tenant_id=cluster.allocate_tenant_id(),
        backup_tenant_name=source_name,
        backup_tenant_id=source.tenant_id if source else 1002,
        backup_cluster_name=cluster.name,
        start=begin,
        duration=duration,
        restore_until=begin - HOUR,
        fail_at=fail_at,
        tablets=plan.tablets if plan else 600,
        total_bytes=plan.data_bytes if plan else 20 * GIB,
    )
