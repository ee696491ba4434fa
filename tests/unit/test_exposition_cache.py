"""The exposition cache: a target's series are rendered once per new snapshot, and scrapers
are served the same bytes until a snapshot changes."""

from __future__ import annotations

import gzip
import math
from collections.abc import Iterable

import pytest
from prometheus_client.core import Metric

from exporter import exposition
from exporter.collector import ExporterState, collect
from exporter.exposition import Exposition
from exporter.snapshot import TargetSnapshot
from tests.helpers.snapshots import snapshot, tenant

STATE = ExporterState(reload_successful=True, reload_success_timestamp=1_728_727_000.0)


class Targets:
    """The poller's side: the snapshots now, and which targets the exposition rendered."""

    def __init__(self, *snapshots: TargetSnapshot) -> None:
        self.current = list(snapshots)
        self.rendered: list[str] = []

    def snapshots(self, now: float) -> list[TargetSnapshot]:
        return self.current

    def collect(
        self, targets: Iterable[TargetSnapshot], process: ExporterState | None
    ) -> list[Metric]:
        targets = list(targets)
        self.rendered += [t.name for t in targets]
        return collect(targets, process)


@pytest.fixture
def targets(monkeypatch: pytest.MonkeyPatch) -> Targets:
    """Two targets; the process_* series read once per test (their refresh is a timing)."""
    monkeypatch.setattr(exposition, "RUNTIME_REFRESH_SECONDS", math.inf)
    made = Targets(snapshot(tenant("t1", 1002)), snapshot(tenant("t1", 1002), name="sh-prod"))
    monkeypatch.setattr(exposition, "collect", made.collect)
    return made


def test_the_same_bytes_are_served_until_a_snapshot_changes(targets: Targets) -> None:
    cache = Exposition(targets.snapshots, lambda: STATE)
    first = cache.body(open_metrics=False, gzipped=False)
    assert sorted(targets.rendered) == ["hz-prod", "sh-prod"]
    for _ in range(3):
        assert cache.body(open_metrics=False, gzipped=False) is first
    assert sorted(targets.rendered) == ["hz-prod", "sh-prod"], "rendered again without a change"


def test_a_new_snapshot_is_rendered_once_and_only_its_target(targets: Targets) -> None:
    cache = Exposition(targets.snapshots, lambda: STATE)
    before = cache.body(open_metrics=False, gzipped=False)
    targets.rendered.clear()
    targets.current[1] = snapshot(tenant("t1", 1002), tenant("t2", 1004), name="sh-prod")

    after = cache.body(open_metrics=False, gzipped=False)
    assert b'tenant_name="t2"' in after and b'tenant_name="t2"' not in before
    assert cache.body(open_metrics=False, gzipped=False) is after
    assert targets.rendered == ["sh-prod"]


def test_a_target_gone_from_the_snapshots_is_gone_from_the_body(targets: Targets) -> None:
    cache = Exposition(targets.snapshots, lambda: STATE)
    assert b'target="sh-prod"' in cache.body(open_metrics=False, gzipped=False)
    del targets.current[1]
    assert b'target="sh-prod"' not in cache.body(open_metrics=False, gzipped=False)


def test_every_format_says_the_same(targets: Targets) -> None:
    cache = Exposition(targets.snapshots, lambda: STATE)
    plain = cache.body(open_metrics=False, gzipped=False)
    assert gzip.decompress(cache.body(open_metrics=False, gzipped=True)) == plain
    om = cache.body(open_metrics=True, gzipped=False)
    assert om.endswith(b"# EOF\n")
    assert gzip.decompress(cache.body(open_metrics=True, gzipped=True)) == om
    # One rendering of each target serves all four bodies.
    assert sorted(targets.rendered) == ["hz-prod", "sh-prod"]
