"""Upstream answers for the stubs: the API documents' examples (tests/data) and builders."""

from __future__ import annotations

import json
from typing import Any

from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.paths import DATA


def seed(name: str) -> dict[str, Any]:
    """A response example of the upstream API documents (tests/data/seed_*.json)."""
    return json.loads((DATA / f"seed_{name}.json").read_text())


def page(rows: list[dict[str, Any]], size: int = 100) -> dict[str, Any]:
    """One page holding all of `rows`, as obshell's paged lists answer (`contents`, `page`)."""
    return {
        "contents": rows,
        "page": {"total_elements": len(rows), "total_pages": 1, "size": size, "number": 1},
    }


def running_restore(**changes: Any) -> dict[str, Any]:
    """The restore overview example (tests/data/seed_restore_overview.json) still running:
    RESTORE_WAIT_LS, no finish time; `changes` override its keys."""
    row: dict[str, Any] = seed("restore_overview")["data"]
    return {**row, "status": "RESTORE_WAIT_LS", "finish_timestamp": "", **changes}


def standard_routes(stub: ObshellStub) -> None:
    """A 4.3.2 agent with two backed-up tenants (the seed examples) and a finished restore."""
    stub.set(
        "/api/v1/ob/info",
        {
            "agent_info": [],
            "obcluster_info": {"id": 1728727000, "name": "ob-test", "version": "4.3.5.0"},
        },
    )
    stub.set("/api/v1/tenants/overview", {"contents": [
        {"tenant_id": 1, "tenant_name": "sys", "status": "NORMAL"},
        {"tenant_id": 1002, "tenant_name": "tenant1", "status": "NORMAL"},
        {"tenant_id": 1004, "tenant_name": "tenant2", "status": "NORMAL"},
    ]})  # fmt: skip
    stub.routes["/api/v1/obcluster/backup/overview"] = (200, seed("cluster_backup_overview"))
    for name in ("tenant1", "tenant2"):
        stub.set(f"/api/v1/tenant/{name}/backup/info", {
            "tenant_id": 1002,
            "lastest_archive_log_checkpoint": "2024-10-12T18:20:00.5+08:00",
            "archive_log_delay": 3.25,
        })  # fmt: skip
        stub.set(f"/api/v1/tenant/{name}/backup/log/tasks", {"contents": [
            {"tenant_id": 1002, "tenant_name": "", "round_id": 1, "status": "DOING", "path": "oss://b/clog",
             "delay": 3.25, "checkpoint": "2024-10-12T18:20:00.5+08:00", "start_time": "2024-10-12T18:00:00+08:00"},
        ]})  # fmt: skip
        stub.set(f"/api/v1/tenant/{name}/backup/tasks", page([
            {"tenant_id": 1002, "job_id": 1, "backup_set_id": 1, "plus_archivelog": False,
             "backup_type": "FULL", "start_timestamp": "2024-10-12T18:08:08.723714+08:00",
             "end_timestamp": "2024-10-12T18:10:43.487426+08:00", "status": "COMPLETED",
             "result": 0, "comment": "", "description": "", "path": "oss://b/data"},
        ], size=1))  # fmt: skip
    stub.set("/api/v1/restore/tasks", page([seed("restore_overview")["data"]]))
