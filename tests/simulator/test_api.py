"""Envelopes, routes, error shapes and payloads as obshell sends them."""

from __future__ import annotations

import re
from typing import Any

import pytest

from exporter.sources.obshell.models import (
    AgentSecret,
    AgentStatus,
    ArchiveLogTask,
    BackupJob,
    ClusterBackupOverview,
    Contents,
    Envelope,
    ObInfo,
    PagedContents,
    RestoreOverview,
    RestoreTask,
    TenantBackupInfo,
    TenantBackupOverview,
    TenantOverview,
)
from simulator import Simulator
from tests.helpers.simulator import StartSimulator, get_json, plain, signed

RFC3339_CST = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?\+08:00")


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/v1/info", AgentStatus),
        ("/api/v1/secret", AgentSecret),
        ("/api/v1/ob/info", ObInfo),
        ("/api/v1/tenants/overview", Contents[TenantOverview]),
        ("/api/v1/obcluster/backup/overview", ClusterBackupOverview),
        ("/api/v1/tenant/pay/backup/overview", TenantBackupOverview),
        ("/api/v1/tenant/app_r1/restore/overview", RestoreOverview),
        ("/api/v1/tenant/app/backup/info", TenantBackupInfo),
        ("/api/v1/tenant/app/backup/log/tasks", Contents[ArchiveLogTask]),
        ("/api/v1/tenant/app/backup/tasks", PagedContents[BackupJob]),
        ("/api/v1/restore/tasks", PagedContents[RestoreTask]),
    ],
)
async def test_every_route_answers_in_the_shared_shape(
    sim: Simulator, path: str, model: Any
) -> None:
    response = await signed(sim).get(path)

    envelope = Envelope[model].model_validate_json(response.content)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert envelope.successful is True
    assert envelope.status == 200
    assert RFC3339_CST.fullmatch(envelope.timestamp or "")
    assert re.fullmatch(r"[0-9a-f]{16}", envelope.traceId or "")
    assert isinstance(envelope.duration, int)
    assert "error" not in response.json()


async def test_trace_id_is_taken_from_the_request(sim: Simulator) -> None:
    response = await plain(sim).get("/api/v1/info", headers={"X-OBSHELL-Trace-ID": "abc"})

    assert response.json()["traceId"] == "abc"


async def test_info_by_version(sim: Simulator) -> None:
    modern = await get_json(sim, "/api/v1/info")
    sim.world.clusters[0].version = "4.2.4.0"
    old = await get_json(sim, "/api/v1/info")

    assert modern["data"]["identity"] == "CLUSTER AGENT"
    assert modern["data"]["supportedAuth"] == ["v2"]
    assert modern["data"]["security"] is False
    assert "supportedAuth" not in old["data"]


async def test_unknown_routes(sim: Simulator) -> None:
    client = plain(sim)
    unknown = await client.get("/api/v1/no/such/route")
    posted = await client.post("/api/v1/obcluster/backup/overview")
    not_api = await client.get("/obshell/7/api/v1/info")

    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "errCode": "Common.NotFound",
        "message": "Element not found: 404 not found",
    }
    assert "data" not in unknown.json()
    assert posted.status_code == 404
    assert not_api.status_code == 404  # no cluster 7: not an obshell agent at all
    assert not_api.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(("version", "status"), [("4.3.1.0", 404), ("4.3.0.0", 400)])
async def test_4_3_2_routes_on_older_agents(sim: Simulator, version: str, status: int) -> None:
    sim.world.clusters[0].version = version
    response = await plain(sim).get("/api/v1/tenant/app/backup/info")  # served without auth

    assert response.status_code == status
    assert "data" not in response.json()


@pytest.mark.parametrize(
    ("path", "status", "error", "data_null"),
    [
        ("/api/v1/tenant/sys/backup/overview", 400, "OB.Tenant.SysOperationNotAllowed", False),
        ("/api/v1/tenant/nobody/backup/overview", 400, "OB.Tenant.NotExist", False),
        ("/api/v1/tenant/crm/backup/overview", 404, "Task.NotFound", True),
        ("/api/v1/tenant/app/restore/overview", 404, "Common.NotFound", True),
        ("/api/v1/tenant/nobody/restore/overview", 400, "OB.Tenant.NotExist", False),
        ("/api/v1/tenant/sys/backup/info", 400, "OB.Tenant.SysOperationNotAllowed", False),
    ],
)
async def test_tenant_route_errors(
    sim: Simulator, path: str, status: int, error: str, data_null: bool
) -> None:
    document = await get_json(sim, path)

    assert document["status"] == status
    assert document["error"]["errCode"] == error
    assert ("data" in document) is data_null
    if data_null:
        assert document["data"] is None


async def test_errors_of_agents_before_4_3_1(sim: Simulator) -> None:
    sim.world.clusters[0].version = "4.2.4.0"

    missing = await get_json(sim, "/api/v1/tenant/nobody/backup/overview")
    no_task = await get_json(sim, "/api/v1/tenant/crm/backup/overview")

    assert missing["error"] == {
        "code": 1001,
        "message": "Illegal argument: tenant nobody not found",
    }
    assert no_task["error"] == {"code": 2300, "message": "Task not found: no backup task found"}
    assert no_task["data"] is None


async def test_cluster_overview_without_any_task(sim: Simulator) -> None:
    for tenant in sim.world.clusters[0].tenants:
        tenant.backup = None

    document = await get_json(sim, "/api/v1/obcluster/backup/overview")

    assert document["status"] == 404
    assert document["data"] is None
    assert document["error"] == {
        "errCode": "Common.NotFound",
        "message": "Element not found: backup task",
    }


async def test_tenants_overview_lists_sys_and_the_user_tenants(sim: Simulator) -> None:
    document = await get_json(sim, "/api/v1/tenants/overview")

    tenants = {
        t["tenant_name"]: (t["tenant_id"], t["status"]) for t in document["data"]["contents"]
    }
    assert tenants == {
        "sys": (1, "NORMAL"),
        "app": (1002, "NORMAL"),
        "pay": (1004, "NORMAL"),
        "crm": (1006, "NORMAL"),
        "app_r1": (1008, "RESTORE"),  # the demo's running restore
    }


async def test_a_running_task(sim: Simulator) -> None:
    response = await signed(sim).get("/api/v1/tenant/pay/backup/overview")

    task = response.json()["data"]["status"]
    assert task["end_timestamp"] == "0001-01-01T00:00:00Z"
    assert task["end_scn"] == 0
    assert task["start_scn"] > 1_700_000_000 * 10**9
    assert RFC3339_CST.fullmatch(task["start_timestamp"])
    assert 0 < task["finish_tablet_count"] < task["tablet_count"]
    assert isinstance(task["output_rate_bytes"], float)
    assert round(task["output_rate_bytes"], 4) == task["output_rate_bytes"]
    assert task["encryption_mode"] == "NONE"
    # Paths carry a query string with secrets, escaped as Go's encoding/json escapes "&".
    assert "\\u0026access_key=" in response.text
    assert "&access_key=" in task["path"]


async def test_backup_tasks_filter_sort_and_pages(sim: Simulator) -> None:
    path = "/api/v1/tenant/app/backup/tasks"
    everything = (await get_json(sim, path))["data"]
    page = (await get_json(sim, f"{path}?status=completed&sort=start_timestamp,asc&page=2&size=5"))[
        "data"
    ]
    running = (await get_json(sim, "/api/v1/tenant/pay/backup/tasks?status=DOING"))["data"]

    starts = [job["start_timestamp"] for job in everything["contents"]]
    assert starts == sorted(starts, reverse=True)
    assert everything["page"]["total_elements"] == len(starts) == 29
    assert page["page"] == {"total_elements": 29, "total_pages": 6, "size": 5, "number": 2}
    assert [job["job_id"] for job in page["contents"]] == [6, 7, 8, 9, 10]
    # bo.BackupJob's end_timestamp is an omitempty pointer: absent while the job runs.
    assert [(job["status"], "end_timestamp" in job) for job in running["contents"]] == [
        ("DOING", False)
    ]


async def test_restore_tasks_echo_paging_but_return_everything(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario="restore")

    document = await get_json(sim, "/api/v1/restore/tasks?page=1&size=1")

    assert document["data"]["page"] == {
        "total_elements": 1,
        "total_pages": 1,
        "size": 1,
        "number": 1,
    }
    assert document["data"]["contents"][0]["status"] == "SUCCESS"
    assert document["data"]["contents"][0]["backup_data_uri"].startswith("oss://")


async def test_log_tasks_and_backup_info(sim: Simulator) -> None:
    tasks = (await get_json(sim, "/api/v1/tenant/app/backup/log/tasks"))["data"]["contents"]
    info = (await get_json(sim, "/api/v1/tenant/app/backup/info"))["data"]
    never = (await get_json(sim, "/api/v1/tenant/crm/backup/info"))["data"]
    no_archive = (await get_json(sim, "/api/v1/tenant/crm/backup/log/tasks"))["data"]

    assert [(t["tenant_name"], t["status"]) for t in tasks] == [("", "DOING")]
    assert 1 <= tasks[0]["delay"] < 10
    assert info["lastest_archive_log_checkpoint"] == tasks[0]["checkpoint"]
    assert set(info) == {
        "tenant_id",
        "lastest_archive_log_checkpoint",
        "lastest_data_backup_time",
        "archive_log_delay",
    }
    assert never == {"tenant_id": 1006}  # omitempty: no backup, no archive
    assert no_archive == {"contents": []}


async def test_each_cluster_has_its_own_agent(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(clusters=3, tenants=1)

    names = [
        (await get_json(sim, "/api/v1/ob/info", sim.agent_url(i)))["data"]["obcluster_info"]["name"]
        for i in range(3)
    ]
    keys = [
        (await get_json(sim, "/api/v1/secret", sim.agent_url(i)))["data"]["public_key"]
        for i in range(3)
    ]

    assert names == ["obcluster-0", "obcluster-1", "obcluster-2"]
    assert len(set(keys)) == 3
    assert sim.agent_url(2) == f"{sim.base_url}/obshell/2"


async def test_tests_can_add_and_remove_tenants(sim: Simulator) -> None:
    cluster = sim.world.clusters[0]
    added = cluster.add_tenant("newbie", sim.clock.now())
    with_newbie = await get_json(sim, "/api/v1/tenants/overview")
    cluster.remove_tenant("app")
    without_app = await get_json(sim, "/api/v1/tenants/overview")
    gone = await get_json(sim, "/api/v1/tenant/app/backup/overview")

    assert added.tenant_id == 1010
    assert "newbie" in {t["tenant_name"] for t in with_newbie["data"]["contents"]}
    assert "app" not in {t["tenant_name"] for t in without_app["data"]["contents"]}
    assert gone["error"]["errCode"] == "OB.Tenant.NotExist"
