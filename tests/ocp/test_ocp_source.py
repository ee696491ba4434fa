"""The OCP source through the poller against a scripted OCP: paging, filters, OCP's quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers.exposition import value
from tests.helpers.ocp import SEED_LABELS, SEED_OCP_ID, ocp_config, seed_overview
from tests.helpers.polling import poll_once, running_poller, scrape
from tests.ocp.stub import CLUSTERS, OcpStub, cluster_item, failure

OVERVIEW_ROUTE = "/api/v2/ob/clusters/:id/backup/overview"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"


def _fleet(ocp: OcpStub, count: int) -> None:
    """`count` clusters ob-0.. with OCP ids 2000.. and obClusterIds 100.., each with an overview."""
    ocp.clusters = [cluster_item(2000 + i, f"ob-{i}", 100 + i) for i in range(count)]
    for i in range(count):
        overview = seed_overview() | {"clusterName": f"ob-{i}", "obClusterId": 100 + i}
        ocp.overview(2000 + i, overview)


async def test_discovery_pages_through_every_cluster(ocp: OcpStub, tmp_path: Path) -> None:
    _fleet(ocp, 5)
    ocp.page_size = 2  # this OCP holds two clusters a page: three pages

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    names = {dict(ls)["ob_cluster_name"] for (n, ls) in parsed if n == "oceanbase_cluster_info"}
    assert names == {f"ob-{i}" for i in range(5)}
    assert [q["page"] for q in ocp.requests_to(CLUSTERS)] == ["1", "2", "3"]
    assert value(parsed, "oceanbase_backup_exporter_requests_total", endpoint=CLUSTERS) == 3
    assert value(parsed, "oceanbase_backup_exporter_requests_total", endpoint=OVERVIEW_ROUTE) == 5
    assert value(parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds")


async def test_the_older_spelling_total_page_is_paged_too(ocp: OcpStub, tmp_path: Path) -> None:
    _fleet(ocp, 3)
    ocp.page_size = 2
    ocp.total_pages_key = "totalPage"

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    names = {dict(ls)["ob_cluster_name"] for (n, ls) in parsed if n == "oceanbase_cluster_info"}
    assert names == {"ob-0", "ob-1", "ob-2"}


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("{include: ['ob-[13]']}", {"ob-1", "ob-3"}),
        ("{exclude: ['ob-0']}", {"ob-1", "ob-2", "ob-3"}),
        # ids are obClusterIds (the ob_cluster_id label), not OCP's own ids.
        ("{ids: [102, 2003]}", {"ob-2"}),
    ],
)
async def test_cluster_filter(
    ocp: OcpStub, tmp_path: Path, selection: str, expected: set[str]
) -> None:
    _fleet(ocp, 4)

    parsed = await scrape(ocp_config(tmp_path, ocp.url, extra=f"    clusters: {selection}\n"))

    names = {dict(ls)["ob_cluster_name"] for (n, ls) in parsed if n == "oceanbase_cluster_info"}
    assert names == expected
    asked = {path for path, _ in ocp.seen if path.endswith("/overview")}
    assert asked == {f"{CLUSTERS}/{2000 + int(n[3:])}/backup/overview" for n in expected}


@pytest.mark.parametrize(
    ("written", "timezone", "envelope_timestamp", "expected"),
    [
        ("2024-10-12T18:20:00+08:00", None, None, 1728728400.0),
        ("2024-10-12T18:20:00.000+0800", None, None, 1728728400.0),
        ("2024-10-12T10:20:00Z", None, None, 1728728400.0),
        # No offset: the envelope's offset tells OCP's zone...
        ("2024-10-12T18:20:00", None, "2024-10-12T18:30:00.000+08:00", 1728728400.0),
        # ...the target's timezone overrides it...
        ("2024-10-12T19:20:00", "Asia/Tokyo", "2024-10-12T18:30:00.000+08:00", 1728728400.0),
        # ...and with neither, UTC.
        ("2024-10-12T10:20:00", None, None, 1728728400.0),
    ],
)
async def test_date_quirks(
    ocp: OcpStub,
    tmp_path: Path,
    written: str,
    timezone: str | None,
    envelope_timestamp: str | None,
    expected: float,
) -> None:
    overview = seed_overview() | {"latestLogBackupCheckpoint": written}
    ocp.overview(SEED_OCP_ID, overview, timestamp=envelope_timestamp)
    extra = f"    timezone: {timezone}\n" if timezone else ""

    parsed = await scrape(ocp_config(tmp_path, ocp.url, extra=extra))

    checkpoint = "oceanbase_log_backup_checkpoint_timestamp_seconds"
    assert value(parsed, checkpoint, **SEED_LABELS) == pytest.approx(expected)


async def test_long_integers_as_strings_and_left_out_nulls(ocp: OcpStub, tmp_path: Path) -> None:
    big = "9007199254740993"  # 2^53 + 1: OCP writes such a Long as a string
    ocp.clusters = [cluster_item(SEED_OCP_ID, "yc0820_17", big)]
    overview: dict[str, Any] = {
        "clusterId": str(SEED_OCP_ID),
        "clusterName": "yc0820_17",
        "obClusterId": big,
        "obClusterStatus": "RUNNING",
        "logBackupDelaySeconds": "98",
        "latestLogBackupCheckpoint": "2021-09-22T14:49:07.296+0800",
    }  # null fields (lastDataBackupTime, backupScheduleStatus, ...) are left out, as OCP does
    ocp.overview(SEED_OCP_ID, overview)

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    labels = {**SEED_LABELS, "ob_cluster_id": big}
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **labels) == 98
    assert value(parsed, "oceanbase_cluster_status", **labels, status="RUNNING") == 1
    for absent in (
        "oceanbase_backup_last_success_timestamp_seconds",
        "oceanbase_backup_recovery_point_timestamp_seconds",  # no data backup: logs alone restore nothing
        "oceanbase_backup_schedule_status",
        "oceanbase_backup_strategy_configured",
        "oceanbase_backup_size_bytes",
    ):
        assert value(parsed, absent, **labels) is None, absent
    assert value(parsed, ERRORS) is None


@pytest.mark.parametrize(
    ("unit", "factor"),
    [
        ("B", 1),
        ("KB", 2**10),
        ("MB", 2**20),
        ("GB", 2**30),
        ("TB", 2**40),
        ("PB", 2**50),
        ("gb", 2**30),
    ],
)
async def test_backup_size_in_its_unit(
    ocp: OcpStub, tmp_path: Path, unit: str, factor: int
) -> None:
    ocp.overview(SEED_OCP_ID, seed_overview() | {"backupSize": 12.25, "obStorageVolumeUnit": unit})

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_backup_size_bytes", **SEED_LABELS) == 12.25 * factor


@pytest.mark.parametrize("unit", ["XB", "GiB", None])
async def test_an_unknown_size_unit_is_a_decode_error_not_a_guess(
    ocp: OcpStub, tmp_path: Path, unit: str | None
) -> None:
    overview = seed_overview() | {"backupSize": 12.25}
    if unit is not None:
        overview["obStorageVolumeUnit"] = unit
    ocp.overview(SEED_OCP_ID, overview)

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_backup_size_bytes") is None
    assert value(parsed, ERRORS, endpoint=OVERVIEW_ROUTE, reason="decode") == 1
    # Only the size is lost: the rest of the cluster is still exported.
    assert value(parsed, "oceanbase_log_backup_delay_seconds", **SEED_LABELS) == 98
    assert value(parsed, "oceanbase_backup_exporter_target_up") == 1


async def test_unknown_states_are_unknown_with_the_raw_string(ocp: OcpStub, tmp_path: Path) -> None:
    overview = seed_overview() | {
        "obClusterStatus": "TAKINGOVER",
        "backupScheduleStatus": "SUSPENDED",
        "obClusterBackupStatus": "SOMETHING_NEW",
    }
    ocp.overview(SEED_OCP_ID, overview)

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    c = SEED_LABELS
    assert value(parsed, "oceanbase_cluster_status", **c, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_cluster_status", **c, status="RUNNING") == 0
    assert value(parsed, "oceanbase_cluster_info", **c, raw_status="TAKINGOVER") == 1
    assert value(parsed, "oceanbase_backup_schedule_status", **c, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_backup_schedule_info", **c, raw_status="SUSPENDED") == 1
    assert value(parsed, "oceanbase_backup_strategy_configured", **c) is None
    statuses = {dict(ls)["status"] for (n, ls) in parsed if n == "oceanbase_cluster_status"}
    assert "TAKINGOVER" not in statuses


async def test_a_failing_overview_costs_only_that_cluster_its_backup_data(
    ocp: OcpStub, tmp_path: Path
) -> None:
    _fleet(ocp, 3)
    ocp.routes[f"{CLUSTERS}/2001/backup/overview"] = (
        500, failure(500, 60018, "Failed to query backup overview"),
    )  # fmt: skip
    ocp.routes[f"{CLUSTERS}/2002/backup/overview"] = (502, "<html>Bad Gateway</html>")

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, ERRORS, endpoint=OVERVIEW_ROUTE, reason="api_error") == 1
    assert value(parsed, ERRORS, endpoint=OVERVIEW_ROUTE, reason="http_status") == 1
    assert value(parsed, "oceanbase_log_backup_delay_seconds", ob_cluster_name="ob-0") == 98
    for name in ("ob-1", "ob-2"):
        # Still known from the list (name, id, status); no backup data this poll.
        assert (
            value(parsed, "oceanbase_cluster_status", ob_cluster_name=name, status="RUNNING") == 1
        )
        assert value(parsed, "oceanbase_log_backup_delay_seconds", ob_cluster_name=name) is None
    assert value(parsed, "oceanbase_backup_exporter_target_up") == 1
    assert value(parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds") is None


async def test_a_rotated_password_file_is_used_at_the_next_poll(
    ocp: OcpStub, tmp_path: Path
) -> None:
    config = ocp_config(tmp_path, ocp.url, password="old-password")
    async with running_poller(config) as poller:
        before = await poll_once(poller)
        (tmp_path / "ocp_secret").write_text("ocp-pass\n")
        after = await poll_once(poller)

    assert value(before, ERRORS, endpoint=CLUSTERS, reason="auth") == 1
    assert value(after, "oceanbase_backup_exporter_target_up") == 1
    assert value(after, "oceanbase_log_backup_delay_seconds", **SEED_LABELS) == 98


async def test_an_unreadable_secret_file_is_an_auth_failure(ocp: OcpStub, tmp_path: Path) -> None:
    config = ocp_config(tmp_path, ocp.url, signed=True)
    (tmp_path / "ocp_secret").unlink()

    parsed = await scrape(config)

    assert value(parsed, ERRORS, endpoint=CLUSTERS, reason="auth") == 1
    assert ocp.seen == []  # nothing was sent without credentials
