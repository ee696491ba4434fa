"""OCP per tenant: the task routes of each tenant, through the poller against a scripted OCP.

Every test here fails on a main that read only OCP's cluster overview: no tenant, task, log
backup or restore series existed for OCP, and lastDataBackupTime passed for a success.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from exporter.states import BACKUP_TASK_STATES, LOG_BACKUP_STATES
from tests.helpers.exposition import exact_value, value
from tests.helpers.ocp import SEED_LABELS, SEED_OCP_ID, ocp_config
from tests.helpers.polling import scrape
from tests.ocp.stub import CLUSTERS, OcpStub, failure, tenant_item

TENANTS = f"{CLUSTERS}/{SEED_OCP_ID}/tenants"
PAY = {**SEED_LABELS, "tenant_name": "pay", "ob_tenant_id": "1002"}
SHANGHAI = timezone(timedelta(hours=8))
ERRORS = "oceanbase_backup_exporter_poll_errors_total"


def colon(moment: float) -> str:
    """`2024-09-10T10:05:56.665+08:00`: OCP's OffsetDateTime style."""
    return datetime.fromtimestamp(moment, SHANGHAI).isoformat(timespec="milliseconds")


def zulu(moment: float) -> str:
    """`2024-08-06T00:00:00Z`: the UTC style of the tenant-level routes."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pay(ocp: OcpStub, paged: bool = False) -> None:
    ocp.tenants(
        SEED_OCP_ID,
        [tenant_item(1, "sys", 1), tenant_item(7, "pay", 1002)],
        paged=paged,
    )


def _failing_world(ocp: OcpStub, now: float, paged: bool) -> None:
    _pay(ocp, paged)
    ocp.tasks(SEED_OCP_ID, 7, "dataBackupTasks", [
        # Both date styles in one response.
        {"id": 11, "status": "DONE", "backupSetId": 3, "dataBackupMode": "FULL_BACKUP",
         "startTime": colon(now - 7200), "endTime": zulu(now - 6000),
         "backupSize": 1.5, "obStorageVolumeUnit": "GB"},
        {"id": 12, "status": "FAILED", "backupSetId": 4, "dataBackupMode": "INCREMENTAL_BACKUP",
         "startTime": zulu(now - 600), "endTime": colon(now - 300),
         "errorMessage": "log archive is not running"},
    ], paged=paged)  # fmt: skip
    ocp.tasks(SEED_OCP_ID, 7, "logBackupTasks", [
        {"id": 1, "status": "STOPPED", "backupDimension": "TENANT", "createTime": colon(now - 90000)},
        {"id": 2, "status": "INTERRUPTED", "backupDimension": "TENANT",
         "createTime": zulu(now - 80000), "latestLogBackupCheckpoint": colon(now - 900)},
    ], paged=paged)  # fmt: skip
    ocp.tasks(SEED_OCP_ID, 7, "restoreTasks", [
        {"id": 5, "status": "RESTORE_FAIL", "backupMode": "PHYSICAL_BACKUP",
         "startTime": zulu(now - 3000), "endTime": colon(now - 2000),
         "errorMessage": "restore failed"},
    ], paged=paged)  # fmt: skip


@pytest.mark.parametrize("paged", [False, True], ids=["contents", "contents-and-page"])
async def test_a_failing_tenant_shows_its_tasks(ocp: OcpStub, tmp_path: Path, paged: bool) -> None:
    now = time.time()
    _failing_world(ocp, now, paged)

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_tenant_info", **PAY, tenant_status="NORMAL") == 1
    # sys is not a user tenant: no series, as for obshell.
    assert not [ls for n, ls in parsed if dict(ls).get("tenant_name") == "sys"]
    for state in BACKUP_TASK_STATES:
        expected = 1 if state == "FAILED" else 0
        assert value(parsed, "oceanbase_backup_task_status", **PAY, status=state) == expected
    info = {"backup_set_id": "4", "task_id": "12", "job_id": "", "incarnation": "",
            "encryption_mode": "", "path": "", "comment": "log archive is not running",
            "raw_status": "FAILED"}  # fmt: skip
    assert value(parsed, "oceanbase_backup_task_info", **PAY, **info) == 1
    start = value(parsed, "oceanbase_backup_task_start_timestamp_seconds", **PAY)
    assert start == pytest.approx(int(now) - 600)
    end = value(parsed, "oceanbase_backup_task_end_timestamp_seconds", **PAY)
    assert end == pytest.approx(now - 300, abs=0.01)
    success = value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **PAY)
    assert success == pytest.approx(int(now) - 6000)
    failure_at = value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", **PAY)
    assert failure_at == pytest.approx(now - 300, abs=0.01)
    # The failed task has no size; the newest task's size is what is shown.
    assert value(parsed, "oceanbase_backup_task_output_bytes", **PAY) is None
    for state in LOG_BACKUP_STATES:
        expected = 1 if state == "NOT_RUNNING" else 0
        assert value(parsed, "oceanbase_log_backup_status", **PAY, status=state) == expected
    assert value(parsed, "oceanbase_log_backup_info", **PAY, raw_status="INTERRUPTED") == 1
    checkpoint = value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **PAY)
    assert checkpoint == pytest.approx(now - 900, abs=0.01)
    # The later of the DONE backup's end and the archive checkpoint.
    recovery = value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **PAY)
    assert recovery == pytest.approx(now - 900, abs=0.01)
    restore = {**SEED_LABELS, "tenant_name": "pay"}
    assert value(parsed, "oceanbase_restore_status", **restore, status="RESTORE_FAIL") == 1
    assert value(parsed, "oceanbase_restore_status", **restore, status="RESTORE_SUCCESS") == 0
    assert value(parsed, ERRORS) is None


async def test_one_poll_costs_one_tenant_list_and_three_task_lists_per_tenant(
    ocp: OcpStub, tmp_path: Path
) -> None:
    ocp.tenants(SEED_OCP_ID, [tenant_item(7, "pay", 1002), tenant_item(9, "crm", 1004)])

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    requests = "oceanbase_backup_exporter_requests_total"
    assert value(parsed, requests, endpoint=CLUSTERS) == 1
    assert value(parsed, requests, endpoint="/api/v2/ob/clusters/:id/tenants") == 1
    for kind in ("dataBackupTasks", "logBackupTasks", "restoreTasks"):
        route = f"/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task/{kind}"
        assert value(parsed, requests, endpoint=route) == 2
    # The data tasks of a window ending a day ahead (clock skew), in the routes' UTC style.
    (query,) = ocp.requests_to(f"{TENANTS}/7/backup/task/dataBackupTasks")
    assert query["startTime"].endswith("Z") and query["endTime"].endswith("Z")
    start = datetime.strptime(query["startTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert time.time() - start.timestamp() == pytest.approx(35 * 86400, abs=120)
    assert query["page"] == "1" and query["size"] == "2000"


async def test_a_tenant_task_list_that_pages_is_read_to_its_last_page(
    ocp: OcpStub, tmp_path: Path
) -> None:
    now = time.time()
    _pay(ocp)
    path = f"{TENANTS}/7/backup/task/dataBackupTasks"
    first = {"contents": [{"id": 1, "status": "DONE", "startTime": zulu(now - 9000),
                           "endTime": zulu(now - 8000)}],
             "page": {"number": 1, "size": 1, "totalElements": 2, "totalPages": 2}}  # fmt: skip
    ocp.routes[path] = (200, {"data": first, "successful": True, "status": 200})
    # The stub answers by path: the second page repeats the first, so only the count matters.

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert [q["page"] for q in ocp.requests_to(path)] == ["1", "2"]
    assert value(parsed, "oceanbase_backup_task_status", **PAY, status="COMPLETED") == 1


async def test_a_running_log_backup_and_a_done_backup_page_nothing(
    ocp: OcpStub, tmp_path: Path
) -> None:
    now = time.time()
    _pay(ocp)
    ocp.tasks(SEED_OCP_ID, 7, "dataBackupTasks", [
        {"id": 1, "status": "DONE", "startTime": zulu(now - 900), "endTime": zulu(now - 60),
         "backupSize": 2, "obStorageVolumeUnit": "MB"},
    ])  # fmt: skip
    ocp.tasks(SEED_OCP_ID, 7, "logBackupTasks", [
        {"id": 3, "status": "INPROGRESS", "createTime": zulu(now - 9000)},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_backup_task_status", **PAY, status="COMPLETED") == 1
    assert value(parsed, "oceanbase_backup_task_output_bytes", **PAY) == 2 * 2**20
    assert value(parsed, "oceanbase_log_backup_status", **PAY, status="DOING") == 1
    assert value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", **PAY) is None
    # No checkpoint on the task (an unconfirmed field): absent, never 0.
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **PAY) is None
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **PAY) is None
    recovery = value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **PAY)
    assert recovery == pytest.approx(int(now) - 60)


async def test_a_tenant_without_obtenantid_is_left_out_and_counted(
    ocp: OcpStub, tmp_path: Path
) -> None:
    ocp.tenants(SEED_OCP_ID, [tenant_item(7, "pay", None), tenant_item(9, "crm", 1004)])

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    names = {dict(ls)["tenant_name"] for n, ls in parsed if n == "oceanbase_tenant_info"}
    assert names == {"crm"}
    route = "/api/v2/ob/clusters/:id/tenants"
    assert value(parsed, ERRORS, endpoint=route, reason="decode") == 1


async def test_without_the_tenant_list_the_cluster_keeps_its_approximation(
    ocp: OcpStub, tmp_path: Path
) -> None:
    ocp.routes[TENANTS] = (500, failure(500, 10000, "Internal server error."))

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    # The seed overview: the log backup checkpoint, as a data backup exists.
    recovery = value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **SEED_LABELS)
    assert recovery == pytest.approx(1632293347.296)
    route = "/api/v2/ob/clusters/:id/tenants"
    assert value(parsed, ERRORS, endpoint=route, reason="api_error") == 1


async def test_a_failing_task_route_keeps_the_tenant_and_the_other_routes(
    ocp: OcpStub, tmp_path: Path
) -> None:
    now = time.time()
    _pay(ocp)
    ocp.routes[f"{TENANTS}/7/backup/task/dataBackupTasks"] = (
        500,
        failure(500, 10000, "Internal server error."),
    )
    ocp.tasks(SEED_OCP_ID, 7, "logBackupTasks", [
        {"id": 3, "status": "FAILED", "createTime": zulu(now - 9000)},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_tenant_info", **PAY, tenant_status="NORMAL") == 1
    assert value(parsed, "oceanbase_log_backup_status", **PAY, status="NOT_RUNNING") == 1
    assert value(parsed, "oceanbase_log_backup_info", **PAY, raw_status="FAILED") == 1
    # Unknown, not "never backed up": no success series, and the poll says it failed.
    assert value(parsed, "oceanbase_backup_task_status", **PAY, status="FAILED") is None
    route = "/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task/dataBackupTasks"
    assert value(parsed, ERRORS, endpoint=route, reason="api_error") == 1


async def test_an_old_finished_restore_is_not_exported(ocp: OcpStub, tmp_path: Path) -> None:
    now = time.time()
    _pay(ocp)
    ocp.tasks(SEED_OCP_ID, 7, "restoreTasks", [
        {"id": 5, "status": "RESTORE_FAIL", "startTime": zulu(now - 3 * 86400),
         "endTime": zulu(now - 2 * 86400)},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert not [n for n, _ in parsed if n.startswith("oceanbase_restore_")]


async def test_tenant_checkpoints_replace_the_clusters(ocp: OcpStub, tmp_path: Path) -> None:
    now = time.time()
    _pay(ocp)
    ocp.tasks(SEED_OCP_ID, 7, "logBackupTasks", [
        {"id": 3, "status": "INPROGRESS", "createTime": zulu(now - 9000),
         "latestLogBackupCheckpoint": zulu(now - 30), "logBackupDelaySeconds": 30},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    # One stalled archive must page once, for its tenant: the cluster's copy of the slowest
    # tenant's checkpoint is left out once the tenants carry their own.
    checkpoint = "oceanbase_log_backup_checkpoint_timestamp_seconds"
    assert exact_value(parsed, checkpoint, **SEED_LABELS) is None
    assert exact_value(parsed, "oceanbase_log_backup_delay_seconds", **SEED_LABELS) is None
    assert exact_value(parsed, checkpoint, **PAY) == int(now) - 30
    assert exact_value(parsed, "oceanbase_log_backup_delay_seconds", **PAY) == 30


async def test_task_times_without_offset_are_read_in_the_envelopes_zone(
    ocp: OcpStub, tmp_path: Path
) -> None:
    _pay(ocp)
    # The envelope says +08:00 (the stub's TIMESTAMP): offset-less times are Shanghai time.
    ocp.tasks(SEED_OCP_ID, 7, "dataBackupTasks", [
        {"id": 1, "status": "DONE", "startTime": "2026-11-30T10:00:00",
         "endTime": "2026-11-30T10:30:00", "backupSize": 3, "obStorageVolumeUnit": "EB"},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    success = value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **PAY)
    assert success == datetime(2026, 11, 30, 10, 30, tzinfo=SHANGHAI).timestamp()
    # A unit OCP does not document: no size, and a decode error, never a guess.
    assert value(parsed, "oceanbase_backup_task_output_bytes", **PAY) is None
    route = "/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task/dataBackupTasks"
    assert value(parsed, ERRORS, endpoint=route, reason="decode") == 1


async def test_a_future_log_checkpoint_is_an_error_never_a_future_recovery_point(
    ocp: OcpStub, tmp_path: Path
) -> None:
    now = time.time()
    _pay(ocp)
    ocp.tasks(SEED_OCP_ID, 7, "dataBackupTasks", [
        {"id": 11, "status": "DONE", "backupSetId": 3, "dataBackupMode": "FULL_BACKUP",
         "startTime": zulu(now - 7200), "endTime": zulu(now - 6000)},
    ])  # fmt: skip
    ocp.tasks(SEED_OCP_ID, 7, "logBackupTasks", [
        {"id": 3, "status": "INPROGRESS", "createTime": zulu(now - 9000),
         "latestLogBackupCheckpoint": zulu(now + 3600), "logBackupDelaySeconds": 0},
    ])  # fmt: skip

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    recovery = "oceanbase_backup_recovery_point_timestamp_seconds"
    assert exact_value(parsed, recovery, **PAY) == int(now) - 6000  # the backup's end alone
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **PAY) is None
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **PAY) is None  # never a calm 0
    assert value(parsed, "oceanbase_log_backup_status", **PAY, status="DOING") == 1
    log_tasks = "/api/v2/ob/clusters/:id/tenants/:tenantId/backup/task/logBackupTasks"
    assert value(parsed, ERRORS, endpoint=log_tasks, reason="decode") == 1
