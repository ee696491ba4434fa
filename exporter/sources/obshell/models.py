"""obshell's JSON shapes, as pydantic models: the one definition of each upstream shape.

The exporter parses responses with them and the simulator serialises its state with them, so
the two cannot drift apart. Field names and types follow obshell's Go structs (oceanbase/obshell:
the types its handlers under ob/agent/api answer with): timestamps stay strings here because
their offset handling depends on the target's config, and SCNs stay Python ints so they are
exact.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import Field, OnErrorOmit

from exporter.sources.envelope import UpstreamEnvelope
from exporter.sources.envelope import UpstreamModel as UpstreamModel
from exporter.sources.values import Int

T = TypeVar("T")


class ApiError(UpstreamModel):
    """The `error` object: `errCode` since 4.3.1, the numeric `code` before (and beside) it."""

    code: Int | None = None
    errCode: str | None = None
    message: str = ""


class Envelope(UpstreamEnvelope[T], Generic[T]):
    """The response envelope every obshell endpoint wraps its `data` in."""

    successful: bool
    timestamp: str | None = None
    duration: Int | None = None
    status: Int | None = None
    traceId: str | None = None
    error: ApiError | None = None

    def succeeded(self) -> bool:
        """obshell's `successful`."""
        return self.successful


class Contents(UpstreamModel, Generic[T]):
    """obshell wraps every slice it returns as `{"contents": [...]}`."""

    contents: list[T] = Field(default_factory=list)


class Page(UpstreamModel):
    """Paging block of the 4.3.2+ list endpoints."""

    total_elements: Int = 0
    total_pages: Int = 0
    size: Int = 0
    number: Int = 0


class PagedContents(Contents[T], Generic[T]):
    """A page of a list endpoint."""

    page: Page | None = None


class AgentStatus(UpstreamModel):
    """`GET /api/v1/info` (no auth): the agent version and the auth versions it supports."""

    version: str = ""
    identity: str = ""
    security: bool | None = None  # whether it has an agent password; absent before 4.2.6
    supportedAuth: list[str] | None = None
    # Which agent process answered (meta.AgentStatus): cached facts are dropped when it changes.
    ip: str = ""
    port: Int = 0
    startAt: Int = 0  # UnixNano
    pid: Int = 0


class AgentSecret(UpstreamModel):
    """`GET /api/v1/secret` (no auth): the node's RSA public key, base64 of PKCS#1 DER."""

    ip: str = ""
    port: Int = 0
    public_key: str


class ObClusterInfo(UpstreamModel):
    """The `obcluster_info` part of `GET /api/v1/ob/info`."""

    id: Int
    name: str
    version: str = ""


class ObInfo(UpstreamModel):
    """`GET /api/v1/ob/info`: the cheapest source of the cluster's name, id and version."""

    obcluster_info: ObClusterInfo


class TenantOverview(UpstreamModel):
    """One item of `GET /api/v1/tenants/overview` (includes sys; excludes the recycle bin)."""

    tenant_id: Int
    tenant_name: str
    mode: str = ""
    status: str = ""
    locked: str = ""
    in_recyclebin: str = ""
    created_time: str = ""


class BackupTask(UpstreamModel):
    """`CdbObBackupTask`: a row of CDB_OB_BACKUP_TASKS, or of its history when none runs.

    obshell always sends every field; one missing from an answer is unknown (None), never 0:
    a `result` of 0 would say "success" beside a FAILED status.
    """

    tenant_id: Int
    task_id: Int | None = None
    job_id: Int | None = None
    incarnation: Int | None = None
    backup_set_id: Int | None = None
    start_timestamp: str = ""
    end_timestamp: str = ""
    status: str
    start_scn: Int | None = None
    end_scn: Int | None = None
    user_ls_start_scn: Int | None = None
    encryption_mode: str = ""
    input_bytes: Int | None = None
    output_bytes: Int | None = None
    output_rate_bytes: float | None = None
    extra_meta_bytes: Int | None = None
    tablet_count: Int | None = None
    finish_tablet_count: Int | None = None
    macro_block_count: Int | None = None
    finish_macro_block_count: Int | None = None
    file_count: Int | None = None
    meta_turn_id: Int | None = None
    data_turn_id: Int | None = None
    result: Int | None = None
    comment: str = ""
    path: str = ""


class ClusterBackupOverview(UpstreamModel):
    """`GET /api/v1/obcluster/backup/overview`: the latest task of each user tenant."""

    statuses: list[BackupTask] = Field(default_factory=list)


class TenantBackupOverview(UpstreamModel):
    """`GET /api/v1/tenant/:name/backup/overview`: one tenant's latest task."""

    status: BackupTask


class TenantBackupInfo(UpstreamModel):
    """`GET /api/v1/tenant/:name/backup/info` (4.3.2+); upstream misspells "latest"."""

    tenant_id: Int = 0
    lastest_archive_log_checkpoint: str | None = None
    lastest_data_backup_time: str | None = None
    # omitempty upstream: absent means 0 *or* unknown, so the exporter must not read it as 0.
    archive_log_delay: float | None = None


class ArchiveLogTask(UpstreamModel):
    """An active log archive round, from `GET /api/v1/tenant/:name/backup/log/tasks` (4.3.2+)."""

    tenant_id: Int = 0
    tenant_name: str = ""
    round_id: Int = 0
    status: str
    path: str = ""
    delay: float | None = None
    checkpoint: str = ""
    start_time: str = ""


class BackupJob(UpstreamModel):
    """A data backup job (`bo.BackupJob`), from `GET /api/v1/tenant/:name/backup/tasks` (4.3.2+).

    `plus_archivelog` is the view's VARCHAR ("ON"/"OFF"); `start_timestamp` is `null` for a
    NULL start; `end_timestamp` is absent while the job has no end.
    """

    tenant_id: Int | None = None
    job_id: Int | None = None
    backup_set_id: Int | None = None
    plus_archivelog: str | bool = ""
    backup_type: str = ""
    start_timestamp: str | None = None
    end_timestamp: str | None = None
    status: str
    result: Int | None = None
    comment: str = ""
    description: str = ""
    path: str = ""

    @property
    def includes_archivelog(self) -> bool:
        """Whether the backup carried its own logs (`PLUS ARCHIVELOG`)."""
        if isinstance(self.plus_archivelog, bool):
            return self.plus_archivelog
        return self.plus_archivelog.strip().upper() in {"ON", "TRUE", "YES", "1"}

    @property
    def full(self) -> bool:
        """A full backup (`backup_type` "FULL"), as opposed to an incremental one ("INC")."""
        return self.backup_type.strip().upper() == "FULL"


class BackupJobPage(UpstreamModel):
    """A page of `GET /api/v1/tenant/:name/backup/tasks`.

    A row obshell should never send is left out rather than failing the page (one odd row
    costs only itself); the source compares the rows read with those the page announced.
    """

    contents: list[OnErrorOmit[BackupJob]] = Field(default_factory=list)
    page: Page | None = None


class RestoreInfo(UpstreamModel):
    """The fields a running restore and a finished one share (`bo.RestoreInfo`)."""

    tenant_id: Int = 0
    job_id: Int = 0
    restore_tenant_name: str
    restore_tenant_id: Int = 0
    backup_tenant_name: str = ""
    backup_tenant_id: Int = 0
    backup_cluster_name: str = ""
    restore_option: str = ""
    restore_scn: Int = 0
    restore_scn_display: str = ""
    status: str
    start_timestamp: str = ""
    backup_set_list: str = ""
    backup_piece_list: str = ""
    backup_data_uri: str = ""
    backup_log_uri: str = ""
    tablet_count: Int = 0
    finish_tablet_count: Int = 0
    total_bytes: Int = 0
    total_bytes_display: str = ""
    finish_bytes: Int = 0
    finish_bytes_display: str = ""
    description: str = ""
    # Zero-filled by obshell for rows where they do not apply (running vs history).
    recover_scn: Int = 0
    recover_scn_display: str = ""
    recover_progress: str = ""
    restore_progress: str = ""
    backup_cluster_version: Int = 0
    ls_count: Int = 0
    finish_ls_count: Int = 0
    comment: str = ""
    finish_timestamp: str = ""


class RestoreOverview(RestoreInfo):
    """`GET /api/v1/tenant/:name/restore/overview`: a flat object, no wrapper."""


class RestoreTask(RestoreInfo):
    """An item of `GET /api/v1/restore/tasks` (4.3.2+): running and finished restores."""


# Parametrised once: pydantic builds a class per subscription, too slow per response.
TenantOverviews = Contents[TenantOverview]
ArchiveLogTasks = Contents[ArchiveLogTask]
RestoreTaskPage = PagedContents[RestoreTask]
