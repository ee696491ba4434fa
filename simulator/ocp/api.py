"""OCP's HTTP API (v2) over the simulated world: auth, paging, envelopes, errors, faults.

Served on the simulator's port beside the obshell agents (OCP's paths are `/api/v2/ob/...` and
`/api/v2/time`, which no agent has). What OCP does that a client must cope with is done here:
HTTP basic or the AccessKey signature, checked for real; 401 / 403 as JSON with no
`WWW-Authenticate`; keys sorted and null fields left out (OCP's Jackson settings); a `Long`
beyond 2^53 - 1 written as a string; `+0800` in data times and `+08:00` in the envelope.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from exporter.sources.ocp.models import ApiError, Envelope, Paged, PageInfo
from exporter.sources.values import parse_time
from simulator import faults as fault_injection
from simulator import formats
from simulator.clock import SimClock
from simulator.faults import Fault, Faults, RawResponse
from simulator.ocp import views
from simulator.ocp.auth import OcpAccount, RequestParts, authenticate
from simulator.query import positive_or
from simulator.world import Cluster, Tenant, World

# Spelled here again on purpose, from OCP's documents: the simulator checks the exporter's
# spelling (exporter/sources/ocp/routes.py) instead of sharing it.
CLUSTERS = "/api/v2/ob/clusters"
OVERVIEW = "/api/v2/ob/clusters/:id/backup/overview"
TENANTS = "/api/v2/ob/clusters/:id/tenants"
TASK_ROUTES = {
    kind: f"/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task/{kind}"
    for kind in ("dataBackupTasks", "logBackupTasks", "restoreTasks")
}
TIME = "/api/v2/time"
JSON_CONTENT_TYPE = "application/json;charset=UTF-8"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 2000
JS_MAX_SAFE_INTEGER = 2**53 - 1
NOT_LOGGED_IN = 30000
FORBIDDEN = 30014
NOT_FOUND = 10004  # OCP's catalogue for these is not public: any code serves a client
INTERNAL = 10000
SERVER_NAME = "a83ad33525"


@dataclass(frozen=True)
class OcpError:
    """An OCP failure: HTTP status, `error.code`, `error.message`, `error.debugMessage`."""

    status: int
    code: int
    message: str
    debug: str | None = None


def not_logged_in(debug: str) -> OcpError:
    """A request without valid credentials (basic or signature)."""
    return OcpError(
        401,
        NOT_LOGGED_IN,
        "The current user has not logged on or a logon error has occurred."
        " Please log on and try again.",
        debug,
    )


def forbidden() -> OcpError:
    """A user without the read-only permission on cluster backup and recovery."""
    return OcpError(
        403,
        FORBIDDEN,
        "You are not authorized to perform the corresponding operation. Contact the administrator.",
    )


def not_found(what: str) -> OcpError:
    """No such route, or no such cluster."""
    return OcpError(404, NOT_FOUND, f"Resource not found: {what}")


def internal_error() -> OcpError:
    """An unexpected server error."""
    return OcpError(500, INTERNAL, "Internal server error.")


Reply = BaseModel | str | OcpError


@dataclass(frozen=True)
class Call:
    """One routed request: the simulated moment, the addressed cluster, the query."""

    t: float
    cluster: Cluster | None
    query: Mapping[str, str]
    ocp_tenant_id: int | None = None


class OcpApi:
    """One simulated OCP server managing every cluster of `world`.

    `account` holds the credentials it accepts; `max_page_size` caps `size` (2000 in OCP;
    lower it to see paging with a handful of clusters). The tenant list is paged; the tenant
    task lists are `{contents}` only (their pages document no paging), unless `paged_tasks`.
    """

    def __init__(self, world: World, clock: SimClock, faults: Faults, account: OcpAccount) -> None:
        self.world = world
        self.clock = clock
        self.faults = faults
        self.account = account
        self.max_page_size = MAX_PAGE_SIZE
        self.paged_tasks = False

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request as OCP would, with the faults in force."""
        began = time.perf_counter()
        route, handler, cluster, tenant_id = self._match(request.method, request.path)
        plan = self.faults.plan(route, cluster.index if cluster else None)
        if plan.latency:
            await asyncio.sleep(plan.latency)
        outcome: Reply | RawResponse
        if plan.replace is not None:
            outcome = _replacement(plan.replace)
        else:
            outcome = await self._reply(request, route, handler, cluster, tenant_id)
        if isinstance(outcome, RawResponse):
            status, content_type, body = outcome.status, outcome.content_type, outcome.body
        else:
            duration = int((time.perf_counter() - began) * 1000)
            status, body = render(outcome, self.clock.now(), duration)
            content_type = JSON_CONTENT_TYPE
        body = fault_injection.transform(body, plan.transforms)
        return await fault_injection.deliver(request, status, content_type, body, plan.delivery)

    def _match(
        self, method: str, path: str
    ) -> tuple[str | None, Callable[[Call], Reply] | None, Cluster | None, int | None]:
        if method != "GET":
            return None, None, None, None
        if path == TIME:
            return TIME, _time, None, None
        if path in (CLUSTERS, CLUSTERS + "/"):
            return CLUSTERS, self._clusters, None, None
        parts = path[len(CLUSTERS) + 1 :].split("/") if path.startswith(CLUSTERS + "/") else []
        found = next(
            (c for c in self.world.clusters if parts and str(views.ocp_cluster_id(c)) == parts[0]),
            None,
        )
        if parts[1:] == ["backup", "overview"]:
            return OVERVIEW, _overview, found, None
        if parts[1:] == ["tenants"]:
            return TENANTS, self._tenants, found, None
        if len(parts) == 6 and parts[1] == "tenants" and parts[3:5] == ["backup", "task"]:
            handler = {
                "dataBackupTasks": self._data_tasks,
                "logBackupTasks": self._log_tasks,
                "restoreTasks": self._restore_tasks,
            }.get(parts[5])
            if handler is not None and parts[2].isdigit():
                return TASK_ROUTES[parts[5]], handler, found, int(parts[2])
        return None, None, None, None

    async def _reply(
        self,
        request: web.Request,
        route: str | None,
        handler: Callable[[Call], Reply] | None,
        cluster: Cluster | None,
        tenant_id: int | None = None,
    ) -> Reply:
        body = await request.read()
        if route != TIME:  # the one route OCP serves without credentials
            parts = RequestParts(
                method=request.method,
                path=request.raw_path.split("?", 1)[0],
                query=list(request.query.items()),
                headers=request.headers,
                body=body,
            )
            problem = authenticate(self.account, parts, time.time())
            if problem is not None:
                return not_logged_in(problem)
            if not self.account.permitted:
                return forbidden()
        if handler is None:
            return not_found(request.path)
        if route not in (TIME, CLUSTERS) and cluster is None:
            return not_found("cluster")
        return handler(Call(self.clock.now(), cluster, request.query, tenant_id))

    def _clusters(self, call: Call) -> Reply:
        clusters = [views.ocp_cluster(cluster) for cluster in self.world.clusters]
        return _paged(clusters, call.query, self.max_page_size)

    def _tenants(self, call: Call) -> Reply:
        assert call.cluster is not None
        tenants = views.ocp_tenants(call.cluster, call.t)
        return _paged(tenants, call.query, self.max_page_size)

    def _tenant(self, call: Call) -> Tenant | OcpError:
        assert call.cluster is not None
        found = next(
            (
                tenant
                for tenant in views.ocp_user_tenants(call.cluster, call.t)
                if views.ocp_tenant_id(call.cluster, tenant) == call.ocp_tenant_id
            ),
            None,
        )
        return found if found is not None else not_found("tenant")

    def _tasks(self, items: list[Any], call: Call) -> Reply:
        if self.paged_tasks:
            return _paged(items, call.query, self.max_page_size)
        return Paged[Any](contents=items)

    def _data_tasks(self, call: Call) -> Reply:
        tenant = self._tenant(call)
        if isinstance(tenant, OcpError):
            return tenant
        tasks = views.ocp_data_tasks(tenant, call.t)
        return self._tasks([x for x in tasks if _in_window(x.startTime, call.query)], call)

    def _log_tasks(self, call: Call) -> Reply:
        tenant = self._tenant(call)
        if isinstance(tenant, OcpError):
            return tenant
        return self._tasks(list(views.ocp_log_tasks(tenant, call.t)), call)

    def _restore_tasks(self, call: Call) -> Reply:
        tenant = self._tenant(call)
        if isinstance(tenant, OcpError):
            return tenant
        assert call.cluster is not None
        tasks = views.ocp_restore_tasks(call.cluster, tenant.name, call.t)
        return self._tasks([x for x in tasks if _in_window(x.startTime, call.query)], call)


def _in_window(start: str | None, query: Mapping[str, str]) -> bool:
    """Whether a task started inside the `startTime`..`endTime` window of the request."""
    moment = parse_time(start) or 0.0
    since = parse_time(query.get("startTime")) or 0.0
    until = parse_time(query.get("endTime")) or float("inf")
    return since <= moment <= until


def _paged(items: list[Any], query: Mapping[str, str], max_page_size: int) -> Reply:
    """One page of `items` with OCP's `page` block (`number` 1-based)."""
    number = positive_or(query.get("page"), 1)
    size = min(positive_or(query.get("size"), DEFAULT_PAGE_SIZE), max_page_size)
    window = items[(number - 1) * size : number * size]
    page = PageInfo(
        totalElements=len(items),
        totalPages=math.ceil(len(items) / size),
        number=number,
        size=size,
    )
    return Paged[Any](contents=window, page=page)


def _time(call: Call) -> Reply:
    return formats.java_offset_time(call.t)


def _overview(call: Call) -> Reply:
    assert call.cluster is not None
    return views.ocp_overview(call.cluster, call.t)


def _replacement(fault: Fault) -> OcpError | RawResponse:
    if fault.kind == "http_500":
        return internal_error()
    if fault.kind == "unauthorized":
        return not_logged_in("Bad credentials")
    raw = fault_injection.replacement(fault)
    assert isinstance(raw, RawResponse), "every other replacing fault is a raw response"
    return raw


def render(reply: Reply, now: float, duration: int) -> tuple[int, bytes]:
    """The HTTP status and JSON body OCP sends for `reply`."""
    trace_id = secrets.token_hex(8)
    status = reply.status if isinstance(reply, OcpError) else 200
    envelope = Envelope[Any](
        successful=not isinstance(reply, OcpError),
        timestamp=formats.java_offset_time(now),
        duration=duration,
        status=status,
        traceId=trace_id,
        server=SERVER_NAME,
        data=None if isinstance(reply, OcpError) else reply,
        error=(
            ApiError(code=reply.code, message=reply.message, debugMessage=reply.debug)
            if isinstance(reply, OcpError)
            else None
        ),
    )
    document = _jackson(envelope.model_dump(mode="json", exclude_none=True))
    return status, json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def _jackson(node: Any) -> Any:
    """OCP's serializer writes a Long beyond JavaScript's safe range as a string."""
    if isinstance(node, dict):
        return {key: _jackson(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_jackson(item) for item in node]
    if isinstance(node, int) and not isinstance(node, bool) and abs(node) > JS_MAX_SAFE_INTEGER:
        return str(node)
    return node
