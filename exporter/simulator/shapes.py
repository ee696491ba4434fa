"""Fields obshell sends that the exporter does not read, as subclasses of the shared models.

The exporter's models (exporter/sources/obshell/models.py) hold what it parses; other clients,
such as the official SDK, read more (its TenantOverView fails without `primary_zone`), so the
simulator adds those fields here instead of forking the shapes.
"""

from __future__ import annotations

from pydantic import Field

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
    """`oceanbase.TenantOverview`: DBA_OB_TENANTS plus connection strings."""

    primary_zone: str = "RANDOM"
    locality: str = "FULL{1}@zone1"
    read_only: bool = False
    comment: str = ""
    connection_strings: list[ConnectionString] = Field(default_factory=list)


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
    with_rootserver: bool = True
    status: str = "ACTIVE"
    build_version: str = ""


class FullObClusterInfo(ObClusterInfo):
    """`obcluster_info` with its topology (zone name to observers)."""

    topology: dict[str, list[ServerInfo]] = Field(default_factory=dict)
    is_shared_storage: bool = False


class FullObInfo(ObInfo):
    """`param.ObInfoResp` of `GET /api/v1/ob/info`."""

    agent_info: list[AgentInstance] = Field(default_factory=list)
    obcluster_info: FullObClusterInfo
