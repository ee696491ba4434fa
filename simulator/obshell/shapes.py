"""Fields obshell sends that the exporter does not read, as subclasses of the shared models.

The exporter's models (exporter/sources/obshell/models.py) hold what it parses; other clients,
such as the official SDK, read more (its TenantOverView fails without `primary_zone`), so the
simulator adds those fields here instead of forking the shapes.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from exporter.sources.obshell.models import (
    AgentStatus,
    ObClusterInfo,
    ObInfo,
    TenantOverview,
    UpstreamModel,
)


class ConnectionString(UpstreamModel):
    """`bo.ObproxyAndConnectionString`."""

    type: str = "DIRECT"
    obproxy_address: str = ""
    obproxy_port: int = 0
    connection_string: str = ""


class FullTenantOverview(TenantOverview):
    """`oceanbase.TenantOverview`: DBA_OB_TENANTS plus connection strings.

    Before 4.3.0 the items are bare `DbaObTenant`s (no `read_only`, no connection strings);
    `comment` came with 4.4.1. None leaves a field out, as older agents do.
    """

    primary_zone: str = "RANDOM"
    locality: str = "FULL{1}@zone1"
    read_only: bool | None = None
    comment: str | None = None
    connection_strings: list[ConnectionString] | None = None


class FullAgentStatus(AgentStatus):
    """`meta.AgentStatus` of `GET /api/v1/info`; None marks a field the version lacks."""

    pid: int = 0
    state: int = 2  # running
    startAt: int = 0  # UnixNano
    homePath: str = "/home/admin/oceanbase"
    obVersion: str | None = None  # from 4.2.4
    architecture: str | None = None  # from 4.3.0
    ip: str = ""
    port: int = 0
    zone: str = "zone1"
    isObproxyAgent: bool | None = None  # from 4.2.6, with `security`


class AgentInstance(UpstreamModel):
    """An item of `agent_info` in `GET /api/v1/ob/info`."""

    ip: str
    port: int
    zone: str
    identity: str
    version: str


class ServerInfo(UpstreamModel):
    """An observer in `obcluster_info.topology`."""

    svr_ip: str
    svr_port: int = 2882
    sql_port: int = 2881
    agent_port: int = 2886
    with_rootserver: str = "YES"  # DBA_OB_SERVERS.WITH_ROOTSERVER, a VARCHAR
    status: str = "ACTIVE"
    build_version: str = ""


class FullObClusterInfo(ObClusterInfo):
    """`obcluster_info` with its topology (zone name to observers)."""

    topology: dict[str, list[ServerInfo]] = Field(default_factory=dict)
    is_shared_storage: bool | None = None  # since 4.4.2


class FullObInfo(ObInfo):
    """`param.ObInfoResp` of `GET /api/v1/ob/info`."""

    agent_info: list[AgentInstance] = Field(default_factory=list)
    obcluster_info: FullObClusterInfo


class GoBackupTask(UpstreamModel):
    """`oceanbase.CdbObBackupTask`: every field always sent, NULL numbers as 0, NULL times as
    Go's zero time (the struct has no pointers and no omitempty)."""

    tenant_id: int
    task_id: int = 0
    job_id: int = 0
    incarnation: int = 0
    backup_set_id: int = 0
    start_timestamp: str
    end_timestamp: str
    status: str
    start_scn: int = 0
    end_scn: int = 0
    user_ls_start_scn: int = 0
    encryption_mode: str = "NONE"
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


class GoBackupJob(UpstreamModel):
    """`bo.BackupJob`: `plus_archivelog` is the view's "ON"/"OFF"; `start_timestamp` a pointer
    without omitempty (NULL is `null`); `end_timestamp` one with omitempty (absent if NULL)."""

    tenant_id: int
    job_id: int
    backup_set_id: int
    plus_archivelog: str
    backup_type: str
    start_timestamp: str | None
    end_timestamp: str | None = None
    status: str
    result: int = 0
    comment: str = ""
    description: str = ""
    path: str = ""

    @model_serializer(mode="wrap")
    def _null_start(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The envelope is dumped without None values (omitempty); this one is sent as null.
        data: dict[str, Any] = handler(self)
        if self.start_timestamp is None:
            ordered = list(data.items())
            ordered.insert(5, ("start_timestamp", None))
            data = dict(ordered)
        return data


class GoClusterBackupOverview(UpstreamModel):
    """`param.BackupOverview` of `GET /api/v1/obcluster/backup/overview`."""

    statuses: list[GoBackupTask]


class GoTenantBackupOverview(UpstreamModel):
    """`param.TenantBackupOverview` of `GET /api/v1/tenant/:name/backup/overview`."""

    status: GoBackupTask


class GoRestoreRow(UpstreamModel):
    """`param.RestoreOverview` / `bo.RestoreTask`: `bo.RestoreInfo` plus the running and the
    history fields, those that do not apply zero-filled. `backup_data_uri`/`backup_log_uri`
    came with 4.3.2 (None leaves them out)."""

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
    backup_data_uri: str | None = None
    backup_log_uri: str | None = None
    tablet_count: int = 0
    finish_tablet_count: int = 0
    total_bytes: int = 0
    total_bytes_display: str = ""
    finish_bytes: int = 0
    finish_bytes_display: str = ""
    description: str = ""
    recover_scn: int = 0
    recover_scn_display: str = ""
    recover_progress: str = ""
    restore_progress: str = ""
    backup_cluster_version: int = 0
    ls_count: int = 0
    finish_ls_count: int = 0
    comment: str = ""
    finish_timestamp: str = ""
