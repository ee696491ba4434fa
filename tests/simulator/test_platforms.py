"""The simulated OCP and OceanBase Cloud: shapes, auth done for real, paging, world, faults."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from email.utils import formatdate
from typing import Any

import httpx
import pytest
from yarl import URL

from exporter.sources.cloud.models import BackupSet, BackupSetDetail, Instance, PagingData
from exporter.sources.cloud.models import Envelope as CloudEnvelope
from exporter.sources.ocp.auth import signature, string_to_sign
from exporter.sources.ocp.models import ClusterBackupInfoDetail, ObCluster, Paged
from exporter.sources.ocp.models import Envelope as OcpEnvelope
from simulator import Simulator
from simulator.cloud.views import instance_id
from simulator.ocp.views import ocp_cluster_id
from tests.helpers.simulator import StartSimulator, cloud_client, ocp_client

CLUSTERS = "/api/v2/ob/clusters"
INSTANCES = "/api/v2/instances"
JAVA_DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0800")
OFFSET_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00")
UTC_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def overview_path(sim: Simulator, index: int = 0) -> str:
    return f"{CLUSTERS}/{ocp_cluster_id(sim.world.clusters[index])}/backup/overview"


def sets_path(sim: Simulator, index: int = 0) -> str:
    return f"{INSTANCES}/{instance_id(sim.world.clusters[index])}/backup/data/sets"


# ----------------------------------------------------------------------------- OCP


async def test_ocp_answers_in_the_shared_shapes_the_way_ocp_writes_them(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(clusters=2)
    async with ocp_client(sim) as client:
        listed = await client.get(CLUSTERS, params={"page": "1", "size": "2000"})
        overview = await client.get(overview_path(sim, 1))

    clusters = OcpEnvelope[Paged[ObCluster]].model_validate_json(listed.content)
    assert clusters.data is not None and clusters.data.page is not None
    assert [c.name for c in clusters.data.contents] == ["obcluster-0", "obcluster-1"]
    assert [c.obClusterId for c in clusters.data.contents] == [1, 2]
    assert clusters.data.page.totalPages == 1
    document = overview.json()
    assert list(document) == sorted(document) and list(document["data"]) == sorted(document["data"])
    detail = OcpEnvelope[ClusterBackupInfoDetail].model_validate(document)
    assert detail.successful is True and OFFSET_TIME.fullmatch(detail.timestamp or "")
    data = detail.data
    assert data is not None
    assert (data.clusterName, data.obClusterId, data.obClusterStatus) == (
        "obcluster-1",
        2,
        "RUNNING",
    )
    assert JAVA_DATE.fullmatch(data.lastDataBackupTime or "")
    assert JAVA_DATE.fullmatch(data.latestLogBackupCheckpoint or "")
    assert data.backupScheduleStatus == "NORMAL"
    assert data.obStorageVolumeUnit in ("GB", "TB")
    assert not any(value is None for value in document["data"].values())


async def test_ocp_pages_the_cluster_list(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(clusters=5)
    sim.ocp.max_page_size = 2
    async with ocp_client(sim) as client:
        pages = [
            (await client.get(CLUSTERS, params={"page": str(n), "size": "2000"})).json()["data"]
            for n in (1, 2, 3)
        ]

    assert [len(p["contents"]) for p in pages] == [2, 2, 1]
    assert {p["page"]["totalPages"] for p in pages} == {3}
    assert [c["name"] for p in pages for c in p["contents"]] == [f"obcluster-{i}" for i in range(5)]


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Basic " + base64.b64encode(b"admin:nope").decode()}]
)
async def test_ocp_refuses_without_valid_credentials_with_json_and_no_challenge(
    sim: Simulator, headers: dict[str, str]
) -> None:
    async with httpx.AsyncClient(base_url=sim.ocp_url) as client:
        response = await client.get(CLUSTERS, headers=headers)
        clock = await client.get("/api/v2/time")  # the one route open to all

    assert response.status_code == 401
    assert "WWW-Authenticate" not in response.headers
    assert response.json()["error"]["code"] == 30000
    assert response.json()["successful"] is False
    assert clock.status_code == 200 and OFFSET_TIME.fullmatch(clock.json()["data"])


async def test_ocp_recomputes_the_signature(sim: Simulator) -> None:
    async with (
        ocp_client(sim, signed=True) as good,
        ocp_client(sim, signed=True, secret="x") as bad,
    ):
        accepted = await good.get(CLUSTERS, params={"size": "5", "page": "1"})
        refused = await bad.get(CLUSTERS)

    assert accepted.status_code == 200
    assert refused.status_code == 401
    assert refused.json()["error"]["debugMessage"] == "signature mismatch"


@pytest.mark.parametrize(
    ("change", "debug"),
    [
        ("date", "request expired: Date is more than 15 minutes from the server's clock"),
        ("query", "signature mismatch"),
    ],
)
async def test_ocp_refuses_an_old_date_and_a_query_that_was_not_signed(
    sim: Simulator, change: str, debug: str
) -> None:
    account = sim.ocp.account
    url = f"{sim.ocp_url}{CLUSTERS}?page=1"
    date = formatdate(time.time() - (20 * 60 if change == "date" else 0), usegmt=True)
    text = string_to_sign("GET", URL(url, encoded=True), {"Date": date})
    request = httpx.Request("GET", url, headers={"Date": date})
    request.headers["Authorization"] = (
        f"OCP-ACCESS-KEY-HMACSHA1 {account.access_key_id}:"
        f"{signature(account.access_key_secret, text)}"
    )
    if change == "query":
        request.url = request.url.copy_with(query=b"page=2")
    async with httpx.AsyncClient() as client:
        response = await client.send(request)

    assert response.status_code == 401
    assert response.json()["error"]["debugMessage"] == debug


async def test_ocp_forbidden_user(sim: Simulator) -> None:
    sim.ocp.account.permitted = False
    async with ocp_client(sim) as client:
        response = await client.get(overview_path(sim))

    assert response.status_code == 403
    assert response.json()["error"]["code"] == 30014


async def test_ocp_follows_the_world(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="failing-backup")
    async with ocp_client(sim) as client:
        before = (await client.get(overview_path(sim))).json()["data"]
        sim.clock.advance(600)
        sim.world.clusters[0].ocp_status = "UPGRADING"
        after = (await client.get(overview_path(sim))).json()["data"]
        unknown = await client.get(f"{CLUSTERS}/42/backup/overview")

    assert before["backupScheduleStatus"] == "ABNORMAL"  # the latest backups failed
    assert after["obClusterStatus"] == "UPGRADING"
    assert after["latestLogBackupCheckpoint"] > before["latestLogBackupCheckpoint"]
    assert unknown.status_code == 404


async def test_a_cluster_without_backups_has_no_strategy(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(tenants=0)
    async with ocp_client(sim) as client:
        data = (await client.get(overview_path(sim))).json()["data"]

    assert data["obClusterBackupStatus"] == "NO_BACKUP_STRATEGY"
    assert data["backupScheduleStatus"] == "NONE"
    assert "lastDataBackupTime" not in data and "backupSize" not in data


async def test_unknown_enum_reaches_ocps_status_fields(sim: Simulator) -> None:
    sim.faults.add("unknown_enum", route="/api/v2/ob/clusters/:id/backup/overview")
    async with ocp_client(sim) as client:
        data = (await client.get(overview_path(sim))).json()["data"]

    assert data["obClusterStatus"] == data["backupScheduleStatus"] == "WEIRD_NEW_STATE"
    assert data["obClusterBackupStatus"] == "WEIRD_NEW_STATE"


@pytest.mark.parametrize(("kind", "status"), [("http_500", 500), ("unauthorized", 401)])
async def test_faults_answer_in_ocps_error_format(sim: Simulator, kind: str, status: int) -> None:
    sim.faults.add(kind, route="/api/v2/ob/clusters/:id/backup/overview", cluster=0)  # type: ignore[arg-type]
    async with ocp_client(sim) as client:
        faulty = await client.get(overview_path(sim))
        listed = await client.get(CLUSTERS)

    assert faulty.status_code == status
    assert faulty.json()["successful"] is False and faulty.json()["error"]["code"]
    assert listed.status_code == 200  # the fault is for the overview route only


# ----------------------------------------------------------------------------- Cloud


async def test_cloud_challenges_with_a_real_digest_challenge(sim: Simulator) -> None:
    async with httpx.AsyncClient(base_url=sim.cloud_url) as client:
        response = await client.get(INSTANCES)

    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Digest ")
    for part in ('realm="', 'qop="auth"', 'nonce="', 'opaque="', "algorithm=MD5"):
        assert part in challenge
    assert response.json()["success"] is False


async def test_cloud_accepts_the_right_secret_and_refuses_a_wrong_one(sim: Simulator) -> None:
    async with cloud_client(sim) as good, cloud_client(sim, secret="wrong") as bad:
        accepted = await good.get(INSTANCES, params={"requestId": "r-1"})
        again = await good.get(INSTANCES)  # answers the remembered challenge at once
        refused = await bad.get(INSTANCES)

    assert accepted.status_code == 200 and again.status_code == 200
    document = CloudEnvelope[PagingData[Instance]].model_validate_json(accepted.content)
    assert document.success is True and document.requestId == "r-1"
    assert document.data is not None and document.data.total == 1
    assert document.data.dataList[0].instanceName == "obcluster-0"
    assert refused.status_code == 401


async def test_cloud_renews_a_stale_nonce(sim: Simulator) -> None:
    async with cloud_client(sim) as client:
        sim.cloud.guard.nonce_lifetime = 0.2
        first = await client.get(INSTANCES)
        await asyncio.sleep(0.3)  # the nonce the client remembers is now too old
        second = await client.get(INSTANCES)

    assert first.status_code == 200
    assert second.status_code == 200  # the client answered the stale=true challenge


async def test_cloud_checks_the_project(start_simulator: StartSimulator) -> None:
    sim = await start_simulator()
    sim.cloud.account.project_id = "proj-1"
    async with cloud_client(sim, **{"X-Ob-Project-Id": "proj-2"}) as other:
        refused = await other.get(INSTANCES)
    async with cloud_client(sim, **{"X-Ob-Project-Id": "proj-1"}) as right:
        accepted = await right.get(INSTANCES)

    assert refused.status_code == 404 and refused.json()["errorCode"] == "ProjectNotFound"
    assert accepted.status_code == 200


async def test_cloud_backup_sets_follow_the_world(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(scenario="demo", tenants=3)
    sim.cloud.max_page_size = 5
    async with cloud_client(sim) as client:
        page = (await client.get(sets_path(sim), params={"pageSize": "50"})).json()["data"]
        latest = BackupSet.model_validate(page["dataList"][0])
        detail_response = await client.get(f"{sets_path(sim)}/{latest.backupSetId}")
        missing = await client.get(f"{sets_path(sim)}/bak-nothing")
        second = (await client.get(sets_path(sim), params={"pageNumber": "2"})).json()["data"]

    listed = PagingData[BackupSet].model_validate(page)
    assert len(listed.dataList) == 5 and listed.total > 5 and listed.hasMore is True
    assert second["dataList"][0]["backupSetId"] != latest.backupSetId
    # In the demo, tenant `pay` is in the middle of a backup: the latest set is DOING.
    assert latest.status == "DOING" and latest.endTime is None
    detail = CloudEnvelope[BackupSetDetail].model_validate_json(detail_response.content).data
    assert detail is not None
    assert {t.tenantName for t in detail.tenantBackupSetList} == {"app", "pay"}
    assert {t.status for t in detail.tenantBackupSetList} == {"DOING", "DONE"}
    assert all(UTC_TIME.fullmatch(t.startTime or "") for t in detail.tenantBackupSetList)
    assert (detail.tenantId, detail.tenantName) == ("sys", "*")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "NotFound"


async def test_cloud_set_list_honours_the_time_window(sim: Simulator) -> None:
    async with cloud_client(sim) as client:
        everything = (await client.get(sets_path(sim))).json()["data"]["total"]
        recent = (
            await client.get(sets_path(sim), params={"startTime": "2999-01-01T00:00:00Z"})
        ).json()["data"]["total"]

    assert everything > 0 and recent == 0


async def test_faults_answer_in_clouds_error_format(sim: Simulator) -> None:
    sim.faults.add("http_500", route="/api/v2/instances/:id/backup/data/sets")
    sim.faults.add("unknown_enum", route="/api/v2/instances")
    async with cloud_client(sim) as client:
        failed = await client.get(sets_path(sim))
        weird = await client.get(INSTANCES)

    assert failed.status_code == 500
    body: dict[str, Any] = failed.json()
    assert (body["success"], body["errorCode"], body["errorMessage"]) == (
        False,
        "E001R000",
        "Unknown Error",
    )
    assert json.loads(weird.content)["data"]["dataList"][0]["status"] == "WEIRD_NEW_STATE"
