"""OceanBase Cloud numbers: NaN, infinities and 1e400 are decode errors, and a size that
overflows when converted to bytes is unknown; /metrics never shows +Inf or NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cloud.stub import CloudStub, success
from tests.helpers.cloud import (
    INSTANCE_ID,
    INSTANCE_LABELS,
    SEED_TASK,
    cloud_config,
    list_item,
    seed_detail,
)
from tests.helpers.exposition import exact_value, value
from tests.helpers.polling import scrape

CLOUD_SETS = "/api/v2/instances/:id/backup/data/sets"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"
NOT_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400")


def no_inf_or_nan(parsed: dict) -> None:  # type: ignore[type-arg]
    """No sample is NaN or infinite."""
    bad = {k: v for k, v in parsed.items() if v != v or v in (float("inf"), float("-inf"))}
    assert not bad


def _with_number(document: dict, key: str, raw: str) -> str:  # type: ignore[type-arg]
    """`document` as JSON text with `key` set to the literal `raw` (which json cannot write)."""
    marker = "__NUMBER__"
    return json.dumps({**document, key: marker}).replace(f'"{marker}"', raw)


@pytest.mark.parametrize("raw", NOT_NUMBERS)
async def test_cloud_numbers_that_are_no_numbers_are_decode_errors(
    cloud: CloudStub, tmp_path: Path, raw: str
) -> None:
    path = f"/api/v2/instances/{INSTANCE_ID}/backup/data/sets"
    page = {"dataList": ["__SET__"], "total": 1, "hasMore": False}
    text = json.dumps(success(page)).replace(
        '"__SET__"', _with_number(list_item(seed_detail()), "dataBackupSize", raw)
    )
    cloud.routes[path] = (200, text)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert value(parsed, ERRORS, endpoint=CLOUD_SETS, reason="decode") == 1
    assert value(parsed, "oceanbase_backup_set_size_bytes") is None
    no_inf_or_nan(parsed)


async def test_a_cloud_size_that_overflows_in_bytes_is_unknown(
    cloud: CloudStub, tmp_path: Path
) -> None:
    huge = seed_detail() | {"dataBackupSize": 1e300}
    cloud.sets[INSTANCE_ID] = [list_item(huge)]
    cloud.detail(INSTANCE_ID, SEED_TASK, huge)

    parsed = await scrape(cloud_config(tmp_path, cloud.url))

    assert exact_value(parsed, "oceanbase_backup_set_size_bytes", **INSTANCE_LABELS) is None
    assert [k for k in parsed if k[0] == "oceanbase_backup_set_info"]
    no_inf_or_nan(parsed)
