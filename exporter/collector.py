"""Snapshots -> Prometheus metric families: the only module that knows metric names.

Families are built from the immutable snapshots on each render, so the series of a tenant,
cluster or target that is gone simply are not produced any more. `CATALOGUE` lists every
family with its type and help; the metrics reference in docs/ is generated from it.
"""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from prometheus_client import PlatformCollector, ProcessCollector
from prometheus_client.core import Metric

from exporter import __version__
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


@dataclass(frozen=True)
class FamilySpec:
    """A metric family of the contract: name (without `_total` for counters), type, help."""

    name: str
    type: str
    help: str
    labels: tuple[str, ...] = ()


CATALOGUE: dict[str, FamilySpec] = {}


def _spec(name: str, type_: str, help_: str, *labels: str) -> str:
    CATALOGUE[name] = FamilySpec(name, type_, help_, labels)
    return name


# fmt: off
# Tenants
TENANT_INFO = _spec(
    "oceanbase_tenant_info",
    "gauge",
    "A discovered user tenant (value 1); join key for tenants without backups.",
    "tenant_status",
)
# Data backup: the latest task per tenant
TASK_STATUS = _spec(
    "oceanbase_backup_task_status",
    "gauge",
    "State of the latest data backup task: 1 for the current state, 0 for the others (running phases count as DOING).",
    "status",
)
TASK_RATE = _spec(
    "oceanbase_backup_task_output_bytes_per_second",
    "gauge",
    "Output rate of the latest data backup task, bytes per second.",
)
TASK_INPUT = _spec(
    "oceanbase_backup_task_input_bytes", "gauge", "Bytes read by the latest data backup task."
)
TASK_OUTPUT = _spec(
    "oceanbase_backup_task_output_bytes", "gauge", "Bytes written by the latest data backup task."
)
TASK_EXTRA = _spec(
    "oceanbase_backup_task_extra_meta_bytes",
    "gauge",
    "Extra metadata bytes of the latest data backup task.",
)
TASK_TABLETS = _spec(
    "oceanbase_backup_task_tablets", "gauge", "Tablets the latest data backup task has to back up."
)
TASK_TABLETS_DONE = _spec(
    "oceanbase_backup_task_finished_tablets",
    "gauge",
    "Tablets the latest data backup task has finished.",
)
TASK_MACRO = _spec(
    "oceanbase_backup_task_macro_blocks",
    "gauge",
    "Macro blocks the latest data backup task has to back up.",
)
TASK_MACRO_DONE = _spec(
    "oceanbase_backup_task_finished_macro_blocks",
    "gauge",
    "Macro blocks the latest data backup task has finished.",
)
TASK_TABLET_RATIO = _spec(
    "oceanbase_backup_task_tablet_progress_ratio",
    "gauge",
    "Finished tablets / tablets of the latest data backup task (absent when there are none).",
)
TASK_MACRO_RATIO = _spec(
    "oceanbase_backup_task_macro_block_progress_ratio",
    "gauge",
    "Finished macro blocks / macro blocks of the latest data backup task (absent when there are none).",
)
TASK_FILES = _spec(
    "oceanbase_backup_task_files", "gauge", "Files written by the latest data backup task."
)
TASK_START = _spec(
    "oceanbase_backup_task_start_timestamp_seconds",
    "gauge",
    "Start of the latest data backup task, Unix seconds.",
)
TASK_END = _spec(
    "oceanbase_backup_task_end_timestamp_seconds",
    "gauge",
    "End of the latest data backup task, Unix seconds (absent while it runs).",
)
TASK_START_SCN = _spec(
    "oceanbase_backup_task_start_scn_timestamp_seconds",
    "gauge",
    "Start SCN of the latest data backup task, as Unix seconds.",
)
TASK_END_SCN = _spec(
    "oceanbase_backup_task_end_scn_timestamp_seconds",
    "gauge",
    "End SCN of the latest data backup task, as Unix seconds.",
)
TASK_RESULT = _spec(
    "oceanbase_backup_task_result_code",
    "gauge",
    "Result of the latest data backup task: 0 for success, else the OceanBase error code.",
)
TASK_INFO = _spec(
    "oceanbase_backup_task_info",
    "gauge",
    "Identity of the latest data backup task (value 1); raw_status is the upstream status or phase.",
    "backup_set_id",
    "task_id",
    "job_id",
    "incarnation",
    "encryption_mode",
    "path",
    "comment",
    "raw_status",
)
LAST_SUCCESS = _spec(
    "oceanbase_backup_last_success_timestamp_seconds",
    "gauge",
    "End of the latest successful data backup, Unix seconds, from the upstream history: per tenant (obshell; OCP: the newest DONE data backup task), per instance (OceanBase Cloud: the newest DONE backup set).",
)
LAST_FULL_SUCCESS = _spec(
    "oceanbase_backup_last_full_success_timestamp_seconds",
    "gauge",
    "End of the latest successful FULL data backup, Unix seconds, from the upstream job history (obshell 4.3.2+; absent where unknown). Incrementals restore nothing without the full backup under them.",
)
LAST_FAILURE = _spec(
    "oceanbase_backup_last_failure_timestamp_seconds",
    "gauge",
    "End of the latest failed data backup, Unix seconds, from the upstream history.",
)
# Log backup
LOG_CHECKPOINT = _spec(
    "oceanbase_log_backup_checkpoint_timestamp_seconds",
    "gauge",
    "Log backup (archive) checkpoint, Unix seconds: per tenant (obshell; OCP where its log backup task carries one), per cluster (OCP's overview). Alert on time() - this.",
)
LOG_DELAY = _spec(
    "oceanbase_log_backup_delay_seconds",
    "gauge",
    "Log backup delay as the source reported it at poll time (it keeps growing while the round is NOT_RUNNING); prefer time() - oceanbase_log_backup_checkpoint_timestamp_seconds.",
)
LOG_STATUS = _spec(
    "oceanbase_log_backup_status",
    "gauge",
    "State of the log backup (archive) round: 1 for the current state, 0 for the others. NOT_RUNNING: obshell has a checkpoint but lists no active round, the round being INTERRUPTED (broken), STOP or SUSPENDING; obshell cannot tell these apart, SELECT STATUS FROM oceanbase.CDB_OB_ARCHIVELOG (DBA_OB_ARCHIVELOG in the tenant) does.",
    "status",
)
LOG_INFO = _spec(
    "oceanbase_log_backup_info",
    "gauge",
    "The upstream status of the log backup round (value 1).",
    "raw_status",
)
# Recovery point
RECOVERY_POINT = _spec(
    "oceanbase_backup_recovery_point_timestamp_seconds",
    "gauge",
    "Latest point in time the data can be restored to, Unix seconds: time() - this is the data a disaster now would lose. Per tenant: obshell, proven from the backup and archive history; OCP, the later of the newest DONE data backup's end and the log backup checkpoint; OceanBase Cloud, the end of the tenant's last restorable window. Per cluster, approximations only where the per-tenant routes could not be read (OCP: the overview's log backup checkpoint once a data backup exists; OceanBase Cloud: the checkpoint of the newest DONE backup set).",
)
RECOVERY_WINDOW_START = _spec(
    "oceanbase_backup_recovery_window_start_timestamp_seconds",
    "gauge",
    "Start of the restorable window that ends at the recovery point, Unix seconds (OceanBase Cloud's timeIntervalList, per tenant): any point from here to the recovery point can be restored; a gap in the windows makes it jump forward.",
)
# Backup sets (OceanBase Cloud): the latest set of an instance, and of each tenant in it
SET_STATUS = _spec(
    "oceanbase_backup_set_status",
    "gauge",
    "State of the latest data backup set: 1 for the current state, 0 for the others.",
    "status",
)
SET_SIZE = _spec(
    "oceanbase_backup_set_size_bytes",
    "gauge",
    "Data size of the latest backup set, bytes: dataBackupSize read as GiB (x 2^30); OceanBase Cloud documents it as GB on one page and GiB on another.",
)
SET_CHECKPOINT = _spec(
    "oceanbase_backup_set_checkpoint_timestamp_seconds",
    "gauge",
    "The point in time the latest backup set restores to, Unix seconds.",
)
SET_START = _spec(
    "oceanbase_backup_set_start_timestamp_seconds",
    "gauge",
    "Start of the latest backup set, Unix seconds.",
)
SET_END = _spec(
    "oceanbase_backup_set_end_timestamp_seconds",
    "gauge",
    "End of the latest backup set, Unix seconds (absent while it runs).",
)
SET_INFO = _spec(
    "oceanbase_backup_set_info",
    "gauge",
    "Identity of the latest backup set (value 1); raw_status is the upstream status.",
    "backup_set_id",
    "backup_mode",
    "data_backup_mode",
    "trigger_mode",
    "validity",
    "raw_status",
)
# Cluster
CLUSTER_INFO = _spec(
    "oceanbase_cluster_info",
    "gauge",
    "A monitored cluster (value 1); raw_status is the cluster status as OCP reports it (only where a source reports one).",
    "ob_version",
    "cluster_type",
    "raw_status",
)
CLUSTER_STATUS = _spec(
    "oceanbase_cluster_status",
    "gauge",
    "State of the cluster as OCP reports it: 1 for the current state, 0 for the others (the upstream string is raw_status on oceanbase_cluster_info).",
    "status",
)
SCHEDULE_STATUS = _spec(
    "oceanbase_backup_schedule_status",
    "gauge",
    "State of the cluster's backup scheduling (OCP): 1 for the current state, 0 for the others.",
    "status",
)
SCHEDULE_INFO = _spec(
    "oceanbase_backup_schedule_info",
    "gauge",
    "The upstream backup scheduling status (value 1).",
    "raw_status",
)
STRATEGY_CONFIGURED = _spec(
    "oceanbase_backup_strategy_configured",
    "gauge",
    "1 when the cluster has a backup strategy, 0 when it has none (OCP obClusterBackupStatus).",
)
BACKUP_SIZE = _spec(
    "oceanbase_backup_size_bytes",
    "gauge",
    "Size of the cluster's backups, bytes: OCP backupSize in obStorageVolumeUnit, read as powers of 1024 (absent for a unit we cannot map).",
)
LAST_DATA_BACKUP = _spec(
    "oceanbase_backup_last_data_backup_timestamp_seconds",
    "gauge",
    "The most recent data backup of the cluster as OCP's backup overview reports it (lastDataBackupTime), Unix seconds. OCP does not say whether it succeeded, nor whether this is its start or its end: alert on oceanbase_backup_last_success_timestamp_seconds (per tenant) instead.",
)
# Restore
RESTORE_STATUS = _spec(
    "oceanbase_restore_status",
    "gauge",
    "State of the newest restore of a tenant: 1 for the current state, 0 for the others.",
    "status",
)
RESTORE_PROGRESS = _spec(
    "oceanbase_restore_progress_ratio", "gauge", "Restore progress (0..1) as reported by OceanBase."
)
RECOVER_PROGRESS = _spec(
    "oceanbase_restore_recover_progress_ratio",
    "gauge",
    "Log recovery progress (0..1) of the restore as reported by OceanBase.",
)
RESTORE_TABLETS = _spec("oceanbase_restore_tablets", "gauge", "Tablets the restore has to restore.")
RESTORE_TABLETS_DONE = _spec(
    "oceanbase_restore_finished_tablets", "gauge", "Tablets the restore has finished."
)
RESTORE_BYTES = _spec("oceanbase_restore_bytes", "gauge", "Bytes the restore has to restore.")
RESTORE_BYTES_DONE = _spec(
    "oceanbase_restore_finished_bytes", "gauge", "Bytes the restore has finished."
)
RESTORE_LS = _spec("oceanbase_restore_log_streams", "gauge", "Log streams of a finished restore.")
RESTORE_LS_DONE = _spec(
    "oceanbase_restore_finished_log_streams", "gauge", "Log streams a finished restore completed."
)
RESTORE_START = _spec(
    "oceanbase_restore_start_timestamp_seconds", "gauge", "Start of the restore, Unix seconds."
)
RESTORE_FINISH = _spec(
    "oceanbase_restore_finish_timestamp_seconds",
    "gauge",
    "End of a finished restore, Unix seconds.",
)
RESTORE_SCN = _spec(
    "oceanbase_restore_scn_timestamp_seconds",
    "gauge",
    "The point in time the restore restores to, Unix seconds.",
)
RECOVER_SCN = _spec(
    "oceanbase_restore_recover_scn_timestamp_seconds",
    "gauge",
    "How far log recovery of a running restore got, Unix seconds.",
)
RESTORE_INFO = _spec(
    "oceanbase_restore_info",
    "gauge",
    "Identity of the newest restore of a tenant (value 1).",
    "job_id",
    "restore_tenant_id",
    "backup_tenant_name",
    "backup_cluster_name",
    "comment",
    "raw_status",
)
# The exporter itself
TARGET_UP = _spec(
    "oceanbase_backup_exporter_target_up",
    "gauge",
    "1 when the last poll reached the API and authenticated.",
)
LAST_POLL_SUCCESS = _spec(
    "oceanbase_backup_exporter_last_poll_success_timestamp_seconds",
    "gauge",
    "End of the last poll in which every supported endpoint answered, Unix seconds.",
)
LAST_POLL_DURATION = _spec(
    "oceanbase_backup_exporter_last_poll_duration_seconds",
    "gauge",
    "Length of the last poll, seconds.",
)
POLLS = _spec("oceanbase_backup_exporter_polls", "counter", "Polls of the target.")
REQUESTS = _spec(
    "oceanbase_backup_exporter_requests",
    "counter",
    "Upstream requests, by route template.",
    "endpoint",
)
REQUEST_DURATION = _spec(
    "oceanbase_backup_exporter_request_duration_seconds",
    "histogram",
    "Upstream request latency, by route template.",
    "endpoint",
)
POLL_ERRORS = _spec(
    "oceanbase_backup_exporter_poll_errors",
    "counter",
    "Failed upstream requests, by route template and reason.",
    "endpoint",
    "reason",
)
ENDPOINT_SUPPORTED = _spec(
    "oceanbase_backup_exporter_endpoint_supported",
    "gauge",
    "1 when the upstream has this optional endpoint (learned per agent version).",
    "endpoint",
)
FACT_VERIFIED = _spec(
    "oceanbase_backup_exporter_cached_fact_verified_timestamp_seconds",
    "gauge",
    "When facts the exporter re-serves from its cache were last read or confirmed unchanged,"
    " Unix seconds, the oldest per kind (fact: cluster_identity, job_history, cluster_list,"
    " tenant_list, instance_list). A history or identity is re-served only while it is younger"
    " than stale_after; a list (what to ask, every value is read again) is read again before"
    " it is, while the target answers.",
    "fact",
)
RELOAD_OK = _spec(
    "oceanbase_backup_exporter_config_last_reload_successful",
    "gauge",
    "1 when the last configuration reload succeeded.",
)
RELOAD_TS = _spec(
    "oceanbase_backup_exporter_config_last_reload_success_timestamp_seconds",
    "gauge",
    "Time of the last successful configuration reload, Unix seconds.",
)
BUILD_INFO = _spec("oceanbase_backup_exporter_build_info", "gauge", "The exporter's version (value 1).", "version", "python_version")
# fmt: on


# Every label name the exporter itself puts on a series: static labels from the config must
# not collide with any of them.
EMITTED_LABELS = frozenset(
    {"target", "source", "ob_cluster_name", "ob_cluster_id", "tenant_name", "ob_tenant_id", "le"}
    | {label for spec in CATALOGUE.values() for label in spec.labels}
)


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
        """The families now (the process ones read /proc/self: about 0.1 ms)."""
        return [*self._process.collect(), *self._platform]


class SnapshotCollector:
    """A prometheus_client collector over a callable that returns the current families."""

    def __init__(self, families: Callable[[], list[Metric]]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        """Yield the families (prometheus_client's Collector protocol)."""
        yield from self._families()
