"""The simulated OCP's tenant routes and OceanBase Cloud's restorable windows and digest forms.

Shapes are parsed with the exporter's own models (one definition of each); what is checked is
what the research note documents: both list forms, both date styles, OCP's task vocabularies,
windows with a gap after a broken archive, RFC 2069 and RFC 7616 digest, `total` left out.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from exporter.sources.cloud.models import Envelope as CloudEnvelope
from exporter.sources.cloud.models import RestorableTenants
from exporter.sources.ocp.models import DataBackupTask, LogBackupTask, ObTenant, Paged, RestoreTask
from exporter.sources.ocp.models import Envelope as OcpEnvelope
from exporter.sources.values import parse_time
from simulator import Simulator
from simulator.cloud.auth import DigestGuard
from simulator.cloud.views import instance_id
from simulator.fidelity import INTERVAL
from simulator.ocp.views import ocp_cluster_id, ocp_tenant_id, ocp_user_tenants
from tests.helpers.simulator import StartSimulator, cloud_client, ocp_client

CLUSTERS = "/api/v2/ob/clusters"
INSTANCES = "/api/v2/instances"
OFFSET_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def tenants_path(sim: Simulator) -> str:
    return f"{CLUSTERS}/{ocp_cluster_id(sim.world.clusters[0])}/tenants"


def task_path(sim: Simulator, position: int, kind: str) -> str:
    cluster = sim.world.clusters[0]
    tenant_id = ocp_tenant_id(cluster, cluster.tenants[position])
    return f"{tenants_path(sim)}/{tenant_id}/backup/task/{kind}"


async def _get(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def test_ocp_lists_tenants_paged_and_tasks_without_page(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario="failing-backup", tenants=2)
    async with ocp_client(sim) as client:
        tenants = await _get(client, tenants_path(sim), page="1", size="2000")
        data = await _get(client, task_path(sim, 0, "dataBackupTasks"))
        sim.ocp.paged_tasks = True
        paged = await _get(client, task_path(sim, 0, "dataBackupTasks"), page="1", size="1")

    listed = OcpEnvelope[Paged[ObTenant]].model_validate(tenants).data
    assert listed is not None and listed.page is not None
    assert [t.name for t in listed.contents] == [
        "sys",
        *(t.name for t in sim.world.clusters[0].tenants),
    ]
    assert "page" not in data["data"]  # `{contents}` only: the route documents no paging
    tasks = OcpEnvelope[Paged[DataBackupTask]].model_validate(data).data
    assert tasks is not None
    newest = tasks.contents[0]
    assert newest.status == "FAILED" and newest.errorMessage
    # Both date styles in one answer: the start with a colon offset, the end in UTC.
    assert OFFSET_TIME.fullmatch(newest.startTime or "")
    assert UTC_TIME.fullmatch(newest.endTime or "")
    assert any(t.status == "DONE" and t.backupSize for t in tasks.contents)
    assert paged["data"]["page"]["totalPages"] == len(tasks.contents)
    assert len(paged["data"]["contents"]) == 1


async def test_ocp_data_tasks_honour_the_window(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="healthy", tenants=1)
    async with ocp_client(sim) as client:
        everything = await _get(client, task_path(sim, 0, "dataBackupTasks"))
        recent = await _get(
            client,
            task_path(sim, 0, "dataBackupTasks"),
            startTime="2000-01-01T00:00:00Z",
            endTime="2000-01-02T00:00:00Z",
        )

    assert everything["data"]["contents"]
    assert recent["data"]["contents"] == []


async def test_ocp_an_interrupted_archive_is_an_interrupted_log_task(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario="archive-stopped", tenants=4)
    async with ocp_client(sim) as client:
        statuses = []
        for position in range(4):
            document = await _get(client, task_path(sim, position, "logBackupTasks"))
            parsed = OcpEnvelope[Paged[LogBackupTask]].model_validate(document).data
            assert parsed is not None
            (task,) = parsed.contents
            statuses.append(task.status)
            assert parse_time(task.checkpoint) and task.delaySeconds is not None

    # INTERRUPTED, STOP and SUSPENDING rounds, in OCP's words; the fourth archives normally.
    assert statuses == ["INTERRUPTED", "STOPPED", "STOPPING", "INPROGRESS"]


async def test_ocp_restore_tasks_follow_the_world(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="restore")
    cluster = sim.world.clusters[0]
    job = cluster.restores[0]
    tenant = next(
        t for t in ocp_user_tenants(cluster, sim.clock.now()) if t.name == job.tenant_name
    )
    path = f"{tenants_path(sim)}/{ocp_tenant_id(cluster, tenant)}/backup/task/restoreTasks"
    async with ocp_client(sim) as client:
        document = await _get(client, path)
        missing = await client.get(f"{tenants_path(sim)}/99/backup/task/restoreTasks")

    parsed = OcpEnvelope[Paged[RestoreTask]].model_validate(document).data
    assert parsed is not None and parsed.contents
    assert parsed.contents[0].status in ("RESTORE_WAIT_LS", "RESTORE_SUCCESS", "RESTORE_FAIL")
    assert missing.status_code == 404


async def test_cloud_windows_run_to_the_archive_checkpoint(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(scenario="healthy", tenants=2)
    path = f"{INSTANCES}/{instance_id(sim.world.clusters[0])}/backup/restore/tenants"
    async with cloud_client(sim) as client:
        response = await client.get(path)

    data = CloudEnvelope[RestorableTenants].model_validate_json(response.content).data
    assert data is not None and {t.tenantName for t in data.root} == {"pay", "app"}
    for tenant in data.root:
        *before, window = tenant.timeIntervalList
        end = parse_time(window.endTime) or 0.0
        assert UTC_TIME.fullmatch(window.endTime or "")
        assert 0 <= sim.clock.now() - end < 60  # the archive checkpoint, seconds behind
        # Earlier windows are single backups from before the archive round began.
        plan = next(t for t in sim.world.clusters[0].tenants if t.name == tenant.tenantName)
        assert plan.archive is not None
        assert all((parse_time(w.endTime) or 0) < plan.archive.round_start for w in before)


async def test_cloud_a_broken_archive_leaves_a_gap(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="archive-stopped", tenants=4)
    sim.clock.advance(INTERVAL)  # the next backup finishes after the archive broke
    path = f"{INSTANCES}/{instance_id(sim.world.clusters[0])}/backup/restore/tenants"
    async with cloud_client(sim) as client:
        response = await client.get(path)

    data = CloudEnvelope[RestorableTenants].model_validate_json(response.content).data
    assert data is not None
    windows = {t.tenantName: t.timeIntervalList for t in data.root}
    *_, broken, after = windows[sim.world.clusters[0].tenants[0].name]
    # The window the archive carried ends where it broke; the backup after it stands alone.
    stall = sim.world.clusters[0].tenants[0].archive
    assert stall is not None and stall.stall_at is not None
    assert (parse_time(broken.endTime) or 0) <= stall.stall_at
    assert (parse_time(broken.endTime) or 0) < (parse_time(after.startTime) or 0)
    assert after.startTime == after.endTime
    # The tenant still archiving: its last window runs up to now.
    last = windows[sim.world.clusters[0].tenants[3].name][-1]
    assert sim.clock.now() - (parse_time(last.endTime) or 0) < 60
    assert (parse_time(last.startTime) or 0) < stall.stall_at


async def test_cloud_digest_without_qop_and_pages_without_total(sim: Simulator) -> None:
    sim.cloud.guard = DigestGuard(qop=False)
    sim.cloud.paging_keys = ()
    async with httpx.AsyncClient(base_url=sim.cloud_url) as plain:
        challenge = (await plain.get(INSTANCES)).headers["WWW-Authenticate"]
    async with cloud_client(sim) as client:
        response = await client.get(INSTANCES)

    assert "qop" not in challenge and "nonce=" in challenge
    assert response.status_code == 200
    page = response.json()["data"]
    assert "total" not in page and "hasMore" not in page and page["dataList"]
