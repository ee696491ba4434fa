"""A scriptable OCP on pytest-httpserver that enforces basic auth and the AccessKey signature.

It answers exactly the bodies a test sets (so the seed example can be pinned), and checks
credentials with the simulator's OCP checks, which recompute the signature from the request
as it arrived: not with the exporter's signer.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from simulator.ocp.api import forbidden, not_logged_in
from simulator.ocp.auth import OcpAccount, RequestParts, authenticate

CLUSTERS = "/api/v2/ob/clusters"
LISTS = re.compile(CLUSTERS + r"/\d+/tenants(/\d+/backup/task/\w+)?")
TIMESTAMP = "2021-09-22T14:50:46.414+08:00"


def envelope(data: Any, timestamp: str | None = TIMESTAMP) -> dict[str, Any]:
    """A success envelope as OCP writes it."""
    body: dict[str, Any] = {
        "data": data,
        "duration": 12,
        "server": "a83ad33525",
        "status": 200,
        "successful": True,
        "traceId": "52eddd79029d4a24",
    }
    if timestamp is not None:
        body["timestamp"] = timestamp
    return body


def failure(status: int, code: int, message: str) -> dict[str, Any]:
    """An OCP error body."""
    return {
        "error": {"code": code, "message": message},
        "status": status,
        "successful": False,
        "timestamp": TIMESTAMP,
    }


def cluster_item(
    ocp_id: int, name: str, ob_id: int | str, status: str = "RUNNING"
) -> dict[str, Any]:
    """An item of the cluster list."""
    return {"id": ocp_id, "name": name, "obClusterId": ob_id, "status": status, "type": "PRIMARY"}


@dataclass
class OcpStub:
    """Routes (path -> (status, body)), the cluster list, and what was seen."""

    server: HTTPServer
    account: OcpAccount = field(default_factory=OcpAccount)
    clusters: list[dict[str, Any]] = field(default_factory=list)
    page_size: int = 2000  # the most items a page holds, whatever `size` asked for
    total_pages_key: str = "totalPages"  # older OCP documents spell it `totalPage`
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    seen: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    auth_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        """Base URL of the OCP server."""
        return self.server.url_for("").rstrip("/")

    def overview(self, ocp_id: int, data: Any, timestamp: str | None = TIMESTAMP) -> None:
        """Answer the backup overview of cluster `ocp_id` with `data` in a success envelope."""
        self.routes[f"{CLUSTERS}/{ocp_id}/backup/overview"] = (200, envelope(data, timestamp))

    def tenants(self, ocp_id: int, items: list[dict[str, Any]], paged: bool = False) -> None:
        """List `items` as the tenants of cluster `ocp_id`, with or without a `page` block."""
        self.routes[f"{CLUSTERS}/{ocp_id}/tenants"] = (200, envelope(_listing(items, paged)))

    def tasks(
        self,
        ocp_id: int,
        tenant_id: int,
        kind: str,
        items: list[dict[str, Any]],
        paged: bool = False,
        timestamp: str | None = TIMESTAMP,
    ) -> None:
        """Answer a tenant's `kind` task route (`dataBackupTasks`, ...) with `items`."""
        path = f"{CLUSTERS}/{ocp_id}/tenants/{tenant_id}/backup/task/{kind}"
        self.routes[path] = (200, envelope(_listing(items, paged), timestamp))

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """The query of every request seen for `path`."""
        return [query for seen, query in self.seen if seen == path]

    def _handle(self, request: Request) -> Response:
        raw = request.environ.get("RAW_URI") or request.full_path
        self.seen.append((request.path, dict(request.args.items())))
        self.authorizations.append(request.headers.get("Authorization", ""))
        parts = RequestParts(
            method=request.method,
            path=raw.split("?", 1)[0],
            query=list(request.args.items(multi=True)),
            headers=request.headers,
            body=request.get_data(),
        )
        problem = authenticate(self.account, parts, time.time())
        if problem is not None:
            self.auth_failures.append(problem)
            error = not_logged_in(problem)
            return _json(error.status, failure(error.status, error.code, error.message))
        if not self.account.permitted:
            error = forbidden()
            return _json(error.status, failure(error.status, error.code, error.message))
        if request.path == CLUSTERS:
            return _json(200, envelope(self._page(request)))
        default = (404, failure(404, 10004, "Resource not found"))
        if LISTS.fullmatch(request.path):
            default = (200, envelope({"contents": []}))  # a cluster without tenants or tasks
        status, body = self.routes.get(request.path, default)
        if isinstance(body, bytes | str):
            return Response(body, status=status, content_type="text/html")
        return _json(status, body)

    def _page(self, request: Request) -> dict[str, Any]:
        number = int(request.args.get("page", "1"))
        size = min(int(request.args.get("size", "10")), self.page_size)
        total = len(self.clusters)
        return {
            "contents": self.clusters[(number - 1) * size : number * size],
            "page": {
                "number": number,
                "size": size,
                "totalElements": total,
                self.total_pages_key: max(1, -(-total // size)),
            },
        }


def _listing(items: list[dict[str, Any]], paged: bool) -> dict[str, Any]:
    """`{contents}` (OCP's IterableResponse) or `{contents, page}` holding every item."""
    if not paged:
        return {"contents": items}
    page = {"number": 1, "size": max(len(items), 1), "totalElements": len(items), "totalPages": 1}
    return {"contents": items, "page": page}


def tenant_item(
    ocp_id: int, name: str, ob_id: int | None, status: str = "NORMAL"
) -> dict[str, Any]:
    """An item of a cluster's tenant list."""
    item: dict[str, Any] = {"id": ocp_id, "name": name, "status": status, "mode": "MYSQL"}
    if ob_id is not None:
        item["obTenantId"] = ob_id
    return item


def _json(status: int, body: Any) -> Response:
    # OCP's 401 and 403 carry JSON and no WWW-Authenticate header.
    return Response(json.dumps(body), status=status, content_type="application/json")
