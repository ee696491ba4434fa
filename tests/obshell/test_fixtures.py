"""The exporter and the simulator against obshell's answers as its source says each version
sends them (tests/data/obshell/<version>/, see the README there).

The expected series are written from the fixture files' values, never from our models; the
simulator is held to the same keys, JSON types and error envelopes as the files.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from exporter.logs import fields_of
from simulator import Simulator
from simulator.obshell import versions
from simulator.world import (
    DAY,
    GIB,
    HOUR,
    ArchivePlan,
    BackupPlan,
    Cluster,
    RestoreJob,
    Tenant,
)
from tests.helpers.configs import PASSWORD, obshell_config
from tests.helpers.exposition import value
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.paths import DATA
from tests.helpers.polling import poll_once, running_poller
from tests.helpers.shapes import differences
from tests.helpers.simulator import signed_client

FIXTURES = DATA / "obshell"
VERSIONS = sorted((p.name for p in FIXTURES.iterdir() if p.is_dir()), key=versions.parse_version)
BACKUP_API = (
    "/api/v1/tenants/overview",
    "/api/v1/obcluster/backup/overview",
    "/api/v1/tenant/:name/backup/overview",
    "/api/v1/tenant/:name/restore/overview",
    "/api/v1/tenant/:name/backup/info",
    "/api/v1/tenant/:name/backup/log/tasks",
    "/api/v1/tenant/:name/backup/tasks",
    "/api/v1/restore/tasks",
)
EXTENDED = BACKUP_API[4:]


@dataclass(frozen=True)
class Answer:
    """One fixture: its name, the request it answers, and the body the agent sends."""

    name: str
    path: str
    body: dict[str, Any]
    origin: dict[str, str]


def answers(version: str) -> dict[str, Answer]:
    """Every fixture of a version, by name."""
    found = {}
    for body_file in sorted((FIXTURES / version).glob("*.json")):
        origin = dict(
            line.split(": ", 1)
            for line in body_file.with_suffix(".origin").read_text().splitlines()
        )
        method, path = origin["request"].split(" ", 1)
        assert method == "GET"
        body = json.loads(body_file.read_text())
        found[body_file.stem] = Answer(body_file.stem, path, body, origin)
    return found


def at(text: str) -> float:
    """Unix seconds of a fixture's time, read by the standard library alone."""
    return datetime.fromisoformat(text).timestamp()


def test_every_fixture_names_its_origin() -> None:
    assert list(versions.MODELLED_VERSIONS) == VERSIONS
    for version in VERSIONS:
        for answer in answers(version).values():
            assert answer.origin["obshell"].startswith(f"{version} at commit ")
            assert len(answer.origin["obshell"].rsplit(" ", 1)[1]) == 40
            assert answer.origin["files"] and answer.origin["note"]
            assert answer.path.startswith("/api/v1/")
            assert answer.body["status"] == (200 if answer.body["successful"] else
                                             answer.body["status"])  # fmt: skip


def _agent(httpserver: HTTPServer, version: str) -> ObshellStub:
    """A stub agent of `version` answering with its fixtures (unknown routes as it would)."""
    stub = ObshellStub(
        httpserver,
        password=PASSWORD,
        version=version,
        supported_auth=["v2"] if versions.lists_supported_auth(version) else None,
    )
    found = answers(version)
    for answer in found.values():
        if answer.name != "unknown_route":
            stub.routes[answer.path] = (answer.body["status"], answer.body)
    unknown = found["unknown_route"].body
    stub.unknown = (unknown["status"], unknown)
    return stub


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_exporter_reads_each_version_as_its_source_says(
    httpserver: HTTPServer, tmp_path: Path, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    stub = _agent(httpserver, version)
    caplog.set_level(logging.WARNING, logger="exporter.sources.obshell.source")
    async with running_poller(obshell_config(tmp_path, stub.url)) as poller:
        first = await poll_once(poller)
        parsed = await poll_once(poller)
    v = versions.parse_version(version)
    assert value(parsed, "oceanbase_backup_exporter_target_up") == 1
    assert not [k for k in parsed if k[0] == "oceanbase_backup_exporter_poll_errors_total"]
    assert value(parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds")
    cluster = {"ob_cluster_name": "obc-fixture", "ob_cluster_id": "1757000000"}
    assert value(parsed, "oceanbase_cluster_info", ob_version="4.3.5.2", **cluster) == 1
    supported = {
        endpoint: value(parsed, "oceanbase_backup_exporter_endpoint_supported", endpoint=endpoint)
        for endpoint in BACKUP_API
    }
    no_api = "has no backup API"
    if v < versions.BACKUP_ROUTES_SINCE:
        # Item 3: up, identity only, every backup route 0, one log line for two polls.
        assert supported == dict.fromkeys(BACKUP_API, 0)
        assert not [k for k in parsed if k[0] == "oceanbase_tenant_info"]
        assert [r.getMessage() for r in caplog.records].count(
            next((r.getMessage() for r in caplog.records if no_api in r.getMessage()), "")
        ) == 1
        said = next(r for r in caplog.records if no_api in r.getMessage())
        assert fields_of(said)["version"] == version
        assert first == first  # the first poll is as good as the second
        return
    assert not [r for r in caplog.records if no_api in r.getMessage()]
    extended = v >= versions.EXTENDED_BACKUP_ROUTES_SINCE
    assert {e: supported[e] for e in EXTENDED} == dict.fromkeys(EXTENDED, 1 if extended else 0)

    for name, status in (("t1", "NORMAL"), ("t2", "NORMAL"), ("t1_r1", "RESTORE")):
        assert value(parsed, "oceanbase_tenant_info", tenant_name=name, tenant_status=status) == 1
    assert value(parsed, "oceanbase_tenant_info", tenant_name="sys") is None

    # t1's latest task (cluster overview), as CdbObBackupTask sends it.
    t1 = {"tenant_name": "t1", "ob_tenant_id": "1002"}
    assert value(parsed, "oceanbase_backup_task_status", status="COMPLETED", **t1) == 1
    start, end = at("2025-09-10T02:00:03.81042+08:00"), at("2025-09-10T02:07:41.2+08:00")
    assert value(parsed, "oceanbase_backup_task_start_timestamp_seconds", **t1) == start
    assert value(parsed, "oceanbase_backup_task_end_timestamp_seconds", **t1) == end
    assert value(parsed, "oceanbase_backup_task_end_scn_timestamp_seconds", **t1) == 1757441261.2
    assert value(parsed, "oceanbase_backup_task_result_code", **t1) == 0
    assert value(parsed, "oceanbase_backup_task_output_bytes_per_second", **t1) == 9397736.8963
    assert value(parsed, "oceanbase_backup_task_files", **t1) == 37
    info = {"backup_set_id": "9", "job_id": "9", "path": "oss://ob-backup/t1/data"}
    assert value(parsed, "oceanbase_backup_task_info", raw_status="COMPLETED", **info, **t1) == 1
    assert value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **t1) == end
    assert value(parsed, "oceanbase_backup_task_status", tenant_name="t2") is None

    # t1_r1 is being restored: the same row from the overview (before 4.3.2) or the list.
    r1 = {"tenant_name": "t1_r1"}
    assert value(parsed, "oceanbase_restore_status", status="RESTORE_WAIT_LS", **r1) == 1
    assert value(parsed, "oceanbase_restore_progress_ratio", **r1) == 0.33
    assert value(parsed, "oceanbase_restore_recover_progress_ratio", **r1) == 0.125
    assert value(parsed, "oceanbase_restore_finished_tablets", **r1) == 201
    assert value(parsed, "oceanbase_restore_finished_bytes", **r1) == 7086696038
    started = at("2025-09-10T10:05:00.483921+08:00")
    assert value(parsed, "oceanbase_restore_start_timestamp_seconds", **r1) == started
    assert value(parsed, "oceanbase_restore_scn_timestamp_seconds", **r1) == 1757430000
    assert value(parsed, "oceanbase_restore_recover_scn_timestamp_seconds", **r1) == 1757432400
    # A restore that failed in 2025 is past the default 24h restore_history.
    assert value(parsed, "oceanbase_restore_status", tenant_name="t0_r1", status="FAIL") is None

    if not extended:
        # No job history: only the latest task speaks, and it says nothing of FULL or INC.
        assert value(parsed, "oceanbase_backup_last_full_success_timestamp_seconds", **t1) is None
        assert value(parsed, "oceanbase_log_backup_status", tenant_name="t1") is None
        return
    # Item 4/5: jobs as bo.BackupJob; the newest COMPLETED is INC, the newest FULL is job 7.
    full_end = at("2025-09-09T14:09:56.7+08:00")
    assert value(parsed, "oceanbase_backup_last_full_success_timestamp_seconds", **t1) == full_end
    failed_end = at("2025-09-09T20:03:12.55+08:00")
    assert value(parsed, "oceanbase_backup_last_failure_timestamp_seconds", **t1) == failed_end
    checkpoint = at("2025-09-10T10:20:28.9+08:00")
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **t1) == checkpoint
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **t1) == 1.2791
    assert value(parsed, "oceanbase_log_backup_status", status="DOING", **t1) == 1
    assert value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **t1) == checkpoint
    # Item 6: t2's INTERRUPTED round is not listed; /backup/info still has its checkpoint.
    t2 = {"tenant_name": "t2"}
    assert value(parsed, "oceanbase_log_backup_status", status="NOT_RUNNING", **t2) == 1
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **t2) == 13163.1791
    stopped = at("2025-09-10T06:41:07.000001+08:00")
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **t2) == stopped
    assert value(parsed, "oceanbase_backup_last_full_success_timestamp_seconds", **t2) is None
    # Item 7: the running restore's row came from /restore/tasks; the overview was not asked.
    assert not [path for path in stub.seen if path.endswith("/restore/overview")]


# ----------------------------------------------------------------------------- the simulator


def _fixture_world(cluster: Cluster, now: float) -> None:
    """The fixtures' cluster in the simulator: t1 backed up and archiving, t2 never backed up
    with an INTERRUPTED archive, t1_r1 being restored from t1."""
    cluster.tenants = []
    cluster.restores = []
    t1 = Tenant("t1", 1002, created_at=now - 40 * DAY, salt=7)
    t1.backup = BackupPlan(
        first_start=now - 10 * DAY - 3 * HOUR,
        path="oss://ob-backup/t1/data?host=h",
        interval=6 * HOUR,
    )
    t1.archive = ArchivePlan(round_start=now - 9 * DAY, path="oss://ob-backup/t1/clog?host=h")
    t2 = Tenant("t2", 1006, created_at=now - 40 * DAY, salt=9)
    t2.archive = ArchivePlan(
        round_start=now - 9 * DAY,
        path="oss://ob-backup/t2/clog?host=h",
        stall_at=now - 4 * HOUR,
        stopped_as="INTERRUPTED",
    )
    cluster.tenants = [t1, t2]
    cluster.restores = [
        RestoreJob(
            job_id=2,
            tenant_name="t1_r1",
            tenant_id=1004,
            backup_tenant_name="t1",
            backup_tenant_id=1002,
            backup_cluster_name=cluster.name,
            start=now - 0.5 * HOUR,
            duration=2 * HOUR,
            restore_until=now - 2 * HOUR,
            total_bytes=20 * GIB,
        ),
        RestoreJob(
            job_id=1,
            tenant_name="t0_r1",
            tenant_id=1008,
            backup_tenant_name="t0",
            backup_tenant_id=1010,
            backup_cluster_name=cluster.name,
            start=now - 3 * DAY,
            duration=HOUR,
            restore_until=now - 4 * DAY,
            fail_at=0.5,
        ),
    ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_the_simulator_answers_like_each_version(version: str) -> None:
    sim = Simulator(scenario="healthy", clusters=1, tenants=0, seed=3, password=PASSWORD)
    await sim.start()
    try:
        cluster = sim.world.clusters[0]
        cluster.version = version
        _fixture_world(cluster, sim.clock.now())
        async with signed_client(sim.base_url, PASSWORD) as client:
            for answer in answers(version).values():
                response = await client.get(answer.path)
                body = response.json()
                assert response.status_code == answer.body["status"], answer.name
                assert body["status"] == answer.body["status"], answer.name
                if not answer.body["successful"]:
                    # Error envelopes: the same error object, `data` present (null) or not.
                    assert body["error"] == answer.body["error"], answer.name
                    assert ("data" in body) == ("data" in answer.body), answer.name
                problems = differences(answer.body, body)
                assert not problems, f"{version} {answer.name}: {problems}"
    finally:
        await sim.stop()
