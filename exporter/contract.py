"""The metric contract: every family the exporter serves, with its type, help and labels.

The only module that knows metric names. It imports nothing from the `exporter` package, so the
config (which needs the label names for its checks) and the collector (which fills the families
from snapshots) both depend on it and not on each other. The metrics reference in docs/ is
generated from `CATALOGUE` (`python -m exporter.catalogue`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


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


HEADER = """# Metrics reference

Generated by `python -m exporter.catalogue > docs/metrics.md` from `exporter/contract.py`;
a test fails when this file and the code disagree.

Every series of a target carries `target` (the config name; left out on `/probe`), `source`
(`obshell`, `ocp` or `cloud`) and the target's static `labels:`. Data series add
`ob_cluster_name` and `ob_cluster_id`; per-tenant series add `tenant_name` and `ob_tenant_id`
(restores: `tenant_name` only). State families carry a `status` label with a fixed set of
values: 1 for the current state, 0 for the others; a string the exporter does not know is
`UNKNOWN`, with the raw string on the family's `_info` series. A value the upstream does not
know is absent, never 0. Timestamps are Unix seconds: alert on `time() - x`.

| metric | type | labels (besides the common ones) | meaning |
|---|---|---|---|
"""


def markdown() -> str:
    """The reference as markdown."""
    rows = []
    for spec in CATALOGUE.values():
        name = spec.name + "_total" if spec.type == "counter" else spec.name
        labels = ", ".join(f"`{label}`" for label in spec.labels) or "—"
        meaning = spec.help.replace("|", "\\|")
        rows.append(f"| `{name}` | {spec.type} | {labels} | {meaning} |\n")
    return HEADER + "".join(rows)


def main() -> None:
    """Print the reference."""
    sys.stdout.write(markdown())
