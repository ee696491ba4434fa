"""Snapshots -> Prometheus metric families, named and described by `exporter.contract`.

Families are built from the immutable snapshots on each render, so the series of a tenant,
cluster or target that is gone simply are not produced any more.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import Metric

from exporter import __version__
from exporter.contract import (
    BACKUP_SIZE,
    BUILD_INFO,
    CATALOGUE,
    CLUSTER_INFO,
    CLUSTER_STATUS,
    ENDPOINT_SUPPORTED,
    FACT_VERIFIED,
    LAST_DATA_BACKUP,
    LAST_FAILURE,
    LAST_FULL_SUCCESS,
    LAST_POLL_DURATION,
    LAST_POLL_SUCCESS,
    LAST_SUCCESS,
    LOG_CHECKPOINT,
    LOG_DELAY,
    LOG_INFO,
    LOG_STATUS,
    POLL_ERRORS,
    POLLS,
    RECOVER_PROGRESS,
    RECOVER_SCN,
    RECOVERY_POINT,
    RECOVERY_WINDOW_START,
    RELOAD_OK,
    RELOAD_TS,
    REQUEST_DURATION,
    REQUESTS,
    RESTORE_BYTES,
    RESTORE_BYTES_DONE,
    RESTORE_FINISH,
    RESTORE_INFO,
    RESTORE_LS,
    RESTORE_LS_DONE,
    RESTORE_PROGRESS,
    RESTORE_SCN,
    RESTORE_START,
    RESTORE_STATUS,
    RESTORE_TABLETS,
    RESTORE_TABLETS_DONE,
    SCHEDULE_INFO,
    SCHEDULE_STATUS,
    SET_CHECKPOINT,
    SET_END,
    SET_INFO,
    SET_SIZE,
    SET_START,
    SET_STATUS,
    STRATEGY_CONFIGURED,
    TARGET_UP,
    TASK_END,
    TASK_END_SCN,
    TASK_EXTRA,
    TASK_FILES,
    TASK_INFO,
    TASK_INPUT,
    TASK_MACRO,
    TASK_MACRO_DONE,
    TASK_MACRO_RATIO,
    TASK_OUTPUT,
    TASK_RATE,
    TASK_RESULT,
    TASK_START,
    TASK_START_SCN,
    TASK_STATUS,
    TASK_TABLET_RATIO,
    TASK_TABLETS,
    TASK_TABLETS_DONE,
    TENANT_INFO,
)
from exporter.snapshot import (
    BackupSet,
    BackupTask,
    Cluster,
    ClusterManagement,
    LogBackup,
    Restore,
    TargetSnapshot,
    Tenant,
)
from exporter.states import (
    BACKUP_SET_STATES,
    BACKUP_TASK_STATES,
    CLUSTER_STATES,
    LOG_BACKUP_STATES,
    RESTORE_STATES,
    SCHEDULE_STATES,
)

Labels = dict[str, str]
INFO_COMMENT_LIMIT = 128


class _Families:
    """Metric families under construction, created on first use in catalogue order."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}

    def add(self, name: str, labels: Labels, value: float | None, suffix: str = "") -> None:
        """Add a sample; a None value is unknown and yields no sample at all."""
        if value is None:
            return
        metric = self._metrics.get(name)
        if metric is None:
            spec = CATALOGUE[name]
            metric = self._metrics[name] = Metric(name, spec.help, spec.type)
        metric.add_sample(name + suffix, labels, float(value))

    def state_set(
        self, name: str, labels: Labels, states: Sequence[str], current: str | None
    ) -> None:
        """One series per state of a fixed set, 1 for the current one."""
        if current is None:
            return
        for state in states:
            self.add(name, {**labels, "status": state}, 1.0 if state == current else 0.0)

    def metrics(self) -> list[Metric]:
        """The families built, in the catalogue's order."""
        return [self._metrics[name] for name in CATALOGUE if name in self._metrics]


@dataclass(frozen=True)
class ExporterState:
    """Process-wide facts rendered beside the targets."""

    reload_successful: bool
    reload_success_timestamp: float | None


def collect(
    targets: Iterable[TargetSnapshot], process: ExporterState | None, with_target_label: bool = True
) -> list[Metric]:
    """Build every family from the snapshots; `process` None leaves out process-wide series."""
    families = _Families()
    for target in targets:
        base = _target_labels(target, with_target_label)
        _exporter_families(families, target, base)
        if target.data is None:
            continue
        for fact, verified in target.data.facts_verified:
            families.add(FACT_VERIFIED, {**base, "fact": fact}, verified)
        for cluster in target.data.clusters:
            _cluster_families(families, cluster, base)
    if process is not None:
        families.add(RELOAD_OK, {}, 1.0 if process.reload_successful else 0.0)
        families.add(RELOAD_TS, {}, process.reload_success_timestamp)
        build = {"version": __version__, "python_version": platform.python_version()}
        families.add(BUILD_INFO, build, 1.0)
    return families.metrics()


def _target_labels(target: TargetSnapshot, with_target_label: bool) -> Labels:
    labels: Labels = {"target": target.name} if with_target_label else {}
    labels["source"] = target.source
    labels.update(target.labels)
    return labels


def _exporter_families(families: _Families, target: TargetSnapshot, base: Labels) -> None:
    health = target.health
    if health.up is not None:
        families.add(TARGET_UP, base, 1.0 if health.up else 0.0)
    families.add(LAST_POLL_SUCCESS, base, health.last_success)
    families.add(LAST_POLL_DURATION, base, health.last_duration)
    families.add(POLLS, base, health.polls_total, "_total")
    for endpoint, count in health.requests:
        families.add(REQUESTS, {**base, "endpoint": endpoint}, count, "_total")
    for endpoint, reason, count in health.errors:
        families.add(POLL_ERRORS, {**base, "endpoint": endpoint, "reason": reason}, count, "_total")
    for endpoint, histogram in health.latency:
        labels = {**base, "endpoint": endpoint}
        for bound, count in histogram.buckets:
            families.add(REQUEST_DURATION, {**labels, "le": _le(bound)}, count, "_bucket")
        families.add(REQUEST_DURATION, {**labels, "le": "+Inf"}, histogram.count, "_bucket")
        families.add(REQUEST_DURATION, labels, histogram.count, "_count")
        families.add(REQUEST_DURATION, labels, histogram.total, "_sum")
    for endpoint, supported in health.endpoint_supported:
        families.add(ENDPOINT_SUPPORTED, {**base, "endpoint": endpoint}, 1.0 if supported else 0.0)


def _le(bound: float) -> str:
    return repr(float(bound))


def _cluster_families(families: _Families, cluster: Cluster, base: Labels) -> None:
    identity = cluster.identity
    labels = {**base, "ob_cluster_name": identity.name, "ob_cluster_id": identity.id}
    info = {"ob_version": identity.version, "cluster_type": identity.cluster_type}
    management = cluster.management
    if management is not None and management.status is not None:
        info["raw_status"] = management.raw_status
    families.add(CLUSTER_INFO, {**labels, **info}, 1.0)
    if management is not None:
        _management_families(families, management, labels)
    if cluster.log_backup is not None:
        _log_backup_families(families, cluster.log_backup, labels)
    families.add(LAST_SUCCESS, labels, cluster.last_success)
    families.add(RECOVERY_POINT, labels, cluster.recovery_point)
    if cluster.backup_set is not None:
        _backup_set_families(families, cluster.backup_set, labels)
    for part in cluster.tenant_backup_sets:
        tenant_labels = {**labels, "tenant_name": part.tenant_name}
        if part.tenant_id:
            tenant_labels["ob_tenant_id"] = part.tenant_id
        _backup_set_families(families, part.backup_set, tenant_labels)
    for recovery in cluster.tenant_recoveries:
        tenant_labels = {**labels, "tenant_name": recovery.tenant_name}
        if recovery.tenant_id:
            tenant_labels["ob_tenant_id"] = recovery.tenant_id
        families.add(RECOVERY_POINT, tenant_labels, recovery.recovery_point)
        families.add(RECOVERY_WINDOW_START, tenant_labels, recovery.window_start)
    for tenant in cluster.tenants:
        tenant_labels = {
            **labels,
            "tenant_name": tenant.name,
            "ob_tenant_id": str(tenant.tenant_id),
        }
        _tenant_families(families, tenant, tenant_labels)
    for restore in cluster.restores:
        _restore_families(families, restore, {**labels, "tenant_name": restore.tenant_name})


def _management_families(
    families: _Families, management: ClusterManagement, labels: Labels
) -> None:
    families.state_set(CLUSTER_STATUS, labels, CLUSTER_STATES, management.status)
    families.state_set(SCHEDULE_STATUS, labels, SCHEDULE_STATES, management.schedule_status)
    if management.schedule_status is not None:
        families.add(SCHEDULE_INFO, {**labels, "raw_status": management.raw_schedule_status}, 1.0)
    configured = management.strategy_configured
    families.add(STRATEGY_CONFIGURED, labels, None if configured is None else float(configured))
    families.add(BACKUP_SIZE, labels, management.backup_size_bytes)
    families.add(LAST_DATA_BACKUP, labels, management.last_data_backup)


def _backup_set_families(families: _Families, backup_set: BackupSet, labels: Labels) -> None:
    families.state_set(SET_STATUS, labels, BACKUP_SET_STATES, backup_set.status)
    families.add(SET_SIZE, labels, backup_set.size_bytes)
    families.add(SET_CHECKPOINT, labels, backup_set.checkpoint)
    families.add(SET_START, labels, backup_set.start)
    families.add(SET_END, labels, backup_set.end)
    info = {
        "backup_set_id": backup_set.backup_set_id,
        "backup_mode": backup_set.backup_mode,
        "data_backup_mode": backup_set.data_backup_mode,
        "trigger_mode": backup_set.trigger_mode,
        "validity": backup_set.validity,
        "raw_status": backup_set.raw_status,
    }
    families.add(SET_INFO, {**labels, **info}, 1.0)


def _tenant_families(families: _Families, tenant: Tenant, labels: Labels) -> None:
    families.add(TENANT_INFO, {**labels, "tenant_status": tenant.tenant_status}, 1.0)
    if tenant.backup_task is not None:
        _task_families(families, tenant.backup_task, labels)
    families.add(LAST_SUCCESS, labels, tenant.last_success)
    families.add(LAST_FULL_SUCCESS, labels, tenant.last_full_success)
    families.add(LAST_FAILURE, labels, tenant.last_failure)
    if tenant.log_backup is not None:
        _log_backup_families(families, tenant.log_backup, labels)
    families.add(RECOVERY_POINT, labels, tenant.recovery_point)


def _task_families(families: _Families, task: BackupTask, labels: Labels) -> None:
    families.state_set(TASK_STATUS, labels, BACKUP_TASK_STATES, task.status)
    families.add(TASK_RATE, labels, task.output_rate_bytes)
    families.add(TASK_INPUT, labels, task.input_bytes)
    families.add(TASK_OUTPUT, labels, task.output_bytes)
    families.add(TASK_EXTRA, labels, task.extra_meta_bytes)
    families.add(TASK_TABLETS, labels, task.tablets)
    families.add(TASK_TABLETS_DONE, labels, task.finished_tablets)
    families.add(TASK_MACRO, labels, task.macro_blocks)
    families.add(TASK_MACRO_DONE, labels, task.finished_macro_blocks)
    families.add(TASK_TABLET_RATIO, labels, _ratio(task.finished_tablets, task.tablets))
    families.add(TASK_MACRO_RATIO, labels, _ratio(task.finished_macro_blocks, task.macro_blocks))
    families.add(TASK_FILES, labels, task.files)
    families.add(TASK_START, labels, task.start)
    families.add(TASK_END, labels, task.end)
    families.add(TASK_START_SCN, labels, task.start_scn)
    families.add(TASK_END_SCN, labels, task.end_scn)
    families.add(TASK_RESULT, labels, task.result_code)
    info = {
        "backup_set_id": _id(task.backup_set_id),
        "task_id": _id(task.task_id),
        "job_id": _id(task.job_id),
        "incarnation": _id(task.incarnation),
        "encryption_mode": task.encryption_mode,
        "path": sanitize_path(task.path),
        "comment": clean_comment(task.comment),
        "raw_status": task.raw_status,
    }
    families.add(TASK_INFO, {**labels, **info}, 1.0)


def _log_backup_families(families: _Families, log_backup: LogBackup, labels: Labels) -> None:
    families.add(LOG_CHECKPOINT, labels, log_backup.checkpoint)
    families.add(LOG_DELAY, labels, log_backup.delay)
    families.state_set(LOG_STATUS, labels, LOG_BACKUP_STATES, log_backup.status)
    if log_backup.raw_status:
        families.add(LOG_INFO, {**labels, "raw_status": log_backup.raw_status}, 1.0)


def _restore_families(families: _Families, restore: Restore, labels: Labels) -> None:
    families.state_set(RESTORE_STATUS, labels, RESTORE_STATES, restore.status)
    values: tuple[tuple[str, float | None], ...] = (
        (RESTORE_PROGRESS, restore.restore_progress),
        (RECOVER_PROGRESS, restore.recover_progress),
        (RESTORE_TABLETS, restore.tablets),
        (RESTORE_TABLETS_DONE, restore.finished_tablets),
        (RESTORE_BYTES, restore.total_bytes),
        (RESTORE_BYTES_DONE, restore.finished_bytes),
        (RESTORE_LS, restore.log_streams),
        (RESTORE_LS_DONE, restore.finished_log_streams),
        (RESTORE_START, restore.start),
        (RESTORE_FINISH, restore.finish),
        (RESTORE_SCN, restore.restore_scn),
        (RECOVER_SCN, restore.recover_scn),
    )
    for name, value in values:
        families.add(name, labels, value)
    info = {
        "job_id": _id(restore.job_id),
        "restore_tenant_id": _id(restore.restore_tenant_id),
        "backup_tenant_name": restore.backup_tenant_name,
        "backup_cluster_name": restore.backup_cluster_name,
        "comment": clean_comment(restore.comment),
        "raw_status": restore.raw_status,
    }
    families.add(RESTORE_INFO, {**labels, **info}, 1.0)


def _ratio(done: int | None, total: int | None) -> float | None:
    return done / total if done is not None and total is not None and total > 0 else None


def _id(number: int | None) -> str:
    return "" if number is None else str(number)


_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def sanitize_path(path: str) -> str:
    """A storage path without query string or user info: both can carry access keys."""
    without_query = path.split("?", 1)[0]
    return _USERINFO.sub(r"\1", without_query)


def clean_comment(text: str) -> str:
    """Free text fit for a label: one line, at most INFO_COMMENT_LIMIT characters."""
    one_line = " ".join(text.split())
    return one_line[:INFO_COMMENT_LIMIT]


class _ProcessCollector(ProcessCollector):
    """prometheus_client's process collector, with the boot time from the clock when /proc/stat
    cannot be read (systemd's ProcSubset=pid hides it; /proc/self stays readable)."""

    def _boot_time(self) -> float:
        proc: str = self._proc
        try:
            with open(os.path.join(proc, "stat"), "rb") as stat:
                for line in stat:
                    if line.startswith(b"btime "):
                        return float(line.split()[1])
        except OSError:
            pass
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


class RuntimeFamilies:
    """The standard series every Prometheus exporter serves about itself, without target
    labels: `process_*` (resident and virtual memory, CPU seconds, open and max fds, start
    time) and `python_info`, from prometheus_client's process and platform collectors."""

    def __init__(self) -> None:
        self._process = _ProcessCollector(registry=None)
        self._platform = list(PlatformCollector(registry=None).collect())  # it never changes

    def collect(self) -> list[Metric]:
        """The families now (the process ones read /proc/self again: see docs/benchmarks.md)."""
        return [*self._process.collect(), *self._platform]
