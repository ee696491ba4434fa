"""What a poll costs the upstream it watches (issue 15): counted requests, not timings."""

from __future__ import annotations

import asyncio
import copy
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from exporter.poller import Poller
from simulator import Simulator
from tests.helpers.configs import obshell_config
from tests.helpers.exposition import value
from tests.helpers.obshell_stub import ObshellStub, error
from tests.helpers.payloads import seed
from tests.helpers.polling import poll_once, running_poller

SIM_PASSWORD = "sim-root-password"
TENANTS = 10
JOBS = "/api/v1/tenant/:name/backup/tasks"
VERIFIED = "oceanbase_backup_exporter_cached_fact_verified_timestamp_seconds"


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(scenario="healthy", clusters=1, tenants=TENANTS, seed=3, password=SIM_PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


def _requests(poller: Poller) -> Counter[str]:
    return Counter(poller.runners["c0"].stats.requests)


async def test_a_steady_state_poll_costs_4_requests_plus_2_per_tenant(
    simulator: Simulator, tmp_path: Path
) -> None:
    secret = tmp_path / "pw"
    secret.write_text(SIM_PASSWORD)
    config = tmp_path / "config.yaml"
    config.write_text(
        f"targets:\n  - {{name: c0, source: obshell, url: '{simulator.agent_url(0)}',"
        f" password_file: {secret}}}\n"
    )
    async with running_poller(config) as poller:
        first = await poller.poll_all_once()
        after_first = _requests(poller)
        steady = await poller.poll_all_once()
        second = _requests(poller) - after_first
    assert all(r.complete for r in (*first, *steady))
    # The first poll reads identity and every history (4 + 1 + 4 per tenant) ...
    assert sum(after_first.values()) == 5 + 4 * TENANTS
    # ... the second only what can change between two polls: the budget is 5 + 2 per
    # tenant; a change that makes a steady poll dearer must update this count knowingly.
    assert second == {
        "/api/v1/info": 1,
        "/api/v1/tenants/overview": 1,
        "/api/v1/obcluster/backup/overview": 1,
        "/api/v1/restore/tasks": 1,
        "/api/v1/tenant/:name/backup/info": TENANTS,
        "/api/v1/tenant/:name/backup/log/tasks": TENANTS,
    }


def _history_calls(stub: ObshellStub) -> list[tuple[str, dict[str, list[str]]]]:
    calls = []
    for seen in stub.seen:
        parts = urlsplit(seen)
        if parts.path.endswith("/backup/tasks"):
            calls.append((parts.path.split("/")[4], parse_qs(parts.query)))
    return calls


async def test_history_is_read_again_only_for_the_tenant_whose_latest_task_changed(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    obshell.set(
        "/api/v1/tenants/overview",
        {"contents": [
            {"tenant_id": 1002, "tenant_name": "tenant1", "status": "NORMAL",
             "created_time": "2024-10-01T10:00:00+08:00"},
            {"tenant_id": 1004, "tenant_name": "tenant2", "status": "NORMAL"},
        ]},
    )  # fmt: skip
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        await poll_once(poller)
        first = _history_calls(obshell)
        obshell.seen.clear()
        await poll_once(poller)
        unchanged = _history_calls(obshell)
        overview = seed("cluster_backup_overview")
        changed = copy.deepcopy(overview)
        changed["data"]["statuses"][0]["job_id"] = 2  # tenant1 (1002) started a new job
        obshell.routes["/api/v1/obcluster/backup/overview"] = (200, changed)
        obshell.seen.clear()
        await poll_once(poller)
        after_change = _history_calls(obshell)
    assert sorted(name for name, _ in first) == ["tenant1", "tenant1", "tenant2", "tenant2"]
    # Bounded by the tenant's creation, less a day (obshell compares in another zone);
    # without a known creation, the first read is the only one without a bound.
    bounds = {name: query.get("start_time") for name, query in first}
    assert bounds == {"tenant1": ["2024-09-30T02:00:00Z"], "tenant2": None}
    assert unchanged == []
    assert sorted(name for name, _ in after_change) == ["tenant1", "tenant1"]
    # Bounded by the newest job start already seen (2024-10-12T18:08:08+08:00), less a day.
    assert {q["start_time"][0] for _, q in after_change} == {"2024-10-11T10:08:08Z"}


async def test_a_new_agent_process_drops_the_cached_identity_and_histories(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    async with running_poller(obshell_config(tmp_path, obshell.url)) as poller:
        await poll_once(poller)
        obshell.seen.clear()
        await poll_once(poller)
        cached = list(obshell.seen)
        obshell.set(
            "/api/v1/info",
            {"version": obshell.version, "identity": "CLUSTER AGENT", "startAt": 2, "pid": 7,
             "supportedAuth": ["v2"]},
        )  # fmt: skip
        obshell.seen.clear()
        await poll_once(poller)
        restarted = list(obshell.seen)
    assert "/api/v1/ob/info" not in cached and not [p for p in cached if "/backup/tasks" in p]
    assert "/api/v1/ob/info" in restarted
    assert len([p for p in restarted if "/backup/tasks" in p]) == 4


def _history_broken(stub: ObshellStub) -> None:
    """tenant1's latest task changes and no history can be read again."""
    changed = seed("cluster_backup_overview")
    changed["data"]["statuses"][0]["status"] = "FAILED"
    stub.routes["/api/v1/obcluster/backup/overview"] = (200, changed)
    for name in ("tenant1", "tenant2"):
        stub.routes[f"/api/v1/tenant/{name}/backup/tasks"] = (
            500, error(500, "Common.Unexpected", "boom"),
        )  # fmt: skip


async def test_a_history_that_cannot_be_read_again_is_served_until_stale_after(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    extra = "    interval: 1s\n    timeout: 900ms\n"  # stale_after: 3s
    async with running_poller(obshell_config(tmp_path, obshell.url, extra)) as poller:
        first = await poll_once(poller)
        read_at = value(first, VERIFIED, fact="job_history")
        _history_broken(obshell)  # tenant1's job ended anew
        served = await poll_once(poller)
        await asyncio.sleep(3.2)  # past stale_after since the first poll
        dropped = await poll_once(poller)
    success = "oceanbase_backup_last_success_timestamp_seconds"
    # tenant1's latest task changed and its history could not be read: its cached facts are
    # served, marked as confirmed at the first poll, with the failed calls counted.
    assert value(served, success, tenant_name="tenant1") is not None
    assert value(served, VERIFIED, fact="job_history") == read_at
    assert value(served, VERIFIED, fact="cluster_identity") > read_at  # type: ignore[operator]
    assert (
        value(
            served, "oceanbase_backup_exporter_poll_errors_total", endpoint=JOBS, reason="api_error"
        )
        == 1
    )  # fmt: skip  (tenant2's is not asked for)
    # Past stale_after they are dropped (absent), never passed off as fresh; tenant2's latest
    # task did not change, so its history still stands, confirmed by this poll.
    assert value(dropped, success, tenant_name="tenant1") is None
    assert value(dropped, success, tenant_name="tenant2") is not None


async def test_data_holding_a_cached_history_goes_stale_from_its_confirmation_not_its_poll(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    extra = "    interval: 1s\n    timeout: 900ms\n"  # stale_after: 3s
    async with running_poller(obshell_config(tmp_path, obshell.url, extra)) as poller:
        first = await poll_once(poller)
        read_at = value(first, VERIFIED, fact="job_history")
        assert read_at is not None
        await asyncio.sleep(0.5)
        _history_broken(obshell)
        served = await poll_once(poller)  # re-serves tenant1's history confirmed at read_at
        runner = poller.runners["hz-prod"]
        # Then the target dies: no poll replaces that data.
        before = runner.snapshot(read_at + 2.9)
        after = runner.snapshot(read_at + 3.1)
    assert value(served, VERIFIED, fact="job_history") == read_at
    assert before.data is not None
    # stale_after past the history's last confirmation, although only 2.6s past the poll
    # that re-served it: nothing of that poll is shown any more.
    assert after.data is None
    assert after.health.up is False


async def test_a_history_that_cannot_be_read_again_is_dropped_before_it_could_go_stale(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    extra = "    interval: 1s\n    timeout: 900ms\n"  # stale_after: 3s
    async with running_poller(obshell_config(tmp_path, obshell.url, extra)) as poller:
        await poll_once(poller)
        await asyncio.sleep(2.2)
        _history_broken(obshell)
        # 2.2s after its confirmation, it would be 3.2s old when the next poll (1s later)
        # could replace it: past stale_after, so it is not re-served.
        served = await poll_once(poller)
    success = "oceanbase_backup_last_success_timestamp_seconds"
    assert value(served, success, tenant_name="tenant1") is None
    assert value(served, success, tenant_name="tenant2") is not None  # its task is unchanged


async def test_ocp_data_with_cached_lists_goes_stale_from_its_poll_not_the_lists(
    fleet: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "ocp_pw").write_text(fleet.ocp.account.password)
    config = tmp_path / "config.yaml"
    config.write_text(
        "targets:\n"
        f"  - {{name: ocp, source: ocp, url: '{fleet.ocp_url}',"
        f" username: {fleet.ocp.account.username}, password_file: {tmp_path / 'ocp_pw'}}}\n"
    )
    async with running_poller(config) as poller:
        first = await poll_once(poller)
        read_at = value(first, VERIFIED, fact="cluster_list")
        assert read_at is not None
        await asyncio.sleep(0.5)
        second = await poll_once(poller)  # re-serves the lists read by the first poll
        runner = poller.runners["ocp"]
        stale_after = runner.target.stale_after
        assert runner.data is not None
        polled_at = runner.data.polled_at
        # Every value shown was read by the second poll: a list kept from the first (it only
        # says what to ask) must not drop them between two healthy polls.
        while_fresh = runner.snapshot(read_at + stale_after + 0.1)
        after = runner.snapshot(polled_at + stale_after + 0.1)
    assert value(second, VERIFIED, fact="cluster_list") == read_at
    assert polled_at > read_at
    assert while_fresh.data is not None
    assert after.data is None


@pytest.fixture
async def fleet() -> AsyncIterator[Simulator]:
    sim = Simulator(scenario="demo", clusters=2, tenants=3, password=SIM_PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


async def test_ocp_and_cloud_ask_nothing_twice_and_their_lists_less_often(
    fleet: Simulator, tmp_path: Path
) -> None:
    (tmp_path / "ocp_pw").write_text(fleet.ocp.account.password)
    (tmp_path / "cloud_sk").write_text(fleet.cloud.account.access_key_secret)
    config = tmp_path / "config.yaml"
    config.write_text(
        "targets:\n"
        f"  - {{name: ocp, source: ocp, url: '{fleet.ocp_url}',"
        f" username: {fleet.ocp.account.username}, password_file: {tmp_path / 'ocp_pw'}}}\n"
        f"  - {{name: cloud, source: cloud, url: '{fleet.cloud_url}',"
        f" access_key_id: {fleet.cloud.account.access_key_id},"
        f" access_key_secret_file: {tmp_path / 'cloud_sk'}}}\n"
    )
    async with running_poller(config) as poller:
        await poller.poll_all_once()
        fleet.seen.clear()
        results = await poller.poll_all_once()
        second = list(fleet.seen)
    assert all(r.complete for r in results)
    asked = Counter(second)
    assert [path for path, n in asked.items() if n > 1] == []  # nothing asked twice
    paths = [urlsplit(p).path for p in second]
    # The cluster, tenant and instance lists were read by the first poll, not the second.
    assert "/api/v2/ob/clusters" not in paths and "/api/v2/instances" not in paths
    assert not [p for p in paths if p.startswith("/api/v2/ob/") and p.endswith("/tenants")]
    # The task lists and overviews are read every poll: per cluster its overview and 3 task
    # lists per user tenant for OCP, 3 requests per instance for Cloud.
    tenants = sum(1 for p in paths if p.endswith("/dataBackupTasks"))
    assert tenants >= 6
    assert len([p for p in paths if p.startswith("/api/v2/ob/")]) == 2 + 3 * tenants
    assert len([p for p in paths if p.startswith("/api/v2/instances/")]) == 2 * 3
