"""The exposition: rendered once per change, per target, and served as bytes to every scraper.

prometheus_client's `generate_latest` formats every sample on every call (docs/benchmarks.md,
"Render", compares the two). Here each target's sample lines are formatted once, when its
snapshot changes, and a scrape only joins the cached pieces under each family's header, so
its cost follows what changed, not the number of series or of scrapers.

The exporter's own process_* and python_info series change on every scrape (CPU seconds), so
they are rendered apart, at most once a second, and appended to the cached body: as text, or
through a copy of the compressor that took the data part (one gzip member: not every client
reads a second one).
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import openmetrics
from prometheus_client.core import Metric

from exporter.collector import ExporterState, RuntimeFamilies, collect
from exporter.contract import CATALOGUE
from exporter.snapshot import TargetSnapshot
from exporter.text import replace_surrogates

if TYPE_CHECKING:
    from zlib import _Compress as _Compressor

# The classic text format; we emit nothing that needs its 1.0.0 (UTF-8 names) extensions.
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = openmetrics.exposition.CONTENT_TYPE_LATEST
# Fast and still ~10x smaller: level 6 would triple the CPU for a few percent less.
GZIP_LEVEL = 1
GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around the deflate stream
# How long the rendered process_* series are served before they are read again: 50 scrapers
# within a second share one reading of /proc/self.
RUNTIME_REFRESH_SECONDS = 1.0

Fragments = dict[str, str]  # family name -> its sample lines, formatted


def _escape_label(value: str) -> str:
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
    return value


def _number(value: float) -> str:
    """A sample value as both formats parse it (repr is exact and ~3x cheaper than Go style)."""
    if math.isfinite(value):
        return repr(float(value))
    if math.isnan(value):
        return "NaN"
    return "+Inf" if value > 0 else "-Inf"


def _sample_lines(metric: Metric) -> str:
    lines = []
    for sample in metric.samples:
        if sample.labels:
            labels = ",".join(f'{k}="{_escape_label(v)}"' for k, v in sample.labels.items())
            lines.append(f"{sample.name}{{{labels}}} {_number(sample.value)}\n")
        else:
            lines.append(f"{sample.name} {_number(sample.value)}\n")
    return "".join(lines)


def _header(metric: Metric, open_metrics: bool) -> str:
    if open_metrics:
        help_text = metric.documentation.replace("\\", "\\\\").replace("\n", "\\n")
        help_text = help_text.replace('"', '\\"')
        return f"# HELP {metric.name} {help_text}\n# TYPE {metric.name} {metric.type}\n"
    # The classic format names a counter family by its sample name.
    name = metric.name + "_total" if metric.type == "counter" else metric.name
    help_text = metric.documentation.replace("\\", "\\\\").replace("\n", "\\n")
    return f"# HELP {name} {help_text}\n# TYPE {name} {metric.type}\n"


def fragments(metrics: Iterable[Metric]) -> Fragments:
    """Each family's sample lines, ready to be joined under its header.

    Lines that could not be encoded (a lone surrogate that got past the sources, or one in a
    config label) get U+FFFD instead: one target's bytes must not fail the whole body.
    """
    return {metric.name: replace_surrogates(_sample_lines(metric)) for metric in metrics}


def assemble(
    parts: list[Fragments], headers: dict[str, Metric], open_metrics: bool, end: bool = True
) -> bytes:
    """One exposition from per-target fragments, each family grouped under one header; with
    `end` False, without OpenMetrics' closing `# EOF` (more families follow)."""
    out: list[str] = []
    for name, metric in headers.items():
        pieces = [part[name] for part in parts if name in part]
        if pieces:
            out.append(_header(metric, open_metrics))
            out.extend(pieces)
    if open_metrics and end:
        out.append("# EOF\n")
    return "".join(out).encode()


def render(metrics: list[Metric], open_metrics: bool) -> bytes:
    """Serialise families in the Prometheus text format or OpenMetrics."""
    return assemble([fragments(metrics)], {m.name: m for m in metrics}, open_metrics)


class Exposition:
    """The /metrics body, rebuilt only from the targets whose snapshot changed."""

    def __init__(
        self,
        snapshots: Callable[[float], list[TargetSnapshot]],
        process: Callable[[], ExporterState],
        with_data: bool = True,
    ) -> None:
        self._snapshots = snapshots
        self._process = process
        self._with_data = with_data
        # Per target: the snapshot its fragments were made from (compared by identity).
        self._targets: dict[str, tuple[TargetSnapshot, Fragments]] = {}
        # Family headers, in catalogue order, as first seen.
        self._headers: dict[str, Metric] = {}
        self._key: tuple[object, ...] = ()
        self._process_part: Fragments = {}
        # The data part (everything but the runtime families), per format; for gzip, what a
        # compressor has written of it so far and the compressor, to continue with the rest.
        self._plain: dict[bool, bytes] = {}
        self._gzip_heads: dict[bool, tuple[bytes, _Compressor]] = {}
        self._runtime = RuntimeFamilies()
        self._runtime_plain: dict[bool, bytes] = {}
        self._runtime_read_at = -RUNTIME_REFRESH_SECONDS
        # The whole body per (format, gzip), with the runtime part it was made with.
        self._whole: dict[tuple[bool, bool], tuple[bytes, bytes]] = {}

    def body(self, open_metrics: bool, gzipped: bool) -> bytes:
        """The current exposition; only changed targets are formatted again."""
        self._follow_snapshots()
        runtime = self.runtime_part(open_metrics)
        cached = self._whole.get((open_metrics, gzipped))
        if cached is not None and cached[0] is runtime:
            return cached[1]
        if gzipped:
            # One gzip member, as every client reads: continue a copy of the compressor that
            # has taken the data part, rather than compressing it again.
            head, compressor = self._gzip_head(open_metrics)
            rest = compressor.copy()
            body = head + rest.compress(runtime) + rest.flush()
        else:
            body = self._data_part(open_metrics) + runtime
        self._whole[open_metrics, gzipped] = (runtime, body)
        return body

    def runtime_part(self, open_metrics: bool) -> bytes:
        """The process_* and python_info families (and OpenMetrics' `# EOF`), read at most
        once per RUNTIME_REFRESH_SECONDS."""
        now = time.monotonic()
        if now - self._runtime_read_at >= RUNTIME_REFRESH_SECONDS:
            self._runtime_plain.clear()
            self._runtime_read_at = now
        part = self._runtime_plain.get(open_metrics)
        if part is None:
            part = self._runtime_plain[open_metrics] = render(self._runtime.collect(), open_metrics)
        return part

    def _follow_snapshots(self) -> None:
        targets = self._snapshots(time.time())
        process = self._process()
        key = (tuple(id(t) for t in targets), process)
        if key != self._key:
            self._refresh(targets, process)
            self._key = key
            self._plain.clear()
            self._gzip_heads.clear()
            self._whole.clear()

    def _data_part(self, open_metrics: bool) -> bytes:
        body = self._plain.get(open_metrics)
        if body is None:
            parts = [part for _, part in self._targets.values()]
            parts.append(self._process_part)
            body = assemble(parts, self._headers, open_metrics, end=False)
            self._plain[open_metrics] = body
        return body

    def _gzip_head(self, open_metrics: bool) -> tuple[bytes, _Compressor]:
        head = self._gzip_heads.get(open_metrics)
        if head is None:
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, GZIP_WBITS)
            head = self._gzip_heads[open_metrics] = (
                compressor.compress(self._data_part(open_metrics)),
                compressor,
            )
        return head

    def _refresh(self, targets: list[TargetSnapshot], process: ExporterState) -> None:
        current: dict[str, tuple[TargetSnapshot, Fragments]] = {}
        new_headers = False
        for target in targets:
            cached = self._targets.get(target.name)
            if cached is not None and cached[0] is target:
                current[target.name] = cached
                continue
            shown = target if self._with_data else _without_data(target)
            metrics = collect([shown], None)
            new_headers |= self._learn_headers(metrics)
            current[target.name] = (target, fragments(metrics))
        self._targets = current
        process_metrics = collect([], process)
        new_headers |= self._learn_headers(process_metrics)
        self._process_part = fragments(process_metrics)
        if new_headers:
            self._headers = _in_catalogue_order(self._headers)

    def _learn_headers(self, metrics: list[Metric]) -> bool:
        added = False
        for metric in metrics:
            if metric.name not in self._headers:
                self._headers[metric.name] = metric
                added = True
        return added


def _in_catalogue_order(headers: dict[str, Metric]) -> dict[str, Metric]:
    return {name: headers[name] for name in CATALOGUE if name in headers}


def _without_data(target: TargetSnapshot) -> TargetSnapshot:
    return TargetSnapshot(
        name=target.name,
        source=target.source,
        labels=target.labels,
        health=target.health,
        data=None,
        stale_after=target.stale_after,
    )
