"""The obshell source through the poller, against scripted agents: what users see change."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

from exporter.collector import collect
from exporter.config import load_config
from exporter.exposition import render
from exporter.poller import Poller
from exporter.sources.errors import PollError
from exporter.sources.obshell import history, routes
from exporter.sources.obshell import models as m
from tests.helpers.configs import PASSWORD, obshell_config
from tests.helpers.exposition import samples, value
from tests.helpers.obshell_stub import ObshellStub, error
from tests.helpers.payloads import seed
from tests.helpers.polling import running_poller


async def _poll(poller: Poller) -> dict:  # type: ignore[type-arg]
    await poller.poll_all_once()
    return samples(render(collect(poller.snapshots(), None), open_metrics=False).decode())


async def test_removed_tenant_disappears_at_the_next_poll(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        before = await _poll(poller)
        assert value(before, "oceanbase_tenant_info", tenant_name="tenant2") == 1
        overview = seed("cluster_backup_overview")
        overview["data"]["statuses"] = overview["data"]["statuses"][:1]
        obshell.routes["/api/v1/obcluster/backup/overview"] = (200, overview)
        obshell.set(
            "/api/v1/tenants/overview",
            {"contents": [{"tenant_id": 1002, "tenant_name": "tenant1", "status": "NORMAL"}]},
        )
        after = await _poll(poller)
    assert value(after, "oceanbase_tenant_info", tenant_name="tenant1") == 1
    assert not [k for k in after if ("tenant_name", "tenant2") in k[1]]


async def test_dead_target_is_down_and_does_not_slow_the_others(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD)
    config = tmp_path / "c.yaml"
    config.write_text(
        "defaults: {timeout: 2s}\ntargets:\n"
        f"  - {{name: good, source: obshell, url: '{obshell.url}', password_file: {secret}}}\n"
        # A port nothing listens on, and an address that swallows packets (RFC 5737 is not used:
        # only loopback traffic is allowed here), so: refused connection.
        f"  - {{name: dead, source: obshell, url: 'http://127.0.0.1:9', password_file: {secret}}}\n"
    )
    async with running_poller(config) as poller:
        started = time.monotonic()
        parsed = await _poll(poller)
        elapsed = time.monotonic() - started
    assert value(parsed, "oceanbase_backup_exporter_target_up", target="good") == 1
    assert value(parsed, "oceanbase_backup_exporter_target_up", target="dead") == 0
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_poll_errors_total",
            target="dead",
            endpoint="/api/v1/info",
            reason="connection",
        )
        == 1
    )
    assert value(parsed, "oceanbase_tenant_info", target="good", tenant_name="tenant1") == 1
    assert elapsed < 2, "the dead target must not hold up the good one"


async def test_slow_target_times_out_alone(httpserver: HTTPServer, tmp_path: Path) -> None:
    def slow(_request):  # type: ignore[no-untyped-def]
        time.sleep(1.5)
        from werkzeug import Response

        return Response("{}", content_type="application/json")

    httpserver.expect_request("/api/v1/info").respond_with_handler(slow)
    config = obshell_config(
        tmp_path,
        httpserver.url_for("").rstrip("/"),
        extra="    timeout: 500ms\n    interval: 10s\n",
    )
    async with running_poller(config) as poller:
        parsed = await _poll(poller)
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_poll_errors_total",
            endpoint="/api/v1/info",
            reason="timeout",
        )
        == 1
    )
    assert value(parsed, "oceanbase_backup_exporter_target_up") == 0


async def test_older_agent_lacks_endpoints_without_errors(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    obshell.version = "4.3.0.0"
    for path in list(obshell.routes):
        if path.endswith(("/backup/info", "/backup/log/tasks", "/backup/tasks", "/restore/tasks")):
            del obshell.routes[path]
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await _poll(poller)
        second = await _poll(poller)
    for endpoint in (
        "/api/v1/tenant/:name/backup/info",
        "/api/v1/restore/tasks",
        "/api/v1/tenant/:name/backup/tasks",
    ):
        assert value(parsed, "oceanbase_backup_exporter_endpoint_supported", endpoint=endpoint) == 0
    assert not [k for k in parsed if k[0] == "oceanbase_backup_exporter_poll_errors_total"]
    assert (
        value(parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds") is not None
    )
    # Without job history the latest task speaks for itself: it COMPLETED.
    assert (
        value(parsed, "oceanbase_backup_last_success_timestamp_seconds", tenant_name="tenant1")
        is not None
    )
    assert value(parsed, "oceanbase_log_backup_delay_seconds", tenant_name="tenant1") is None
    # Learned once per agent version: the second poll does not ask again.
    assert (
        value(second, "oceanbase_backup_exporter_requests_total", endpoint="/api/v1/restore/tasks")
        == 1
    )


async def test_tenant_gone_between_calls_is_not_an_error(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    gone = error(400, "OB.Tenant.NotExist", "Tenant 'tenant2' does not exist.")
    for suffix in ("backup/info", "backup/log/tasks", "backup/tasks"):
        obshell.routes[f"/api/v1/tenant/tenant2/{suffix}"] = (400, gone)
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await _poll(poller)
    assert not [k for k in parsed if k[0] == "oceanbase_backup_exporter_poll_errors_total"]
    assert value(parsed, "oceanbase_log_backup_delay_seconds", tenant_name="tenant1") == 3.25
    assert value(parsed, "oceanbase_log_backup_delay_seconds", tenant_name="tenant2") is None


async def test_unknown_status_maps_to_unknown_with_raw_status(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    overview = seed("cluster_backup_overview")
    overview["data"]["statuses"][0]["status"] = "WEIRD_NEW_STATE"
    overview["data"]["statuses"][0]["end_timestamp"] = "0001-01-01T00:00:00Z"
    obshell.routes["/api/v1/obcluster/backup/overview"] = (200, overview)
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await _poll(poller)
    assert (
        value(parsed, "oceanbase_backup_task_status", tenant_name="tenant1", status="UNKNOWN") == 1
    )
    assert (
        value(parsed, "oceanbase_backup_task_status", tenant_name="tenant1", status="COMPLETED")
        == 0
    )
    assert (
        value(
            parsed,
            "oceanbase_backup_task_info",
            tenant_name="tenant1",
            raw_status="WEIRD_NEW_STATE",
        )
        == 1
    )
    assert (
        value(parsed, "oceanbase_backup_task_end_timestamp_seconds", tenant_name="tenant1") is None
    )


async def test_running_restore_from_the_list_without_asking_the_overview(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    # On 4.3.2+ a running restore's /restore/tasks row is the CDB_OB_RESTORE_PROGRESS row the
    # per-tenant overview returns (obshell executor/ob/restore.go): the overview is not asked.
    started = (datetime.now(UTC) - timedelta(minutes=5)).astimezone().isoformat()
    running = {
        **seed("restore_overview")["data"],
        "status": "RESTORE_WAIT_LS",
        "start_timestamp": started,
        "finish_timestamp": "",
        "ls_count": 0,
        "comment": "",
        "restore_tenant_name": "rt3",
        "restore_progress": "45.67",
        "recover_progress": "",
        "recover_scn": 1728890608464651300,
    }
    obshell.set("/api/v1/restore/tasks", {"contents": [running], "page": {"total_pages": 1}})
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await _poll(poller)
    assert (
        value(parsed, "oceanbase_restore_status", tenant_name="rt3", status="RESTORE_WAIT_LS") == 1
    )
    assert (
        value(parsed, "oceanbase_restore_status", tenant_name="rt3", status="RESTORE_SUCCESS") == 0
    )
    assert value(parsed, "oceanbase_restore_progress_ratio", tenant_name="rt3") == 0.4567
    assert value(parsed, "oceanbase_restore_recover_progress_ratio", tenant_name="rt3") is None
    assert value(parsed, "oceanbase_restore_log_streams", tenant_name="rt3") is None
    assert value(parsed, "oceanbase_restore_finish_timestamp_seconds", tenant_name="rt3") is None
    assert value(parsed, "oceanbase_restore_tablets", tenant_name="rt3") == 590
    assert (
        value(parsed, "oceanbase_restore_recover_scn_timestamp_seconds", tenant_name="rt3")
        == 1728890608.4646513
    )
    assert (
        value(
            parsed,
            "oceanbase_restore_info",
            tenant_name="rt3",
            backup_tenant_name="tenant1",
            backup_cluster_name="ob-test",
        )
        == 1
    )
    assert not [
        k for k in parsed if k[0] == "oceanbase_restore_status" and ("ob_tenant_id", "1006") in k[1]
    ]
    assert not [path for path in obshell.seen if path.endswith("/restore/overview")]


async def test_identity_is_kept_when_ob_info_fails_later(
    obshell: ObshellStub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every poll refreshes the cached identity (hourly otherwise): the same agent answering
    # /api/v1/info vouches for the identity it gave when the refresh fails.
    monkeypatch.setattr(history, "FACT_REFRESH_SECONDS", 0.0)
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        await _poll(poller)
        obshell.routes["/api/v1/ob/info"] = (500, "<html>Internal Server Error</html>")
        parsed = await _poll(poller)
    assert (
        value(parsed, "oceanbase_tenant_info", tenant_name="tenant1", ob_cluster_name="ob-test")
        == 1
    )
    assert (
        value(
            parsed,
            "oceanbase_backup_exporter_poll_errors_total",
            endpoint="/api/v1/ob/info",
            reason="http_status",
        )
        == 1
    )


async def test_finished_restore_stays_for_restore_history(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).astimezone()
    recent = {
        **seed("restore_overview")["data"],
        "restore_tenant_name": "rt4",
        "status": "FAIL",
        "comment": "restore\nfailed: -4018",
        "start_timestamp": (hour_ago - timedelta(minutes=20)).isoformat(),
        "finish_timestamp": hour_ago.isoformat(),
    }
    obshell.set(
        "/api/v1/restore/tasks",
        {"contents": [recent, seed("restore_overview")["data"]], "page": {"total_pages": 1}},
    )
    (tmp_path / "short").mkdir()
    short = obshell_config(tmp_path / "short", obshell.url, extra="    restore_history: 30m\n")
    for config, exported in ((obshell_config(tmp_path, obshell.url), True), (short, False)):
        async with running_poller(config) as poller:
            parsed = await _poll(poller)
        failed = value(parsed, "oceanbase_restore_status", tenant_name="rt4", status="RESTORE_FAIL")
        assert failed == (1 if exported else None)
        assert (
            value(parsed, "oceanbase_restore_status", tenant_name="rt2", status="RESTORE_SUCCESS")
            is None
        )
    # With the default 24h history, the failure is there with a one-line comment.
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        parsed = await _poll(poller)
    assert (
        value(
            parsed,
            "oceanbase_restore_info",
            tenant_name="rt4",
            comment="restore failed: -4018",
            raw_status="FAIL",
        )
        == 1
    )
    assert (
        value(parsed, "oceanbase_restore_finish_timestamp_seconds", tenant_name="rt4")
        == hour_ago.timestamp()
    )


async def test_failing_target_keeps_data_until_stale_after(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    poller = Poller(
        load_config(
            obshell_config(tmp_path, obshell.url, extra="    interval: 20s\n    stale_after: 40s\n")
        )
    )
    try:
        await poller.poll_all_once()
        obshell.routes["/api/v1/tenants/overview"] = (500, "<html>boom</html>")
        await poller.poll_all_once()
        now = time.time()
        fresh = samples(render(collect(poller.snapshots(now + 30), None), False).decode())
        stale = samples(render(collect(poller.snapshots(now + 50), None), False).decode())
    finally:
        await poller.stop()
    assert value(fresh, "oceanbase_tenant_info", tenant_name="tenant1") == 1
    assert value(fresh, "oceanbase_backup_exporter_target_up") == 0
    assert value(stale, "oceanbase_tenant_info", tenant_name="tenant1") is None
    assert value(stale, "oceanbase_backup_exporter_target_up") == 0
    assert (
        value(
            stale,
            "oceanbase_backup_exporter_poll_errors_total",
            endpoint="/api/v1/tenants/overview",
            reason="http_status",
        )
        == 1
    )


async def test_a_404_page_on_the_cluster_backup_overview_falls_back_to_each_tenant(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    # A proxy's 404 page (no obshell envelope) once: every agent that lists tenants has the
    # cluster overview too (4.2.4+), so it is a failed call, not a missing route.
    cluster = "/api/v1/obcluster/backup/overview"
    working = obshell.routes[cluster]
    obshell.routes[cluster] = (404, "<html>404 Not Found</html>")
    for name, tenant_id in (("tenant1", 1002), ("tenant2", 1004)):
        body = seed("tenant_backup_overview")
        body["data"]["status"]["tenant_id"] = tenant_id
        obshell.routes[f"/api/v1/tenant/{name}/backup/overview"] = (200, body)
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        failed = await _poll(poller)
        obshell.routes[cluster] = working
        obshell.seen.clear()
        recovered = await _poll(poller)
    status = "oceanbase_backup_task_status"
    supported = "oceanbase_backup_exporter_endpoint_supported"
    # The latest tasks come from the per-tenant route instead; the failure is counted.
    for name in ("tenant1", "tenant2"):
        assert value(failed, status, tenant_name=name, status="COMPLETED") == 1
    errors = "oceanbase_backup_exporter_poll_errors_total"
    assert value(failed, errors, endpoint=cluster, reason="http_status") == 1
    assert value(failed, supported, endpoint=cluster) != 0
    # The next poll asks the cluster overview again, and only it.
    assert cluster in obshell.seen
    assert not [p for p in obshell.seen if p.endswith("/backup/overview") and "/tenant/" in p]
    assert value(recovered, supported, endpoint=cluster) == 1
    assert value(recovered, status, tenant_name="tenant1", status="COMPLETED") == 1


async def test_a_failed_history_call_cancels_the_other_one() -> None:
    # The two history calls run side by side: when one fails, the other must not run on
    # after the read has ended (a request outliving its poll and its deadline).
    completed_started = asyncio.Event()
    cancelled: list[str] = []

    async def jobs(status: str, size: int, since: float | None) -> tuple[list[m.BackupJob], int]:
        if status == "FAILED":
            await completed_started.wait()
            raise PollError("api_error", routes.BACKUP_JOBS, "boom")
        completed_started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(status)
            raise
        return [], 0

    with pytest.raises(PollError):
        await history.read(jobs, None, None, None, time.time())
    await asyncio.sleep(0)  # let the cancellation be delivered
    assert cancelled == ["COMPLETED"]
