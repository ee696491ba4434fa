"""What real obshell agents send, item by item (issue 11): through the poller, against a
scripted agent or the simulator's scenarios that model each case."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from exporter.collector import collect
from exporter.config import load_config
from exporter.exposition import render
from exporter.logs import fields_of
from exporter.poller import Poller
from simulator import Simulator, timeline
from simulator.obshell import versions
from simulator.scenarios import ALL_SCENARIOS
from simulator.world import BackupPlan, Tenant
from tests.helpers.configs import obshell_config
from tests.helpers.exposition import samples, value
from tests.helpers.obshell_stub import ObshellStub, envelope
from tests.helpers.paths import ROOT
from tests.helpers.payloads import page, running_restore, seed
from tests.helpers.polling import poll_once, running_poller

JOBS = "/api/v1/tenant/:name/backup/tasks"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"
SIM_PASSWORD = "sim-root-password"
DAY = 86400.0


def _local(moment: datetime) -> str:
    """A time as obshell prints it: RFC 3339 in the agent host's zone (+08:00 here)."""
    return moment.astimezone(datetime.now(UTC).astimezone().tzinfo).isoformat()


def _job(job_id: int, kind: str, start: datetime | None, end: datetime | None, **extra: Any) -> dict[str, Any]:  # fmt: skip
    row: dict[str, Any] = {
        "tenant_id": 1002,
        "job_id": job_id,
        "backup_set_id": job_id,
        "plus_archivelog": "OFF",
        "backup_type": kind,
        "start_timestamp": start.isoformat() if start else None,
        "status": "COMPLETED",
        "result": 0,
        "comment": "",
        "description": "",
        "path": "oss://b/data",
    }
    if end is not None:
        row["end_timestamp"] = end.isoformat()
    return row | extra


async def test_an_odd_job_row_costs_only_that_row(obshell: ObshellStub, tmp_path: Path) -> None:
    # Item 4: bo.BackupJob as obshell marshals it ("ON"/"OFF", FULL/INC, a null start, no end
    # while unset), plus one row no obshell sends: only that row is lost.
    now = datetime.now(UTC).replace(microsecond=0)
    inc_end, full_end = now - timedelta(hours=2), now - timedelta(days=1)
    rows = [
        _job(11, "INC", now - timedelta(hours=3), inc_end),
        {"job_id": "eleven", "status": "COMPLETED", "start_timestamp": 17},
        _job(10, "FULL", now - timedelta(days=1, hours=1), full_end, plus_archivelog="ON"),
        _job(12, "INC", None, None),  # a NULL start, which obshell sorts last; no end
    ]
    obshell.set("/api/v1/tenant/tenant1/backup/tasks", page(rows, size=16))
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await poll_once(poller)
    tenant1 = {"tenant_name": "tenant1"}
    assert (
        value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **tenant1)
        == inc_end.timestamp()
    )
    assert (
        value(parsed, "oceanbase_backup_last_full_success_timestamp_seconds", **tenant1)
        == full_end.timestamp()
    )
    assert value(parsed, ERRORS, endpoint=JOBS, reason="decode") == 1
    # The other tenant's page is whole.
    assert value(
        parsed, "oceanbase_backup_last_full_success_timestamp_seconds", tenant_name="tenant2"
    )


async def test_missing_task_numbers_are_absent_not_zero(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    # Issue 16: a FAILED task without `result` must not say result_code 0 (success).
    overview = seed("cluster_backup_overview")
    task = overview["data"]["statuses"][0]
    task["status"] = "FAILED"
    for key in ("result", "file_count", "input_bytes", "task_id"):
        del task[key]
    obshell.routes["/api/v1/obcluster/backup/overview"] = (200, overview)
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await poll_once(poller)
    tenant = {"tenant_name": "tenant1"}
    assert value(parsed, "oceanbase_backup_task_status", status="FAILED", **tenant) == 1
    assert value(parsed, "oceanbase_backup_task_result_code", **tenant) is None
    assert value(parsed, "oceanbase_backup_task_files", **tenant) is None
    assert value(parsed, "oceanbase_backup_task_input_bytes", **tenant) is None
    assert value(parsed, "oceanbase_backup_task_info", task_id="", **tenant) == 1


async def test_a_checkpoint_in_the_future_is_no_delay_of_zero(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    # Issue 16: today max(0, now - checkpoint) turned it into a reassuring 0.
    future = _local(datetime.now(UTC) + timedelta(hours=1))
    for name in ("tenant1", "tenant2"):
        obshell.set(f"/api/v1/tenant/{name}/backup/info", {"tenant_id": 1002, "lastest_archive_log_checkpoint": future})  # fmt: skip
        obshell.set(f"/api/v1/tenant/{name}/backup/log/tasks", {"contents": []})
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await poll_once(poller)
    for name in ("tenant1", "tenant2"):
        assert value(parsed, "oceanbase_log_backup_delay_seconds", tenant_name=name) is None
        assert (
            value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", tenant_name=name)
            is None
        )
    assert value(parsed, ERRORS, endpoint="/api/v1/tenant/:name/backup/info", reason="decode") == 2


async def test_offsetless_restore_times_take_the_envelopes_zone_whatever_its_digits(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    # Item 8: Go's RFC3339Nano trims trailing zeros; "…30.1791+08:00" is the agent's +08:00.
    running = running_restore(restore_tenant_name="rt5", start_timestamp="2025-09-10 10:05:00")
    body = envelope(page([running]))
    for stamp in ("2025-09-10T10:20:30.1791+08:00", "2025-09-10T10:20:30+08:00"):
        obshell.routes["/api/v1/restore/tasks"] = (200, body | {"timestamp": stamp})
        (tmp_path / stamp).mkdir()
        async with running_poller(obshell_config(tmp_path / stamp, obshell.url)) as poller:
            parsed = await poll_once(poller)
        expected = datetime.fromisoformat("2025-09-10T10:05:00+08:00").timestamp()
        assert (
            value(parsed, "oceanbase_restore_start_timestamp_seconds", tenant_name="rt5")
            == expected
        )


def test_the_simulators_backups_never_show_beginning() -> None:
    # OceanBase's ObBackupStatus has no BEGINNING (an archive round state): INIT first.
    tenant = Tenant("t", 1002, created_at=0.0, backup=BackupPlan(first_start=1000.0, path="p"))
    run = timeline.latest_run(tenant.backup, 0, 1000.0)  # type: ignore[arg-type]
    assert run is not None
    seen = set()
    for step in range(200):
        task = timeline.backup_task(tenant, 1000.0 + run.duration * step / 199)
        assert task is not None
        seen.add(task.status)
    assert "BEGINNING" not in seen
    assert {"INIT", "BACKUP_DATA_MAJOR", "COMPLETED"} <= seen


def test_the_simulators_help_lists_every_scenario() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "simulator", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for scenario in ALL_SCENARIOS:
        assert f"- `{scenario}`:" in shown


# ----------------------------------------------------------------------------- scenarios


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    scenario, tenants = request.param
    sim = Simulator(scenario=scenario, clusters=1, tenants=tenants, seed=11, password=SIM_PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


def _poller(sim: Simulator, tmp_path: Path) -> Poller:
    secret = tmp_path / "pw"
    secret.write_text(SIM_PASSWORD)
    targets = "".join(
        f"  - {{name: c{i}, source: obshell, url: '{sim.agent_url(i)}', password_file: {secret}}}\n"
        for i in range(len(sim.world.clusters))
    )
    config = tmp_path / "config.yaml"
    config.write_text("targets:\n" + targets)
    return Poller(load_config(config))


@pytest.mark.parametrize("simulator", [("versions", 2)], indirect=True)
async def test_every_modelled_version_polls_clean(
    simulator: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Item 3 and the routes by version, end to end through the simulator (two tenants and
    # one restored two days ago).
    poller = _poller(simulator, tmp_path)
    try:
        await poll_once(poller)
        parsed = await poll_once(poller)
    finally:
        await poller.stop()
    assert not [k for k in parsed if k[0] == ERRORS]
    for index, cluster in enumerate(simulator.world.clusters):
        target = {"target": f"c{index}"}
        version = versions.parse_version(cluster.version)
        assert value(parsed, "oceanbase_backup_exporter_target_up", **target) == 1
        assert value(parsed, "oceanbase_cluster_info", **target) == 1
        tenants = [k for k in parsed if k[0] == "oceanbase_tenant_info" and ("target", f"c{index}") in k[1]]  # fmt: skip
        full = value(parsed, "oceanbase_backup_last_full_success_timestamp_seconds", tenant_name="app", **target)  # fmt: skip
        overview = value(parsed, "oceanbase_backup_exporter_endpoint_supported", endpoint="/api/v1/tenants/overview", **target)  # fmt: skip
        if version < versions.BACKUP_ROUTES_SINCE:
            assert not tenants and overview == 0
        elif version < versions.EXTENDED_BACKUP_ROUTES_SINCE:
            assert len(tenants) == 3 and overview == 1 and full is None
        else:
            assert len(tenants) == 3 and overview == 1 and full is not None
    said = [r for r in caplog.records if "has no backup API" in r.getMessage()]
    assert len(said) == 1 and fields_of(said[0])["version"] == "4.2.3.0"


@pytest.mark.parametrize("simulator", [("archive-stopped", 4)], indirect=True)
async def test_stopped_archive_rounds_are_not_running_with_a_growing_delay(
    simulator: Simulator, tmp_path: Path
) -> None:
    # Item 6: INTERRUPTED, STOP and SUSPENDING rounds are not listed by /backup/log/tasks.
    poller = _poller(simulator, tmp_path)
    try:
        first = await poll_once(poller)
        simulator.clock.advance(120)
        later = await poll_once(poller)
        text = render(collect(poller.snapshots(), None), open_metrics=False).decode()
    finally:
        await poller.stop()
    for name in ("app", "pay", "crm"):
        assert value(later, "oceanbase_log_backup_status", tenant_name=name, status="NOT_RUNNING") == 1  # fmt: skip
        assert not [k for k in later if k[0] == "oceanbase_log_backup_info" and ("tenant_name", name) in k[1]]  # fmt: skip
        before = value(first, "oceanbase_log_backup_delay_seconds", tenant_name=name)
        after = value(later, "oceanbase_log_backup_delay_seconds", tenant_name=name)
        assert before is not None and after is not None and after >= before + 119
    assert value(later, "oceanbase_log_backup_status", tenant_name="erp", status="DOING") == 1
    assert not [k for k in later if k[0] == ERRORS]
    help_line = next(line for line in text.splitlines() if line.startswith("# HELP oceanbase_log_backup_status "))  # fmt: skip
    assert "CDB_OB_ARCHIVELOG" in help_line and "cannot tell" in help_line
    runbook = (ROOT / "docs" / "runbook.md").read_text()
    assert "**Broken or stopped?** obshell cannot tell" in runbook


@pytest.mark.parametrize("simulator", [("full-failing", 3)], indirect=True)
async def test_failing_full_backups_show_beside_succeeding_incrementals(
    simulator: Simulator, tmp_path: Path
) -> None:
    # Item 5: the newest successful FULL, found in the first page of COMPLETED jobs or, when
    # six days of incrementals push it off, by one more call that is not repeated next poll.
    poller = _poller(simulator, tmp_path)
    try:
        first = await poll_once(poller)
        parsed = await poll_once(poller)
    finally:
        await poller.stop()
    now = time.time()
    full = "oceanbase_backup_last_full_success_timestamp_seconds"
    any_ = "oceanbase_backup_last_success_timestamp_seconds"
    app_full, pay_full = value(parsed, full, tenant_name="app"), value(parsed, full, tenant_name="pay")  # fmt: skip
    assert app_full is not None and now - 2.1 * DAY < app_full < now - DAY
    assert pay_full is not None and now - 7.1 * DAY < pay_full < now - 6 * DAY
    for name in ("app", "pay", "crm"):
        newest = value(parsed, any_, tenant_name=name)
        assert newest is not None and newest > now - DAY
    # crm's next job waits with a NULL start: its page is read whole, its FULLs succeed.
    crm_full = value(parsed, full, tenant_name="crm")
    assert crm_full is not None and crm_full > now - 2 * DAY
    assert not [k for k in parsed if k[0] == ERRORS]
    requests = "oceanbase_backup_exporter_requests_total"
    assert value(first, requests, endpoint=JOBS) == 7  # app 2, pay 3 (one search), crm 2
    # Then none: no tenant's latest task changed, so no history is read again (issue 15).
    assert value(parsed, requests, endpoint=JOBS) == 7
    assert samples  # the module's parser is the one the other tests use
