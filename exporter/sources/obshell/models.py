"""obshell's JSON shapes, as pydantic models: the one definition of each upstream shape.

The exporter parses responses with them and the simulator serialises its state with them, so
the two cannot drift apart. Field names and types follow obshell's Go structs (see
shared/research/obshell-api.md): timestamps stay strings here because their offset handling
depends on the target's config, and SCNs stay Python ints so they are exact.
"""

from __future__ import annotations

import functools
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class UpstreamModel(BaseModel):
    """Base of every obshell shape: upstream adds fields between versions, so ignore extras."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class ApiError(UpstreamModel):
    """The `error` object: `errCode` since 4.3.1, the numeric `code` before (and beside) it."""

    code: int | None = None
    errCode: str | None = None
    message: str = ""


class Envelope(UpstreamModel, Generic[T]):
    """The response envelope every obshell endpoint wraps its `data` in."""

    successful: bool
    timestamp: str | None = None
    duration: int | None = None
    status: int | None = None
    traceId: str | None = None
    data: T | None = None
    error: ApiError | None = None


class Contents(UpstreamModel, Generic[T]):
    """obshell wraps every slice it returns as `{"contents": [...]}`."""

    contents: list[T] = Field(default_factory=list)


class Page(UpstreamModel):
    """Paging block of the 4.3.2+ list endpoints."""

    total_elements: int = 0
    total_pages: int = 0
    size: int = 0
    number: int = 0


class PagedContents(Contents[T], Generic[T]):
    """A page of a list endpoint."""

    page: Page | None = None


class AgentStatus(UpstreamModel):
    """`GET /api/v1/info` (no auth): the agent version and the auth versions it supports."""

    version: str = ""
    identity: str = ""
    security: bool = False
    supportedAuth: list[str] | None = None


class AgentSecret(UpstreamModel):
    """`GET /api/v1/secret` (no auth): the node's RSA public key, base64 of PKCS#1 DER."""

    ip: str = ""
    port: int = 0
    public_key: str


class ObClusterInfo(UpstreamModel):
    """The `obcluster_info` part of `GET /api/v1/ob/info`."""

    id: int
    name: str
    version: str = ""


class ObInfo(UpstreamModel):
    """`GET /api/v1/ob/info`: the cheapest source of the cluster's name, id and version."""

    obcluster_info: ObClusterInfo


class TenantOverview(UpstreamModel):
    """One item of `GET /api/v1/tenants/overview` (includes sys; excludes the recycle bin)."""

    tenant_id: int
    tenant_name: str
    mode: str = ""
    status: str = ""
    locked: str = ""
    in_recyclebin: str = ""
    created_time: str = ""


class BackupTask(UpstreamModel):
    """`CdbObBackupTask`: a row of CDB_OB_BACKUP_TASKS, or of its history when none runs."""

    tenant_id: int
    task_id: int = 0
    job_id: int = 0
    incarnation: int = 0
    backup_set_id: int = 0
    start_timestamp: str = ""
    end_timestamp: str = ""
    status: str
    start_scn: int = 0
    end_scn: int = 0
    user_ls_start_scn: int = 0
    encryption_mode: str = ""
    input_bytes: int = 0
    output_bytes: int = 0
    output_rate_bytes: float = 0.0
    extra_meta_bytes: int = 0
    tablet_count: int = 0
    finish_tablet_count: int = 0
    macro_block_count: int = 0
    finish_macro_block_count: int = 0
    file_count: int = 0
    meta_turn_id: int = 0
    data_turn_id: int = 0
    result: int = 0
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

    tenant_id: int = 0
    lastest_archive_log_checkpoint: str | None = None
    lastest_data_backup_time: str | None = None
    # omitempty upstream: absent means 0 *or* unknown, so the exporter must not read it as 0.
    archive_log_delay: float | None = None


class ArchiveLogTask(UpstreamModel):
    """An active log archive round, from `GET /api/v1/tenant/:name/backup/log/tasks` (4.3.2+)."""

    tenant_id: int = 0
    tenant_name: str = ""
    round_id: int = 0
    status: str
    path: str = ""
    delay: float | None = None
    checkpoint: str = ""
    start_time: str = ""


class BackupJob(UpstreamModel):
    """A data backup job, from `GET /api/v1/tenant/:name/backup/tasks` (4.3.2+)."""

    tenant_id: int = 0
    job_id: int = 0
    backup_set_id: int = 0
    # A VARCHAR column upstream (obshell's Go struct holds a string); JSON booleans seen too.
    plus_archivelog: bool | str = False
    backup_type: str = ""
    start_timestamp: str = ""
    end_timestamp: str = ""
    status: str
    result: int = 0
    comment: str = ""
    description: str = ""
    path: str = ""

    @property
    def includes_archivelog(self) -> bool:
        """Whether the backup carried its own logs (`PLUS ARCHIVELOG`)."""
        if isinstance(self.plus_archivelog, bool):
            return self.plus_archivelog
        return self.plus_archivelog.strip().upper() in {"ON", "TRUE", "YES", "1"}


class RestoreInfo(UpstreamModel):
    """The fields a running restore and a finished one share (`bo.RestoreInfo`)."""

    tenant_id: int = 0
    job_id: int = 0
    restore_tenant_name: str
    restore_tenant_id: int = 0
    backup_tenant_name: str = ""
    backup_tenant_id: int = 0
    backup_cluster_name: str = ""
    restore_option: str = ""
    restore_scn: int = 0
    restore_scn_display: str = ""
    status: str
    start_timestamp: str = ""
    backup_set_list: str = ""
    backup_piece_list: str = ""
    backup_data_uri: str = ""
    backup_log_uri: str = ""
    tablet_count: int = 0
    finish_tablet_count: int = 0
    total_bytes: int = 0
    total_bytes_display: str = ""
    finish_bytes: int = 0
    finish_bytes_display: str = ""
    description: str = ""
    # Zero-filled by obshell for rows where they do not apply (running vs history).
    recover_scn: int = 0
    recover_scn_display: str = ""
    recover_progress: str = ""
    restore_progress: str = ""
    backup_cluster_version: int = 0
    ls_count: int = 0
    finish_ls_count: int = 0
    comment: str = ""
    finish_timestamp: str = ""


class RestoreOverview(RestoreInfo):
    """`GET /api/v1/tenant/:name/restore/overview`: a flat object, no wrapper."""


class RestoreTask(RestoreInfo):
    """An item of `GET /api/v1/restore/tasks` (4.3.2+): running and finished restores."""


# Parametrised once: `Envelope[X]` costs ~50 µs per use, too much per upstream request.
TenantOverviews = Contents[TenantOverview]
ArchiveLogTasks = Contents[ArchiveLogTask]
BackupJobPage = PagedContents[BackupJob]
RestoreTaskPage = PagedContents[RestoreTask]


@functools.cache
def envelope_of(model: type[BaseModel]) -> type[Envelope[Any]]:
    """`Envelope[model]`, made once per model."""
    return Envelope[model]  # type: ignore[valid-type]


def error_envelope(
    status: int, err_code: str | None, message: str, code: int | None = None
) -> dict[str, Any]:
    """Build an obshell error envelope body (used by the simulator and by test servers)."""
    error: dict[str, Any] = {"message": message}
    if err_code is not None:
        error["errCode"] = err_code
    if code:
        error["code"] = code
    return {"successful": False, "status": status, "error": error}
