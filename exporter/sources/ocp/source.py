"""Poll the clusters an OCP server manages and build their source-neutral snapshot.

One paged list of clusters, then per wanted cluster (concurrently, under the target's limits)
its backup overview and its tenants with their newest tasks (tenants.py). The overview lands
on the cluster: log backup checkpoint and delay, the most recent data backup (not said to
have succeeded), the backup size, the schedule and strategy, the cluster's status. Success,
failure, archive state, restores and the recovery point are per tenant, from the task routes;
the cluster keeps the overview's approximate recovery point (the log backup checkpoint, once
a data backup exists) only when its tenant list could not be read.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, tzinfo

from exporter.config import OcpTarget
from exporter.snapshot import (
    Cluster,
    ClusterIdentity,
    ClusterManagement,
    LogBackup,
    TargetData,
    Tenant,
)
from exporter.sources.base import PollingSource, fan_out, fill, settle
from exporter.sources.errors import PollError
from exporter.sources.http import UpstreamHTTP
from exporter.sources.lists import SlowLists
from exporter.sources.ocp import models as m
from exporter.sources.ocp.client import Answer, OcpClient
from exporter.sources.ocp.routes import CLUSTERS, OVERVIEW
from exporter.sources.ocp.sizes import storage_bytes
from exporter.sources.ocp.tenants import TenantReader, TenantState
from exporter.sources.values import envelope_zone, parse_time
from exporter.states import cluster_state, schedule_state

# 100,000 clusters: far beyond any OCP; a server that keeps announcing pages is misbehaving.
MAX_PAGES = 50
STRATEGY = {"HAS_BACKUP_STRATEGY": True, "NO_BACKUP_STRATEGY": False}


class OcpSource(PollingSource):
    """The OCP source of one target; between polls it keeps only its slow lists (read again
    as exporter.sources.lists says). OCP API v2 has every route in every version we poll:
    no endpoint support to learn."""

    def __init__(self, target: OcpTarget, http: UpstreamHTTP) -> None:
        super().__init__()
        self._target = target
        self._client = OcpClient(http, target.url, target.name)
        self._tenants = TenantReader(self._client, target)
        self._cluster_lists: SlowLists[list[m.ObCluster]] = SlowLists(
            target.interval, target.stale_after
        )

    async def _poll(self, errors: list[PollError]) -> TargetData:
        now = time.time()
        listed, read_at = await self._cluster_lists.get(CLUSTERS, now, self._clusters)
        wanted = [c for c in listed if self._target.clusters.matches(c.name, c.obClusterId)]
        found = await fan_out(
            wanted, lambda c: self._cluster(c, now, errors), self._target.max_concurrency
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
        self._tenants.keep_only(c.id for c in wanted)
        facts = [("cluster_list", read_at)]
        oldest_tenants = self._tenants.oldest_list()
        if oldest_tenants is not None:
            facts.append(("tenant_list", oldest_tenants))
        return TargetData(
            clusters=tuple(clusters.values()), polled_at=now, facts_verified=tuple(facts)
        )

    async def _clusters(self) -> list[m.ObCluster]:
        found: dict[int, m.ObCluster] = {}
        listed = await self._client.pages(CLUSTERS, CLUSTERS, m.ObCluster, {}, MAX_PAGES)
        # A cluster created while we page can shift another onto the next page: keep one.
        for cluster, _ in listed:
            found.setdefault(cluster.id, cluster)
        return list(found.values())

    async def _cluster(
        self, listed: m.ObCluster, now: float, errors: list[PollError]
    ) -> Cluster | None:
        overview: m.ClusterBackupInfoDetail | None = None
        zone: tzinfo = self._target.timezone or UTC
        path = fill(OVERVIEW, id=str(listed.id))
        fetched, tenants = await asyncio.gather(
            self._client.get(OVERVIEW, path, m.ClusterBackupInfoDetail),
            self._tenants.tenants(listed.id, now, errors),
            return_exceptions=True,
        )
        settle((fetched, tenants), errors)
        if isinstance(fetched, Answer):
            overview, zone = fetched.data, self._zone(fetched)
        states = tenants if isinstance(tenants, list) else None
        identity = _identity(listed, overview)
        if identity is None:
            message = f"cluster {listed.id} has no name or obClusterId; not exported"
            errors.append(PollError("decode", CLUSTERS, message))
            return None
        if overview is None:
            raw = listed.status
            management = ClusterManagement(status=_state(raw), raw_status=raw)
            cluster = Cluster(identity=identity, management=management)
        else:
            cluster = _cluster(identity, overview, zone, errors)
        return _with_tenants(cluster, states)

    def _zone(self, answer: Answer[m.ClusterBackupInfoDetail]) -> tzinfo:
        """The zone for times without an offset: config, else the envelope's offset, else UTC."""
        return envelope_zone(self._target.timezone, answer.timestamp)


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
        owner = f"cluster {overview.clusterName!r}"
        size = storage_bytes(overview.backupSize, overview.obStorageVolumeUnit, OVERVIEW, owner)
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
    last_backup = parse_time(overview.lastDataBackupTime, zone)
    return Cluster(
        identity=identity,
        management=replace(management, last_data_backup=last_backup),
        log_backup=log_backup,
        # Logs restore nothing without a data backup under them.
        recovery_point=checkpoint if last_backup is not None else None,
    )


def _with_tenants(cluster: Cluster, states: list[TenantState] | None) -> Cluster:
    """The cluster with its tenants.

    Its approximate recovery point goes when the tenants could be read, and its log backup
    checkpoint (the slowest tenant's) when they carry their own: one stalled archive pages
    once, for its tenant, not once more for the cluster.
    """
    if states is None:
        return cluster
    per_tenant = any(
        s.tenant.log_backup is not None and s.tenant.log_backup.checkpoint is not None
        for s in states
    )
    tenants: dict[str, Tenant] = {}
    for state in states:
        tenants.setdefault(state.tenant.name, state.tenant)  # one series set per name
    restores = {s.restore.tenant_name: s.restore for s in states if s.restore is not None}
    return replace(
        cluster,
        tenants=tuple(tenants.values()),
        restores=tuple(restores.values()),
        recovery_point=None,
        log_backup=None if per_tenant else cluster.log_backup,
    )
