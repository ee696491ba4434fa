"""The exporter polling the simulated OCP and OceanBase Cloud: failing worlds reach the series
the alerts read, per tenant, and one poll costs what the README says."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator import Simulator, timeline
from tests.helpers.configs import write_config
from tests.helpers.exposition import value
from tests.helpers.polling import scrape

Parsed = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def simulator(request: pytest.FixtureRequest) -> AsyncIterator[Simulator]:
    scenario, tenants = getattr(request, "param", ("demo", 3))
    sim = Simulator(scenario=scenario, clusters=2, tenants=tenants, seed=7)
    await sim.start()
    yield sim
    await sim.stop()


def _ocp(sim: Simulator, tmp_path: Path) -> Path:
    account = sim.ocp.account
    secret = tmp_path / "ocp_pw"
    secret.write_text(account.password)
    return write_config(
        tmp_path,
        f"targets:\n  - name: ocp\n    source: ocp\n    url: {sim.ocp_url}\n"
        f"    username: {account.username}\n    password_file: {secret}\n",
    )


def _cloud(sim: Simulator, tmp_path: Path) -> Path:
    account = sim.cloud.account
    secret = tmp_path / "cloud_sk"
    secret.write_text(account.access_key_secret)
    return write_config(
        tmp_path,
        f"targets:\n  - name: cloud\n    source: cloud\n    url: {sim.cloud_url}\n"
        f"    access_key_id: {account.access_key_id}\n    access_key_secret_file: {secret}\n",
    )


def _tenants(parsed: Parsed, name: str, **labels: str) -> set[tuple[str, str]]:
    """(cluster, tenant) of every sample of `name` with value 1 and `labels`."""
    return {
        (dict(ls)["ob_cluster_name"], dict(ls)["tenant_name"])
        for (n, ls), v in parsed.items()
        if n == name and v == 1 and set(labels.items()) <= set(ls)
    }


@pytest.mark.parametrize("simulator", [("failing-backup", 2)], indirect=True)
async def test_a_failing_ocp_world_shows_failed_tasks_per_tenant(
    simulator: Simulator, tmp_path: Path
) -> None:
    parsed = await scrape(_ocp(simulator, tmp_path))

    every = {(c.name, t.name) for c in simulator.world.clusters for t in c.tenants}
    assert _tenants(parsed, "oceanbase_backup_task_status", status="FAILED") == every
    assert _tenants(parsed, "oceanbase_tenant_info", tenant_status="NORMAL") == every
    for cluster, tenant in every:
        labels = {"ob_cluster_name": cluster, "tenant_name": tenant}
        failure = value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", **labels)
        success = value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **labels)
        assert failure is not None and success is not None and failure > success
    # One poll: the cluster list, and per cluster its overview, its tenant list and three
    # task lists per tenant (2 x (2 + 3 x 2) + 1 = 17).
    requests = "oceanbase_backup_exporter_requests_total"
    total = sum(v for (n, _), v in parsed.items() if n == requests)
    assert total == 1 + 2 * (2 + 3 * 2)
    assert value(parsed, "oceanbase_backup_exporter_poll_errors_total") is None


@pytest.mark.parametrize("simulator", [("archive-stopped", 4)], indirect=True)
async def test_an_interrupted_ocp_archive_is_not_running(
    simulator: Simulator, tmp_path: Path
) -> None:
    parsed = await scrape(_ocp(simulator, tmp_path))

    cluster = simulator.world.clusters[0]
    stopped = _tenants(parsed, "oceanbase_log_backup_status", status="NOT_RUNNING")
    assert {t for c, t in stopped if c == cluster.name} == {t.name for t in cluster.tenants[:2]}
    stopping = _tenants(parsed, "oceanbase_log_backup_status", status="STOPPING")
    assert {t for c, t in stopping if c == cluster.name} == {cluster.tenants[2].name}
    first = {"ob_cluster_name": cluster.name, "tenant_name": cluster.tenants[0].name}
    assert value(parsed, "oceanbase_log_backup_info", **first, raw_status="INTERRUPTED") == 1


@pytest.mark.parametrize("simulator", [("restore", 1)], indirect=True)
async def test_a_failed_ocp_restore_pages(simulator: Simulator, tmp_path: Path) -> None:
    simulator.clock.advance(3600)  # job 3 fails 55% into its half hour, from a minute in

    parsed = await scrape(_ocp(simulator, tmp_path))

    cluster = simulator.world.clusters[0]
    job = cluster.restores[2]
    labels = {"ob_cluster_name": cluster.name, "tenant_name": job.tenant_name}
    assert value(parsed, "oceanbase_restore_status", **labels, status="RESTORE_FAIL") == 1
    # OCP keeps the failed restore's tenant; it is not NORMAL, so it asks for no backup.
    assert value(parsed, "oceanbase_tenant_info", **labels, tenant_status="UNAVAILABLE") == 1


@pytest.mark.parametrize("simulator", [("healthy", 2)], indirect=True)
async def test_a_cloud_window_gap_moves_the_window_start(
    simulator: Simulator, tmp_path: Path
) -> None:
    # The archive of the first tenant broke just before its latest backup: that backup
    # restores only to its own end, a window of its own after a gap.
    cluster = simulator.world.clusters[0]
    broken, healthy = cluster.tenants[0], cluster.tenants[1]
    assert broken.backup is not None and broken.archive is not None
    run = timeline.latest_run(broken.backup, broken.salt, simulator.clock.now())
    assert run is not None and not run.failed and run.end < simulator.clock.now()
    broken.archive.stall_at = run.start - 60
    broken.archive.stopped_as = "INTERRUPTED"

    parsed = await scrape(_cloud(simulator, tmp_path))

    labels = {"ob_cluster_name": cluster.name, "tenant_name": broken.name}
    point = value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **labels)
    start = value(parsed, "oceanbase_backup_recovery_window_start_timestamp_seconds", **labels)
    assert point == int(run.end) and start == point  # only the lone backup after the gap
    labels = {"ob_cluster_name": cluster.name, "tenant_name": healthy.name}
    point = value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **labels)
    start = value(parsed, "oceanbase_backup_recovery_window_start_timestamp_seconds", **labels)
    assert point is not None and simulator.clock.now() - point < 120
    assert start is not None and start < run.start
    assert value(parsed, "oceanbase_backup_exporter_poll_errors_total") is None
