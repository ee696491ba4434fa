"""What OCP shows of the simulated world at a moment.

OCP sees the same clusters, tenants, backups and archive rounds the obshell agents serve
(timeline.py), summarised per cluster (the oldest archive checkpoint, the latest successful
backup, the size of what was backed up) and per tenant (its data and log backup tasks and its
restores). Pure functions, like the timeline: the same world and moment give the same answer.
"""

from __future__ import annotations

from exporter.sources.ocp.models import DataBackupTask, LogBackupTask, ObTenant, RestoreTask
from simulator import formats, timeline
from simulator.ocp.shapes import FullClusterBackupInfoDetail, FullObCluster
from simulator.timeline import BackupRun
from simulator.world import Cluster, Tenant

OCP_ID_BASE = 1_000_001  # OCP numbers its own cluster ids from here; obClusterId is OceanBase's
VOLUME_UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def ocp_cluster_id(cluster: Cluster) -> int:
    """OCP's own id of a cluster (the one in its URLs), not OceanBase's `obClusterId`."""
    return OCP_ID_BASE + cluster.index


def ocp_cluster(cluster: Cluster) -> FullObCluster:
    """The cluster's item in `GET /api/v2/ob/clusters`."""
    return FullObCluster(
        id=ocp_cluster_id(cluster),
        name=cluster.name,
        obClusterId=cluster.cluster_id,
        type="PRIMARY",
        status=cluster.ocp_status,
        obVersion=cluster.ob_version,
        zones=["zone1"],
        createTime=formats.java_date(cluster.started_at),
    )


def _last_success(tenant: Tenant, t: float) -> BackupRun | None:
    if tenant.backup is None:
        return None
    finished = (
        run
        for run in reversed(timeline.backup_runs(tenant.backup, tenant.salt, t))
        if t >= run.end and not run.failed
    )
    return next(finished, None)


def _volume(size_bytes: float) -> tuple[float, str]:
    """A size the way OCP shows it: the largest unit that keeps the number at least 1."""
    value, unit = size_bytes, VOLUME_UNITS[0]
    for bigger in VOLUME_UNITS[1:]:
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return round(value, 2), unit


def ocp_overview(cluster: Cluster, t: float) -> FullClusterBackupInfoDetail:
    """`GET /api/v2/ob/clusters/{id}/backup/overview` at `t`."""
    tenants = timeline.live_tenants(cluster, t)
    planned = [tenant for tenant in tenants if tenant.backup is not None]
    successes = [run for run in (_last_success(x, t) for x in planned) if run is not None]
    archives = [state for state in (timeline.archive_state(x, t) for x in tenants) if state]
    latest = [
        run
        for run in (timeline.latest_run(x.backup, x.salt, t) for x in planned if x.backup)
        if run
    ]
    failing = any(run.failed and t >= run.end for run in latest)
    backed_up = sum(
        run.input_total * run.ratio
        for tenant in planned
        if tenant.backup
        for run in timeline.backup_runs(tenant.backup, tenant.salt, t)
        if t >= run.end and not run.failed
    )
    size, unit = _volume(backed_up) if planned else (None, None)
    # The cluster's archive is as far as its slowest tenant.
    checkpoint = min((state.checkpoint for state in archives), default=None)
    schedule = "NONE" if not planned else "ABNORMAL" if failing else "NORMAL"
    return FullClusterBackupInfoDetail(
        clusterId=ocp_cluster_id(cluster),
        obClusterId=cluster.cluster_id,
        clusterName=cluster.name,
        obClusterType="PRIMARY",
        obClusterStatus=cluster.ocp_status,
        obVersion=cluster.ob_version,
        obClusterBackupStatus="HAS_BACKUP_STRATEGY" if planned else "NO_BACKUP_STRATEGY",
        backupDimension="CLUSTER",
        backupScheduleStatus=schedule,
        lastDataBackupTime=(
            formats.java_date(max(run.end for run in successes)) if successes else None
        ),
        latestLogBackupCheckpoint=formats.java_date(checkpoint) if checkpoint else None,
        logBackupDelaySeconds=int(t - checkpoint) if checkpoint else None,
        backupSize=size,
        obStorageVolumeUnit=unit,
    )


OCP_TENANT_ID_BASE = 2_000_001  # OCP numbers its own tenant ids apart from OceanBase's
# OceanBase's archive round states as OCP's log backup task vocabulary ("View log backup tasks
# of a tenant", https://en.oceanbase.com/docs/common-ocp-10000000001626258).
OCP_LOG_STATUS = {
    "PREPARE": "STARTING",
    "BEGINNING": "STARTING",
    "DOING": "INPROGRESS",
    "STOPPING": "STOPPING",
    "SUSPENDING": "STOPPING",
    "STOP": "STOPPED",
    "SUSPEND": "STOPPED",
    "INTERRUPTED": "INTERRUPTED",
}
OCP_BACKUP_ERROR = "backup data failed: log archive is not running"
OCP_RESTORE_ERROR = "restore failed: backup set is not available"


def ocp_tenant_id(cluster: Cluster, tenant: Tenant) -> int:
    """OCP's own id of a tenant (the one in its URLs), not OceanBase's `obTenantId`."""
    return OCP_TENANT_ID_BASE + cluster.index * 100_000 + tenant.tenant_id


def ocp_user_tenants(cluster: Cluster, t: float) -> list[Tenant]:
    """The user tenants OCP manages at `t`: the live ones, and those of failed restores.

    OCP keeps what a failed restore created until someone clears it (its UI offers "clear
    resource pools" on a RESTORE_FAIL task), so that tenant and its restore task stay visible.
    """
    tenants = timeline.live_tenants(cluster, t)
    names = {tenant.name for tenant in tenants}
    for job in cluster.restores:
        failed = job.fail_at is not None and timeline.restore_finished(job, t)
        if failed and job.tenant_name not in names:
            names.add(job.tenant_name)
            tenants.append(
                Tenant(
                    name=job.tenant_name,
                    tenant_id=job.tenant_id,
                    created_at=job.start,
                    status="UNAVAILABLE",
                )
            )
    return tenants


def ocp_tenants(cluster: Cluster, t: float) -> list[ObTenant]:
    """`GET /api/v2/ob/clusters/{id}/tenants`: sys and every user tenant OCP manages."""
    sys = ObTenant(id=OCP_TENANT_ID_BASE + cluster.index * 100_000 + 1, name="sys",
                   obTenantId=1, status="NORMAL", mode="MYSQL")  # fmt: skip
    users = [
        ObTenant(
            id=ocp_tenant_id(cluster, tenant),
            name=tenant.name,
            obTenantId=tenant.tenant_id,
            status=tenant.status,
            mode=tenant.mode,
        )
        for tenant in ocp_user_tenants(cluster, t)
    ]
    return [sys, *users]


def ocp_data_tasks(tenant: Tenant, t: float) -> list[DataBackupTask]:
    """A tenant's data backup tasks started by `t`, newest first.

    Start times carry a colon offset and end times are UTC `Z`: both styles in one answer.
    """
    if tenant.backup is None:
        return []
    tasks = []
    for run in reversed(timeline.backup_runs(tenant.backup, tenant.salt, t)):
        status = timeline.platform_status(run, t)
        size, unit = _volume(run.input_total * run.ratio)
        full = timeline.backup_type(tenant.backup, run.number) == "FULL"
        tasks.append(
            DataBackupTask(
                id=run.number,
                status=status,
                backupSetId=run.number,
                dataBackupMode="FULL_BACKUP" if full else "INCREMENTAL_BACKUP",
                startTime=formats.java_offset_time(run.start),
                endTime=formats.cloud_time(run.end) if status != "DOING" else None,
                errorMessage=OCP_BACKUP_ERROR if status == "FAILED" else None,
                backupSize=size if status == "DONE" else None,
                obStorageVolumeUnit=unit if status == "DONE" else None,
            )
        )
    return tasks


def ocp_log_tasks(tenant: Tenant, t: float) -> list[LogBackupTask]:
    """A tenant's log backup task (its archive round), in OCP's words."""
    state = timeline.archive_state(tenant, t)
    if state is None:
        return []
    raw = timeline.archive_status(state, t)
    return [
        LogBackupTask(
            id=state.plan.round_id,
            status=OCP_LOG_STATUS.get(raw, "UNKNOWN"),
            backupDimension="TENANT",
            createTime=formats.java_date(state.plan.round_start),
            modifyTime=formats.java_date(t),
            checkpoint=formats.java_offset_time(state.checkpoint),
            delaySeconds=int(state.delay),
        )
    ]


def ocp_restore_tasks(cluster: Cluster, tenant_name: str, t: float) -> list[RestoreTask]:
    """The restores into the tenant started by `t`, newest first."""
    tasks = []
    for job in sorted(cluster.restores, key=lambda job: job.start, reverse=True):
        if job.tenant_name != tenant_name or job.start > t:
            continue
        finished = timeline.restore_finished(job, t)
        failed = job.fail_at is not None and finished
        status = "RESTORE_FAIL" if failed else "RESTORE_SUCCESS" if finished else "RESTORE_WAIT_LS"
        end = job.start + job.duration * (job.fail_at if job.fail_at is not None else 1.0)
        tasks.append(
            RestoreTask(
                id=job.job_id,
                ocpJobId=job.job_id + 1000,
                backupMode="PHYSICAL_BACKUP",
                status=status,
                backupTenantName=job.backup_tenant_name,
                backupClusterName=job.backup_cluster_name,
                startTime=formats.cloud_time(job.start),
                endTime=formats.java_offset_time(end) if finished else None,
                errorMessage=OCP_RESTORE_ERROR if failed else None,
            )
        )
    return tasks
