"""The source-neutral picture of what operators care about, built fresh by every poll.

Everything here is frozen: a poll builds a new `TargetData` and the poller swaps it in whole,
so a scrape never sees half a poll. Times are Unix seconds (float) or None for unknown; states
are already normalised to the fixed sets of the metric contract, with the upstream string kept
beside them for the `_info` series.

Slotted: a fleet keeps one of these per tenant and task, and an instance without a `__dict__`
is smaller (docs/benchmarks.md, issue 15's peak RSS).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ClusterIdentity:
    """How a cluster is labelled: obagent's `ob_cluster_name` and `ob_cluster_id`."""

    name: str
    id: str
    version: str = ""
    cluster_type: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class BackupTask:
    """The latest data backup task of a tenant; a number the upstream left out is None.

    Keyword-only with unknown defaults, so a source names only what its upstream tells.
    """

    status: str
    raw_status: str
    backup_set_id: int | None = None
    task_id: int | None = None
    job_id: int | None = None
    incarnation: int | None = None
    encryption_mode: str = ""
    path: str = ""
    comment: str = ""
    output_rate_bytes: float | None = None
    input_bytes: int | None = None
    output_bytes: int | None = None
    extra_meta_bytes: int | None = None
    tablets: int | None = None
    finished_tablets: int | None = None
    macro_blocks: int | None = None
    finished_macro_blocks: int | None = None
    files: int | None = None
    result_code: int | None = None
    start: float | None = None
    end: float | None = None
    start_scn: float | None = None
    end_scn: float | None = None


@dataclass(frozen=True, slots=True)
class LogBackup:
    """Log archive state: checkpoint, delay as reported, and the round's status."""

    checkpoint: float | None
    delay: float | None
    status: str | None = None
    raw_status: str = ""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A user tenant and its backup state."""

    name: str
    tenant_id: int
    tenant_status: str
    backup_task: BackupTask | None = None
    last_success: float | None = None
    last_failure: float | None = None
    last_full_success: float | None = None
    log_backup: LogBackup | None = None
    recovery_point: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Restore:
    """The newest restore job of one tenant name (keyword-only: a source names what it knows)."""

    tenant_name: str
    status: str
    raw_status: str
    job_id: int | None = None  # None where the upstream does not say (OCP)
    restore_tenant_id: int | None = None
    backup_tenant_name: str = ""
    backup_cluster_name: str = ""
    comment: str = ""
    restore_progress: float | None = None
    recover_progress: float | None = None
    tablets: int | None = None
    finished_tablets: int | None = None
    total_bytes: int | None = None
    finished_bytes: int | None = None
    log_streams: int | None = None
    finished_log_streams: int | None = None
    start: float | None = None
    finish: float | None = None
    restore_scn: float | None = None
    recover_scn: float | None = None


@dataclass(frozen=True, slots=True)
class ClusterManagement:
    """What a management platform (OCP) says of a cluster as a whole; None is unknown."""

    status: str | None = None
    raw_status: str = ""
    schedule_status: str | None = None
    raw_schedule_status: str = ""
    strategy_configured: bool | None = None
    backup_size_bytes: float | None = None
    # OCP's lastDataBackupTime: "the most recent data backup", not said to have succeeded.
    last_data_backup: float | None = None


@dataclass(frozen=True, slots=True)
class BackupSet:
    """The latest data backup set (OceanBase Cloud) of an instance, or of one tenant in it."""

    status: str
    raw_status: str
    backup_set_id: str
    backup_mode: str
    data_backup_mode: str
    trigger_mode: str
    validity: str
    size_bytes: float | None
    checkpoint: float | None
    start: float | None
    end: float | None


@dataclass(frozen=True, slots=True)
class TenantBackupSet:
    """A tenant's part of the latest backup set; `tenant_id` is "" when the source omits it."""

    tenant_name: str
    tenant_id: str
    backup_set: BackupSet


@dataclass(frozen=True, slots=True)
class TenantRecovery:
    """Where a tenant can be restored to (OceanBase Cloud's restorable windows).

    `recovery_point` is the end of the last window, `window_start` where that window begins:
    a gap between windows makes it jump forward.
    """

    tenant_name: str
    tenant_id: str
    recovery_point: float | None
    window_start: float | None


@dataclass(frozen=True, slots=True)
class Cluster:
    """One cluster and what it holds.

    Sources that see a cluster only as a whole (OCP, OceanBase Cloud) fill the cluster-level
    fields; their series carry no tenant labels, so they never collide with per-tenant ones.
    """

    identity: ClusterIdentity
    tenants: tuple[Tenant, ...] = ()
    restores: tuple[Restore, ...] = ()
    management: ClusterManagement | None = None
    log_backup: LogBackup | None = None
    last_success: float | None = None
    recovery_point: float | None = None
    backup_set: BackupSet | None = None
    tenant_backup_sets: tuple[TenantBackupSet, ...] = ()
    tenant_recoveries: tuple[TenantRecovery, ...] = ()


# Cached facts that only say what to ask (see TargetData.oldest_fact).
LIST_FACTS = frozenset({"cluster_list", "tenant_list", "instance_list"})


@dataclass(frozen=True, slots=True)
class TargetData:
    """Everything one successful (or partly successful) poll of a target learned."""

    clusters: tuple[Cluster, ...]
    # When the poll started: every fact read by this poll was read later (the poll's deadline,
    # one interval, bounds how much later).
    polled_at: float
    # Facts re-served from a cache, read by an earlier poll, each with when it was last
    # confirmed (see exporter.sources.obshell.history and exporter.sources.lists):
    # ("job_history", t) is the oldest confirmation among the tenants' histories.
    facts_verified: tuple[tuple[str, float], ...] = ()

    def oldest_fact(self) -> float:
        """When the oldest value shown was read or last confirmed: staleness is judged from here.

        Cached lists (which clusters, tenants or instances there are) do not count: they say
        what to ask, and every value exported for them is read again by this poll. Counting
        them would drop a healthy target's data between two polls whenever a list was kept
        for one more poll.
        """
        shown = (verified for fact, verified in self.facts_verified if fact not in LIST_FACTS)
        return min([self.polled_at, *shown])


@dataclass(frozen=True, slots=True)
class HistogramSnapshot:
    """Cumulative bucket counts of one histogram."""

    buckets: tuple[tuple[float, int], ...]
    count: int
    total: float


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """The exporter's own view of a target, rendered as `oceanbase_backup_exporter_*`."""

    up: bool | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_attempt: float | None = None
    last_error: str = ""
    polls_total: int = 0
    requests: tuple[tuple[str, int], ...] = ()
    errors: tuple[tuple[str, str, int], ...] = ()
    latency: tuple[tuple[str, HistogramSnapshot], ...] = ()
    endpoint_supported: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class TargetSnapshot:
    """A target's latest state: identity labels, health, and data unless it went stale."""

    name: str
    source: str
    labels: tuple[tuple[str, str], ...]
    health: TargetHealth
    data: TargetData | None = None
    stale_after: float = field(default=0.0, compare=False)
