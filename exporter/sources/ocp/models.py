"""OCP's JSON shapes (API v2), as pydantic models: the one definition of each upstream shape.

The exporter parses responses with them and the simulator serialises its state with them.
Field names are OCP's (camelCase). OCP's serializer leaves null fields out and writes a `Long`
beyond 2^53 - 1 as a string, so every field is optional and integers accept numeric strings
(pydantic's lax mode). Times stay strings: OCP mixes `+08:00`, `+0800` and no offset at all,
and reading the last needs the target's zone.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import AliasChoices, Field

from exporter.sources.envelope import UpstreamEnvelope
from exporter.sources.envelope import UpstreamModel as UpstreamModel
from exporter.sources.values import Int

T = TypeVar("T")


class ApiError(UpstreamModel):
    """The `error` object of a failure: `code` 30000 (not logged on), 30014 (forbidden), ..."""

    code: Int | None = None
    message: str = ""
    debugMessage: str | None = None


class Envelope(UpstreamEnvelope[T], Generic[T]):
    """The envelope every OCP answer comes in; `timestamp` carries the server's offset."""

    successful: bool | None = None
    timestamp: str | None = None
    duration: Int | None = None
    status: Int | None = None
    traceId: str | None = None
    server: str | None = None
    error: ApiError | None = None

    def succeeded(self) -> bool:
        """OCP's `successful`, when it says (it leaves null fields out)."""
        return self.successful is not False


class PageInfo(UpstreamModel):
    """The paging block of a list; `number` is 1-based. Older OCP spells `totalPage`."""

    totalElements: Int = 0
    totalPages: Int = Field(default=0, validation_alias=AliasChoices("totalPages", "totalPage"))
    number: Int = 0
    size: Int = 0


class Paged(UpstreamModel, Generic[T]):
    """`data` of a paginated list (`page` absent: the list is complete)."""

    contents: list[T] = Field(default_factory=list)
    page: PageInfo | None = None


class ObCluster(UpstreamModel):
    """An item of `GET /api/v2/ob/clusters`; `id` is OCP's own, `obClusterId` OceanBase's."""

    id: Int
    name: str = ""
    obClusterId: Int | None = None
    type: str = ""
    status: str = ""
    obVersion: str = ""


class ClusterBackupInfoDetail(UpstreamModel):
    """`GET /api/v2/ob/clusters/{id}/backup/overview` (`ClusterBackupInfoDetail`)."""

    clusterId: Int | None = None
    obClusterId: Int | None = None
    clusterName: str = ""
    obClusterType: str = ""
    obClusterStatus: str = ""
    obVersion: str = ""
    obClusterBackupStatus: str = ""
    backupDimension: str = ""
    backupScheduleStatus: str = ""
    lastDataBackupTime: str | None = None
    latestLogBackupCheckpoint: str | None = None
    # A Long upstream; read as a number so that a fractional value cannot fail the overview.
    logBackupDelaySeconds: float | None = None
    backupSize: float | None = None
    obStorageVolumeUnit: str | None = None


# Per-tenant shapes. OCP's API pages cut their field tables off (see the research note,
# sections 2.2 and 2.5-2.7), so each field says where its name comes from:
#   [doc]      the OCP API page of that route names it;
#   [client]   a public client of the OCP API reads or sends it;
#   [inferred] named after the same value elsewhere in OCP's API, not confirmed for this
#              shape. Aliases list the candidate spellings; a field none of them matches is
#              absent (None), never guessed from another field.


class ObTenant(UpstreamModel):
    """An item of `GET /api/v2/ob/clusters/{id}/tenants`.

    `id` is OCP's own tenant id (the one in its URLs) [client: awesome-oceanbase-mcp
    ocp_tool, ob-private-terraform-provider tenant.go]; `name` and `status` [client];
    `obTenantId` is OceanBase's numeric tenant id [doc: the cluster overview and the tenant
    backup info carry it beside `tenantId`], read on the list item [inferred].
    """

    id: Int
    name: str = ""
    obTenantId: Int | None = None
    status: str = ""
    mode: str = ""


class _TimedTask(UpstreamModel):
    """What data backup and restore tasks share: when they ran and why they failed (field names
    inferred, each with the spelling OCP's pages use elsewhere)."""

    startTime: str | None = Field(
        default=None, validation_alias=AliasChoices("startTime", "beginTime")
    )
    endTime: str | None = Field(
        default=None, validation_alias=AliasChoices("endTime", "finishTime")
    )
    errorMessage: str | None = Field(
        default=None, validation_alias=AliasChoices("errorMessage", "errorMsg")
    )


class DataBackupTask(_TimedTask):
    """An item of `GET .../tenants/{tenantId}/backup/task/dataBackupTasks`.

    `status` [doc: BEGINNING ... OVERDUE, UNKNOWN]; `backupSetId` [doc: a query parameter of
    the route]; `dataBackupMode` [doc: FULL_BACKUP / INCREMENTAL_BACKUP in backupNow]; the
    times, the error and the size [inferred].
    """

    id: Int | None = None
    status: str = ""
    backupSetId: Int | None = None
    dataBackupMode: str = ""
    backupSize: float | None = None
    obStorageVolumeUnit: str | None = None


class LogBackupTask(UpstreamModel):
    """An item of `GET .../tenants/{tenantId}/backup/task/logBackupTasks`.

    `status` [doc: STARTING, INPROGRESS, STOPPING, STOPPED, FAILED, INTERRUPTED, UNKNOWN;
    OCP's UI spells BEGINNING and RUNNING]; `backupDimension` [doc]; `createTime` and
    `modifyTime` [doc: the cluster route's LogBackupWrapperTask]; checkpoint and delay
    [inferred: the cluster overview's names, then the short ones].
    """

    id: Int | None = None
    status: str = ""
    backupDimension: str = ""
    createTime: str | None = None
    modifyTime: str | None = None
    checkpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("latestLogBackupCheckpoint", "checkpoint", "logCheckpoint"),
    )
    delaySeconds: float | None = Field(
        default=None,
        validation_alias=AliasChoices("logBackupDelaySeconds", "delaySeconds", "delay"),
    )
    errorMessage: str | None = Field(
        default=None, validation_alias=AliasChoices("errorMessage", "errorMsg")
    )


class RestoreTask(_TimedTask):
    """An item of `GET .../tenants/{tenantId}/backup/task/restoreTasks` (RestoreHistoryTask).

    `id` and `backupMode` [doc]; `ocpJobId` [doc: the cluster route]; `status` [client:
    OCP's UI constants RESTORE_SUCCESS, RESTORE_FAIL and the running phases]; the rest
    [inferred].
    """

    id: Int | None = None
    ocpJobId: Int | None = None
    backupMode: str = ""
    status: str = ""
    backupTenantName: str | None = None
    backupClusterName: str | None = None
