"""Poll the clusters an OCP server manages and build their source-neutral snapshot.

One paged list of clusters, then one backup overview per wanted cluster (concurrently, under
the target's limits). OCP reports backups per cluster, so everything lands on the cluster:
log backup checkpoint and delay, the last data backup, the backup size, the schedule and
strategy, the cluster's status, and a recovery point that is only an approximation (the log
backup checkpoint, once a data backup exists: OCP does not say whether the archive covered it).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import UTC, tzinfo

from exporter.config import OcpTarget
from exporter.snapshot import Cluster, ClusterIdentity, ClusterManagement, LogBackup, TargetData
from exporter.sources.base import PollResult, fan_out, poll_collecting_errors
from exporter.sources.errors import PollError
from exporter.sources.http import UpstreamHTTP
from exporter.sources.ocp import models as m
from exporter.sources.ocp.client import Answer, OcpClient
from exporter.sources.values import offset_of, parse_time
from exporter.states import cluster_state, schedule_state

log = logging.getLogger(__name__)

CLUSTERS = "/api/v2/ob/clusters"
OVERVIEW = "/api/v2/ob/clusters/:id/backup/overview"
PAGE_SIZE = 2000  # OCP's largest page
# 100,000 clusters: far beyond any OCP; a server that keeps announcing pages is misbehaving.
MAX_PAGES = 50
# obStorageVolumeUnit: OCP sizes storage in powers of 1024, as its UI does.
UNIT_BYTES: dict[str, int] = {
    unit: 1024**power for power, unit in enumerate(("B", "KB", "MB", "GB", "TB", "PB"))
}
STRATEGY = {"HAS_BACKUP_STRATEGY": True, "NO_BACKUP_STRATEGY": False}


class OcpSource:
    """The OCP source of one target; it keeps nothing between polls."""

    def __init__(self, target: OcpTarget, http: UpstreamHTTP) -> None:
        self._target = target
        self._client = OcpClient(http, target.url)

    def endpoint_support(self) -> Mapping[str, bool]:
        """OCP API v2 has both routes in every version we poll: nothing to learn."""
        return {}

    async def poll(self) -> PollResult:
        """Poll everything once; failures become PollErrors in the result, never exceptions."""
        return await poll_collecting_errors(self._poll)

    async def _poll(self, errors: list[PollError]) -> TargetData:
        now = time.time()
        listed = await self._clusters()
        wanted = [c for c in listed if self._target.clusters.matches(c.name, c.obClusterId)]
        found = await fan_out(
            wanted, lambda c: self._cluster(c, errors), self._target.max_concurrency
        )
        clusters: dict[tuple[str, str], Cluster] = {}
        for cluster in found:
            if cluster is None:
                continue
            key = (cluster.identity.name, cluster.identity.id)
            if key in clusters:
                # Two OCP clusters behind one identity would make duplicate series.
                errors.append(
                    PollError("decode", CLUSTERS, f"two clusters are named {key[0]!r}, id {key[1]}")
                )
                continue
            clusters[key] = cluster
        return TargetData(clusters=tuple(clusters.values()), polled_at=now)

    async def _clusters(self) -> list[m.ObCluster]:
        found: dict[int, m.ObCluster] = {}
        for page in range(1, MAX_PAGES + 1):
            params = {"page": str(page), "size": str(PAGE_SIZE)}
            answer = await self._client.get(CLUSTERS, CLUSTERS, m.Paged[m.ObCluster], params)
            # A cluster created while we page can shift another onto the next page: keep one.
            for cluster in answer.data.contents:
                found.setdefault(cluster.id, cluster)
            pages = answer.data.page.totalPages if answer.data.page else 1
            if page >= pages or not answer.data.contents:
                break
        else:
            name = self._target.name
            log.warning("target=%s: more than %d pages of clusters; stopped", name, MAX_PAGES)
        return list(found.values())

    async def _cluster(self, listed: m.ObCluster, errors: list[PollError]) -> Cluster | None:
        overview: m.ClusterBackupInfoDetail | None = None
        zone: tzinfo = self._target.timezone or UTC
        try:
            answer = await self._client.get(
                OVERVIEW, f"{CLUSTERS}/{listed.id}/backup/overview", m.ClusterBackupInfoDetail
            )
        except PollError as exc:
            if exc.reason == "auth":
                raise
            errors.append(exc)
        else:
            overview, zone = answer.data, self._zone(answer)
        identity = _identity(listed, overview)
        if identity is None:
            message = f"cluster {listed.id} has no name or obClusterId; not exported"
            errors.append(PollError("decode", CLUSTERS, message))
            return None
        if overview is None:
            raw = listed.status
            management = ClusterManagement(status=_state(raw), raw_status=raw)
            return Cluster(identity=identity, management=management)
        return _cluster(identity, overview, zone, errors)

    def _zone(self, answer: Answer[m.ClusterBackupInfoDetail]) -> tzinfo:
        """The zone for times without an offset: config, else the envelope's offset, else UTC."""
        return self._target.timezone or offset_of(answer.timestamp) or UTC


def _identity(
    listed: m.ObCluster, overview: m.ClusterBackupInfoDetail | None
) -> ClusterIdentity | None:
    """obagent's labels: OceanBase's cluster name and id, never OCP's internal `id`."""
    name = (overview.clusterName if overview else "") or listed.name
    ob_id = overview.obClusterId if overview and overview.obClusterId is not None else None
    if ob_id is None:
        ob_id = listed.obClusterId
    if not name or ob_id is None:
        return None
    return ClusterIdentity(
        name=name,
        id=str(ob_id),
        version=(overview.obVersion if overview else "") or listed.obVersion,
        cluster_type=(overview.obClusterType if overview else "") or listed.type,
    )


def _state(raw: str) -> str | None:
    return cluster_state(raw) if raw else None


def _cluster(
    identity: ClusterIdentity,
    overview: m.ClusterBackupInfoDetail,
    zone: tzinfo,
    errors: list[PollError],
) -> Cluster:
    raw_status = overview.obClusterStatus
    raw_schedule = overview.backupScheduleStatus
    try:
        size = backup_size_bytes(overview)
    except PollError as exc:
        errors.append(exc)
        size = None
    management = ClusterManagement(
        status=_state(raw_status),
        raw_status=raw_status,
        schedule_status=schedule_state(raw_schedule) if raw_schedule else None,
        raw_schedule_status=raw_schedule,
        strategy_configured=STRATEGY.get(overview.obClusterBackupStatus.strip().upper()),
        backup_size_bytes=size,
    )
    checkpoint = parse_time(overview.latestLogBackupCheckpoint, zone)
    # A negative delay is no delay OCP could have measured: unknown, not 0.
    delay = overview.logBackupDelaySeconds
    delay_seconds = delay if delay is not None and delay >= 0 else None
    log_backup = None
    if checkpoint is not None or delay_seconds is not None:
        log_backup = LogBackup(checkpoint=checkpoint, delay=delay_seconds)
    last_success = parse_time(overview.lastDataBackupTime, zone)
    return Cluster(
        identity=identity,
        management=management,
        log_backup=log_backup,
        last_success=last_success,
        # Logs restore nothing without a data backup under them.
        recovery_point=checkpoint if last_success is not None else None,
    )


def backup_size_bytes(overview: m.ClusterBackupInfoDetail) -> float | None:
    """`backupSize` in bytes; an unknown or missing unit is a decode error, never a guess."""
    if overview.backupSize is None or overview.backupSize < 0:
        return None
    unit = (overview.obStorageVolumeUnit or "").strip().upper()
    if unit not in UNIT_BYTES:
        shown = repr(overview.obStorageVolumeUnit) if overview.obStorageVolumeUnit else "missing"
        known = ", ".join(UNIT_BYTES)
        message = f"obStorageVolumeUnit {shown[:40]} is not one of {known}; size not exported"
        raise PollError("decode", OVERVIEW, f"cluster {overview.clusterName!r}: {message}")
    return overview.backupSize * UNIT_BYTES[unit]
