"""Every metric and label name in the dashboards and rules is one the exporter emits.

A metric renamed in exporter/contract.py but not here fails the build; so does a label.
"""

from __future__ import annotations

import re

import pytest

from exporter.contract import CATALOGUE, EMITTED_LABELS
from tests.monitoring import artifacts
from tests.monitoring.artifacts import ALL, PROMETHEUS_LABELS

# Every expression with where it comes from, Grafana's variables on "All".
EXPRESSIONS = [
    *((f"rule {rule.get('alert') or rule['record']}", rule["expr"]) for rule in artifacts.rules()),
    *(
        (query.name, artifacts.substitute(query.target["expr"], ALL))
        for query in artifacts.panel_queries()
    ),
    *(
        (f"{dashboard} / variable {name}", artifacts.substitute(series, ALL))
        for dashboard, name, series, _ in artifacts.variable_queries()
    ),
]


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_metric_names_are_in_the_catalogue(where: str, expr: str) -> None:
    assert not artifacts.unknown_metrics(expr, CATALOGUE), where


@pytest.mark.parametrize(("where", "expr"), EXPRESSIONS, ids=[w for w, _ in EXPRESSIONS])
def test_label_names_are_emitted(where: str, expr: str) -> None:
    unknown = artifacts.names(expr).labels - EMITTED_LABELS - PROMETHEUS_LABELS
    assert not unknown, f"{where}: {unknown}"


def test_legends_and_columns_name_emitted_labels() -> None:
    labels = EMITTED_LABELS | PROMETHEUS_LABELS
    for query in artifacts.panel_queries():
        assert set(re.findall(r"\{\{(\w+)\}\}", query.target["legendFormat"])) <= labels, query.name
    for _, _, _, label in artifacts.variable_queries():
        assert label in labels


def test_a_renamed_metric_is_caught() -> None:
    """The check itself: names it must see, and names it must not take for metrics."""
    expr = (
        'max without (status) (oceanbase_backup_task_state{status="FAILED"} == 1) '
        "unless on (job) changes(oceanbase_backup_task_input_bytes[10m]) > 0 "
        "or rate(oceanbase_backup_exporter_polls_total[5m]) * 60 "
        "or histogram_quantile(0.99, oceanbase_backup_exporter_request_duration_seconds_bucket) "
        '+ on () group_left () oceanbase:threshold:backup_max_age_seconds or up or ALERTS{alertname="x"} '
        'or {__name__=~"oceanbase_tenant_info|oceanbase_backup_size"}'
    )
    assert artifacts.unknown_metrics(expr, CATALOGUE) == {
        "oceanbase_backup_task_state",
        "oceanbase_backup_size",
    }
    assert artifacts.names(expr).labels == {"status", "job", "alertname"}


def test_comments_in_an_expression_are_not_names() -> None:
    """A rule's expression may carry `#` comments: their words are neither metrics nor labels,
    and a quote in them (an apostrophe) does not open a string."""
    expr = "# the instance's own set: oceanbase_backup_size by (pod)\nmax by (target) (up)  # end"
    assert artifacts.names(expr).metrics == {"up"}
    assert artifacts.names(expr).labels == {"target"}
