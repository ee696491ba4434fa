"""The obshell agents' HTTP API: routing by path prefix, auth, handlers, envelopes, faults.

Cluster 0's agent is served at the root (`/api/v1/...`) so that the SDK, which only takes a
host and port, can talk to it; every cluster i is also served under `/obshell/<i>/api/v1/...`.
A request costs a few dict lookups, an RSA decryption and the views of one cluster at the
current simulated moment.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from exporter.sources.obshell.models import (
    AgentSecret,
    ArchiveLogTask,
    Contents,
    Envelope,
    Page,
    PagedContents,
)
from simulator import faults as fault_injection
from simulator import formats, timeline
from simulator.clock import SimClock
from simulator.faults import Faults, RawResponse
from simulator.obshell import errors, versions
from simulator.obshell.auth import authenticate
from simulator.obshell.errors import ObshellError
from simulator.obshell.shapes import (
    AgentInstance,
    ConnectionString,
    FullAgentStatus,
    FullObClusterInfo,
    FullObInfo,
    FullTenantOverview,
    GoBackupJob,
    GoClusterBackupOverview,
    GoRestoreRow,
    GoTenantBackupOverview,
    ServerInfo,
)
from simulator.world import Cluster, Tenant, World

API_PREFIX = "/api/v1"
AGENT_PREFIX = "/obshell/"
JSON_CONTENT_TYPE = "application/json; charset=utf-8"
TRACE_HEADER = "X-OBSHELL-Trace-ID"
IDENTITY = "CLUSTER AGENT"
GO_MAX_INT32 = 2147483647  # obshell's default page size: everything
# encoding/json escapes these so that JSON can sit inside HTML; the paths' "&" shows as \u0026.
_GO_ESCAPES = str.maketrans({"&": "\\u0026", "<": "\\u003c", ">": "\\u003e"})

Reply = BaseModel | ObshellError


@dataclass(frozen=True)
class Call:
    """One routed request: the agent's cluster, the simulated moment, `:name`, the query."""

    cluster: Cluster
    t: float
    name: str
    query: Mapping[str, str]


@dataclass(frozen=True)
class Route:
    """A route template, its handler, whether `Verify()` guards it, and since which version."""

    template: str
    handler: Callable[[Call], Reply]
    protected: bool = True
    since: versions.Version = (0,)


class ObshellApi:
    """Serves every simulated agent of `world` from one aiohttp handler."""

    def __init__(self, world: World, clock: SimClock, faults: Faults) -> None:
        self.world = world
        self.clock = clock
        self.faults = faults

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request as the addressed agent would, with the faults in force."""
        received = time.time()
        began = time.perf_counter()
        located = self._locate(request.path)
        if located is None:
            return web.Response(status=404, text="no simulated obshell agent at this path\n")
        cluster, path = located
        route, name = _match(request.method, path, cluster.version)
        plan = self.faults.plan(route.template if route else None, cluster.index)
        if plan.latency:
            await asyncio.sleep(plan.latency)
        outcome: Reply | RawResponse
        if plan.replace is not None:
            outcome = fault_injection.replacement(plan.replace)
        else:
            outcome = await self._reply(request, cluster, route, name, int(received))
        if isinstance(outcome, RawResponse):
            status, content_type, body = outcome.status, outcome.content_type, outcome.body
        else:
            trace_id = request.headers.get(TRACE_HEADER) or secrets.token_hex(8)
            duration = int((time.perf_counter() - began) * 1000)
            status, body = render(outcome, cluster.version, self.clock.now(), trace_id, duration)
            content_type = JSON_CONTENT_TYPE
        body = fault_injection.transform(body, plan.transforms)
        return await fault_injection.deliver(request, status, content_type, body, plan.delivery)

    def _locate(self, path: str) -> tuple[Cluster, str] | None:
        clusters = self.world.clusters
        if path.startswith(AGENT_PREFIX):
            index, _, rest = path[len(AGENT_PREFIX) :].partition("/")
            if not index.isdigit() or int(index) >= len(clusters):
                return None
            return clusters[int(index)], "/" + rest
        if not clusters or API_PREFIX not in path:
            return None
        return clusters[0], path

    async def _reply(
        self, request: web.Request, cluster: Cluster, route: Route | None, name: str, received: int
    ) -> Reply:
        body = await request.read()
        protected = route is not None and route.protected
        target = request.raw_path
        rejected = authenticate(cluster, request.headers, target, body, protected, received)
        if rejected is not None:
            return rejected
        if route is None:
            return errors.unknown_route()
        return route.handler(Call(cluster, self.clock.now(), name, request.query))


def render(
    reply: Reply, version: str, now: float, trace_id: str, duration: int
) -> tuple[int, bytes]:
    """The HTTP status and JSON body obshell sends for `reply`, in `version`'s error format."""
    if isinstance(reply, ObshellError):
        status, error = reply.render(versions.has_err_codes(version))
        envelope = Envelope[Any](
            successful=False,
            timestamp=formats.go_time(now, digits=9),
            duration=duration,
            status=status,
            traceId=trace_id,
            error=error,
        )
        document = envelope.model_dump(mode="json", exclude_none=True)
        if reply.data_null:
            api_error = document.pop("error")
            document |= {"data": None, "error": api_error}
    else:
        status = 200
        envelope = Envelope[Any](
            successful=True,
            timestamp=formats.go_time(now, digits=9),
            duration=duration,
            status=status,
            traceId=trace_id,
            data=reply,
        )
        document = envelope.model_dump(mode="json", exclude_none=True)
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return status, text.translate(_GO_ESCAPES).encode()


def _match(method: str, path: str, version: str) -> tuple[Route | None, str]:
    if method != "GET":  # every simulated route is a GET; gin answers others with NoRoute
        return None, ""
    route, name = _FIXED.get(path), ""
    tenant_prefix = f"{API_PREFIX}/tenant/"
    if route is None and path.startswith(tenant_prefix):
        name, _, rest = path[len(tenant_prefix) :].partition("/")
        route = _BY_TENANT_SUFFIX.get(rest) if name else None
    if route is None or versions.parse_version(version) < route.since:
        return None, ""
    return route, name


# ----------------------------------------------------------------------------- handlers


def _info(call: Call) -> Reply:
    cluster = call.cluster
    version = cluster.version
    agent_password = versions.at_least(version, versions.AGENT_PASSWORD_SINCE)
    return FullAgentStatus(
        version=version,
        identity=IDENTITY,
        security=cluster.agent_password is not None if agent_password else None,
        isObproxyAgent=False if agent_password else None,
        supportedAuth=["v2"] if versions.lists_supported_auth(version) else None,
        pid=10_000 + cluster.index,
        startAt=int(cluster.started_at * 1e9),
        obVersion=cluster.ob_version
        if versions.at_least(version, versions.INFO_OB_VERSION_SINCE)
        else None,
        architecture="x86_64"
        if versions.at_least(version, versions.INFO_ARCHITECTURE_SINCE)
        else None,
        ip=cluster.ip,
        port=cluster.port,
    )


def _secret(call: Call) -> Reply:
    cluster = call.cluster
    return AgentSecret(ip=cluster.ip, port=cluster.port, public_key=cluster.key.public_key_b64)


def _ob_info(call: Call) -> Reply:
    cluster = call.cluster
    server = ServerInfo(svr_ip=cluster.ip, build_version=cluster.ob_version)
    return FullObInfo(
        agent_info=[
            AgentInstance(
                ip=cluster.ip,
                port=cluster.port,
                zone="zone1",
                identity=IDENTITY,
                version=cluster.version,
            )
        ],
        obcluster_info=FullObClusterInfo(
            id=cluster.cluster_id,
            name=cluster.name,
            version=cluster.ob_version,
            topology={"zone1": [server]},
            is_shared_storage=(
                False
                if versions.at_least(cluster.version, versions.SHARED_STORAGE_FLAG_SINCE)
                else None
            ),
        ),
    )


def _tenant_overview(cluster: Cluster, tenant: Tenant) -> FullTenantOverview:
    detailed = versions.at_least(cluster.version, versions.TENANT_OVERVIEW_DETAIL_SINCE)
    user = "SYS" if tenant.mode == "ORACLE" else "root"
    direct = ConnectionString(
        connection_string=f"obclient -h{cluster.ip} -P2881 -u{user}@{tenant.name} -p"
    )
    return FullTenantOverview(
        tenant_id=tenant.tenant_id,
        tenant_name=tenant.name,
        mode=tenant.mode,
        status=tenant.status,
        locked="NO",
        in_recyclebin="NO",
        created_time=formats.go_time(tenant.created_at),
        read_only=False if detailed else None,
        comment="" if versions.at_least(cluster.version, versions.TENANT_COMMENT_SINCE) else None,
        connection_strings=[direct] if detailed else None,
    )


def _tenants_overview(call: Call) -> Reply:
    cluster = call.cluster
    sys_tenant = Tenant(name="sys", tenant_id=timeline.SYS_TENANT_ID, created_at=cluster.started_at)
    tenants = [sys_tenant, *timeline.live_tenants(cluster, call.t)]
    return Contents[FullTenantOverview](
        contents=[_tenant_overview(cluster, tenant) for tenant in tenants]
    )


def _cluster_backup_overview(call: Call) -> Reply:
    tasks = [
        timeline.backup_task(tenant, call.t)
        for tenant in timeline.live_tenants(call.cluster, call.t)
    ]
    statuses = [task for task in tasks if task is not None]
    if not statuses:
        return errors.no_cluster_backup_task()
    return GoClusterBackupOverview(statuses=statuses)


def _tenant_route(handler: Callable[[Call, Tenant], Reply]) -> Callable[[Call], Reply]:
    """obshell's `checkTenantAndGetName`: sys is refused, an unknown name is a 400."""

    def checked(call: Call) -> Reply:
        if call.name == "sys":
            return errors.sys_not_allowed()
        tenant = timeline.find_tenant(call.cluster, call.name, call.t)
        if tenant is None:
            return errors.tenant_not_exist(call.name)
        return handler(call, tenant)

    return checked


def _tenant_backup_overview(call: Call, tenant: Tenant) -> Reply:
    task = timeline.backup_task(tenant, call.t)
    if task is None:
        return errors.no_tenant_backup_task()
    return GoTenantBackupOverview(status=task)


def _tenant_restore_overview(call: Call, tenant: Tenant) -> Reply:
    overview = timeline.restore_overview(call.cluster, tenant.name, call.t)
    return overview if overview is not None else errors.no_restore_task()


def _tenant_backup_info(call: Call, tenant: Tenant) -> Reply:
    return timeline.backup_info(tenant, call.t)


def _tenant_log_tasks(call: Call, tenant: Tenant) -> Reply:
    return Contents[ArchiveLogTask](contents=timeline.archive_tasks(tenant, call.t))


def _tenant_backup_tasks(call: Call, tenant: Tenant) -> Reply:
    rows = timeline.backup_jobs(tenant, call.t)
    statuses = _statuses(call.query)
    if statuses:
        rows = [row for row in rows if row.job.status in statuses]
    # `start_time` / `end_time` (RFC 3339) bound START_TIMESTAMP in the SQL (oceanbase/obshell
    # agent/service/tenant/backup.go, buildBackupJobQuery); a job without a start matches neither.
    since, until = _moment(call.query.get("start_time")), _moment(call.query.get("end_time"))
    if since is not None:
        rows = [row for row in rows if row.start is not None and row.start >= since]
    if until is not None:
        rows = [row for row in rows if row.start is not None and row.start <= until]
    sort_by, _, order = (call.query.get("sort", "start_timestamp,desc")).partition(",")
    descending = order != "asc"

    def moment(row: timeline.JobRow) -> float | None:
        return row.end if sort_by == "end_timestamp" else row.start

    # obshell's comparator puts jobs without that time (NULL) last, whichever the order.
    known = sorted(
        (row for row in rows if moment(row) is not None),
        key=lambda row: moment(row) or 0.0,
        reverse=descending,
    )
    rows = known + [row for row in rows if moment(row) is None]
    number, size = _paging(call.query)
    window = rows[(number - 1) * size : number * size]
    return PagedContents[GoBackupJob](
        contents=[row.job for row in window], page=_page(number, size, len(rows))
    )


def _restore_tasks(call: Call) -> Reply:
    tasks = timeline.restore_tasks(call.cluster, call.t)
    statuses = _statuses(call.query)
    if statuses:
        tasks = [task for task in tasks if task.status in statuses]
    number, size = _paging(call.query)
    # obshell 4.3.2-4.5.0 echoes page and size but returns every task on every page.
    return PagedContents[GoRestoreRow](contents=tasks, page=_page(number, size, len(tasks)))


def _moment(text: str | None) -> float | None:
    """An RFC 3339 query value as Unix seconds (what gin binds a time.Time from); None when
    absent. A value gin would refuse is not modelled: it is ignored here."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _statuses(query: Mapping[str, str]) -> set[str]:
    return {status for status in query.get("status", "").upper().split(",") if status}


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    def unsigned(text: str | None, default: int) -> int:
        value = int(text) if text and text.isdigit() else 0
        return value if value >= 1 else default

    return unsigned(query.get("page"), 1), unsigned(query.get("size"), GO_MAX_INT32)


def _page(number: int, size: int, total: int) -> Page:
    return Page(total_elements=total, total_pages=math.ceil(total / size), size=size, number=number)


_ROUTES = (
    Route(f"{API_PREFIX}/info", _info, protected=False),
    Route(f"{API_PREFIX}/secret", _secret, protected=False),
    Route(f"{API_PREFIX}/ob/info", _ob_info),
    Route(f"{API_PREFIX}/tenants/overview", _tenants_overview, since=versions.BACKUP_ROUTES_SINCE),
    Route(
        f"{API_PREFIX}/obcluster/backup/overview",
        _cluster_backup_overview,
        since=versions.BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/tenant/:name/backup/overview",
        _tenant_route(_tenant_backup_overview),
        since=versions.BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/tenant/:name/restore/overview",
        _tenant_route(_tenant_restore_overview),
        since=versions.BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/tenant/:name/backup/info",
        _tenant_route(_tenant_backup_info),
        since=versions.EXTENDED_BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/tenant/:name/backup/log/tasks",
        _tenant_route(_tenant_log_tasks),
        since=versions.EXTENDED_BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/tenant/:name/backup/tasks",
        _tenant_route(_tenant_backup_tasks),
        since=versions.EXTENDED_BACKUP_ROUTES_SINCE,
    ),
    Route(
        f"{API_PREFIX}/restore/tasks",
        _restore_tasks,
        since=versions.EXTENDED_BACKUP_ROUTES_SINCE,
    ),
)
_FIXED = {route.template: route for route in _ROUTES if ":name" not in route.template}
_BY_TENANT_SUFFIX = {
    route.template.split(":name/", 1)[1]: route for route in _ROUTES if ":name" in route.template
}
