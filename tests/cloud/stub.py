"""A scriptable OceanBase Cloud OpenAPI on pytest-httpserver that enforces HTTP Digest.

It answers exactly the bodies a test sets (so the seed example can be pinned), challenges and
checks digest answers with the simulator's guard (MD5, qop=auth, nonce, opaque, the URI
covered), and records the request ids and project headers it saw.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from simulator.cloud.auth import CloudAccount, DigestGuard, Verdict

INSTANCES = "/api/v2/instances"


def success(data: Any) -> dict[str, Any]:
    """A success envelope."""
    return {"data": data, "requestId": "2wewqe1232", "success": True}


def failure(
    code: str, message: str, request_id: str = "f3b1c2d4-0000-4000-8000-000000000001"
) -> dict[str, Any]:
    """A failure envelope, as the API documents it."""
    return {"success": False, "errorCode": code, "errorMessage": message, "requestId": request_id}


def instance(instance_id: str, name: str) -> dict[str, Any]:
    """An item of the instance list."""
    return {"instanceId": instance_id, "instanceName": name, "version": "4.2.1.2",
            "instanceRole": "PRIMARY", "status": "ONLINE"}  # fmt: skip


@dataclass
class CloudStub:
    """Instances, their backup sets (list items) and set details, and what was seen."""

    server: HTTPServer
    account: CloudAccount = field(default_factory=CloudAccount)
    instances: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 100  # the most items a page holds, whatever `pageSize` asked for
    paging_keys: tuple[str, ...] = ("total", "hasMore")  # both are optional in the schema
    sets: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # instance id -> items
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)  # path -> (status, body)
    guard: DigestGuard = field(default_factory=DigestGuard)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    project_ids: list[str | None] = field(default_factory=list)
    challenges: int = 0
    denied: int = 0

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        """Base URL of the API."""
        return self.server.url_for("").rstrip("/")

    def detail(self, instance_id: str, task_id: str, data: Any) -> None:
        """Answer a backup set's detail with `data` in a success envelope."""
        path = f"{INSTANCES}/{instance_id}/backup/data/sets/{task_id}"
        self.routes[path] = (200, success(data))

    def restorable(self, instance_id: str, tenants: list[dict[str, Any]]) -> None:
        """Answer the instance's restorable-tenants route with `tenants` (a plain list)."""
        path = f"{INSTANCES}/{instance_id}/backup/restore/tenants"
        self.routes[path] = (200, success(tenants))

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """The query of every authenticated request seen for `path`."""
        return [query for seen, query in self.seen if seen == path]

    def _handle(self, request: Request) -> Response:
        target = request.environ.get("RAW_URI") or request.full_path
        verdict = self.guard.check(
            self.account,
            request.method,
            target,
            request.headers.get("Authorization", ""),
            time.time(),
        )
        if verdict is not Verdict.OK:
            self.challenges += 1
            self.denied += "Authorization" in request.headers and verdict is Verdict.DENIED
            challenge = self.guard.challenge(time.time(), stale=verdict is Verdict.STALE)
            body = failure("Unauthorized", "Digest authentication required.")
            return _json(401, body, {"WWW-Authenticate": challenge})
        self.seen.append((request.path, dict(request.args.items())))
        self.project_ids.append(request.headers.get("X-Ob-Project-Id"))
        if request.path == INSTANCES:
            return _json(200, success(self._page(request, self.instances)))
        prefix, suffix = f"{INSTANCES}/", "/backup/data/sets"
        if request.path.startswith(prefix) and request.path.endswith(suffix):
            instance_id = request.path[len(prefix) : -len(suffix)]
            if request.path not in self.routes:
                return _json(200, success(self._page(request, self.sets.get(instance_id, []))))
        # A route the API lacks: a bare 404, no Cloud error body (that is the API's own answer).
        status, body = self.routes.get(request.path, (404, "404 page not found"))
        if isinstance(body, bytes | str):
            return Response(body, status=status, content_type="text/html")
        return _json(status, body)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> dict[str, Any]:
        number = int(request.args.get("pageNumber", "1"))
        size = min(int(request.args.get("pageSize", "10")), self.page_size)
        window = items[(number - 1) * size : number * size]
        page = {"dataList": window, "total": len(items), "hasMore": number * size < len(items)}
        return {key: v for key, v in page.items() if key == "dataList" or key in self.paging_keys}


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, content_type="application/json", headers=headers
    )
