"""OCP numbers: NaN, infinities and 1e400 are decode errors, and a size that overflows when
converted to bytes is unknown; /metrics never shows +Inf or NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.exposition import value
from tests.helpers.ocp import SEED_OCP_ID, ocp_config, seed_overview
from tests.helpers.polling import scrape
from tests.ocp.stub import CLUSTERS, OcpStub, envelope

OCP_OVERVIEW = "/api/v2/ob/clusters/:id/backup/overview"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"
NOT_NUMBERS = ("NaN", "Infinity", "-Infinity", "1e400")


def no_inf_or_nan(parsed: dict) -> None:  # type: ignore[type-arg]
    """No sample is NaN or infinite."""
    bad = {k: v for k, v in parsed.items() if v != v or v in (float("inf"), float("-inf"))}
    assert not bad


@pytest.mark.parametrize("raw", NOT_NUMBERS)
async def test_ocp_numbers_that_are_no_numbers_are_decode_errors(
    ocp: OcpStub, tmp_path: Path, raw: str
) -> None:
    # Set over the seed's own value (a JSON object's last duplicate key wins).
    document = envelope(seed_overview() | {"logBackupDelaySeconds": "__NUMBER__"})
    text = json.dumps(document).replace('"__NUMBER__"', raw)
    ocp.routes[f"{CLUSTERS}/{SEED_OCP_ID}/backup/overview"] = (200, text)

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, ERRORS, endpoint=OCP_OVERVIEW, reason="decode") == 1
    assert value(parsed, "oceanbase_log_backup_delay_seconds") is None
    no_inf_or_nan(parsed)


async def test_an_ocp_size_that_overflows_in_bytes_is_unknown(ocp: OcpStub, tmp_path: Path) -> None:
    ocp.overview(SEED_OCP_ID, seed_overview() | {"backupSize": 1e300, "obStorageVolumeUnit": "PB"})

    parsed = await scrape(ocp_config(tmp_path, ocp.url))

    assert value(parsed, "oceanbase_backup_size_bytes") is None
    assert value(parsed, "oceanbase_cluster_info") == 1
    no_inf_or_nan(parsed)
