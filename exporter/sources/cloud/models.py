"""OceanBase Cloud's JSON shapes (multi-cloud OpenAPI v2), as pydantic models.

The one definition of each shape: the exporter parses with them, the simulator serialises its
state with them. Field names are the API's (camelCase); fields it may leave out are optional.
Times stay strings (UTC `...Z` in every example, but an offset-less one is read in the
target's zone, so parsing belongs to the source).
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import Field, RootModel

from exporter.sources.envelope import UpstreamEnvelope
from exporter.sources.envelope import UpstreamModel as UpstreamModel
from exporter.sources.values import Int

T = TypeVar("T")


class Envelope(UpstreamEnvelope[T], Generic[T]):
    """`{success, data, requestId}`; failures carry `errorCode` and `errorMessage` instead."""

    success: bool | None = None
    requestId: str | None = None
    errorCode: str | None = None
    errorMessage: str | None = None

    def succeeded(self) -> bool:
        """Cloud's `success`, when it says."""
        return self.success is not False


class PagingData(UpstreamModel, Generic[T]):
    """`data` of a paged list: one page of `dataList`; `total` over every page and `hasMore`
    are both optional in the published schema (terraform-provider-oceanbase api/api.json)."""

    dataList: list[T] = Field(default_factory=list)
    total: Int | None = None
    hasMore: bool | None = None


class Instance(UpstreamModel):
    """An item of `GET /api/v2/instances` (DescribeInstances)."""

    instanceId: str
    instanceName: str = ""
    version: str = ""
    instanceRole: str = ""
    status: str = ""


class BackupSet(UpstreamModel):
    """A data backup set: an item of the set list, a tenant's part, or the detail's top level.

    `dataBackupSize` is documented as GB on one page and GiB on another; the exporter reads
    GiB. The detail route takes a backup task id, which the documents show equal to the
    `backupSetId` of the instance-level set (`bak-...`).
    """

    backupSetId: str = ""
    backupMode: str = ""
    backupObjectType: str = ""
    checkpoint: str | None = None
    dataBackupMode: str = ""
    dataBackupSize: float | None = None
    dataVersion: Int | None = None
    downloadEnabled: bool | None = None
    downloadTaskId: Int | None = None
    startTime: str | None = None
    endTime: str | None = None
    status: str = ""
    tenantId: str | None = None
    tenantName: str | None = None
    triggerMode: str = ""
    validity: str = ""


class BackupSetDetail(BackupSet):
    """`GET /api/v2/instances/{id}/backup/data/sets/{backupTaskId}`: a set and its tenants."""

    tenantBackupSetList: list[BackupSet] = Field(default_factory=list)


class TimeInterval(UpstreamModel):
    """A restorable window of a tenant: `startTime` to `endTime`, UTC (C6)."""

    startTime: str | None = None
    endTime: str | None = None
    storageType: str = ""


class RestorableTenant(UpstreamModel):
    """An item of `GET /api/v2/instances/{id}/backup/restore/tenants` (C6): a tenant that can
    be restored, and the windows it can be restored to (`timeIntervalList`)."""

    tenantId: str | None = None
    tenantName: str = ""
    tenantMode: str = ""
    status: str = ""
    timeIntervalList: list[TimeInterval] = Field(default_factory=list)


class RestorableTenants(RootModel[list[RestorableTenant]]):
    """`data` of the restorable-tenants route: a plain list."""
