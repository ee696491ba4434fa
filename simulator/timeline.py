"""What the OceanBase views show at a simulated moment, computed from the world's plans.

Every function here is pure: the same world and moment give the same rows, which is what makes
a scenario deterministic for a seed and lets thousands of idle agents cost nothing.
"""

from __future__ import annotations

import hashlib
import math
from bisect import bisect_right
from dataclasses import dataclass

from exporter.sources.obshell.models import ArchiveLogTask, TenantBackupInfo
from simulator import formats
from simulator.obshell import versions
from simulator.obshell.shapes import GoBackupJob, GoBackupTask, GoRestoreRow
from simulator.world import (
    GIB,
    ArchivePlan,
    BackupPlan,
    ChurnPlan,
    Cluster,
    RestoreJob,
    Tenant,
    destination,
)

# (fraction of the run from which the phase shows, status) for CDB_OB_BACKUP_TASKS.STATUS:
# OceanBase's ObBackupStatus, which has no BEGINNING (an archive round state, not a backup's).
BACKUP_PHASES = (
    (0.00, "INIT"),
    (0.02, "BACKUP_SYS_META"),
    (0.05, "BACKUP_USER_META"),
    (0.10, "BACKUP_META_FINISH"),
    (0.12, "BACKUP_DATA_SYS"),
    (0.20, "BACKUP_DATA_MINOR"),
    (0.50, "BACKUP_DATA_MAJOR"),
    (0.90, "BEFORE_BACKUP_LOG"),
    (0.93, "BACKUP_LOG"),
)
BACKUP_DATA_SPAN = (0.12, 0.90)  # tablets, macro blocks and bytes move only in the data phases
BACKUP_FAIL_RESULT = -4018
BACKUP_FAIL_COMMENT = "backup data failed: OB_ENTRY_NOT_EXIST(-4018): entry not exist"
RESTORE_PHASES = (
    (0.00, "CREATE_TENANT"),
    (0.05, "RESTORE_PRE"),
    (0.10, "RESTORE_CREATE_INIT_LS"),
    (0.15, "PHYSICAL_RESTORE_WAIT_RESTORE_TO_CONSISTENT_SCN"),
    (0.60, "RESTORE_WAIT_LS"),
    (0.85, "POST_CHECK"),
    (0.90, "UPGRADE"),
    (0.95, "WAIT_TENANT_RESTORE_FINISH"),
    (0.99, "RESTORE_SUCCESS"),
)
RESTORE_TENANT_CREATED = 0.05  # before this the restored tenant does not exist yet
RESTORE_DATA_SPAN = (0.15, 0.85)
RESTORE_LOG_SPAN = (0.60, 0.85)
RESTORE_FAIL_COMMENT = "restore failed: OB_BACKUP_FILE_NOT_EXIST(-9011): backup file not exist"
SYS_TENANT_ID = 1


def unit(*parts: int) -> float:
    """A uniform number in [0, 1) fixed by `parts`: per-job variation without stored state."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _phase(phases: tuple[tuple[float, str], ...], fraction: float) -> str:
    return phases[max(bisect_right([p[0] for p in phases], fraction) - 1, 0)][1]


def _span(fraction: float, span: tuple[float, float]) -> float:
    low, high = span
    return min(max((fraction - low) / (high - low), 0.0), 1.0)


# ----------------------------------------------------------------------------- tenants


def live_tenants(cluster: Cluster, t: float) -> list[Tenant]:
    """The cluster's user tenants at `t`: its own, the churning ones, the restored ones."""
    tenants = [tenant for tenant in cluster.tenants if tenant.created_at <= t]
    if cluster.churn is not None:
        tenants.extend(_churn_tenants(cluster, cluster.churn, t))
    for job in cluster.restores:
        restored = _restored_tenant(job, t)
        if restored is not None:
            tenants.append(restored)
    return sorted(tenants, key=lambda tenant: tenant.tenant_id)


def find_tenant(cluster: Cluster, name: str, t: float) -> Tenant | None:
    """The user tenant called `name` at `t`, if it exists then."""
    return next((tenant for tenant in live_tenants(cluster, t) if tenant.name == name), None)


def _churn_tenants(cluster: Cluster, plan: ChurnPlan, t: float) -> list[Tenant]:
    tenants = []
    for slot in range(plan.slots):
        phase = plan.epoch + slot * plan.period / plan.slots
        if t < phase:
            continue
        generation = math.floor((t - phase) / plan.period)
        born = phase + generation * plan.period
        if t - born >= plan.alive * plan.period:
            continue
        name = f"churn{slot}_{generation}"
        tenants.append(
            Tenant(
                name=name,
                tenant_id=plan.id_base + 2 * (generation * plan.slots + slot),
                created_at=born,
                backup=BackupPlan(
                    first_start=born + 300,
                    path=destination(cluster.name, name, "data"),
                    data_bytes=4 * GIB,
                ),
                archive=ArchivePlan(
                    round_start=born + 60, path=destination(cluster.name, name, "clog")
                ),
                salt=cluster.index << 32 | (generation * plan.slots + slot),
            )
        )
    return tenants


def _restored_tenant(job: RestoreJob, t: float) -> Tenant | None:
    created = job.start + RESTORE_TENANT_CREATED * job.duration
    if t < created:
        return None
    end = _restore_end(job)
    if job.fail_at is not None and t >= end:
        return None  # a failed restore drops the half-made tenant
    status = "RESTORE" if t < end else "NORMAL"
    return Tenant(name=job.tenant_name, tenant_id=job.tenant_id, created_at=created, status=status)


# ----------------------------------------------------------------------------- data backups


@dataclass(frozen=True)
class BackupRun:
    """One data backup of a plan: when it ran and what it copied."""

    number: int  # 1-based: job_id, task_id and backup_set_id
    start: float
    duration: float  # had it run to completion
    end: float  # when it completed or failed
    failed: bool
    input_total: int
    ratio: float  # output bytes per input byte


def platform_status(run: BackupRun, t: float) -> str:
    """A run's state at `t` as OCP's data backup tasks and Cloud's backup sets name it."""
    if t < run.end:
        return "DOING"
    return "FAILED" if run.failed else "DONE"


def backup_type(plan: BackupPlan, number: int) -> str:
    """FULL or INC: job `number` (1-based) is FULL every `full_every` jobs."""
    return "FULL" if plan.full_every <= 1 or number % plan.full_every == 1 else "INC"


def _run(plan: BackupPlan, salt: int, index: int) -> BackupRun:
    size = int(plan.data_bytes * (0.95 + 0.1 * unit(salt, index, 1)))
    duration = min(size / plan.rate, 0.9 * plan.interval)
    start = plan.first_start + index * plan.interval
    failed = (
        plan.failing_since is not None
        and start >= plan.failing_since
        and backup_type(plan, index + 1) in plan.failing_types
    )
    end = start + duration * (0.3 + 0.4 * unit(salt, index, 2) if failed else 1.0)
    ratio = 0.15 + 0.15 * unit(salt, index, 3)
    return BackupRun(index + 1, start, duration, end, failed, size, ratio)


def backup_runs(plan: BackupPlan, salt: int, t: float) -> list[BackupRun]:
    """Every backup started by `t`, oldest first."""
    if t < plan.first_start:
        return []
    count = math.floor((t - plan.first_start) / plan.interval) + 1
    return [_run(plan, salt, index) for index in range(count)]


def latest_run(plan: BackupPlan, salt: int, t: float) -> BackupRun | None:
    """The newest backup started by `t`: the running one, else the last finished."""
    if t < plan.first_start:
        return None
    return _run(plan, salt, math.floor((t - plan.first_start) / plan.interval))


def backup_task(tenant: Tenant, t: float) -> GoBackupTask | None:
    """The tenant's row of CDB_OB_BACKUP_TASKS, else its latest of ..._TASK_HISTORY."""
    if tenant.backup is None:
        return None
    run = latest_run(tenant.backup, tenant.salt, t)
    if run is None:
        return None
    plan = tenant.backup
    done = t >= run.end
    elapsed = min(t, run.end) - run.start
    fraction = elapsed / run.duration
    progress = 1.0 if done and not run.failed else _span(fraction, BACKUP_DATA_SPAN)
    input_bytes = int(run.input_total * progress)
    output_bytes = int(input_bytes * run.ratio)
    final = "FAILED" if run.failed else "COMPLETED"
    status = final if done else _phase(BACKUP_PHASES, fraction)
    return GoBackupTask(
        tenant_id=tenant.tenant_id,
        task_id=run.number,
        job_id=run.number,
        incarnation=1,
        backup_set_id=run.number,
        start_timestamp=formats.go_time(run.start),
        end_timestamp=formats.go_time(run.end) if done else formats.GO_ZERO_TIME,
        status=status,
        start_scn=formats.scn(run.start),
        end_scn=formats.scn(run.end) if done else 0,
        user_ls_start_scn=formats.scn(run.start + 0.02 * run.duration),
        encryption_mode="NONE",
        input_bytes=input_bytes,
        output_bytes=output_bytes,
        output_rate_bytes=round(output_bytes / elapsed, 4) if elapsed > 0 else 0.0,
        tablet_count=plan.tablets,
        finish_tablet_count=int(plan.tablets * progress),
        macro_block_count=plan.macro_blocks,
        finish_macro_block_count=int(plan.macro_blocks * progress),
        meta_turn_id=1 if fraction >= BACKUP_PHASES[1][0] else 0,
        result=BACKUP_FAIL_RESULT if done and run.failed else 0,
        comment=BACKUP_FAIL_COMMENT if done and run.failed else "",
        path=plan.path,
    )


@dataclass(frozen=True)
class JobRow:
    """A backup job as obshell sorts it: its start and end (None when NULL) and its row."""

    start: float | None
    end: float | None
    job: GoBackupJob


def backup_jobs(tenant: Tenant, t: float) -> list[JobRow]:
    """The tenant's rows of CDB_OB_BACKUP_JOB_HISTORY and CDB_OB_BACKUP_JOBS, oldest first."""
    if tenant.backup is None:
        return []
    plan = tenant.backup
    runs = backup_runs(plan, tenant.salt, t)
    jobs: list[JobRow] = []
    for run in runs:
        done = t >= run.end
        status = ("FAILED" if run.failed else "COMPLETED") if done else "DOING"
        job = GoBackupJob(
            tenant_id=tenant.tenant_id,
            job_id=run.number,
            backup_set_id=run.number,
            plus_archivelog="ON" if plan.plus_archivelog else "OFF",
            backup_type=backup_type(plan, run.number),
            start_timestamp=formats.go_time(run.start),
            end_timestamp=formats.go_time(run.end) if done else None,
            status=status,
            result=BACKUP_FAIL_RESULT if done and run.failed else 0,
            comment=BACKUP_FAIL_COMMENT if done and run.failed else "",
            path=plan.path,
        )
        jobs.append(JobRow(run.start, run.end if done else None, job))
    following = plan.first_start + len(runs) * plan.interval
    if plan.queued > 0 and following - plan.queued <= t < following:
        number = len(runs) + 1
        queued = GoBackupJob(
            tenant_id=tenant.tenant_id,
            job_id=number,
            backup_set_id=number,
            plus_archivelog="ON" if plan.plus_archivelog else "OFF",
            backup_type=backup_type(plan, number),
            start_timestamp=None,
            status="INIT",
            path=plan.path,
        )
        jobs.append(JobRow(None, None, queued))
    return jobs


# ----------------------------------------------------------------------------- log archive


@dataclass(frozen=True)
class ArchiveState:
    """The latest archive round of a tenant at a moment."""

    plan: ArchivePlan
    checkpoint: float
    delay: float  # seconds, truncated to 4 decimals like obshell's SQL


def archive_state(tenant: Tenant, t: float) -> ArchiveState | None:
    """The tenant's latest CDB_OB_ARCHIVELOG_SUMMARY round at `t`, if archiving ever started."""
    plan = tenant.archive
    if plan is None or t < plan.round_start:
        return None
    horizon = t if plan.stall_at is None else min(t, plan.stall_at)
    # Whole steps keep the checkpoint monotonic while the delay saw-tooths above `lag`.
    steps = math.floor(max(horizon - plan.lag - plan.round_start, 0.0) / plan.step)
    checkpoint = plan.round_start + steps * plan.step
    delay = math.trunc((t - checkpoint) * 10_000) / 10_000
    return ArchiveState(plan, checkpoint, delay)


# The round states obshell's /backup/log/tasks lists; others (INTERRUPTED, STOP, SUSPENDING)
# leave it empty while /backup/info still has the checkpoint.
LISTED_ARCHIVE_STATES = frozenset({"BEGINNING", "DOING", "STOPPING", "PREPARE", "SUSPEND"})


def archive_status(state: ArchiveState, t: float) -> str:
    """The round's status at `t`: DOING, or the plan's `stopped_as` once it stalled."""
    plan = state.plan
    if plan.stopped_as is not None and plan.stall_at is not None and t >= plan.stall_at:
        return plan.stopped_as
    return "DOING"


def archive_tasks(tenant: Tenant, t: float) -> list[ArchiveLogTask]:
    """`GET /tenant/:name/backup/log/tasks`: the active rounds (`tenant_name` is always "")."""
    state = archive_state(tenant, t)
    if state is None:
        return []
    status = archive_status(state, t)
    if status not in LISTED_ARCHIVE_STATES:
        return []
    return [
        ArchiveLogTask(
            tenant_id=tenant.tenant_id,
            tenant_name="",
            round_id=state.plan.round_id,
            status=status,
            path=state.plan.path,
            delay=state.delay,
            checkpoint=formats.go_time(state.checkpoint),
            start_time=formats.go_time(state.plan.round_start),
        )
    ]


def backup_info(tenant: Tenant, t: float) -> TenantBackupInfo:
    """`GET /tenant/:name/backup/info`; omitempty fields are None (a zero delay is absent)."""
    task = backup_task(tenant, t)
    state = archive_state(tenant, t)
    return TenantBackupInfo(
        tenant_id=tenant.tenant_id,
        lastest_archive_log_checkpoint=formats.go_time(state.checkpoint) if state else None,
        lastest_data_backup_time=task.start_timestamp if task else None,
        archive_log_delay=state.delay if state and state.delay else None,
    )


# ----------------------------------------------------------------------------- restores


def _restore_end(job: RestoreJob) -> float:
    return job.start + job.duration * (job.fail_at if job.fail_at is not None else 1.0)


def restore_running(job: RestoreJob, t: float) -> bool:
    """True while the job is in CDB_OB_RESTORE_PROGRESS."""
    return job.start <= t < _restore_end(job)


def restore_finished(job: RestoreJob, t: float) -> bool:
    """True once the job is in CDB_OB_RESTORE_HISTORY."""
    return t >= _restore_end(job)


def _restore_row(cluster: Cluster, job: RestoreJob, t: float, listing: bool) -> dict[str, object]:
    # Restore rows carry destinations with their secrets already stripped by obshell.
    root = f"oss://ob-backup/{job.backup_cluster_name}/{job.backup_tenant_name}"
    host = "host=oss-cn-hangzhou.aliyuncs.com"
    end = _restore_end(job)
    fraction = (min(t, end) - job.start) / job.duration
    finished = t >= end
    succeeded = finished and job.fail_at is None
    data_done = 1.0 if succeeded else _span(fraction, RESTORE_DATA_SPAN)
    log_done = 1.0 if succeeded else _span(fraction, RESTORE_LOG_SPAN)
    finish_bytes = int(job.total_bytes * data_done)
    row: dict[str, object] = {
        "tenant_id": SYS_TENANT_ID,
        "job_id": job.job_id,
        "restore_tenant_name": job.tenant_name,
        "restore_tenant_id": job.tenant_id,
        "backup_tenant_name": job.backup_tenant_name,
        "backup_tenant_id": job.backup_tenant_id,
        "backup_cluster_name": job.backup_cluster_name,
        "restore_option": f"pool_list={job.tenant_name}_pool&locality=FULL@zone1"
        "&primary_zone=RANDOM",
        "restore_scn": formats.scn(job.restore_until),
        "restore_scn_display": formats.go_time(job.restore_until),
        "start_timestamp": formats.go_time(job.start),
        "backup_set_list": f"{root}/data/backup_set_1_full?{host}",
        "backup_piece_list": f"{root}/clog/piece_d1001r1p1?{host}",
        "backup_data_uri": f"{root}/data?{host}" if listing else "",
        "backup_log_uri": f"{root}/clog?{host}" if listing else "",
        "tablet_count": job.tablets,
        "finish_tablet_count": int(job.tablets * data_done),
        "total_bytes": job.total_bytes,
        "total_bytes_display": formats.bytes_display(job.total_bytes),
        "finish_bytes": finish_bytes,
        "finish_bytes_display": formats.bytes_display(finish_bytes),
    }
    if finished:
        row |= {
            "status": "SUCCESS" if succeeded else "FAIL",
            "backup_cluster_version": formats.encode_ob_version(cluster.ob_version),
            "ls_count": job.ls_count,
            "finish_ls_count": job.ls_count if succeeded else int(job.ls_count * log_done),
            "comment": "" if succeeded else RESTORE_FAIL_COMMENT,
            "finish_timestamp": formats.go_time(end),
        }
    else:
        # Log recovery replays from the backup set's moment up to restore_until.
        recovered_to = job.restore_until - (1.0 - log_done) * 3600
        failing = job.fail_at is not None and fraction >= job.fail_at - 0.01
        row |= {
            "status": "RESTORE_FAIL" if failing else _phase(RESTORE_PHASES, fraction),
            "recover_scn": formats.scn(recovered_to),
            "recover_scn_display": formats.go_time(recovered_to),
            "recover_progress": formats.percent(log_done),
            "restore_progress": formats.percent(data_done),
        }
    return row


def restore_overview(cluster: Cluster, name: str, t: float) -> GoRestoreRow | None:
    """`GET /tenant/:name/restore/overview`: the running restore, else the latest finished one."""
    jobs = [job for job in cluster.restores if job.tenant_name == name and job.start <= t]
    running = [job for job in jobs if restore_running(job, t)]
    candidates = running or jobs
    if not candidates:
        return None
    job = max(candidates, key=lambda job: job.start)
    row = _restore_row(cluster, job, t, listing=False)
    if not versions.at_least(cluster.version, versions.EXTENDED_BACKUP_ROUTES_SINCE):
        del row["backup_data_uri"], row["backup_log_uri"]  # fields added in 4.3.2
    return GoRestoreRow.model_validate(row)


def restore_tasks(cluster: Cluster, t: float) -> list[GoRestoreRow]:
    """`GET /restore/tasks`: running restores, then finished ones newest first."""
    running = [job for job in cluster.restores if restore_running(job, t)]
    finished = sorted(
        (job for job in cluster.restores if restore_finished(job, t)),
        key=lambda job: job.start,
        reverse=True,
    )
    return [
        GoRestoreRow.model_validate(_restore_row(cluster, job, t, listing=True))
        for job in running + finished
    ]
