"""Poll the instances of an OceanBase Cloud account and build their source-neutral snapshot.

Per poll: the paged instance list; per wanted instance, the data backup sets of a recent
window (paged), the detail of the latest one, whose `tenantBackupSetList` gives one set per
tenant, and the restorable tenants with their restorable windows (`timeIntervalList`), which
give each tenant's recovery point. The newest DONE set gives the last success (its end); its
checkpoint stands in as the instance's recovery point only where the restorable-tenants route
is not available (an approximation: it knows nothing of the log backup).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime, tzinfo
from typing import TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from exporter.config import CloudTarget
from exporter.logs import fields
from exporter.snapshot import (
    BackupSet,
    Cluster,
    ClusterIdentity,
    TargetData,
    TenantBackupSet,
    TenantRecovery,
)
from exporter.sources.base import PollingSource, fan_out, fill, settle, tolerate, tolerated
from exporter.sources.cloud import models as m
from exporter.sources.cloud.client import CloudClient
from exporter.sources.cloud.routes import BACKUP_SET, BACKUP_SETS, INSTANCES, RESTORABLE
from exporter.sources.errors import PollError
from exporter.sources.http import UpstreamHTTP
from exporter.sources.lists import SlowLists
from exporter.sources.values import finite, parse_time
from exporter.states import backup_set_state

log = logging.getLogger(__name__)

PAGE_SIZE = 100
MAX_PAGES = 20
# Long enough to hold a DONE set under a monthly schedule that missed a run or two; a set
# older than this is past most retention settings anyway.
SET_WINDOW_SECONDS = 35 * 86400.0
# No set starts in the future: the window reaches a day ahead only to absorb clock skew
# between us and Cloud.
CLOCK_SLACK_SECONDS = 86400.0
CLOCK_SKEW_SECONDS = 60.0  # how far ahead of our clock a window's end may be and still count
GIB = 2**30
PATH_CHARACTERS = "!$&'()*+,;=:@"  # RFC 3986 `pchar`s that quote() would encode
Item = TypeVar("Item", bound=BaseModel)


class CloudSource(PollingSource):
    """The OceanBase Cloud source of one target; it keeps only the instance list (read again
    as exporter.sources.lists says) and endpoint support (whether the restorable-tenants
    route exists: a 404 says it does not) between polls."""

    def __init__(self, target: CloudTarget, http: UpstreamHTTP) -> None:
        super().__init__()
        self._target = target
        self._client = CloudClient(http, target.url, target.project_id)
        self._zone: tzinfo = target.timezone or UTC
        self._lists: SlowLists[list[m.Instance]] = SlowLists(target.interval, target.stale_after)

    async def _poll(self, errors: list[PollError]) -> TargetData:
        now = time.time()
        instances, read_at = await self._lists.get(INSTANCES, now, self._instances)
        wanted = []
        for instance in instances:
            if not instance.instanceName:
                message = f"instance {instance.instanceId} has no name; not exported"
                errors.append(PollError("decode", INSTANCES, message))
            elif self._target.instances.matches(instance.instanceName, instance.instanceId):
                wanted.append(instance)
        found = await fan_out(
            wanted, lambda i: self._instance(i, now, errors), self._target.max_concurrency
        )
        clusters = [c for c in found if c is not None]
        facts = (("instance_list", read_at),)
        return TargetData(clusters=tuple(clusters), polled_at=now, facts_verified=facts)

    async def _instances(self) -> list[m.Instance]:
        found: dict[str, m.Instance] = {}
        # An instance created while we page can shift another onto the next page: keep one.
        for instance in await self._paged(INSTANCES, INSTANCES, m.Instance, {}):
            found.setdefault(instance.instanceId, instance)
        return list(found.values())

    async def _paged(
        self, route: str, path: str, model: type[Item], params: Mapping[str, str]
    ) -> list[Item]:
        items: list[Item] = []
        for number in range(1, MAX_PAGES + 1):
            query = {**params, "pageNumber": str(number), "pageSize": str(PAGE_SIZE)}
            page: m.PagingData[Item] = await self._client.get(
                route,
                path,
                m.PagingData[model],  # type: ignore[valid-type]
                query,
            )
            items.extend(page.dataList)
            # `hasMore` decides when given; else `total`; with neither, an empty page ends it.
            if not page.dataList or page.hasMore is False:
                break
            if page.hasMore is None and page.total is not None and len(items) >= page.total:
                break
        else:
            log.warning(
                "more pages than read; stopped",
                extra=fields(target=self._target.name, endpoint=route, pages=MAX_PAGES),
            )
        return items

    async def _instance(self, instance: m.Instance, now: float, errors: list[PollError]) -> Cluster:
        identity = ClusterIdentity(
            name=instance.instanceName,
            id=instance.instanceId,
            version=instance.version,
            cluster_type=instance.instanceRole,
        )
        segment = _segment(instance.instanceId)
        path = fill(BACKUP_SETS, id=segment)
        window = {
            "startTime": _utc(now - SET_WINDOW_SECONDS),
            "endTime": _utc(now + CLOCK_SLACK_SECONDS),
        }
        listed, windows = await asyncio.gather(
            self._paged(BACKUP_SETS, path, m.BackupSet, window),
            self._restorable(instance.instanceId, now, errors),
            return_exceptions=True,
        )
        settle((listed, windows), errors)
        recoveries = windows if isinstance(windows, tuple) else None
        if isinstance(listed, PollError):
            return Cluster(identity=identity, tenant_recoveries=recoveries or ())
        assert isinstance(listed, list)
        sets: list[m.BackupSet] = listed
        latest = max(sets, key=self._started, default=None)
        done = [s for s in sets if backup_set_state(s.status) == "DONE"]
        newest_done = max(done, key=self._ended, default=None)
        detail: m.BackupSetDetail | None = None
        if latest is not None and latest.backupSetId:
            detail_path = fill(BACKUP_SET, id=segment, backupTaskId=_segment(latest.backupSetId))
            call = self._client.get(BACKUP_SET, detail_path, m.BackupSetDetail)
            detail = await tolerated(call, errors)
        top = _merged(latest, detail) if latest is not None else None
        approximation = self._time(newest_done.checkpoint) if newest_done else None
        return Cluster(
            identity=identity,
            last_success=self._time(newest_done.endTime) if newest_done else None,
            recovery_point=approximation if recoveries is None else None,
            backup_set=self._backup_set(top) if top else None,
            tenant_backup_sets=self._tenant_sets(detail) if detail else (),
            tenant_recoveries=recoveries or (),
        )

    async def _restorable(
        self, instance_id: str, now: float, errors: list[PollError]
    ) -> tuple[TenantRecovery, ...] | None:
        """Each tenant's restorable windows; None where the route is not available."""
        if self._support.get(RESTORABLE) is False:
            return None
        path = fill(RESTORABLE, id=_segment(instance_id))
        try:
            found = await self._client.get(RESTORABLE, path, m.RestorableTenants)
        except PollError as exc:
            bare_404 = exc.reason == "http_status" and exc.message.startswith("HTTP 404")
            if bare_404 and RESTORABLE not in self._support:
                # This API has no such route: learn it once, fall back to the approximation.
                # A 404 with Cloud's error body is the API speaking (an instance deleted since
                # the list was read), and once the route has answered, a 404 is no news about
                # it: both are this instance's error.
                self._support[RESTORABLE] = False
            else:
                tolerate(exc, errors)
            return None
        self._support[RESTORABLE] = True
        recoveries: dict[str, TenantRecovery] = {}
        for tenant in found.root:
            if tenant.tenantName:
                recoveries.setdefault(tenant.tenantName, self._recovery(tenant, now))
        return tuple(recoveries.values())

    def _recovery(self, tenant: m.RestorableTenant, now: float) -> TenantRecovery:
        """The end of the last window, and where it starts (a gap moves the start)."""
        windows = []
        for interval in tenant.timeIntervalList:
            start, end = self._time(interval.startTime), self._time(interval.endTime)
            # A window ending in the future is no recovery point anyone has yet.
            if end is not None and end <= now + CLOCK_SKEW_SECONDS:
                windows.append((end, start if start is not None and start <= end else None))
        last = max(windows, key=lambda w: w[0], default=None)
        return TenantRecovery(
            tenant_name=tenant.tenantName,
            tenant_id=tenant.tenantId or "",
            recovery_point=last[0] if last else None,
            window_start=last[1] if last else None,
        )

    def _tenant_sets(self, detail: m.BackupSetDetail) -> tuple[TenantBackupSet, ...]:
        parts: dict[str, TenantBackupSet] = {}
        for tenant in detail.tenantBackupSetList:
            name = tenant.tenantName or ""
            if not name:
                log.debug("skipping a tenant backup set without a tenant name")
                continue
            # One series per tenant: should a tenant appear twice, the first one stands.
            parts.setdefault(
                name, TenantBackupSet(name, tenant.tenantId or "", self._backup_set(tenant))
            )
        return tuple(parts.values())

    def _backup_set(self, item: m.BackupSet) -> BackupSet:
        size = item.dataBackupSize
        return BackupSet(
            status=backup_set_state(item.status),
            raw_status=item.status,
            backup_set_id=item.backupSetId,
            backup_mode=item.backupMode,
            data_backup_mode=item.dataBackupMode,
            trigger_mode=item.triggerMode,
            validity=item.validity,
            # A size near float's limit times GiB overflows to infinity: unknown, not +Inf.
            size_bytes=finite(size * GIB) if size is not None and size >= 0 else None,
            checkpoint=self._time(item.checkpoint),
            start=self._time(item.startTime),
            end=self._time(item.endTime),
        )

    def _time(self, text: str | None) -> float | None:
        return parse_time(text, self._zone)

    def _started(self, item: m.BackupSet) -> tuple[float, str]:
        return self._time(item.startTime) or 0.0, item.backupSetId

    def _ended(self, item: m.BackupSet) -> tuple[float, float, str]:
        return self._time(item.endTime) or 0.0, self._time(item.startTime) or 0.0, item.backupSetId


def _merged(listed: m.BackupSet, detail: m.BackupSetDetail | None) -> m.BackupSet:
    """The detail's view of the set, with the list's values for the fields it left out."""
    if detail is None:
        return listed
    fields = detail.model_dump(exclude_unset=True, exclude={"tenantBackupSetList"})
    return listed.model_copy(update=fields)


def _segment(upstream_id: str) -> str:
    """An id from upstream as one path segment: `/`, `?`, `#` and the like encoded, so it
    cannot change the route. RFC 3986 path characters stay literal: the HTTP layer would
    decode them anyway, and the digest must cover the path as sent."""
    return quote(upstream_id, safe=PATH_CHARACTERS)


def _utc(moment: float) -> str:
    """A time as the API takes it in queries: UTC, to the second, with `Z`."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
