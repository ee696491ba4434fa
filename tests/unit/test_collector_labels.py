"""From snapshots to the series a scrape shows: which label sets exist, and that a tenant or
a target gone from the snapshot leaves no series behind."""

from __future__ import annotations

from exporter.collector import collect
from exporter.exposition import render
from exporter.snapshot import TargetSnapshot
from tests.helpers.exposition import Samples, samples
from tests.helpers.snapshots import snapshot, tenant

INFO = "oceanbase_tenant_info"
LAST_SUCCESS = "oceanbase_backup_last_success_timestamp_seconds"
UP = "oceanbase_backup_exporter_target_up"


def scraped(*targets: TargetSnapshot) -> Samples:
    """What a scrape shows for these snapshots."""
    return samples(render(collect(targets, None), open_metrics=False).decode())


def label_sets(parsed: Samples, name: str) -> set[frozenset[tuple[str, str]]]:
    """The label sets of the series of `name`."""
    return {labels for (sample, labels), _ in parsed.items() if sample == name}


def tenants_of(parsed: Samples) -> set[str]:
    """The tenant names any series shows."""
    return {dict(labels)["tenant_name"] for (_, labels) in parsed if "tenant_name" in dict(labels)}


def test_a_tenant_series_carries_target_cluster_and_tenant_labels() -> None:
    parsed = scraped(snapshot(tenant("tenant1", 1002)))
    assert label_sets(parsed, LAST_SUCCESS) == {
        frozenset(
            {
                ("target", "hz-prod"),
                ("source", "obshell"),
                ("site", "hz"),
                ("ob_cluster_name", "ob-test"),
                ("ob_cluster_id", "1728727000"),
                ("tenant_name", "tenant1"),
                ("ob_tenant_id", "1002"),
            }
        )
    }


def test_a_vanished_tenant_has_no_series_left() -> None:
    before = scraped(snapshot(tenant("tenant1", 1002), tenant("tenant2", 1004)))
    after = scraped(snapshot(tenant("tenant1", 1002)))
    assert tenants_of(before) == {"tenant1", "tenant2"}
    assert tenants_of(after) == {"tenant1"}
    # tenant1's series are the same ones as before: only tenant2's went.
    kept = {key for key in before if ("tenant_name", "tenant2") not in key[1]}
    assert set(after) == kept


def test_an_unknown_value_is_absent_not_zero() -> None:
    parsed = scraped(snapshot(tenant("tenant1", 1002), tenant("never", 1006, last_success=None)))
    assert [dict(labels)["tenant_name"] for labels in label_sets(parsed, LAST_SUCCESS)] == [
        "tenant1"
    ]
    # The tenant itself still shows.
    assert {dict(labels)["tenant_name"] for labels in label_sets(parsed, INFO)} == {
        "tenant1",
        "never",
    }


def test_a_target_without_data_shows_only_its_own_health() -> None:
    parsed = scraped(snapshot(up=False))
    assert (
        parsed[(UP, frozenset({("target", "hz-prod"), ("source", "obshell"), ("site", "hz")}))] == 0
    )
    assert not [name for name, _ in parsed if not name.startswith("oceanbase_backup_exporter_")]


def test_a_removed_target_leaves_no_series() -> None:
    both = scraped(snapshot(tenant("t1", 1002)), snapshot(tenant("t1", 1002), name="sh-prod"))
    one = scraped(snapshot(tenant("t1", 1002)))
    assert {dict(labels)["target"] for _, labels in both} == {"hz-prod", "sh-prod"}
    assert {dict(labels)["target"] for _, labels in one} == {"hz-prod"}
