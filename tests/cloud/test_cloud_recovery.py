"""OceanBase Cloud: restorable windows, both digest forms, paging without `total`, the detail.

Against the scripted API, whose digest checks are the simulator's own (DigestGuard). Each
test fails on a main that approximated the recovery point from a backup set, answered only
`qop=auth` challenges, stopped paging at an absent `total` and let the detail replace the
listed set whole.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from simulator.cloud.auth import REALM, DigestGuard
from tests.cloud.stub import INSTANCES, CloudStub, failure, instance
from tests.helpers.cloud import (
    INSTANCE_ID,
    INSTANCE_LABELS,
    SEED_TASK,
    backup_set,
    cloud_config,
    seed_detail,
)
from tests.helpers.exposition import exact_value, value
from tests.helpers.polling import poll_once, running_poller, scrape

RESTORABLE = "/api/v2/instances/:id/backup/restore/tenants"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"
RECOVERY = "oceanbase_backup_recovery_point_timestamp_seconds"
WINDOW_START = "oceanbase_backup_recovery_window_start_timestamp_seconds"


def zulu(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def restorable(name: str, tenant_id: str, *windows: tuple[float, float]) -> dict[str, object]:
    """A restorable tenant as the route documents it (C6)."""
    return {
        "tenantId": tenant_id,
        "tenantName": name,
        "tenantMode": "MySQL",
        "status": "ONLINE",
        "obVersion": "4.2.1.2",
        "cpuNum": 4,
        "memoryNum": 16,
        "unitNum": 1,
        "usedDisk": 123456789,
        "backupSetRestoreSummaries": [],
        "timeIntervalList": [
            {"startTime": zulu(start), "endTime": zulu(end), "storageType": "standard"}
            for start, end in windows
        ],
    }


async def test_each_tenant_recovers_to_the_end_of_its_last_window(
    cloud: CloudStub, tmp_path: Path
) -> None:
    now = int(time.time())
    cloud.restorable(INSTANCE_ID, [
        # A gap: the archive broke at now-7200, a backup at now-600 opened a new window.
        restorable("pay", "t1", (now - 86400, now - 7200), (now - 600, now - 600)),
        restorable("crm", "t2", (now - 86400, now - 60)),
        # A window ending in the future is nothing anyone can restore to yet.
        restorable("ops", "t3", (now - 3600, now + 3600)),
    ])  # fmt: skip

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    pay = {**i, "tenant_name": "pay", "ob_tenant_id": "t1"}
    assert exact_value(parsed, RECOVERY, **pay) == now - 600
    assert exact_value(parsed, WINDOW_START, **pay) == now - 600  # the gap moved it forward
    crm = {**i, "tenant_name": "crm", "ob_tenant_id": "t2"}
    assert exact_value(parsed, RECOVERY, **crm) == now - 60
    assert exact_value(parsed, WINDOW_START, **crm) == now - 86400
    ops = {**i, "tenant_name": "ops", "ob_tenant_id": "t3"}
    assert exact_value(parsed, RECOVERY, **ops) is None
    # With real windows, no instance-wide approximation beside them.
    assert exact_value(parsed, RECOVERY, **i) is None
    assert value(parsed, ERRORS) is None
    supported = "oceanbase_backup_exporter_endpoint_supported"
    assert value(parsed, supported, endpoint=RESTORABLE) == 1


async def test_without_the_route_the_approximation_stays(cloud: CloudStub, tmp_path: Path) -> None:
    # The stub has no restorable-tenants route: 404, as an API without it would answer.
    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    assert exact_value(parsed, RECOVERY, **i) == 1768818748  # the seed set's checkpoint
    assert value(parsed, "oceanbase_backup_exporter_endpoint_supported", endpoint=RESTORABLE) == 0
    assert value(parsed, ERRORS) is None  # a route the API lacks is no failure


INSTANCE_GONE = failure("NotFound", "The specified instance does not exist.")
SUPPORTED = "oceanbase_backup_exporter_endpoint_supported"


async def test_a_404_with_clouds_error_body_is_an_error_never_a_missing_route(
    cloud: CloudStub, tmp_path: Path
) -> None:
    # The instance was deleted after the list was read: the API says so in its envelope.
    path = f"{INSTANCES}/{INSTANCE_ID}/backup/restore/tenants"
    cloud.routes[path] = (404, INSTANCE_GONE)
    async with running_poller(cloud_config(tmp_path, cloud.url)) as poller:
        parsed = await poll_once(poller)
        assert value(parsed, ERRORS, endpoint=RESTORABLE, reason="api_error") == 1
        assert value(parsed, SUPPORTED, endpoint=RESTORABLE) is None  # still unknown
        # The route answers again: it is asked, and its windows are read.
        cloud.restorable(INSTANCE_ID, [restorable("pay", "t1", (1768800000, 1768818000))])
        parsed = await poll_once(poller)
        pay = {**INSTANCE_LABELS, "tenant_name": "pay", "ob_tenant_id": "t1"}
        assert exact_value(parsed, RECOVERY, **pay) == 1768818000
        assert value(parsed, SUPPORTED, endpoint=RESTORABLE) == 1


async def test_a_bare_404_after_the_route_worked_is_an_error_never_a_missing_route(
    cloud: CloudStub, tmp_path: Path
) -> None:
    cloud.restorable(INSTANCE_ID, [restorable("pay", "t1", (1768800000, 1768818000))])
    async with running_poller(cloud_config(tmp_path, cloud.url)) as poller:
        parsed = await poll_once(poller)
        assert value(parsed, SUPPORTED, endpoint=RESTORABLE) == 1
        del cloud.routes[f"{INSTANCES}/{INSTANCE_ID}/backup/restore/tenants"]  # a bare 404
        parsed = await poll_once(poller)
        assert value(parsed, SUPPORTED, endpoint=RESTORABLE) == 1
        assert value(parsed, ERRORS, endpoint=RESTORABLE, reason="http_status") == 1


async def test_a_failing_windows_route_keeps_the_approximation_and_says_so(
    cloud: CloudStub, tmp_path: Path
) -> None:
    path = f"{INSTANCES}/{INSTANCE_ID}/backup/restore/tenants"
    cloud.routes[path] = (500, {"success": False, "errorCode": "E001R000",
                                "errorMessage": "Unknown Error"})  # fmt: skip

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert exact_value(parsed, RECOVERY, **INSTANCE_LABELS) == 1768818748
    assert value(parsed, ERRORS, endpoint=RESTORABLE, reason="api_error") == 1


async def test_digest_without_qop_rfc_2069(cloud: CloudStub, tmp_path: Path) -> None:
    cloud.guard = DigestGuard(qop=False)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert value(parsed, "oceanbase_backup_exporter_target_up") == 1
    assert exact_value(parsed, "oceanbase_backup_set_status", **INSTANCE_LABELS, status="DONE") == 1
    assert cloud.denied == 0
    assert value(parsed, ERRORS) is None


async def test_concurrent_requests_never_send_a_nonce_count_twice(
    cloud: CloudStub, tmp_path: Path
) -> None:
    # Eight instances polled four at a time over one nonce: the guard refuses a replayed nc.
    ids = [f"ob{n:012d}" for n in range(8)]
    cloud.instances = [instance(i, f"inst-{n}") for n, i in enumerate(ids)]
    for i in ids:
        cloud.sets[i] = [backup_set(f"bak-{i}", "DONE", "2026-01-18T10:00:00Z",
                                    "2026-01-18T10:05:00Z")]  # fmt: skip

    parsed = await scrape(cloud_config(tmp_path, cloud.url, extra="    max_concurrency: 4\n"))

    assert cloud.denied == 0
    assert cloud.challenges == 1  # one 401, then every request answers the same nonce
    names = {dict(ls)["ob_cluster_name"] for n, ls in parsed if n == "oceanbase_cluster_info"}
    assert len(names) == 8
    assert value(parsed, ERRORS, reason="auth") is None


async def test_paging_without_total_stops_at_has_more_or_an_empty_page(
    cloud: CloudStub, tmp_path: Path
) -> None:
    sets = [backup_set(f"bak-{n}", "DONE", f"2026-01-1{n}T10:00:00Z", f"2026-01-1{n}T10:05:00Z")
            for n in range(1, 6)]  # fmt: skip
    cloud.sets[INSTANCE_ID] = sets
    cloud.page_size = 2
    sets_path = f"{INSTANCES}/{INSTANCE_ID}/backup/data/sets"

    cloud.paging_keys = ("hasMore",)
    parsed = await scrape(cloud_config(tmp_path, cloud.url))
    assert [q["pageNumber"] for q in cloud.requests_to(sets_path)] == ["1", "2", "3"]
    last = exact_value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **INSTANCE_LABELS)
    assert last == 1768471500  # bak-5 (2026-01-15T10:05:00Z), on the third page

    cloud.seen.clear()
    cloud.paging_keys = ()  # neither total nor hasMore: an empty page ends the list
    parsed = await scrape(cloud_config(tmp_path, cloud.url))
    assert [q["pageNumber"] for q in cloud.requests_to(sets_path)] == ["1", "2", "3", "4"]
    last = exact_value(parsed, "oceanbase_backup_last_success_timestamp_seconds", **INSTANCE_LABELS)
    assert last == 1768471500


async def test_a_detail_that_leaves_a_field_out_keeps_the_listed_value(
    cloud: CloudStub, tmp_path: Path
) -> None:
    detail = {k: v for k, v in seed_detail().items() if k not in ("dataBackupSize", "endTime")}
    cloud.detail(INSTANCE_ID, SEED_TASK, detail)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    i = INSTANCE_LABELS
    assert exact_value(parsed, "oceanbase_backup_set_size_bytes", **i) == 0.06 * 2**30
    assert exact_value(parsed, "oceanbase_backup_set_end_timestamp_seconds", **i) == 1768818769
    # The tenants still come from the detail.
    assert value(parsed, "oceanbase_backup_set_status", tenant_name="test1", status="DONE") == 1


class TimeBucketGuard(DigestGuard):
    """A server whose nonce is the same for every challenge within its lifetime (as Apache's
    time-based nonces are): counts already sent with it must never come again."""

    def challenge(self, now: float, stale: bool = False) -> str:
        nonce = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        self._nonces.setdefault(nonce, now)
        return (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
            f'opaque="{self.opaque}", algorithm=MD5'
        )


async def test_a_challenge_repeating_the_nonce_does_not_restart_the_count(
    cloud: CloudStub, tmp_path: Path
) -> None:
    cloud.guard = TimeBucketGuard()
    config = cloud_config(tmp_path, cloud.url)
    async with running_poller(config) as poller:
        await poll_once(poller)
        # A new secret: the remembered challenge is dropped, the next request is challenged
        # again, with the very nonce whose counts 1, 2, ... were already sent.
        cloud.account.access_key_secret = "rotated-secret"
        (tmp_path / "cloud_secret").write_text("rotated-secret\n")
        after = await poll_once(poller)

    assert cloud.denied == 0
    assert value(after, ERRORS, reason="auth") is None
    assert exact_value(after, "oceanbase_backup_set_status", **INSTANCE_LABELS, status="DONE") == 1
