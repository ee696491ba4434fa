"""One OCP cluster's tenants and their newest backup, log backup and restore tasks.

Per cluster: the tenant list (paged like the cluster list); per user tenant, three task routes
(OCP's "View data backup tasks", "View log backup tasks" and "View restore tasks" of a tenant:
en.oceanbase.com/docs/common-ocp-10000000001626257, -258 and -259). The routes document a
time window (`startTime`/`endTime`, UTC `...Z`) but no paging and no order, so the exporter
asks for one page of OCP's largest size inside a window, reads on only while OCP says there
are more pages (a server that pages: the newest task can be on any page when no order is
documented), and picks the newest task itself. One list per kind gives the newest task, the
newest DONE and the newest FAILED at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TypeVar

from pydantic import BaseModel

from exporter.config import OcpTarget
from exporter.snapshot import BackupTask, LogBackup, Restore, Tenant
from exporter.sources.base import fan_out, fill, tolerate, tolerated
from exporter.sources.errors import PollError
from exporter.sources.lists import SlowLists
from exporter.sources.ocp import models as m
from exporter.sources.ocp.client import OcpClient
from exporter.sources.ocp.routes import DATA_TASKS, LOG_TASKS, RESTORE_TASKS, TENANTS
from exporter.sources.ocp.sizes import storage_bytes
from exporter.sources.values import envelope_zone, parse_time, restore_shown
from exporter.states import (
    RESTORE_FINISHED,
    ocp_data_task_state,
    ocp_log_task_state,
    restore_state,
)

MAX_TENANT_PAGES = 10
MAX_TASK_PAGES = 5
# Long enough to hold a DONE backup under a weekly schedule that missed a few runs; a tenant
# without one in this window shows no last success, which the no-backup alert reports.
DATA_WINDOW_SECONDS = 35 * 86400.0
# A restore runs hours, not weeks: finished ones are kept for restore_history after this.
RESTORE_RUN_SECONDS = 7 * 86400.0
CLOCK_SLACK_SECONDS = 86400.0  # the window reaches ahead only to absorb clock skew
CLOCK_SKEW_SECONDS = 60.0  # how far ahead of our clock a log checkpoint may be and still count
SYS_TENANT_ID = 1
Item = TypeVar("Item", bound=BaseModel)


@dataclass(frozen=True)
class TenantState:
    """What the task routes said of one tenant, and its restore (if one is recent)."""

    tenant: Tenant
    restore: Restore | None


class TenantReader:
    """Reads the tenants of the clusters of one OCP target."""

    def __init__(self, client: OcpClient, target: OcpTarget) -> None:
        self._client = client
        self._target = target
        # Each cluster's tenant list changes slowly: read again as exporter.sources.lists says.
        self._lists: SlowLists[list[tuple[m.ObTenant, tzinfo]]] = SlowLists(
            target.interval, target.stale_after
        )
        self._read_at: dict[int, float] = {}

    def keep_only(self, ocp_cluster_ids: Iterable[int]) -> None:
        """Forget the tenant lists of clusters no longer polled."""
        ids = set(ocp_cluster_ids)
        self._lists.keep_only(ids)
        self._read_at = {k: v for k, v in self._read_at.items() if k in ids}

    def oldest_list(self) -> float | None:
        """When the oldest tenant list in use was read; None without any."""
        return min(self._read_at.values(), default=None)

    async def tenants(
        self, ocp_cluster_id: int, now: float, errors: list[PollError]
    ) -> list[TenantState] | None:
        """Every user tenant of the cluster with its tasks; None when the list failed."""
        cluster = str(ocp_cluster_id)
        path = fill(TENANTS, id=cluster)
        try:
            listed, self._read_at[ocp_cluster_id] = await self._lists.get(
                ocp_cluster_id,
                now,
                lambda: self._pages(TENANTS, path, m.ObTenant, {}, MAX_TENANT_PAGES),
            )
        except PollError as exc:
            self._read_at.pop(ocp_cluster_id, None)
            tolerate(exc, errors)
            return None
        users: dict[int, m.ObTenant] = {}
        for item, _ in listed:
            if item.name == "sys" or item.obTenantId == SYS_TENANT_ID:
                continue
            if not item.name or item.obTenantId is None:
                message = f"tenant {item.id} has no name or obTenantId; not exported"
                errors.append(PollError("decode", TENANTS, message))
                continue
            users.setdefault(item.id, item)  # a tenant shifted onto the next page: keep one
        return await fan_out(
            list(users.values()),
            lambda t: self._tenant(cluster, t, now, errors),
            # Tenants polled at once: not one task each up front.
            self._target.max_concurrency,
        )

    async def _tenant(
        self, cluster: str, item: m.ObTenant, now: float, errors: list[PollError]
    ) -> TenantState:
        data_window = _window(now - DATA_WINDOW_SECONDS, now)
        restore_window = _window(now - RESTORE_RUN_SECONDS - self._target.restore_history, now)
        ids = {"id": cluster, "tenantId": str(item.id)}
        data, logs, restores = await asyncio.gather(
            self._optional(DATA_TASKS, ids, m.DataBackupTask, data_window, errors),
            self._optional(LOG_TASKS, ids, m.LogBackupTask, {}, errors),
            self._optional(RESTORE_TASKS, ids, m.RestoreTask, restore_window, errors),
        )
        assert item.obTenantId is not None  # checked by the caller
        backups = _data_state(data, item.name, errors)
        log_backup = _log_backup(logs, now, item.name, errors)
        tenant = Tenant(
            name=item.name,
            tenant_id=item.obTenantId,
            tenant_status=item.status,
            backup_task=backups.task,
            last_success=backups.last_success,
            last_failure=backups.last_failure,
            log_backup=log_backup,
            recovery_point=_recovery_point(backups.last_success, log_backup),
        )
        restore = _restore(restores, item.name)
        if restore is not None and not restore_shown(restore, now, self._target.restore_history):
            restore = None
        return TenantState(tenant=tenant, restore=restore)

    async def _optional(
        self,
        route: str,
        ids: dict[str, str],
        model: type[Item],
        params: dict[str, str],
        errors: list[PollError],
    ) -> list[tuple[Item, tzinfo]]:
        """A task list; a tolerated failure is recorded and reads as no tasks known."""
        call = self._pages(route, fill(route, **ids), model, params, MAX_TASK_PAGES)
        return await tolerated(call, errors) or []

    async def _pages(
        self,
        route: str,
        path: str,
        model: type[Item],
        params: dict[str, str],
        max_pages: int,
    ) -> list[tuple[Item, tzinfo]]:
        """Every item of a list with its zone."""
        listed = await self._client.pages(route, path, model, params, max_pages)
        return [(item, envelope_zone(self._target.timezone, stamp)) for item, stamp in listed]


def _window(start: float, now: float) -> dict[str, str]:
    return {"startTime": _utc(start), "endTime": _utc(now + CLOCK_SLACK_SECONDS)}


def _utc(moment: float) -> str:
    """A time as the tenant task routes take it: UTC `YYYY-MM-DDThh:mm:ssZ`."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _started(task: m.DataBackupTask | m.RestoreTask, zone: tzinfo) -> tuple[float, int]:
    return parse_time(task.startTime, zone) or 0.0, task.id or 0


def _ended(task: m.DataBackupTask, zone: tzinfo) -> tuple[float, float, int]:
    start, task_id = _started(task, zone)
    return parse_time(task.endTime, zone) or 0.0, start, task_id


@dataclass(frozen=True)
class _DataState:
    """What the data backup tasks say: the newest task, the newest success and failure."""

    task: BackupTask | None = None
    last_success: float | None = None
    last_failure: float | None = None


def _data_state(
    tasks: Sequence[tuple[m.DataBackupTask, tzinfo]], tenant: str, errors: list[PollError]
) -> _DataState:
    if not tasks:
        return _DataState()
    latest, zone = max(tasks, key=lambda pair: _started(*pair))
    done = [pair for pair in tasks if ocp_data_task_state(pair[0].status) == "COMPLETED"]
    failed = [pair for pair in tasks if ocp_data_task_state(pair[0].status) == "FAILED"]
    return _DataState(
        task=_backup_task(latest, zone, tenant, errors),
        last_success=_end(max(done, key=lambda pair: _ended(*pair), default=None)),
        last_failure=_end(max(failed, key=lambda pair: _ended(*pair), default=None)),
    )


def _end(pair: tuple[m.DataBackupTask, tzinfo] | None) -> float | None:
    return parse_time(pair[0].endTime, pair[1]) if pair else None


def _backup_task(
    task: m.DataBackupTask, zone: tzinfo, tenant: str, errors: list[PollError]
) -> BackupTask:
    state = ocp_data_task_state(task.status)
    end = parse_time(task.endTime, zone)
    return BackupTask(
        status=state,
        raw_status=task.status,
        backup_set_id=task.backupSetId,
        task_id=task.id,
        comment=task.errorMessage or "",
        output_bytes=_size_bytes(task, tenant, errors),
        start=parse_time(task.startTime, zone),
        # A running task has no end, whatever a field says.
        end=end if state not in ("DOING", "INIT") else None,
    )


def _size_bytes(task: m.DataBackupTask, tenant: str, errors: list[PollError]) -> int | None:
    """`backupSize` in `obStorageVolumeUnit`, as bytes; a unit we cannot map is unknown."""
    try:
        size = storage_bytes(
            task.backupSize, task.obStorageVolumeUnit, DATA_TASKS, f"tenant {tenant!r}"
        )
    except PollError as exc:
        errors.append(exc)
        return None
    return int(size) if size is not None and size < 2**63 else None


def _log_backup(
    tasks: Sequence[tuple[m.LogBackupTask, tzinfo]],
    now: float,
    tenant: str,
    errors: list[PollError],
) -> LogBackup | None:
    """The newest log backup task (by creation, then id): its state, checkpoint and delay."""
    if not tasks:
        return None
    latest, zone = max(
        tasks, key=lambda pair: (parse_time(pair[0].createTime, pair[1]) or 0.0, pair[0].id or 0)
    )
    checkpoint = parse_time(latest.checkpoint, zone)
    delay = latest.delaySeconds
    if checkpoint is not None and checkpoint > now + CLOCK_SKEW_SECONDS:
        # A checkpoint in the future measures nothing (and would make a future recovery
        # point): neither it nor a delay measured from it is exported.
        message = (
            f"tenant {tenant!r}: the log backup checkpoint is in the future;"
            " checkpoint and delay not exported"
        )
        errors.append(PollError("decode", LOG_TASKS, message))
        checkpoint = delay = None
    return LogBackup(
        checkpoint=checkpoint,
        delay=delay if delay is not None and delay >= 0 else None,
        status=ocp_log_task_state(latest.status),
        raw_status=latest.status,
    )


def _recovery_point(last_success: float | None, log_backup: LogBackup | None) -> float | None:
    """The later of the newest DONE backup's end and the archive checkpoint.

    Logs restore nothing without a data backup under them, so no DONE backup: unknown.
    """
    if last_success is None:
        return None
    checkpoint = log_backup.checkpoint if log_backup is not None else None
    return max(last_success, checkpoint) if checkpoint is not None else last_success


def _restore(tasks: Sequence[tuple[m.RestoreTask, tzinfo]], tenant: str) -> Restore | None:
    """The newest restore task listed under the tenant."""
    if not tasks:
        return None
    task, zone = max(tasks, key=lambda pair: _started(*pair))
    state = restore_state(task.status)
    finish = parse_time(task.endTime, zone)
    return Restore(
        tenant_name=tenant,
        status=state,
        raw_status=task.status,
        job_id=task.ocpJobId if task.ocpJobId else task.id,
        backup_tenant_name=task.backupTenantName or "",
        backup_cluster_name=task.backupClusterName or "",
        comment=task.errorMessage or "",
        start=parse_time(task.startTime, zone),
        finish=finish if state in RESTORE_FINISHED else None,
    )
