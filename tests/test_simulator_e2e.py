"""The exporter polling the simulator: each scenario's metrics move the way it says."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from exporter.collector import collect
from exporter.config import load_config
from exporter.exposition import render
from exporter.poller import Poller
from simulator import Simulator
from tests.helpers.exposition import samples, value
from tests.helpers.process import free_port

PASSWORD = "sim-root-password"


async def _exporter_for(sim: Simulator, tmp_path: Path, clusters: int = 1) -> Poller:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    targets = "".join(
        f"  - {{name: c{i}, source: obshell, url: '{sim.agent_url(i)}', password_file: {secret}}}\n"
        for i in range(clusters)
    )
    config = tmp_path / "config.yaml"
    config.write_text("targets:\n" + targets)
    return Poller(load_config(config))


async def _scrape(poller: Poller) -> dict:  # type: ignore[type-arg]
    await poller.poll_all_once()
    return samples(render(collect(poller.snapshots(), None), open_metrics=False).decode())


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    scenario = getattr(request, "param", "demo")
    sim = Simulator(scenario=scenario, clusters=1, tenants=3, seed=7, password=PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


@pytest.mark.parametrize("simulator", ["demo"], indirect=True)
async def test_backup_progress_rises_to_completion(simulator: Simulator, tmp_path: Path) -> None:
    # In the demo, tenant `pay` is a third into a 200 GiB backup (about an hour at its rate).
    poller = await _exporter_for(simulator, tmp_path)
    ratios: list[float] = []
    try:
        for _ in range(60):
            parsed = await _scrape(poller)
            ratio = value(parsed, "oceanbase_backup_task_tablet_progress_ratio", tenant_name="pay")
            if (
                value(parsed, "oceanbase_backup_task_status", tenant_name="pay", status="DOING")
                == 1
            ):
                assert (
                    value(parsed, "oceanbase_backup_task_end_timestamp_seconds", tenant_name="pay")
                    is None
                )
                if ratio is not None:
                    ratios.append(ratio)
            elif (
                value(parsed, "oceanbase_backup_task_status", tenant_name="pay", status="COMPLETED")
                == 1
            ):
                assert ratio == 1.0
                end = value(
                    parsed, "oceanbase_backup_task_end_timestamp_seconds", tenant_name="pay"
                )
                assert (
                    value(
                        parsed, "oceanbase_backup_last_success_timestamp_seconds", tenant_name="pay"
                    )
                    == end
                )
                break
            simulator.clock.advance(120)
        else:
            pytest.fail("the backup never completed")
    finally:
        await poller.stop()
    assert len(ratios) >= 3 and ratios == sorted(ratios) and ratios[0] < ratios[-1] <= 1


@pytest.mark.parametrize("simulator", ["log-lag"], indirect=True)
async def test_log_lag_delay_grows_past_a_threshold(simulator: Simulator, tmp_path: Path) -> None:
    poller = await _exporter_for(simulator, tmp_path)
    try:
        simulator.clock.advance(300)  # the scenario's archive stalls two minutes in
        first = await _scrape(poller)
        simulator.clock.advance(1800)
        later = await _scrape(poller)
    finally:
        await poller.stop()
    start_checkpoint = value(
        first, "oceanbase_log_backup_checkpoint_timestamp_seconds", tenant_name="app"
    )
    assert value(later, "oceanbase_log_backup_delay_seconds", tenant_name="app") > 600
    assert (
        value(later, "oceanbase_log_backup_checkpoint_timestamp_seconds", tenant_name="app")
        == start_checkpoint
    )
    assert value(later, "oceanbase_log_backup_status", tenant_name="app", status="DOING") == 1


@pytest.mark.parametrize("simulator", ["failing-backup"], indirect=True)
async def test_failing_backup_shows_failed_with_its_error_code(
    simulator: Simulator, tmp_path: Path
) -> None:
    poller = await _exporter_for(simulator, tmp_path)
    try:
        parsed = await _scrape(poller)
    finally:
        await poller.stop()
    failed = [
        k
        for k, v in parsed.items()
        if k[0] == "oceanbase_backup_task_status" and ("status", "FAILED") in k[1] and v == 1
    ]
    assert failed
    tenant = dict(failed[0][1])["tenant_name"]
    assert value(parsed, "oceanbase_backup_task_result_code", tenant_name=tenant) == -4018
    assert (
        value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", tenant_name=tenant)
        is not None
    )


@pytest.mark.parametrize("simulator", ["restore"], indirect=True)
async def test_restore_reaches_success(simulator: Simulator, tmp_path: Path) -> None:
    poller = await _exporter_for(simulator, tmp_path)
    phases: list[str] = []
    try:
        for _ in range(40):
            simulator.clock.advance(60)
            parsed = await _scrape(poller)
            current = [dict(k[1])["status"] for k, v in parsed.items()
                       if k[0] == "oceanbase_restore_status" and ("tenant_name", "app_r2") in k[1] and v == 1]  # fmt: skip
            if current and (not phases or phases[-1] != current[0]):
                phases.append(current[0])
            if phases and phases[-1] == "RESTORE_SUCCESS":
                assert (
                    value(
                        parsed, "oceanbase_restore_finish_timestamp_seconds", tenant_name="app_r2"
                    )
                    is not None
                )
                break
    finally:
        await poller.stop()
    assert phases[-1] == "RESTORE_SUCCESS"
    assert len(phases) >= 3, phases


@pytest.mark.parametrize("simulator", ["healthy"], indirect=True)
async def test_agents_older_than_4_3_1_lack_routes_without_errors(
    simulator: Simulator, tmp_path: Path
) -> None:
    simulator.world.clusters[0].version = "4.3.0.0"
    poller = await _exporter_for(simulator, tmp_path)
    try:
        parsed = await _scrape(poller)
    finally:
        await poller.stop()
    assert (
        value(
            parsed, "oceanbase_backup_exporter_endpoint_supported", endpoint="/api/v1/restore/tasks"
        )
        == 0
    )
    assert not [k for k in parsed if k[0] == "oceanbase_backup_exporter_poll_errors_total"]
    assert value(parsed, "oceanbase_backup_exporter_target_up") == 1


def test_demo_serves_live_metrics() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "exporter", "--demo", "--web.listen-address", f"127.0.0.1:{port}"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        parsed: dict = {}  # type: ignore[type-arg]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                parsed = samples(httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text)
            except httpx.HTTPError:
                parsed = {}
            both_up = all(
                value(parsed, "oceanbase_backup_exporter_target_up", target=t) == 1
                for t in ("demo-0", "demo-1", "demo-ocp", "demo-cloud")
            )
            if (
                both_up
                and value(parsed, "oceanbase_tenant_info", target="demo-0", tenant_name="app") == 1
            ):
                break
            time.sleep(0.3)
        assert value(parsed, "oceanbase_tenant_info", target="demo-0", tenant_name="app") == 1
        for target in ("demo-1", "demo-ocp", "demo-cloud"):
            assert value(parsed, "oceanbase_backup_exporter_target_up", target=target) == 1
    finally:
        process.terminate()
        _, stderr = process.communicate(timeout=10)
    assert "Traceback" not in stderr
    assert f"open=http://localhost:{port}/" in stderr
