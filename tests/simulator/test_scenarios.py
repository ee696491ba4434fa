"""Each scenario moves the way it says, in accelerated time, and a seed fixes the world."""

from __future__ import annotations

import asyncio
from typing import Any

from simulator import Simulator, World, build_world, timeline
from tests.helpers.simulator import StartSimulator, get_json

TENANT_TASK = "/api/v1/tenant/{}/backup/overview"


async def backup_task(sim: Simulator, tenant: str) -> dict[str, Any]:
    task: dict[str, Any] = (await get_json(sim, TENANT_TASK.format(tenant)))["data"]["status"]
    return task


async def test_a_running_backup_goes_through_its_phases_to_completed(sim: Simulator) -> None:
    seen = [await backup_task(sim, "pay")]
    while seen[-1]["status"] != "COMPLETED" and len(seen) < 20:
        sim.clock.advance(300)
        seen.append(await backup_task(sim, "pay"))

    tablets = [task["finish_tablet_count"] for task in seen]
    output = [task["output_bytes"] for task in seen]
    phases = list(dict.fromkeys(task["status"] for task in seen))
    assert tablets == sorted(tablets)
    assert output == sorted(output)
    assert phases[-1] == "COMPLETED"
    assert {"BACKUP_DATA_MINOR", "BACKUP_DATA_MAJOR"} <= set(phases)
    assert seen[-1]["finish_tablet_count"] == seen[-1]["tablet_count"]
    assert seen[-1]["finish_macro_block_count"] == seen[-1]["macro_block_count"]
    assert seen[-1]["end_timestamp"] > seen[-1]["start_timestamp"]
    assert seen[-1]["end_scn"] > seen[-1]["start_scn"]


async def test_the_schedule_starts_the_next_backup(sim: Simulator) -> None:
    before = await backup_task(sim, "app")
    sim.clock.advance(6 * 3600)
    after = await backup_task(sim, "app")

    assert after["job_id"] == before["job_id"] + 1


async def test_speed_accelerates_real_time(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(speed=36_000)
    running = await backup_task(sim, "pay")
    await asyncio.sleep(0.15)  # an hour and a half of simulated time
    done = await backup_task(sim, "pay")

    assert running["status"] != "COMPLETED"
    assert done["status"] == "COMPLETED"
    assert done["job_id"] == running["job_id"]


async def test_failing_backup(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="failing-backup")

    statuses = (await get_json(sim, "/api/v1/obcluster/backup/overview"))["data"]["statuses"]
    history = (await get_json(sim, "/api/v1/tenant/app/backup/tasks?status=COMPLETED"))["data"]

    assert [(task["status"], task["result"]) for task in statuses] == [("FAILED", -4018)] * 3
    assert all(
        task["comment"] and task["finish_tablet_count"] < task["tablet_count"] for task in statuses
    )
    assert history["page"]["total_elements"] > 20  # it used to work


async def test_log_lag_delay_grows_past_a_threshold(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="log-lag")

    async def delay(name: str) -> float:
        info = (await get_json(sim, f"/api/v1/tenant/{name}/backup/info"))["data"]
        return float(info["archive_log_delay"])

    async def checkpoint() -> str:
        tasks = (await get_json(sim, "/api/v1/tenant/app/backup/log/tasks"))["data"]["contents"]
        return str(tasks[0]["checkpoint"])

    before = (await delay("app"), await delay("pay"), await checkpoint())
    sim.clock.advance(1800)
    after = (await delay("app"), await delay("pay"), await checkpoint())
    sim.clock.advance(1800)
    later = (await delay("app"), await delay("pay"), await checkpoint())

    assert before[0] < 10
    assert 600 < after[0] < later[0]
    assert before[2] < after[2] == later[2]  # it moved for two minutes, then stopped
    assert all(900 <= lagging < 905 for lagging in (before[1], after[1], later[1]))
    assert await delay("crm") < 10


async def test_restores_reach_success_and_failure(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="restore")

    sim.clock.advance(60)  # app_r2 started 30 s ago, still creating its tenant
    creating = await get_json(sim, "/api/v1/tenant/app_r2/restore/overview")
    listed = (await get_json(sim, "/api/v1/restore/tasks"))["data"]["contents"]
    sim.clock.advance(900)
    halfway = (await get_json(sim, "/api/v1/tenant/app_r2/restore/overview"))["data"]
    sim.clock.advance(900)
    succeeded = (await get_json(sim, "/api/v1/tenant/app_r2/restore/overview"))["data"]
    failed = await get_json(sim, "/api/v1/tenant/app_r3/restore/overview")
    tasks = (await get_json(sim, "/api/v1/restore/tasks"))["data"]["contents"]
    tenants = (await get_json(sim, "/api/v1/tenants/overview"))["data"]["contents"]

    assert creating["error"]["errCode"] == "OB.Tenant.NotExist"
    assert ("app_r2", "CREATE_TENANT") in {(t["restore_tenant_name"], t["status"]) for t in listed}
    assert halfway["status"] in {
        "PHYSICAL_RESTORE_WAIT_RESTORE_TO_CONSISTENT_SCN",
        "RESTORE_WAIT_LS",
    }
    assert 0 < float(halfway["restore_progress"]) < 100
    assert (halfway["ls_count"], halfway["comment"], halfway["finish_timestamp"]) == (0, "", "")
    assert succeeded["status"] == "SUCCESS"
    assert (succeeded["recover_progress"], succeeded["restore_progress"]) == ("", "")
    assert succeeded["finish_timestamp"] > succeeded["start_timestamp"]
    assert failed["error"]["errCode"] == "OB.Tenant.NotExist"  # the failed restore's tenant is gone
    assert {t["restore_tenant_name"]: t["status"] for t in tasks} == {
        "app_r1": "SUCCESS",
        "app_r2": "SUCCESS",
        "app_r3": "FAIL",
    }
    assert next(t["comment"] for t in tasks if t["status"] == "FAIL")
    names = {t["tenant_name"]: t["status"] for t in tenants}
    assert names["app_r2"] == "NORMAL"
    assert "app_r3" not in names


async def test_churn_changes_the_tenant_set(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="churn", tenants=2)

    async def names() -> set[str]:
        contents = (await get_json(sim, "/api/v1/tenants/overview"))["data"]["contents"]
        return {tenant["tenant_name"] for tenant in contents}

    first = await names()
    sim.clock.advance(3600)
    second = await names()
    gone = (first - second).pop()

    assert {"sys", "app", "pay"} <= first & second
    assert first != second
    assert all(name.startswith("churn") for name in first ^ second)
    assert (await get_json(sim, TENANT_TASK.format(gone)))["error"][
        "errCode"
    ] == "OB.Tenant.NotExist"


async def test_healthy(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="healthy", tenants=5)

    statuses = (await get_json(sim, "/api/v1/obcluster/backup/overview"))["data"]["statuses"]
    infos = [
        (await get_json(sim, f"/api/v1/tenant/{name}/backup/info"))["data"]
        for name in ("app", "bi")
    ]

    assert [task["status"] for task in statuses] == ["COMPLETED"] * 5
    assert all(info["archive_log_delay"] < 10 for info in infos)


def snapshot(world: World, t: float) -> list[Any]:
    """Everything the views of every cluster show at `t`."""
    views: list[Any] = []
    for cluster in world.clusters:
        for tenant in timeline.live_tenants(cluster, t):
            task = timeline.backup_task(tenant, t)
            views.append((tenant.name, tenant.tenant_id, task.model_dump() if task else None))
            views.append(timeline.backup_info(tenant, t).model_dump())
        views.extend(task.model_dump() for task in timeline.restore_tasks(cluster, t))
    return views


def test_a_seed_builds_the_same_world() -> None:
    start = 1_760_000_000.0

    def world(seed: int) -> World:
        return build_world("demo", start=start, clusters=3, tenants=4, seed=seed)

    later = start + 5000

    assert snapshot(world(7), later) == snapshot(world(7), later)
    assert snapshot(world(7), later) != snapshot(world(8), later)
