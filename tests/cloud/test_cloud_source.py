"""The Cloud source through the poller against a scripted API: paging, filters, set choice."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cloud.stub import INSTANCES, CloudStub, failure, instance
from tests.helpers.cloud import (
    INSTANCE_ID,
    INSTANCE_LABELS,
    SEED_TASK,
    backup_set,
    cloud_config,
    list_item,
    seed_detail,
)
from tests.helpers.exposition import exact_value, value
from tests.helpers.polling import poll_once, running_poller, scrape

SETS_ROUTE = "/api/v2/instances/:id/backup/data/sets"
SET_ROUTE = "/api/v2/instances/:id/backup/data/sets/:backupTaskId"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"


async def test_discovery_pages_through_every_instance(cloud: CloudStub, tmp_path: Path) -> None:
    cloud.instances = [instance(f"ob{i:012d}", f"inst-{i}") for i in range(5)]
    cloud.page_size = 2  # this API holds two instances a page: three pages

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    names = {dict(ls)["ob_cluster_name"] for (n, ls) in parsed if n == "oceanbase_cluster_info"}
    assert names == {f"inst-{i}" for i in range(5)}
    assert [q["pageNumber"] for q in cloud.requests_to(INSTANCES)] == ["1", "2", "3"]
    assert value(parsed, "oceanbase_backup_exporter_requests_total", endpoint=INSTANCES) == 3


async def test_backup_sets_are_paged_and_the_right_ones_chosen(
    cloud: CloudStub, tmp_path: Path
) -> None:
    # Newest first is not promised: the source orders by time itself.
    cloud.sets[INSTANCE_ID] = [
        backup_set("bak-3", "DONE", "2026-01-18T10:00:00Z", "2026-01-18T10:05:00Z"),
        backup_set("bak-5", "DOING", "2026-01-20T10:00:00Z"),
        backup_set("bak-1", "DONE", "2026-01-16T10:00:00Z", "2026-01-16T10:05:00Z"),
        backup_set("bak-4", "FAILED", "2026-01-19T10:00:00Z", "2026-01-19T10:02:00Z"),
        backup_set("bak-2", "DONE", "2026-01-17T10:00:00Z", "2026-01-17T10:05:00Z"),
    ]
    latest = backup_set("bak-5", "DOING", "2026-01-20T10:00:00Z") | {
        "tenantBackupSetList": [
            backup_set("bak-5-1002", "DOING", "2026-01-20T10:00:01Z") | {
                "backupObjectType": "TENANT", "tenantId": "t1", "tenantName": "pay"},
            {k: v for k, v in backup_set("bak-5-1004", "DONE", "2026-01-20T10:00:02Z",
                                         "2026-01-20T10:20:00Z").items() if k != "tenantId"} | {
                "backupObjectType": "TENANT", "tenantName": "crm"},  # no tenantId given
            backup_set("bak-5-1006", "DOING", "2026-01-20T10:00:03Z") | {
                "backupObjectType": "TENANT", "tenantId": "t3", "tenantName": ""},
        ]
    }  # fmt: skip
    cloud.detail(INSTANCE_ID, "bak-5", latest)
    cloud.page_size = 2

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    sets_path = f"{INSTANCES}/{INSTANCE_ID}/backup/data/sets"
    assert [q["pageNumber"] for q in cloud.requests_to(sets_path)] == ["1", "2", "3"]
    assert cloud.requests_to(f"{sets_path}/bak-5") != []  # the detail of the latest set
    assert exact_value(parsed, "oceanbase_backup_set_status", **i, status="DOING") == 1
    assert exact_value(parsed, "oceanbase_backup_set_end_timestamp_seconds", **i) is None
    # The newest DONE set (bak-3), not the latest (DOING) nor the FAILED one after it.
    assert exact_value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **i) == 1768730700
    assert (
        exact_value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **i) == 1768730700
    )
    pay = {**i, "tenant_name": "pay", "ob_tenant_id": "t1"}
    assert exact_value(parsed, "oceanbase_backup_set_status", **pay, status="DOING") == 1
    crm = {**i, "tenant_name": "crm"}  # ob_tenant_id only when known
    assert exact_value(parsed, "oceanbase_backup_set_status", **crm, status="DONE") == 1
    assert exact_value(parsed, "oceanbase_backup_set_size_bytes", **crm) == 1.5 * 2**30
    tenants = {
        dict(ls).get("tenant_name") for (n, ls) in parsed if n == "oceanbase_backup_set_info"
    }
    assert tenants == {None, "pay", "crm"}  # a set without a tenant name is not exported
    assert value(parsed, ERRORS) is None


async def test_an_instance_without_backup_sets(cloud: CloudStub, tmp_path: Path) -> None:
    cloud.sets[INSTANCE_ID] = []

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert exact_value(parsed, "oceanbase_cluster_info", **INSTANCE_LABELS,
                       ob_version="4.2.1.2", cluster_type="PRIMARY") == 1  # fmt: skip
    assert value(parsed, "oceanbase_backup_set_status") is None
    assert value(parsed, "oceanbase_backup_last_success_timestamp_seconds") is None
    assert value(parsed, "oceanbase_backup_exporter_requests_total", endpoint=SET_ROUTE) is None


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("{include: ['prod-.*']}", {"prod-a", "prod-b"}),
        ("{exclude: ['.*-b']}", {"prod-a", "test-c"}),
        ("{ids: [ob0000000000c2]}", {"test-c"}),
    ],
)
async def test_instance_filter(
    cloud: CloudStub, tmp_path: Path, selection: str, expected: set[str]
) -> None:
    cloud.instances = [
        instance("ob0000000000a0", "prod-a"),
        instance("ob0000000000b1", "prod-b"),
        instance("ob0000000000c2", "test-c"),
    ]

    parsed = await scrape(cloud_config(tmp_path, cloud.url, extra=f"    instances: {selection}\n"))

    names = {dict(ls)["ob_cluster_name"] for (n, ls) in parsed if n == "oceanbase_cluster_info"}
    assert names == expected
    asked = {path.split("/")[4] for path, _ in cloud.seen if path.endswith("/sets")}
    assert asked == {i["instanceId"] for i in cloud.instances if i["instanceName"] in expected}


async def test_times_without_offset_are_read_in_the_target_timezone(
    cloud: CloudStub, tmp_path: Path
) -> None:
    detail = seed_detail() | {"endTime": "2026-01-19 18:32:49", "checkpoint": "2026-01-19T18:32:28"}
    cloud.sets[INSTANCE_ID] = [list_item(detail)]
    cloud.detail(INSTANCE_ID, SEED_TASK, detail)

    parsed = await scrape(cloud_config(tmp_path, cloud.url, extra="    timezone: Asia/Shanghai\n"))

    i = INSTANCE_LABELS
    assert exact_value(parsed, "oceanbase_backup_set_end_timestamp_seconds", **i) == 1768818769
    assert (
        exact_value(parsed, "oceanbase_backup_recovery_point_timestamp_seconds", **i) == 1768818748
    )
    # "...Z" times are UTC whatever the zone.
    assert exact_value(parsed, "oceanbase_backup_set_start_timestamp_seconds", **i) == 1768818653


async def test_an_unknown_set_status_is_unknown_with_the_raw_string(
    cloud: CloudStub, tmp_path: Path
) -> None:
    detail = seed_detail() | {"status": "ARCHIVED"}
    cloud.sets[INSTANCE_ID] = [list_item(detail)]
    cloud.detail(INSTANCE_ID, SEED_TASK, detail)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    assert exact_value(parsed, "oceanbase_backup_set_status", **i, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_backup_set_info", raw_status="ARCHIVED") == 1
    # Not DONE, so not a success either.
    assert value(parsed, "oceanbase_backup_last_success_timestamp_seconds") is None


async def test_a_failed_detail_keeps_the_listed_set(cloud: CloudStub, tmp_path: Path) -> None:
    # The set was deleted after the list was read: the API says so in its error body.
    gone = failure("NotFound", "The specified backup task does not exist.")
    cloud.routes[f"{INSTANCES}/{INSTANCE_ID}/backup/data/sets/{SEED_TASK}"] = (404, gone)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    assert value(parsed, ERRORS, endpoint=SET_ROUTE, reason="api_error") == 1
    assert exact_value(parsed, "oceanbase_backup_set_status", **i, status="DONE") == 1
    assert value(parsed, "oceanbase_backup_set_status", tenant_name="test1", status="DONE") is None
    assert exact_value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **i) == 1768818769


async def test_a_rotated_secret_file_is_used_at_the_next_poll(
    cloud: CloudStub, tmp_path: Path
) -> None:
    config = cloud_config(tmp_path, cloud.url, secret="old-secret")
    async with running_poller(config) as poller:
        before = await poll_once(poller)
        (tmp_path / "cloud_secret").write_text("cloud-access-key-secret\n")
        after = await poll_once(poller)

    assert value(before, ERRORS, endpoint=INSTANCES, reason="auth") == 1
    assert value(after, "oceanbase_backup_exporter_target_up") == 1
    assert value(after, "oceanbase_backup_set_status", tenant_name="test1", status="DONE") == 1


async def test_an_odd_instance_id_stays_one_path_segment(cloud: CloudStub, tmp_path: Path) -> None:
    odd = "ob 1/2?x#y%z"  # upstream data goes into our URL: it must not change the route
    cloud.instances = [instance(odd, "odd")]
    cloud.sets[odd] = [list_item(seed_detail())]
    cloud.detail(odd, SEED_TASK, seed_detail())

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert value(parsed, "oceanbase_backup_set_status", tenant_name="test1", status="DONE") == 1
    assert f"{INSTANCES}/{odd}/backup/data/sets/{SEED_TASK}" in {path for path, _ in cloud.seen}
