"""`--once` against a scripted OceanBase Cloud that enforces digest auth: the seed backup set."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.states import BACKUP_SET_STATES
from tests.cloud.stub import INSTANCES, CloudStub, failure
from tests.helpers.cloud import INSTANCE_ID, INSTANCE_LABELS, cloud_config
from tests.helpers.exposition import exact_value, samples, value
from tests.helpers.process import run_cli

GIB = 2**30
SETS = f"{INSTANCES}/{INSTANCE_ID}/backup/data/sets"
SETS_ROUTE = "/api/v2/instances/:id/backup/data/sets"
SET_ROUTE = "/api/v2/instances/:id/backup/data/sets/:backupTaskId"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"


def test_once_exports_the_seed_backup_set(cloud: CloudStub, tmp_path: Path) -> None:
    config = cloud_config(tmp_path, cloud.url, extra="    project_id: proj-123\n")
    result = run_cli("--config.file", str(config), "--once")

    assert result.returncode == 0, result.stderr
    parsed = samples(result.stdout)
    i = INSTANCE_LABELS  # the instance-level set (tenantId "sys", tenantName "*"): no tenant labels
    t = {**i, "tenant_name": "test1", "ob_tenant_id": "txxx"}  # its tenant-level set
    cluster_info = {**i, "ob_version": "4.2.1.2", "cluster_type": "PRIMARY"}
    assert exact_value(parsed, "oceanbase_cluster_info", **cluster_info) == 1
    for labels in (i, t):
        for state in BACKUP_SET_STATES:
            expected = 1 if state == "DONE" else 0
            assert (
                exact_value(parsed, "oceanbase_backup_set_status", **labels, status=state)
                == expected
            )
        # dataBackupSize 0.06, read as GiB: 64424509.44 bytes.
        assert exact_value(parsed, "oceanbase_backup_set_size_bytes", **labels) == pytest.approx(
            0.06 * GIB
        )
    times = {
        # name: (instance-level, tenant-level), from "...Z" times of the seed
        "oceanbase_backup_set_checkpoint_timestamp_seconds": (1768818748, 1768818748),
        "oceanbase_backup_set_start_timestamp_seconds": (1768818653, 1768818669),
        "oceanbase_backup_set_end_timestamp_seconds": (1768818769, 1768818760),
    }
    for name, (instance_value, tenant_value) in times.items():
        assert exact_value(parsed, name, **i) == instance_value
        assert exact_value(parsed, name, **t) == tenant_value
    set_info = {
        "backup_mode": "PHYSICAL_BACKUP",
        "data_backup_mode": "FULL_BACKUP",
        "trigger_mode": "BACKUP_NOW",
        "validity": "VALID",
        "raw_status": "DONE",
    }
    assert (
        exact_value(
            parsed, "oceanbase_backup_set_info", **i, backup_set_id="bak-********", **set_info
        )
        == 1
    )
    assert (
        exact_value(
            parsed, "oceanbase_backup_set_info", **t, backup_set_id="bak-********-1002", **set_info
        )
        == 1
    )
    # The newest DONE set: its end is the last success, its checkpoint the recovery point.
    assert exact_value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **i) == 1768818769
    assert (
        exact_value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **i) == 1768818748
    )
    for name in (
        "oceanbase_backup_last_success_timestamp_seconds",
        "oceanbase_backup_recovery_point_timestamp_seconds",
    ):
        assert len([n for (n, _) in parsed if n == name]) == 1
    assert value(parsed, "oceanbase_tenant_info") is None  # Cloud lists no tenants here
    own = {"target": "obcloud", "source": "cloud"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 1
    for endpoint in (INSTANCES, SETS_ROUTE, SET_ROUTE):
        assert (
            value(parsed, "oceanbase_backup_exporter_requests_total", **own, endpoint=endpoint) == 1
        )
    # Every call (the restorable-tenants route too, here answered 404): the project header,
    # and a request id of its own.
    assert cloud.project_ids == ["proj-123"] * 4
    request_ids = [query["requestId"] for _, query in cloud.seen]
    assert len(set(request_ids)) == 4 and all(len(r) == 36 for r in request_ids)
    (window,) = cloud.requests_to(SETS)
    assert window["startTime"].endswith("Z") and window["endTime"].endswith("Z")
    assert window["startTime"] < window["endTime"]
    assert cloud.denied == 0


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_once_output_passes_promtool(cloud: CloudStub, tmp_path: Path) -> None:
    result = run_cli("--config.file", str(cloud_config(tmp_path, cloud.url)), "--once")
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=result.stdout, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_wrong_secret_is_an_auth_failure(cloud: CloudStub, tmp_path: Path) -> None:
    config = cloud_config(tmp_path, cloud.url, secret="wrong-secret-PLANTED")
    result = run_cli("--config.file", str(config), "--once")

    assert result.returncode == 1
    parsed = samples(result.stdout)
    own = {"target": "obcloud", "source": "cloud"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 0
    assert value(parsed, ERRORS, **own, endpoint=INSTANCES, reason="auth") == 1
    assert value(parsed, "oceanbase_cluster_info") is None
    assert cloud.denied == 1  # challenged, answered with the wrong secret, refused
    assert "wrong-secret-PLANTED" not in result.stdout + result.stderr


def test_a_failure_envelope_is_an_api_error_logged_with_code_and_message(
    cloud: CloudStub, tmp_path: Path
) -> None:
    cloud.routes[SETS] = (500, failure("E001R000", "Unknown Error"))
    result = run_cli("--config.file", str(cloud_config(tmp_path, cloud.url)), "--once")

    assert result.returncode == 1
    parsed = samples(result.stdout)
    assert value(parsed, ERRORS, endpoint=SETS_ROUTE, reason="api_error") == 1
    assert "E001R000: Unknown Error" in result.stderr
    assert "requestId f3b1c2d4-0000-4000-8000-000000000001" in result.stderr
    assert "cloud-access-key-secret" not in result.stdout + result.stderr
    # The instance is still known; only its backup sets are missing this poll.
    assert value(parsed, "oceanbase_cluster_info", **INSTANCE_LABELS) == 1
    assert value(parsed, "oceanbase_backup_set_status") is None
