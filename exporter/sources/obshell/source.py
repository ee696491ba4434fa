"""Poll one obshell-managed cluster and build its source-neutral snapshot."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import tzinfo
from typing import TypeVar

from pydantic import BaseModel

from exporter.config import ObshellTarget
from exporter.logs import fields
from exporter.snapshot import (
    BackupTask,
    Cluster,
    ClusterIdentity,
    LogBackup,
    Restore,
    TargetData,
    Tenant,
)
from exporter.sources.base import FATAL, PollingSource, fan_out, tolerate
from exporter.sources.errors import PollError
from exporter.sources.http import UpstreamHTTP
from exporter.sources.obshell import history
from exporter.sources.obshell import models as m
from exporter.sources.obshell.client import TRANSPORT_REASONS, EndpointUnsupported, ObshellClient
from exporter.sources.obshell.routes import (
    BACKUP_API,
    BACKUP_INFO,
    BACKUP_JOBS,
    CLUSTER_BACKUP,
    INFO,
    LOG_TASKS,
    OB_INFO,
    RESTORE_OVERVIEW,
    RESTORE_TASKS,
    TENANT_BACKUP,
    TENANTS,
)
from exporter.sources.values import (
    envelope_zone,
    parse_time,
    percent_ratio,
    positive,
    restore_shown,
    scn_seconds,
)
from exporter.states import (
    RESTORE_FINISHED,
    backup_task_state,
    log_backup_state,
    restore_state,
    upper_snake,
)

log = logging.getLogger(__name__)

SYS_TENANT_ID = 1
RESTORE_PAGE_SIZE = 100
# A cluster with more restore history than this many pages is paged no further: the newest
# restores come first, and older ones are past any sensible restore_history anyway.
MAX_RESTORE_PAGES = 10

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class _Round:
    status: str
    start: float | None
    checkpoint: float | None


class ObshellSource(PollingSource):
    """The obshell source of one target.

    It remembers endpoint support and, so that a steady-state poll costs the agent 4 requests
    plus 2 per tenant, the cluster's identity and each tenant's job history: read again only
    when they can have changed (see exporter.sources.obshell.history), and dropped when the
    agent behind the target changes (another node, version or process).
    """

    def __init__(self, target: ObshellTarget, http: UpstreamHTTP) -> None:
        super().__init__()
        self._target = target
        self._client = ObshellClient(http, target.urls)
        self._identity: ClusterIdentity | None = None
        self._identity_read_at = 0.0
        self._agent: tuple[object, ...] | None = None
        self._agent_version: str | None = None
        # Older agents have no restore list: remember tenants seen restoring, so a restore that
        # finished between two polls still shows its outcome.
        self._seen_restoring: dict[str, float] = {}
        self._histories: dict[tuple[str, int], history.History] = {}

    async def _poll(self, errors: list[PollError]) -> TargetData | None:
        now = time.time()
        info = await self._required(INFO, m.AgentStatus)
        if info.data is not None:
            self._notice_agent(info.data)
        if self._identity is None or now - self._identity_read_at >= history.FACT_REFRESH_SECONDS:
            try:
                ob_info = await self._required(OB_INFO, m.ObInfo)
                cluster = ob_info.data.obcluster_info if ob_info.data else None
                if cluster is not None:
                    self._identity = ClusterIdentity(
                        name=cluster.name, id=str(cluster.id), version=cluster.version
                    )
                    self._identity_read_at = now
            except PollError as exc:
                if self._identity is None:
                    raise
                # The same agent process answered /api/v1/info: the identity it gave stands
                # (labels must not flip); the failed refresh is counted.
                tolerate(exc, errors)
        identity = self._identity
        assert identity is not None

        if self._support.get(TENANTS) is False:
            return self._identity_only(identity, now)
        # The cluster backup overview needs no tenant list, and the restore list no tenant
        # data: each is asked beside what it would otherwise wait for, so that a poll is three
        # round trips (info; tenants; per tenant), not five.
        cluster_call = asyncio.ensure_future(self._cluster_backup(errors))
        restores_call: asyncio.Future[tuple[Restore, ...]] | None = None
        try:
            try:
                overview = await self._client.get(TENANTS, m.TenantOverviews)
            except EndpointUnsupported:
                return self._identity_only(identity, now)
            if overview is None:
                raise PollError("api_error", TENANTS, "obshell reported the resource as missing")
            self._support[TENANTS] = True
            listed: list[m.TenantOverview] = overview.data.contents if overview.data else []
            wanted = _once_each([t for t in listed if self._is_wanted(t)], errors)
            if len(wanted) > self._target.max_tenants:
                message = (
                    f"{len(wanted)} tenants to poll, more than max_tenants"
                    f" ({self._target.max_tenants}): filter them with tenants: or raise"
                    " max_tenants"
                )
                raise PollError("decode", TENANTS, message)
            kept = {(t.tenant_name, t.tenant_id) for t in wanted}
            self._histories = {k: v for k, v in self._histories.items() if k in kept}
            if self._target.restore.enabled:
                restores_call = asyncio.ensure_future(self._restores(wanted, now, errors))

            tasks, unknown = await self._latest_tasks(wanted, await cluster_call, errors)
            verified: list[float] = []
            tenants = await fan_out(
                wanted,
                lambda t: self._tenant(
                    t, tasks.get(t.tenant_id), t.tenant_id not in unknown, now, verified, errors
                ),
                self._target.max_concurrency,
            )
            restores = await restores_call if restores_call is not None else ()
        finally:
            _abandon(cluster_call)  # when the poll ends early (an old agent, auth, a bad list)
            if restores_call is not None:
                _abandon(restores_call)
        cluster_state = Cluster(
            identity=identity,
            tenants=tuple(t for t in tenants if t is not None),
            restores=restores,
        )
        facts = [("cluster_identity", now)]  # the agent answered: its identity stands
        if verified:
            facts.append(("job_history", min(verified)))
        return TargetData(clusters=(cluster_state,), polled_at=now, facts_verified=tuple(facts))

    def _notice_agent(self, agent: m.AgentStatus) -> None:
        """Drop what was learned from another agent: another node, version or process.

        Endpoint support belongs to the version; the identity and the job histories to the
        agent process that gave them (a re-deploy behind the same address restarts it).
        """
        if agent.version != self._agent_version:
            self._agent_version = agent.version
            self._support.clear()
        key = (agent.version, agent.identity, agent.ip, agent.port, agent.startAt, agent.pid)
        if key != self._agent:
            self._agent = key
            self._identity = None
            self._histories.clear()

    def _identity_only(self, identity: ClusterIdentity, now: float) -> TargetData:
        """An agent without backup API (before 4.2.4): the cluster is there, nothing else.

        Not an error: the target is up and says which routes it lacks. Said once per agent
        version, since support is learned again after an upgrade.
        """
        if self._support.get(TENANTS) is not False:
            log.warning(
                "obshell has no backup API (it came with obshell 4.2.4): only the cluster's"
                " identity is exported; upgrade the agent to monitor backups",
                extra=fields(
                    target=self._target.name, version=self._agent_version or "(unknown version)"
                ),
            )
        self._support.update(dict.fromkeys(BACKUP_API, False))
        return TargetData(clusters=(Cluster(identity=identity),), polled_at=now)

    def _is_wanted(self, tenant: m.TenantOverview) -> bool:
        if (
            tenant.tenant_id == SYS_TENANT_ID
            or not tenant.tenant_name
            or tenant.tenant_name == "sys"
        ):
            if tenant.tenant_id != SYS_TENANT_ID and not tenant.tenant_name:
                log.debug(
                    "skipping a tenant without a name",
                    extra=fields(target=self._target.name, tenant_id=tenant.tenant_id),
                )
            return False
        return self._target.tenants.matches(tenant.tenant_name)

    async def _required(self, route: str, model: type[M]) -> m.Envelope[M]:
        try:
            envelope = await self._client.get(route, model)
        except EndpointUnsupported:
            message = "no such route here: is the URL an obshell agent's?"
            raise PollError("http_status", route, message) from None
        if envelope is None:
            raise PollError("api_error", route, "obshell reported the resource as missing")
        return envelope

    async def _optional(
        self, route: str, call: Callable[[], Awaitable[T]], errors: list[PollError]
    ) -> T | None:
        """Call a route older agents lack; None when unsupported or failed.

        `call` makes the coroutine only when it is run, so a poll cancelled before this
        starts (a probe's deadline) leaves no coroutine behind that was never awaited.
        """
        if self._support.get(route) is False:
            return None
        try:
            result = await call()
        except EndpointUnsupported:
            if self._support.get(route):
                # This agent has the route (another tenant's call used it): a "no such route"
                # for one tenant is that tenant's problem, never the whole target's.
                errors.append(PollError("http_status", route, "no such route, for this tenant"))
            else:
                self._support[route] = False
            return None
        except PollError as exc:
            tolerate(exc, errors)
            return None
        self._support[route] = True
        return result

    async def _cluster_backup(self, errors: list[PollError]) -> dict[int, m.BackupTask] | None:
        """The latest task of every tenant in one call; None when it failed or is missing.

        Every agent with /tenants/overview has this route too (both came with 4.2.4): a "no
        such route" or "missing" answer is a failure of this poll (a proxy's 404 page, a
        restarting agent), never a reason to stop asking.
        """
        try:
            overview = await self._client.get(CLUSTER_BACKUP, m.ClusterBackupOverview)
        except EndpointUnsupported:
            message = "no such route here, although the agent lists tenants"
            errors.append(PollError("http_status", CLUSTER_BACKUP, message))
            return None
        except PollError as exc:
            tolerate(exc, errors, fatal=(*FATAL, *TRANSPORT_REASONS))
            return None
        if overview is None:
            message = "obshell reported the resource as missing"
            errors.append(PollError("api_error", CLUSTER_BACKUP, message))
            return None
        self._support[CLUSTER_BACKUP] = True
        statuses = overview.data.statuses if overview.data else []
        return {task.tenant_id: task for task in statuses}

    async def _latest_tasks(
        self,
        tenants: list[m.TenantOverview],
        cluster: dict[int, m.BackupTask] | None,
        errors: list[PollError],
    ) -> tuple[dict[int, m.BackupTask], set[int]]:
        """Latest task per tenant id, and the ids whose latest task could not be read.

        From the cluster overview (`cluster`); per-tenant calls only if it failed. The cluster
        overview runs the same query as the per-tenant one for every tenant, so it saves N
        requests; but one tenant's SQL error fails it whole, and then asking per tenant keeps
        the other tenants' data.
        """
        if cluster is not None:
            return cluster, set()
        unknown: set[int] = set()

        async def one(tenant: m.TenantOverview) -> m.BackupTask | None:
            try:
                env = await self._client.get(
                    TENANT_BACKUP, m.TenantBackupOverview, tenant=tenant.tenant_name
                )
            except EndpointUnsupported:
                # As old as /tenants/overview: unanswered here, the latest task is unknown.
                message = "no such route here, although the agent lists tenants"
                errors.append(PollError("http_status", TENANT_BACKUP, message))
                unknown.add(tenant.tenant_id)
                return None
            except PollError as exc:
                tolerate(exc, errors)
                unknown.add(tenant.tenant_id)
                return None
            return env.data.status if env and env.data else None

        found = await fan_out(tenants, one, self._target.max_concurrency)
        return {task.tenant_id: task for task in found if task is not None}, unknown

    async def _tenant(
        self,
        tenant: m.TenantOverview,
        task: m.BackupTask | None,
        task_known: bool,
        now: float,
        verified: list[float],
        errors: list[PollError],
    ) -> Tenant | None:
        name = tenant.tenant_name
        # One task beside this coroutine, not one per call as gather makes: the history
        # needs no request in a steady state, and tasks are most of a tenant's own CPU.
        info_call = asyncio.ensure_future(
            self._optional(
                BACKUP_INFO,
                lambda: self._client.get(BACKUP_INFO, m.TenantBackupInfo, tenant=name),
                errors,
            )
        )
        reused = self._reused_history(tenant, task, task_known, now)
        jobs_call = None
        if reused is None:
            jobs_call = asyncio.ensure_future(self._history(tenant, task, task_known, now, errors))
        try:
            rounds = await self._optional(
                LOG_TASKS,
                lambda: self._client.get(LOG_TASKS, m.ArchiveLogTasks, tenant=name),
                errors,
            )
            jobs = reused if jobs_call is None else await jobs_call
            info = await info_call
        finally:
            _abandon(info_call)  # when an auth failure ends the poll
            if jobs_call is not None:
                _abandon(jobs_call)
        # A checkpoint cannot be later than the moment it was read, on our clock or on the
        # agent's (its answer's timestamp): the later of the two allows for clock skew.
        answered = [parse_time(e.timestamp) for e in (info, rounds) if e is not None]
        read_at = max([time.time(), *(t for t in answered if t is not None)])
        success = jobs.success if jobs else None
        backup_task = _backup_task(task) if task else None
        history_known = self._support.get(BACKUP_JOBS, False)
        last_full_success: float | None = None
        if jobs is not None:
            verified.append(jobs.verified_at)
        if history_known:
            last_success = success.end if success else None
            last_failure = jobs.failure.end if jobs and jobs.failure else None
            last_full_success = jobs.full.end if jobs and jobs.full else None
        else:
            # Without the job history only the latest task can tell, and only about itself
            # (it does not say whether it was FULL or INC).
            last_success = (
                backup_task.end if backup_task and backup_task.status == "COMPLETED" else None
            )
            last_failure = (
                backup_task.end if backup_task and backup_task.status == "FAILED" else None
            )

        log_backup = _log_backup(
            info, rounds, read_at, self._support.get(LOG_TASKS, False), name, errors
        )
        round_ = _active_round(rounds)
        if round_ is not None and round_.checkpoint is not None and round_.checkpoint > read_at:
            round_ = replace(round_, checkpoint=None)  # counted by _log_backup already
        recovery_point = _recovery_point(success, task, round_, log_backup)
        return Tenant(
            name=name,
            tenant_id=tenant.tenant_id,
            tenant_status=tenant.status,
            backup_task=backup_task,
            last_success=last_success,
            last_failure=last_failure,
            last_full_success=last_full_success,
            log_backup=log_backup,
            recovery_point=recovery_point,
        )

    def _reused_history(
        self, tenant: m.TenantOverview, task: m.BackupTask | None, task_known: bool, now: float
    ) -> history.History | None:
        """The cached history, confirmed by this poll, when nothing says it changed."""
        key = (tenant.tenant_name, tenant.tenant_id)
        cached = self._histories.get(key)
        if not history.reusable(cached, history.task_key(task), task_known, now):
            return None
        assert cached is not None
        confirmed = self._histories[key] = replace(cached, verified_at=now)
        return confirmed

    async def _history(
        self,
        tenant: m.TenantOverview,
        task: m.BackupTask | None,
        task_known: bool,
        now: float,
        errors: list[PollError],
    ) -> history.History | None:
        """The tenant's job history facts, read again (bounded), or cached ones that stand."""
        key = (tenant.tenant_name, tenant.tenant_id)
        cached = self._histories.get(key)
        latest = history.task_key(task)
        if self._support.get(BACKUP_JOBS) is False:
            return None

        async def jobs(
            status: str, size: int, since: float | None
        ) -> tuple[list[m.BackupJob], int]:
            return await self._jobs(tenant.tenant_name, status, size, since, errors)

        created = parse_time(tenant.created_time)
        found = await self._optional(
            BACKUP_JOBS, lambda: history.read(jobs, cached, latest, created, now), errors
        )
        if self._support.get(BACKUP_JOBS) is False:
            return None
        if found is None and cached is not None:
            # Not read again: the cached facts stand while the latest task says nothing
            # changed; otherwise only while they will still be younger than stale_after when
            # the next poll can replace them (the rule of exporter.sources.lists).
            target = self._target
            if task_known and cached.task == latest:
                found = replace(cached, verified_at=now)
            elif now - cached.verified_at + target.interval <= target.stale_after:
                found = cached
        if found is None:
            self._histories.pop(key, None)
        else:
            self._histories[key] = found
        return found

    async def _jobs(
        self, tenant: str, status: str, size: int, since: float | None, errors: list[PollError]
    ) -> tuple[list[m.BackupJob], int]:
        """The newest jobs of `status` started since `since` (None: ever), newest first, and
        how many there are.

        A row obshell should never send costs only that row: it is left out, and counted as a
        decode problem when fewer rows were read than the page announced.
        """
        params = {"status": status, "sort": "start_timestamp,desc", "page": "1", "size": str(size)}
        if since is not None:
            params["start_time"] = history.start_time(since)
        env = await self._client.get(BACKUP_JOBS, m.BackupJobPage, tenant=tenant, params=params)
        if env is None or env.data is None:
            return [], 0
        jobs = env.data.contents
        problem = history.missing_rows(tenant, size, env.data.page, len(jobs))
        if problem is not None:
            errors.append(problem)
        total = env.data.page.total_elements if env.data.page else len(jobs)
        return jobs, max(total, len(jobs))

    async def _restores(
        self, tenants: list[m.TenantOverview], now: float, errors: list[PollError]
    ) -> tuple[Restore, ...]:
        listed = await self._optional(RESTORE_TASKS, self._restore_tasks, errors)
        if listed is not None:
            newest: dict[str, tuple[m.RestoreInfo, tzinfo]] = {}
            for task, tz in listed:
                name = task.restore_tenant_name
                if not name or not self._target.tenants.matches(name):
                    continue
                if name not in newest or _newer(task, newest[name][0]):
                    newest[name] = (task, tz)
            # Each running restore's row is the very CDB_OB_RESTORE_PROGRESS row that
            # /tenant/:name/restore/overview would return: asking that too brings nothing.
            candidates = list(newest.values())
        else:
            watch = {t.tenant_name for t in tenants if t.status.upper() == "RESTORE"}
            horizon = now - self._target.restore_history
            self._seen_restoring = {
                n: ts for n, ts in self._seen_restoring.items() if ts >= horizon
            }
            watch |= set(self._seen_restoring)
            found = await fan_out(
                sorted(watch),
                lambda n: self._restore_overview(n, errors),
                self._target.max_concurrency,
            )
            candidates = [f for f in found if f is not None]
            for task, _ in candidates:
                if restore_state(task.status) not in RESTORE_FINISHED:
                    self._seen_restoring[task.restore_tenant_name] = now
        restores = (_restore(task, tz) for task, tz in candidates)
        shown_for = self._target.restore_history
        return tuple(r for r in restores if restore_shown(r, now, shown_for))

    async def _restore_tasks(self) -> list[tuple[m.RestoreInfo, tzinfo]]:
        found: list[tuple[m.RestoreInfo, tzinfo]] = []
        seen: set[tuple[int, str]] = set()
        for page in range(1, MAX_RESTORE_PAGES + 1):
            params = {"page": str(page), "size": str(RESTORE_PAGE_SIZE)}
            env = await self._client.get(RESTORE_TASKS, m.RestoreTaskPage, params=params)
            if env is None or env.data is None:
                break
            tz = self._zone(env)
            # obshell answers every page with every task; keep each job once and stop when a
            # page brings nothing new.
            fresh = [t for t in env.data.contents if (t.job_id, t.restore_tenant_name) not in seen]
            seen.update((t.job_id, t.restore_tenant_name) for t in fresh)
            found.extend((task, tz) for task in fresh)
            total = env.data.page.total_elements if env.data.page else 0
            if not fresh or len(found) >= total:
                break
        return found

    async def _restore_overview(
        self, tenant: str, errors: list[PollError]
    ) -> tuple[m.RestoreInfo, tzinfo] | None:
        try:
            env = await self._client.get(RESTORE_OVERVIEW, m.RestoreOverview, tenant=tenant)
        except EndpointUnsupported:
            return None  # as old as the backup routes: before 4.2.4
        except PollError as exc:
            tolerate(exc, errors)
            return None
        if env is None or env.data is None:
            return None
        return env.data, self._zone(env)

    def _zone(self, envelope: m.Envelope[T]) -> tzinfo:
        """The zone for upstream times without offset: config, else the envelope's offset."""
        return envelope_zone(self._target.timezone, envelope.timestamp)


def _abandon(call: asyncio.Future[T]) -> None:
    """Cancel a call still running; a finished one's failure was another's to report (the
    first failure ends the poll), so it is only marked as seen."""
    if not call.done():
        call.cancel()
    elif not call.cancelled():
        call.exception()


def _once_each(tenants: list[m.TenantOverview], errors: list[PollError]) -> list[m.TenantOverview]:
    """One row per tenant name: a second row would make duplicate series (and the per-tenant
    routes, asked by name, could not tell the two apart). The first row is kept."""
    kept: dict[str, m.TenantOverview] = {}
    for tenant in tenants:
        if tenant.tenant_name in kept:
            message = f"tenant {tenant.tenant_name!r} is listed twice; the first row is used"
            errors.append(PollError("decode", TENANTS, message))
            continue
        kept[tenant.tenant_name] = tenant
    return list(kept.values())


def _newer(a: m.RestoreInfo, b: m.RestoreInfo) -> bool:
    return (parse_time(a.start_timestamp) or 0.0, a.job_id) > (
        parse_time(b.start_timestamp) or 0.0,
        b.job_id,
    )


def _backup_task(task: m.BackupTask) -> BackupTask:
    return BackupTask(
        status=backup_task_state(task.status),
        raw_status=task.status,
        backup_set_id=task.backup_set_id,
        task_id=task.task_id,
        job_id=task.job_id,
        incarnation=task.incarnation,
        encryption_mode=upper_snake(task.encryption_mode),
        path=task.path,
        comment=task.comment,
        output_rate_bytes=task.output_rate_bytes,
        input_bytes=task.input_bytes,
        output_bytes=task.output_bytes,
        extra_meta_bytes=task.extra_meta_bytes,
        tablets=task.tablet_count,
        finished_tablets=task.finish_tablet_count,
        macro_blocks=task.macro_block_count,
        finished_macro_blocks=task.finish_macro_block_count,
        files=task.file_count,
        result_code=task.result,
        start=parse_time(task.start_timestamp),
        end=parse_time(task.end_timestamp),
        start_scn=scn_seconds(task.start_scn or 0),
        end_scn=scn_seconds(task.end_scn or 0),
    )


def _active_round(rounds: m.Envelope[m.Contents[m.ArchiveLogTask]] | None) -> _Round | None:
    if rounds is None or rounds.data is None or not rounds.data.contents:
        return None
    latest = max(rounds.data.contents, key=lambda r: r.round_id)
    return _Round(
        status=latest.status,
        start=parse_time(latest.start_time),
        checkpoint=parse_time(latest.checkpoint),
    )


def _log_backup(
    info: m.Envelope[m.TenantBackupInfo] | None,
    rounds: m.Envelope[m.Contents[m.ArchiveLogTask]] | None,
    now: float,
    rounds_known: bool,
    tenant: str,
    errors: list[PollError],
) -> LogBackup | None:
    """Checkpoint, delay and round state of a tenant's log archive.

    obshell lists only rounds that are BEGINNING, DOING, STOPPING, PREPARE or SUSPEND; an
    INTERRUPTED, STOP or SUSPENDING round leaves the list empty while /backup/info still
    gives its checkpoint: that is NOT_RUNNING, with the delay still growing.
    """
    checkpoint = (
        parse_time(info.data.lastest_archive_log_checkpoint) if info and info.data else None
    )
    delay = info.data.archive_log_delay if info and info.data else None
    round_ = _active_round(rounds)
    if checkpoint is None and round_ is not None:
        checkpoint = round_.checkpoint
    archived = checkpoint is not None or delay is not None
    if (checkpoint is not None and checkpoint > now) or (delay is not None and delay < 0):
        # A checkpoint in the future measures nothing: never a reassuring delay of 0.
        message = (
            f"tenant {tenant!r}: the archive checkpoint is in the future of both this"
            " exporter's and the agent's clock; checkpoint and delay not exported"
        )
        errors.append(PollError("decode", BACKUP_INFO if info else LOG_TASKS, message))
        checkpoint = delay = None
    elif delay is None and checkpoint is not None:
        # obshell omits a delay of exactly 0, and computes it as now - checkpoint otherwise.
        delay = now - checkpoint
    status: str | None = None
    raw = ""
    if round_ is not None:
        status, raw = log_backup_state(round_.status), round_.status
    elif rounds_known and archived:
        status = "NOT_RUNNING"
    if checkpoint is None and delay is None and status is None:
        return None
    return LogBackup(checkpoint=checkpoint, delay=delay, status=status, raw_status=raw)


def _recovery_point(
    success: history.Job | None,
    task: m.BackupTask | None,
    round_: _Round | None,
    log_backup: LogBackup | None,
) -> float | None:
    """The newest time the tenant can provably be restored to, or None.

    The archive checkpoint counts only when the round that produced it covered the whole of
    the latest successful backup (started before it, passed its end): then data plus logs
    reach the checkpoint. Otherwise a backup taken with its own logs reaches its end SCN.
    """
    if success is None or success.start is None or success.end is None:
        return None
    checkpoint = round_.checkpoint if round_ and round_.checkpoint else None
    if checkpoint is None and log_backup is not None and round_ is not None:
        checkpoint = log_backup.checkpoint
    covered = (
        round_ is not None
        and round_.start is not None
        and checkpoint is not None
        and round_.start <= success.start
        and checkpoint >= success.end
    )
    if covered:
        return checkpoint
    own_logs = (
        success.plus_archivelog
        and task is not None
        and success.job_id is not None
        and task.job_id == success.job_id
        and backup_task_state(task.status) == "COMPLETED"
    )
    if own_logs and task is not None:
        return scn_seconds(task.end_scn or 0)
    return None


def _restore(task: m.RestoreInfo, tz: tzinfo) -> Restore:
    status = restore_state(task.status)
    finished = status in RESTORE_FINISHED
    return Restore(
        tenant_name=task.restore_tenant_name,
        status=status,
        raw_status=task.status,
        job_id=task.job_id,
        restore_tenant_id=task.restore_tenant_id,
        backup_tenant_name=task.backup_tenant_name,
        backup_cluster_name=task.backup_cluster_name,
        comment=task.comment,
        restore_progress=percent_ratio(task.restore_progress),
        recover_progress=percent_ratio(task.recover_progress),
        tablets=task.tablet_count if task.tablet_count > 0 else None,
        finished_tablets=task.finish_tablet_count if task.tablet_count > 0 else None,
        total_bytes=positive(task.total_bytes),
        finished_bytes=task.finish_bytes if task.total_bytes > 0 else None,
        log_streams=positive(task.ls_count) if finished else None,
        finished_log_streams=task.finish_ls_count if finished and task.ls_count > 0 else None,
        start=parse_time(task.start_timestamp, tz),
        finish=parse_time(task.finish_timestamp, tz) if finished else None,
        restore_scn=scn_seconds(task.restore_scn),
        recover_scn=None if finished else scn_seconds(task.recover_scn),
    )
