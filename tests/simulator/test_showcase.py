"""The simulator on the real clock, and the showcase world `--demo` polls.

A sped-up simulator compresses its work instead of running its clock ahead, so what the
exporter exports from it is never in the future; the showcase world has every kind of trouble
an operator should see within its first five minutes.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from exporter.cli import DEMO_CLUSTERS, DEMO_SCENARIO, DEMO_SPEED, DEMO_TENANTS
from simulator import Simulator, build_world, timeline
from simulator.scenarios import SCENARIOS
from tests.helpers.configs import write_config
from tests.helpers.polling import poll_once, running_poller
from tests.helpers.simulator import StartSimulator

PASSWORD = "root-pass"
FIVE_MINUTES = 300.0


def _config(sim: Simulator, tmp_path: Path) -> Path:
    """Every cluster's agent, OCP and Cloud of one simulator, as exporter targets."""
    (tmp_path / "pw").write_text(PASSWORD)
    (tmp_path / "ocp").write_text(sim.ocp.account.password)
    (tmp_path / "cloud").write_text(sim.cloud.account.access_key_secret)
    targets = [
        f"  - {{name: ob{i}, source: obshell, url: '{sim.agent_url(i)}', "
        f"password_file: {tmp_path / 'pw'}}}\n"
        for i in range(len(sim.world.clusters))
    ]
    targets.append(
        f"  - {{name: ocp, source: ocp, url: '{sim.ocp_url}', "
        f"username: {sim.ocp.account.username}, password_file: {tmp_path / 'ocp'}}}\n"
    )
    targets.append(
        f"  - {{name: cloud, source: cloud, url: '{sim.cloud_url}', "
        f"access_key_id: {sim.cloud.account.access_key_id}, "
        f"access_key_secret_file: {tmp_path / 'cloud'}}}\n"
    )
    return write_config(tmp_path, "targets:\n" + "".join(targets))


@pytest.mark.parametrize("scenario", SCENARIOS)
async def test_a_sped_up_simulator_reports_no_time_from_the_future(
    start_simulator: StartSimulator, tmp_path: Path, scenario: str
) -> None:
    # An hour of work a second: a clock running that fast would be 15 minutes ahead by the
    # second poll.
    sim = await start_simulator(scenario=scenario, clusters=2, tenants=4, speed=3600)
    async with running_poller(_config(sim, tmp_path)) as poller:
        first = await poll_once(poller)
        await asyncio.sleep(0.25)
        second = await poll_once(poller)
        now = time.time()
    for parsed in (first, second):
        stamps = {
            (name, labels): stamp
            for (name, labels), stamp in parsed.items()
            if name.endswith("_timestamp_seconds")
        }
        assert stamps, "no timestamp exported"
        future = {key: stamp - now for key, stamp in stamps.items() if stamp > now}
        assert not future, f"timestamps ahead of the real clock: {future}"
    sources = {dict(labels).get("source") for name, labels in second if name.startswith("ocean")}
    assert sources >= {"obshell", "ocp", "cloud"}


def test_speed_compresses_the_backup_schedule_instead_of_the_clock() -> None:
    start = time.time()
    normal = build_world("healthy", start=start, clusters=1, tenants=1)
    fast = build_world("healthy", start=start, clusters=1, tenants=1, speed=60)
    (slow_plan,) = [t.backup for t in normal.clusters[0].tenants]
    (fast_plan,) = [t.backup for t in fast.clusters[0].tenants]
    assert slow_plan is not None and fast_plan is not None
    assert fast_plan.interval == pytest.approx(slow_plan.interval / 60)
    assert fast_plan.rate == pytest.approx(slow_plan.rate * 60)


def test_the_showcase_has_every_trouble_within_five_minutes() -> None:
    start = time.time()
    world = build_world(
        DEMO_SCENARIO, start=start, clusters=DEMO_CLUSTERS, tenants=DEMO_TENANTS, speed=DEMO_SPEED
    )
    cluster = world.clusters[0]
    at = start + FIVE_MINUTES
    tenants = {tenant.name: tenant for tenant in timeline.live_tenants(cluster, at)}

    tasks = {name: timeline.backup_task(tenant, at) for name, tenant in tenants.items()}
    failed = {name for name, task in tasks.items() if task and task.status == "FAILED"}
    assert failed == {"pay"}, "a backup that fails"
    pay_task = tasks["pay"]
    assert pay_task is not None and pay_task.result < 0 and pay_task.comment
    before = timeline.backup_task(tenants["pay"], start)
    assert before is not None and before.status != "FAILED", "it fails during the demo"

    assert tenants["crm"].backup is None and tasks["crm"] is None, "a tenant never backed up"

    archives = {name: timeline.archive_state(tenant, at) for name, tenant in tenants.items()}
    pay_archive, erp_archive, app_archive = archives["pay"], archives["erp"], archives["app"]
    assert pay_archive is not None and pay_archive.delay > 600, "an archive lagging past 10m"
    assert timeline.archive_tasks(tenants["pay"], at), "... whose round still runs"
    assert erp_archive is not None and not timeline.archive_tasks(tenants["erp"], at), (
        "an archive round that stopped: obshell no longer lists it, the checkpoint stays"
    )
    assert timeline.archive_tasks(tenants["erp"], start), "it stops during the demo"

    restores = {
        task.restore_tenant_name: task.status for task in timeline.restore_tasks(cluster, at)
    }
    assert sorted(restores.values()) == ["FAIL", "SUCCESS"]
    running = timeline.restore_tasks(cluster, start)
    assert all(task.status not in {"FAIL", "SUCCESS"} for task in running), "both end in the demo"

    app_task = tasks["app"]
    assert app_task is not None and app_task.status == "COMPLETED", "a healthy tenant"
    assert app_archive is not None and app_archive.delay < 10
    for other in world.clusters[1:]:
        for tenant in timeline.live_tenants(other, at):
            task = timeline.backup_task(tenant, at)
            assert task is None or task.status != "FAILED", "the other clusters stay healthy"
