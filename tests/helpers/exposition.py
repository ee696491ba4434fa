"""Reading an exposition as a user's scrape would: samples by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(exposition: str) -> Samples:
    """Parse an exposition into {(sample name, labels): value}."""
    found: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(parsed: Samples, name: str, **labels: str) -> float | None:
    """The value of the one sample of `name` whose labels include `labels` (None if absent)."""
    matches = [v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(matches) <= 1, f"{name} {labels}: {len(matches)} samples match"
    return matches[0] if matches else None


def exact_value(parsed: Samples, name: str, **labels: str) -> float | None:
    """The value of the sample of `name` with exactly `labels` (None if absent).

    For series that differ only by a label being absent, such as a cluster-level series and
    the per-tenant ones of the same family.
    """
    return parsed.get((name, frozenset(labels.items())))
