"""The metrics reference in docs/ is the collector's catalogue, not a hand-kept copy."""

from __future__ import annotations

from pathlib import Path

from exporter.catalogue import markdown
from exporter.collector import CATALOGUE

DOCS = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"


def test_docs_metrics_is_generated_from_the_collector() -> None:
    assert DOCS.read_text() == markdown(), "run: python -m exporter.catalogue > docs/metrics.md"


def test_every_family_follows_the_naming_conventions() -> None:
    for name, spec in CATALOGUE.items():
        assert name.startswith("oceanbase_")
        assert not name.endswith("_total"), "counters are named without _total; the sample adds it"
        if spec.type == "counter":
            continue
        if name.endswith("_timestamp_seconds") or name.endswith("_ratio"):
            assert spec.type == "gauge"
        assert spec.help and not spec.help[0].islower() and spec.help.endswith((".", ")")), name
