"""Fields OceanBase Cloud sends that the exporter does not read, as subclasses of its models.

The exporter's models (exporter/sources/cloud/models.py) hold what it parses; the simulator
adds the rest of each documented example here, so that other clients see the shapes the
documents show without a second definition of the shared fields.
"""

from __future__ import annotations

from pydantic import Field

from exporter.sources.cloud.models import Instance, RestorableTenant


class FullInstance(Instance):
    """A DescribeInstances item as OceanBase Cloud documents it."""

    region: str = "ap-southeast-1"
    instanceClass: str = "8C32G"
    series: str = "NORMAL"
    createTime: str | None = None
    obRpmVersion: str = ""
    cpu: int = 8
    mem: int = 32
    state: str = "ONLINE"
    deployMode: str = "1-1-1"
    deployType: str = "multiple"
    payType: str = "POSTPAY"
    cloudProvider: str = "ALIYUN"
    managementMode: str = "DBaaS"
    instanceType: str = "cluster"
    diskType: str = "cloud_essd_pl1"
    diskSize: int = 200
    availableZones: list[str] = Field(default_factory=list)


class FullRestorableTenant(RestorableTenant):
    """An item of Cloud's restorable tenants with the fields its page documents
    (https://en.oceanbase.com/docs/common-oceanbase-cloud-10000000003355968)."""

    obVersion: str = ""
    cpuNum: int = 4
    memoryNum: int = 16  # GB
    unitNum: int = 1
    usedDisk: int = 0  # bytes
    backupSetRestoreSummaries: list[dict[str, str]] = Field(default_factory=list)
