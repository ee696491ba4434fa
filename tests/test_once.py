"""`--once` against a scripted obshell that enforces auth v2: every metric, value by value."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.helpers.configs import obshell_config
from tests.helpers.exposition import samples, value
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.process import run_cli

TENANT1 = {
    "target": "hz-prod",
    "source": "obshell",
    "site": "hz",
    "ob_cluster_name": "ob-test",
    "ob_cluster_id": "1728727000",
    "tenant_name": "tenant1",
    "ob_tenant_id": "1002",
}


def test_once_exports_the_seed_examples(obshell: ObshellStub, tmp_path: Path) -> None:
    result = run_cli("--config.file", str(obshell_config(tmp_path, obshell.url)), "--once")
    assert result.returncode == 0, result.stderr
    parsed = samples(result.stdout)
    t1 = TENANT1
    assert value(parsed, "oceanbase_tenant_info", **t1, tenant_status="NORMAL") == 1
    assert value(parsed, "oceanbase_backup_task_status", **t1, status="COMPLETED") == 1
    assert value(parsed, "oceanbase_backup_task_status", **t1, status="DOING") == 0
    assert value(parsed, "oceanbase_backup_task_status", **t1, status="UNKNOWN") == 0
    assert value(parsed, "oceanbase_backup_task_output_bytes_per_second", **t1) == 144225.6503
    assert value(parsed, "oceanbase_backup_task_input_bytes", **t1) == 128825794
    assert value(parsed, "oceanbase_backup_task_output_bytes", **t1) == 22320897
    assert value(parsed, "oceanbase_backup_task_tablets", **t1) == 596
    assert value(parsed, "oceanbase_backup_task_finished_tablets", **t1) == 596
    assert value(parsed, "oceanbase_backup_task_tablet_progress_ratio", **t1) == 1.0
    assert value(parsed, "oceanbase_backup_task_macro_block_progress_ratio", **t1) == 1.0
    assert value(parsed, "oceanbase_backup_task_start_timestamp_seconds", **t1) == pytest.approx(
        1728727688.723714
    )
    assert value(parsed, "oceanbase_backup_task_end_timestamp_seconds", **t1) == pytest.approx(
        1728727843.487426
    )
    assert value(parsed, "oceanbase_backup_task_end_scn_timestamp_seconds", **t1) == pytest.approx(
        1728727843.446713
    )
    assert value(parsed, "oceanbase_backup_task_result_code", **t1) == 0
    info = {
        "backup_set_id": "1",
        "task_id": "1",
        "job_id": "1",
        "encryption_mode": "NONE",
        "raw_status": "COMPLETED",
        "path": "oss://oss-328067-1012-obshell/backup/archive/test/1/1002/data",
    }  # query string (host, keys) removed
    assert value(parsed, "oceanbase_backup_task_info", **t1, **info) == 1
    assert value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **t1) == pytest.approx(
        1728727843.487426
    )
    assert value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", **t1) is None
    assert value(
        parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **t1
    ) == pytest.approx(1728728400.5)
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **t1) == 3.25
    assert value(parsed, "oceanbase_log_backup_status", **t1, status="DOING") == 1
    assert value(parsed, "oceanbase_log_backup_status", **t1, status="NOT_RUNNING") == 0
    # The archive round started before the backup and passed its end: data + logs reach the checkpoint.
    assert value(
        parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **t1
    ) == pytest.approx(1728728400.5)
    cluster = {"target": "hz-prod", "ob_cluster_name": "ob-test", "ob_cluster_id": "1728727000"}
    assert value(parsed, "oceanbase_cluster_info", **cluster, ob_version="4.3.5.0") == 1
    assert value(parsed, "oceanbase_tenant_info", tenant_name="sys") is None
    # The seed restore finished in 2024: far past restore_history (24h), so it is not exported.
    assert (
        value(parsed, "oceanbase_restore_status", tenant_name="rt2", status="RESTORE_SUCCESS")
        is None
    )
    own = {"target": "hz-prod", "source": "obshell", "site": "hz"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 1
    assert value(parsed, "oceanbase_backup_exporter_polls_total", **own) == 1
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_requests_total",
            **own,
            endpoint="/api/v1/tenant/:name/backup/info",
        )
        == 2
    )
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_endpoint_supported",
            **own,
            endpoint="/api/v1/restore/tasks",
        )
        == 1
    )
    assert (
        value(parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds", **own)
        is not None
    )
    assert value(parsed, "oceanbase_backup_exporter_build_info") is not None
    assert not any(
        "/tenant/tenant1" in labels_value for (_, ls) in parsed for _, labels_value in ls
    )
    assert obshell.auth_failures == []


@pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool (Debian package prometheus) not installed"
)
def test_once_output_passes_promtool(obshell: ObshellStub, tmp_path: Path) -> None:
    result = run_cli("--config.file", str(obshell_config(tmp_path, obshell.url)), "--once")
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        ["promtool", "check", "metrics"],
        input=result.stdout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_once_wrong_password_is_an_auth_failure(obshell: ObshellStub, tmp_path: Path) -> None:
    config = obshell_config(tmp_path, obshell.url, password="wrong-password-PLANTED")
    result = run_cli("--config.file", str(config), "--once")
    assert result.returncode == 1
    parsed = samples(result.stdout)
    own = {"target": "hz-prod", "source": "obshell"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 0
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_poll_errors_total",
            **own,
            endpoint="/api/v1/ob/info",
            reason="auth",
        )
        == 1
    )
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1") is None
    assert "wrong-password-PLANTED" not in result.stdout + result.stderr
    assert obshell.auth_failures == ["Security.Authentication.IncorrectOceanbasePassword"]
