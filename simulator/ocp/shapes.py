"""Fields OCP sends that the exporter does not read, as subclasses of the exporter's models.

The exporter's models (exporter/sources/ocp/models.py) hold what it parses; the simulator adds
the rest of each documented example here, so that other clients see the shapes the documents
show without a second definition of the shared fields.
"""

from __future__ import annotations

from pydantic import Field

from exporter.sources.ocp.models import ClusterBackupInfoDetail, ObCluster, UpstreamModel


class DataBackupSupportAbility(UpstreamModel):
    """`obBackupAbility.obDataBackupSupportAbility` of the OCP overview."""

    canDoIncrementalBackup: bool = True
    fullBackupEnabled: bool = True
    incrementBackupEnabled: bool = True


class BackupAbility(UpstreamModel):
    """`obBackupAbility` of the OCP overview."""

    backupAbility: str = "PHYSICAL_BACKUP"
    backupMode: str = "PHYSICAL_BACKUP"
    obDataBackupSupportAbility: DataBackupSupportAbility = Field(
        default_factory=DataBackupSupportAbility
    )


class FullClusterBackupInfoDetail(ClusterBackupInfoDetail):
    """The whole `ClusterBackupInfoDetail` of the OCP documents' example."""

    logBackupDelaySeconds: int | None = None  # a Long, as OCP writes it
    compactionStatus: str = "IDLE"
    primaryAndStandbyMode: bool = False
    obBackupAbility: BackupAbility = Field(default_factory=BackupAbility)


class FullObCluster(ObCluster):
    """An OCP cluster list item with its zones and architecture."""

    zones: list[str] = Field(default_factory=list)
    architecture: str = "X86_64"
    createTime: str | None = None
