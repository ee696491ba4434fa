"""OceanBase Cloud's OpenAPI over the simulated world: digest auth, paging, envelopes, faults.

Served on the simulator's port beside the obshell agents and OCP (its paths are
`/api/v2/instances...`). Each world cluster is an instance. Answers are
`{success, data, requestId}` (the caller's `requestId` echoed, else a new one); failures a
non-200 status with `{success: false, errorCode, errorMessage, requestId}`. The real error
catalogue is not public beyond `E001R000` "Unknown Error", so the other codes are ours.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from exporter.sources.cloud.models import BackupSet, Envelope, PagingData, RestorableTenants
from exporter.sources.values import parse_time
from simulator import faults as fault_injection
from simulator.clock import SimClock
from simulator.cloud import views
from simulator.cloud.auth import CloudAccount, DigestGuard, Verdict
from simulator.faults import Fault, Faults, RawResponse
from simulator.query import positive_or
from simulator.world import Cluster, World

# Spelled here again on purpose, from the OpenAPI's documents: the simulator checks the
# exporter's spelling (exporter/sources/cloud/routes.py) instead of sharing it.
INSTANCES = "/api/v2/instances"
BACKUP_SETS = "/api/v2/instances/:id/backup/data/sets"
BACKUP_SET = "/api/v2/instances/:id/backup/data/sets/:backupTaskId"
RESTORABLE = "/api/v2/instances/:id/backup/restore/tenants"
JSON_CONTENT_TYPE = "application/json"
PROJECT_HEADER = "X-Ob-Project-Id"
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class CloudError:
    """A failure: HTTP status, `errorCode`, `errorMessage`; `challenge` adds a digest one."""

    status: int
    code: str
    message: str
    challenge: bool = False
    stale: bool = False


def unauthorized(stale: bool = False) -> CloudError:
    """No valid digest answer: a 401 with a fresh challenge."""
    return CloudError(401, "Unauthorized", "Digest authentication required.", True, stale)


def unknown_error() -> CloudError:
    """The failure the API documents: HTTP 500, `E001R000`."""
    return CloudError(500, "E001R000", "Unknown Error")


def not_found(what: str) -> CloudError:
    """No such route, instance or backup set."""
    return CloudError(404, "NotFound", f"The specified {what} does not exist.")


def wrong_project() -> CloudError:
    """`X-Ob-Project-Id` names a project the AccessKey has no access to."""
    return CloudError(404, "ProjectNotFound", "The specified project does not exist.")


Reply = BaseModel | CloudError


@dataclass(frozen=True)
class Call:
    """One routed request: the simulated moment, the instance, the backup task, the query."""

    t: float
    cluster: Cluster | None
    task_id: str
    query: Mapping[str, str]


class CloudApi:
    """The OpenAPI of one simulated account holding every cluster of `world` as an instance.

    `account` holds the AccessKey it accepts; `max_page_size` caps `pageSize` (lower it to
    see paging with a handful of instances or sets). `paging_keys` are the optional paging
    fields pages carry (`total`, `hasMore`: drop either to see a client cope without it);
    `guard.qop` False challenges in the RFC 2069 form.
    """

    def __init__(
        self, world: World, clock: SimClock, faults: Faults, account: CloudAccount
    ) -> None:
        self.world = world
        self.clock = clock
        self.faults = faults
        self.account = account
        self.guard = DigestGuard()
        self.max_page_size = MAX_PAGE_SIZE
        self.paging_keys: tuple[str, ...] = ("total", "hasMore")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Answer one request as the OpenAPI would, with the faults in force."""
        route, handler, cluster, task_id = self._match(request.method, request.path)
        plan = self.faults.plan(route, cluster.index if cluster else None)
        if plan.latency:
            await asyncio.sleep(plan.latency)
        outcome: Reply | RawResponse
        if plan.replace is not None:
            outcome = _replacement(plan.replace)
        else:
            call = Call(self.clock.now(), cluster, task_id, request.query)
            outcome = self._reply(request, route, handler, call)
        headers: dict[str, str] = {}
        if isinstance(outcome, RawResponse):
            status, content_type, body = outcome.status, outcome.content_type, outcome.body
        else:
            request_id = request.query.get("requestId") or str(uuid.uuid4())
            status, body = render(outcome, request_id)
            content_type = JSON_CONTENT_TYPE
            if isinstance(outcome, CloudError) and outcome.challenge:
                headers["WWW-Authenticate"] = self.guard.challenge(time.time(), outcome.stale)
        body = fault_injection.transform(body, plan.transforms)
        if headers:  # a challenge goes out whole, or the client could not answer it
            headers["Content-Type"] = content_type
            return web.Response(status=status, body=body, headers=headers)
        return await fault_injection.deliver(request, status, content_type, body, plan.delivery)

    def _match(
        self, method: str, path: str
    ) -> tuple[str | None, Callable[[Call], Reply] | None, Cluster | None, str]:
        if method != "GET":
            return None, None, None, ""
        if path in (INSTANCES, INSTANCES + "/"):
            return INSTANCES, self._instances, None, ""
        parts = path[len(INSTANCES) + 1 :].split("/") if path.startswith(INSTANCES + "/") else []
        cluster = next(
            (c for c in self.world.clusters if parts and views.instance_id(c) == parts[0]),
            None,
        )
        if parts[1:] == ["backup", "restore", "tenants"]:
            return RESTORABLE, _restorable, cluster, ""
        if len(parts) < 4 or parts[1:4] != ["backup", "data", "sets"] or len(parts) > 5:
            return None, None, None, ""
        if len(parts) == 4:
            return BACKUP_SETS, self._backup_sets, cluster, ""
        return BACKUP_SET, _backup_set, cluster, parts[4]

    def _reply(
        self,
        request: web.Request,
        route: str | None,
        handler: Callable[[Call], Reply] | None,
        call: Call,
    ) -> Reply:
        verdict = self.guard.check(
            self.account,
            request.method,
            request.raw_path,
            request.headers.get("Authorization", ""),
            time.time(),
        )
        if verdict is not Verdict.OK:
            return unauthorized(stale=verdict is Verdict.STALE)
        project = request.headers.get(PROJECT_HEADER)
        if project and self.account.project_id and project != self.account.project_id:
            return wrong_project()
        if handler is None:
            return not_found("API")
        if route != INSTANCES and call.cluster is None:
            return not_found("instance")
        return handler(call)

    def _instances(self, call: Call) -> Reply:
        instances = [views.cloud_instance(cluster) for cluster in self.world.clusters]
        return self._page(instances, call.query)

    def _backup_sets(self, call: Call) -> Reply:
        assert call.cluster is not None
        since = parse_time(call.query.get("startTime")) or 0.0
        until = parse_time(call.query.get("endTime")) or float("inf")
        listed = [
            BackupSet.model_validate(detail.model_dump(exclude={"tenantBackupSetList"}))
            for detail in views.cloud_backup_sets(call.cluster, call.t)
            if since <= (parse_time(detail.startTime) or 0.0) <= until
        ]
        return self._page(listed, call.query)

    def _page(self, items: list[Any], query: Mapping[str, str]) -> Reply:
        number = positive_or(query.get("pageNumber"), 1)
        size = min(positive_or(query.get("pageSize"), DEFAULT_PAGE_SIZE), self.max_page_size)
        window = items[(number - 1) * size : number * size]
        return PagingData[Any](
            dataList=window,
            total=len(items) if "total" in self.paging_keys else None,
            hasMore=number * size < len(items) if "hasMore" in self.paging_keys else None,
        )


def _backup_set(call: Call) -> Reply:
    assert call.cluster is not None
    sets = views.cloud_backup_sets(call.cluster, call.t)
    found = next((s for s in sets if s.backupSetId == call.task_id), None)
    return found if found is not None else not_found("backup task")


def _restorable(call: Call) -> Reply:
    assert call.cluster is not None
    return RestorableTenants(views.cloud_restorable_tenants(call.cluster, call.t))


def _replacement(fault: Fault) -> CloudError | RawResponse:
    if fault.kind == "http_500":
        return unknown_error()
    if fault.kind == "unauthorized":
        return unauthorized()
    raw = fault_injection.replacement(fault)
    assert isinstance(raw, RawResponse), "every other replacing fault is a raw response"
    return raw


def render(reply: Reply, request_id: str) -> tuple[int, bytes]:
    """The HTTP status and JSON body the OpenAPI sends for `reply`."""
    if isinstance(reply, CloudError):
        envelope = Envelope[Any](
            success=False, requestId=request_id, errorCode=reply.code, errorMessage=reply.message
        )
        status = reply.status
    else:
        envelope = Envelope[Any](success=True, data=reply, requestId=request_id)
        status = 200
    document = envelope.model_dump(mode="json", exclude_none=True)
    return status, json.dumps(document, separators=(",", ":")).encode()
