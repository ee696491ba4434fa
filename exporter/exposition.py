"""Rendered exposition bytes, made once per change and served to every scraper.

A scrape costs a dictionary lookup unless some target finished a poll (or its data went
stale) since the last render; 50 scrapers then share one render.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable, Hashable

from prometheus_client import exposition, openmetrics
from prometheus_client.core import Metric

from exporter.collector import ExporterState, SnapshotCollector, collect
from exporter.snapshot import TargetSnapshot

TEXT_CONTENT_TYPE = exposition.CONTENT_TYPE_LATEST
OPENMETRICS_CONTENT_TYPE = openmetrics.exposition.CONTENT_TYPE_LATEST


def render(metrics: list[Metric], open_metrics: bool) -> bytes:
    """Serialise families in the Prometheus text format or OpenMetrics."""
    collector = SnapshotCollector(lambda: metrics)
    generate = (
        openmetrics.exposition.generate_latest if open_metrics else exposition.generate_latest
    )
    body: bytes = generate(collector)
    return body


class Exposition:
    """The /metrics body, cached by a key that changes whenever the content would."""

    def __init__(
        self,
        snapshots: Callable[[float], list[TargetSnapshot]],
        process: Callable[[], ExporterState],
        with_data: bool = True,
    ) -> None:
        self._snapshots = snapshots
        self._process = process
        self._with_data = with_data
        self._key: Hashable = None
        self._cache: dict[tuple[bool, bool], bytes] = {}

    def body(self, open_metrics: bool, gzipped: bool) -> bytes:
        """The current exposition, rendered only if something changed since the last call."""
        targets = self._snapshots(time.time())
        if not self._with_data:
            targets = [_without_data(t) for t in targets]
        key = (tuple((t.name, t.health, t.data is not None) for t in targets), self._process())
        if key != self._key:
            self._key = key
            self._cache.clear()
        variant = (open_metrics, gzipped)
        cached = self._cache.get(variant)
        if cached is None:
            if gzipped:
                cached = gzip.compress(self.body(open_metrics, False), compresslevel=6)
            else:
                cached = render(collect(targets, self._process()), open_metrics)
            self._cache[variant] = cached
        return cached


def _without_data(target: TargetSnapshot) -> TargetSnapshot:
    return TargetSnapshot(
        name=target.name,
        source=target.source,
        labels=target.labels,
        health=target.health,
        data=None,
        stale_after=target.stale_after,
    )
