"""`--once` against a scripted OCP that enforces its auth: the seed example, sample by sample."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from exporter.states import CLUSTER_STATES, SCHEDULE_STATES
from tests.helpers.exposition import samples, value
from tests.helpers.ocp import SEED_LABELS, ocp_config
from tests.helpers.process import run_cli
from tests.ocp.stub import CLUSTERS, OcpStub

OVERVIEW_ROUTE = "/api/v2/ob/clusters/:id/backup/overview"
CLUSTER_SERIES = (
    "oceanbase_backup_last_data_backup_timestamp_seconds",
    "oceanbase_log_backup_checkpoint_timestamp_seconds",
    "oceanbase_log_backup_delay_seconds",
    "oceanbase_backup_strategy_configured",
)


@pytest.mark.parametrize("signed", [False, True], ids=["basic", "access-key"])
def test_once_exports_the_seed_overview(ocp: OcpStub, tmp_path: Path, signed: bool) -> None:
    result = run_cli("--config.file", str(ocp_config(tmp_path, ocp.url, signed=signed)), "--once")

    assert result.returncode == 0, result.stderr
    parsed = samples(result.stdout)
    c = SEED_LABELS
    # Labels are OceanBase's cluster name and obClusterId (5), never OCP's own id (1000005).
    assert value(parsed, "oceanbase_cluster_info", **c, ob_version="2.2.77",
                 cluster_type="PRIMARY", raw_status="RUNNING") == 1  # fmt: skip
    for state in CLUSTER_STATES:
        expected = 1 if state == "RUNNING" else 0
        assert value(parsed, "oceanbase_cluster_status", **c, status=state) == expected
    for state in SCHEDULE_STATES:
        expected = 1 if state == "NORMAL" else 0
        assert value(parsed, "oceanbase_backup_schedule_status", **c, status=state) == expected
    assert value(parsed, "oceanbase_backup_schedule_info", **c, raw_status="NORMAL") == 1
    assert value(parsed, "oceanbase_backup_strategy_configured", **c) == 1
    # "2021-09-16T17:25:02.993+0800" and "2021-09-22T14:49:07.296+0800": offsets without colon.
    # lastDataBackupTime is "the most recent data backup", not said to have succeeded.
    assert value(
        parsed, "oceanbase_backup_last_data_backup_timestamp_seconds", **c
    ) == pytest.approx(1631784302.993)
    assert value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **c) is None
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **c) == pytest.approx(
        1632293347.296
    )
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **c) == 98
    # OCP listed the cluster's tenants (none here): no cluster-wide approximation beside them.
    assert value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **c) is None
    # The seed has no backupSize: unknown is absent, not 0.
    assert value(parsed, "oceanbase_backup_size_bytes", **c) is None
    # Cluster-level series carry no tenant labels; OCP reports no tenants or backup sets here.
    for name in CLUSTER_SERIES:
        labels = next(ls for (n, ls) in parsed if n == name)
        assert {k for k, _ in labels} == {"target", "source", "ob_cluster_name", "ob_cluster_id"}
    assert not any(
        n.startswith(("oceanbase_tenant_info", "oceanbase_backup_set_")) for n, _ in parsed
    )
    own = {"target": "ocp-main", "source": "ocp"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 1
    assert value(parsed, "oceanbase_backup_exporter_requests_total", **own, endpoint=CLUSTERS) == 1
    assert (
        value(parsed, "oceanbase_backup_exporter_requests_total", **own, endpoint=OVERVIEW_ROUTE)
        == 1
    )
    assert ocp.requests_to(CLUSTERS) == [{"page": "1", "size": "2000"}]
    assert ocp.auth_failures == []
    scheme = "OCP-ACCESS-KEY-HMACSHA1 ocp-access-key-id:" if signed else "Basic "
    assert all(a.startswith(scheme) for a in ocp.authorizations)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_once_output_passes_promtool(ocp: OcpStub, tmp_path: Path) -> None:
    result = run_cli("--config.file", str(ocp_config(tmp_path, ocp.url)), "--once")
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=result.stdout, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.parametrize("signed", [False, True], ids=["basic", "access-key"])
def test_wrong_credentials_are_an_auth_failure(ocp: OcpStub, tmp_path: Path, signed: bool) -> None:
    config = ocp_config(tmp_path, ocp.url, password="wrong-secret-PLANTED", signed=signed)
    result = run_cli("--config.file", str(config), "--once")

    assert result.returncode == 1
    parsed = samples(result.stdout)
    own = {"target": "ocp-main", "source": "ocp"}
    assert value(parsed, "oceanbase_backup_exporter_target_up", **own) == 0
    errors = "oceanbase_backup_exporter_poll_errors_total"
    assert value(parsed, errors, **own, endpoint=CLUSTERS, reason="auth") == 1
    assert value(parsed, "oceanbase_cluster_info") is None
    assert ocp.auth_failures == ["signature mismatch" if signed else "Bad credentials"]
    # The 401 is OCP's JSON (error.code 30000), with no WWW-Authenticate to answer.
    assert "30000" in result.stderr
    encoded = base64.b64encode(b"admin:wrong-secret-PLANTED").decode()
    for leaked in ("wrong-secret-PLANTED", encoded):
        assert leaked not in result.stdout + result.stderr


def test_forbidden_is_an_auth_failure(ocp: OcpStub, tmp_path: Path) -> None:
    ocp.account.permitted = False

    result = run_cli("--config.file", str(ocp_config(tmp_path, ocp.url)), "--once")

    assert result.returncode == 1
    parsed = samples(result.stdout)
    errors = "oceanbase_backup_exporter_poll_errors_total"
    assert value(parsed, errors, endpoint=CLUSTERS, reason="auth") == 1
    assert "HTTP 403 30014" in result.stderr
