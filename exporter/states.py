"""The fixed state sets of the metric contract, and the mapping of upstream strings onto them.

A `status` label's values never grow at run time: anything we do not know becomes UNKNOWN,
and the raw string travels on the family's `_info` series instead.
"""

from __future__ import annotations

import sys

UNKNOWN = "UNKNOWN"

BACKUP_TASK_STATES = ("INIT", "DOING", "COMPLETED", "FAILED", "CANCELING", "CANCELED", UNKNOWN)
# The phases a running task reports in CDB_OB_BACKUP_TASKS; operators see them as DOING.
BACKUP_RUNNING_PHASES = frozenset(
    {
        "BEGINNING",
        "BACKUP_SYS_META",
        "BACKUP_USER_META",
        "BACKUP_META_FINISH",
        "BACKUP_DATA_SYS",
        "BACKUP_DATA_MINOR",
        "BACKUP_DATA_MAJOR",
        "BACKUP_SYS_DATA",
        "BACKUP_USER_DATA",
        "BACKUP_FUSE_TABLET_META",
        "BEFORE_BACKUP_LOG",
        "PREPARE_BACKUP_LOG",
        "BACKUP_LOG",
    }
)

LOG_BACKUP_STATES = (
    "PREPARE",
    "BEGINNING",
    "DOING",
    "STOPPING",
    "SUSPEND",
    "NOT_RUNNING",
    UNKNOWN,
)

RESTORE_STATES = (
    "CREATE_TENANT",
    "RESTORE_PRE",
    "RESTORE_CREATE_INIT_LS",
    "PHYSICAL_RESTORE_WAIT_RESTORE_TO_CONSISTENT_SCN",
    "RESTORE_WAIT_LS",
    "POST_CHECK",
    "UPGRADE",
    "WAIT_TENANT_RESTORE_FINISH",
    "RESTORE_SUCCESS",
    "RESTORE_FAIL",
    UNKNOWN,
)
RESTORE_FINISHED = frozenset({"RESTORE_SUCCESS", "RESTORE_FAIL"})
_RESTORE_HISTORY_ALIASES = {"SUCCESS": "RESTORE_SUCCESS", "FAIL": "RESTORE_FAIL"}

BACKUP_SET_STATES = ("BEGINNING", "DOING", "DONE", "FAILED", "OVERDUE", UNKNOWN)
SCHEDULE_STATES = ("NONE", "NORMAL", "PAUSED", "WAITING", "ABNORMAL", UNKNOWN)
# OCP's obClusterStatus: the values OCP's API clients and its UI constants name (OCP docs,
# "Query clusters", en.oceanbase.com/docs/common-ocp-10000000002169689, and github.com/oceanbase/
# ocp-express's UI constants); anything else is UNKNOWN with the raw string kept.
CLUSTER_STATES = (
    "CREATING",
    "STARTING",
    "RUNNING",
    "OPERATING",
    "UPGRADING",
    "UNAVAILABLE",
    "DELETING",
    UNKNOWN,
)


def _known(raw: str, states: tuple[str, ...]) -> str:
    value = raw.strip().upper()
    # The constant (an interned literal), not the equal string just made: a snapshot keeps
    # one state per tenant, and a copy per tenant adds up over a fleet (docs/benchmarks.md).
    return sys.intern(value) if value in states else UNKNOWN


def backup_task_state(raw: str) -> str:
    """Map a CDB_OB_BACKUP_TASKS status (or running phase) onto BACKUP_TASK_STATES."""
    value = raw.strip().upper()
    if value in BACKUP_RUNNING_PHASES:
        return "DOING"
    return _known(value, BACKUP_TASK_STATES)


def log_backup_state(raw: str) -> str:
    """Map an archive round status onto LOG_BACKUP_STATES."""
    return _known(raw, LOG_BACKUP_STATES)


def restore_state(raw: str) -> str:
    """Map a running phase or a history status (SUCCESS/FAIL) onto RESTORE_STATES."""
    value = raw.strip().upper()
    return _RESTORE_HISTORY_ALIASES.get(value, _known(value, RESTORE_STATES))


def backup_set_state(raw: str) -> str:
    """Map an OceanBase Cloud backup set status onto BACKUP_SET_STATES."""
    return _known(raw, BACKUP_SET_STATES)


def schedule_state(raw: str) -> str:
    """Map an OCP backupScheduleStatus onto SCHEDULE_STATES."""
    return _known(raw, SCHEDULE_STATES)


def cluster_state(raw: str) -> str:
    """Map an OCP obClusterStatus onto CLUSTER_STATES."""
    return _known(raw, CLUSTER_STATES)


def upper_snake(raw: str) -> str:
    """`Password Encryption` -> `PASSWORD_ENCRYPTION`, `None` -> `NONE`."""
    # Interned: a handful of values, kept once per tenant by a snapshot (see _known).
    return sys.intern("_".join(raw.replace("-", " ").replace("_", " ").split()).upper())


# OCP's task vocabularies: the values its API pages document for `status` ("View data backup
# tasks of a tenant", en.oceanbase.com/docs/common-ocp-10000000001626257; "View log backup
# tasks", .../common-ocp-10000000001626258), and the other spelling the UI constants of
# github.com/oceanbase/ocp-express carry (DATA_BACKUP_TASK_STATUS_LIST and its log twin).
_OCP_DATA_TASK_STATES = {
    "BEGINNING": "DOING",  # "the task is being started"
    "INITIALIZING": "INIT",
    "DOING": "DOING",
    "DONE": "COMPLETED",
    "FAILED": "FAILED",
    "CANCELING": "CANCELING",
    "CANCELED": "CANCELED",
}
_OCP_LOG_TASK_STATES = {
    "STARTING": "BEGINNING",
    "BEGINNING": "BEGINNING",
    "INPROGRESS": "DOING",
    "RUNNING": "DOING",
    "STOPPING": "STOPPING",
    # Not archiving any more, for whatever reason: the recovery point stands still.
    "STOPPED": "NOT_RUNNING",
    "FAILED": "NOT_RUNNING",
    "INTERRUPTED": "NOT_RUNNING",
}


def ocp_data_task_state(raw: str) -> str:
    """Map an OCP data backup task status onto BACKUP_TASK_STATES (OVERDUE: UNKNOWN)."""
    return _OCP_DATA_TASK_STATES.get(raw.strip().upper(), UNKNOWN)


def ocp_log_task_state(raw: str) -> str:
    """Map an OCP log backup task status onto LOG_BACKUP_STATES.

    STOPPED, FAILED and INTERRUPTED are NOT_RUNNING, as a stopped round is for obshell; the
    upstream string stays on oceanbase_log_backup_info.
    """
    return _OCP_LOG_TASK_STATES.get(raw.strip().upper(), UNKNOWN)
