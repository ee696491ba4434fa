"""What OceanBase Cloud shows of the simulated world at a moment.

Cloud sees the same clusters, tenants, backups and archive rounds the obshell agents serve
(timeline.py): each cluster is an instance, its backups are backup sets (set n of an instance
holds run n of every backed-up tenant), and a tenant can be restored to the windows its backups
and archive cover. Pure functions, like the timeline: the same world and moment give the same
answer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from exporter.sources.cloud.models import (
    BackupSet,
    BackupSetDetail,
    RestorableTenant,
    TimeInterval,
)
from simulator import formats, timeline
from simulator.cloud.shapes import FullInstance, FullRestorableTenant
from simulator.timeline import BackupRun
from simulator.world import GIB, Cluster, Tenant

SYS_TENANT_SET = ("sys", "*")  # tenantId and tenantName of an instance-level set, as documented
# Only BACKUP_NOW (a manual backup) is documented; the simulated backups run on a schedule.
SCHEDULED_TRIGGER = "SCHEDULE"


def _short_hash(*parts: object, size: int = 10) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()[:size]


def instance_id(cluster: Cluster) -> str:
    """The Cloud instance id of a cluster (`ob` and ten characters, as Cloud shows them)."""
    return f"ob{_short_hash('instance', cluster.index)}"


def cloud_tenant_id(cluster: Cluster, tenant: Tenant) -> str:
    """Cloud's own tenant id (`t` and ten characters), not OceanBase's numeric one."""
    return f"t{_short_hash('tenant', cluster.index, tenant.tenant_id)}"


def cloud_instance(cluster: Cluster) -> FullInstance:
    """The cluster's item in `GET /api/v2/instances`."""
    return FullInstance(
        instanceId=instance_id(cluster),
        instanceName=cluster.name,
        version=cluster.ob_version,
        instanceRole="PRIMARY",
        status="ONLINE",
        createTime=formats.cloud_time(cluster.started_at),
        obRpmVersion=f"{cluster.ob_version}-100000012024",
        availableZones=["ap-southeast-1a"],
    )


@dataclass(frozen=True)
class _Part:
    tenant: Tenant
    run: BackupRun


def _set(
    set_id: str,
    number: int,
    status: str,
    start: float,
    end: float | None,
    checkpoint: float | None,
    size_bytes: float,
) -> dict[str, object]:
    return {
        "backupSetId": set_id,
        "backupMode": "PHYSICAL_BACKUP",
        "checkpoint": formats.cloud_time(checkpoint) if checkpoint else None,
        "dataBackupMode": "FULL_BACKUP" if number % 4 == 1 else "INCREMENTAL_BACKUP",
        "dataBackupSize": round(size_bytes / GIB, 2),
        "dataVersion": 1,
        "downloadEnabled": False,
        "downloadTaskId": -1,
        "startTime": formats.cloud_time(start),
        "endTime": formats.cloud_time(end) if end else None,
        "status": status,
        "triggerMode": SCHEDULED_TRIGGER,
        "validity": "VALID" if status == "DONE" else "INVALID",
    }


def cloud_backup_sets(cluster: Cluster, t: float) -> list[BackupSetDetail]:
    """Every backup set of the instance started by `t`, newest first, with its tenants."""
    runs: dict[int, list[_Part]] = {}
    for tenant in timeline.live_tenants(cluster, t):
        if tenant.backup is None:
            continue
        for run in timeline.backup_runs(tenant.backup, tenant.salt, t):
            runs.setdefault(run.number, []).append(_Part(tenant, run))
    sets = []
    for number in sorted(runs, reverse=True):
        parts = runs[number]
        set_id = f"bak-{instance_id(cluster)[2:]}{number:04d}"
        statuses = {timeline.platform_status(part.run, t) for part in parts}
        status = "DOING" if "DOING" in statuses else "FAILED" if "FAILED" in statuses else "DONE"
        done = status == "DONE"
        tenant_sets = [
            BackupSet.model_validate(
                _set(
                    f"{set_id}-{part.tenant.tenant_id}",
                    number,
                    timeline.platform_status(part.run, t),
                    part.run.start,
                    part.run.end if t >= part.run.end else None,
                    part.run.end if timeline.platform_status(part.run, t) == "DONE" else None,
                    part.run.input_total * part.run.ratio,
                )
                | {
                    "backupObjectType": "TENANT",
                    "tenantId": cloud_tenant_id(cluster, part.tenant),
                    "tenantName": part.tenant.name,
                }
            )
            for part in parts
        ]
        top = _set(
            set_id,
            number,
            status,
            min(part.run.start for part in parts),
            max(part.run.end for part in parts) if status != "DOING" else None,
            min(part.run.end for part in parts) if done else None,
            sum(part.run.input_total * part.run.ratio for part in parts),
        )
        tenant_id, tenant_name = SYS_TENANT_SET
        sets.append(
            BackupSetDetail.model_validate(
                top
                | {
                    "backupObjectType": "CLUSTER",
                    "tenantId": tenant_id,
                    "tenantName": tenant_name,
                    "tenantBackupSetList": tenant_sets,
                }
            )
        )
    return sets


def cloud_restore_windows(tenant: Tenant, t: float) -> list[tuple[float, float]]:
    """The windows a tenant can be restored to at `t`, oldest first.

    Each DONE backup restores to its end; the archive carries it on to the checkpoint when
    the backup ended inside the round. Backups after a stalled archive restore only to their
    own end: a gap between windows.
    """
    if tenant.backup is None:
        return []
    runs = [r for r in timeline.backup_runs(tenant.backup, tenant.salt, t) if t >= r.end]
    state = timeline.archive_state(tenant, t)
    windows: list[tuple[float, float]] = []
    for run in runs:
        if run.failed:
            continue
        reach = run.end
        if state is not None and state.plan.round_start <= run.end <= state.checkpoint:
            reach = state.checkpoint
        if windows and run.end <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], reach))
        else:
            windows.append((run.end, reach))
    return windows


def cloud_restorable_tenants(cluster: Cluster, t: float) -> list[RestorableTenant]:
    """`GET /api/v2/instances/{id}/backup/restore/tenants`: tenants with a window."""
    found: list[RestorableTenant] = []
    for tenant in timeline.live_tenants(cluster, t):
        windows = cloud_restore_windows(tenant, t)
        if not windows:
            continue
        intervals = [
            TimeInterval(
                startTime=formats.cloud_time(start),
                endTime=formats.cloud_time(end),
                storageType="standard",
            )
            for start, end in windows
        ]
        found.append(
            FullRestorableTenant(
                tenantId=cloud_tenant_id(cluster, tenant),
                tenantName=tenant.name,
                tenantMode="MySQL",
                status="ONLINE",
                timeIntervalList=intervals,
                obVersion=cluster.ob_version,
                usedDisk=tenant.backup.data_bytes if tenant.backup else 0,
            )
        )
    return found
