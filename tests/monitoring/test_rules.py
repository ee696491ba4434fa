"""The Prometheus rules and example config: promtool-clean, unit-tested, documented, consistent."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import yaml

from tests.monitoring import artifacts
from tests.monitoring.artifacts import PROMETHEUS, RULE_FILES, RULE_TESTS, RUNBOOK

ALERTS = artifacts.alerts()
SEVERITIES = {"critical", "warning"}
# Alerts on the exporter itself: they hold only while the exporter cannot be scraped, since
# their own condition is the staleness.
EXPORTER_ALERTS = {
    "OceanBaseBackupTargetDown",
    "OceanBaseBackupExporterDataStale",
    "OceanBaseBackupExporterDown",
}
# About the scrape job itself: when it fires there is no exporter whose state could be held.
JOB_ALERTS = {"OceanBaseBackupExporterAbsent"}
LINKS = yaml.safe_load((PROMETHEUS / "links.yml").read_text())


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=PROMETHEUS,
    )


def test_promtool_check_rules_is_clean() -> None:
    result = promtool("check", "rules", *(str(path) for path in RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout + result.stderr


def test_promtool_unit_tests_pass() -> None:
    assert RULE_TESTS
    result = promtool("test", "rules", *(str(path) for path in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_alertmanager_config_is_valid() -> None:
    result = subprocess.run(
        ["amtool", "check-config", str(PROMETHEUS / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_example_config_is_valid_and_shows_both_modes() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert sorted(config["rule_files"]) == sorted(path.name for path in RULE_FILES)
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert jobs["oceanbase-backup"].get("metrics_path", "/metrics") == "/metrics"
    probe = jobs["oceanbase-backup-probe"]
    assert probe["metrics_path"] == "/probe"
    relabels = probe["relabel_configs"]
    assert {"source_labels": ["__address__"], "target_label": "__param_target"} in relabels
    assert {"source_labels": ["__param_target"], "target_label": "target"} in relabels
    hashmod = [r for r in relabels if r.get("action") == "hashmod"]
    assert len(hashmod) == 1
    replicas = [r for r in relabels if r.get("target_label") == "__address__"]
    assert [r["regex"] for r in replicas] == [str(n) for n in range(hashmod[0]["modulus"])]


def _unit_tests() -> dict[str, list[list[Any]]]:
    """Alert name -> the exp_alerts of every evaluation of it in prometheus/tests."""
    found: dict[str, list[list[Any]]] = {}
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for check in test.get("alert_rule_test", []):
                found.setdefault(check["alertname"], []).append(check.get("exp_alerts") or [])
    return found


def test_every_alert_has_a_case_where_it_fires_and_one_where_it_must_not() -> None:
    unit_tests = _unit_tests()
    for name in ALERTS:
        evaluations = unit_tests.get(name, [])
        assert any(evaluations), f"{name}: no unit test where it fires"
        assert any(not expected for expected in evaluations), (
            f"{name}: no unit test where it must not"
        )
    assert set(unit_tests) <= set(ALERTS), "a unit test for an alert that does not exist"


def _runbook_anchors() -> set[str]:
    """GitHub's anchors of the runbook's headings."""
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_alert_is_named_labelled_and_documented(name: str) -> None:
    rule = ALERTS[name]
    assert re.fullmatch(r"OceanBase[A-Z]\w+", name)
    assert rule["labels"]["severity"] in SEVERITIES
    annotations = rule["annotations"]
    assert annotations["summary"].strip() and annotations["description"].strip()
    page, _, anchor = annotations["runbook_url"].partition("#")
    assert page == LINKS["runbook_url"] and re.match(r"https?://[^/]+/", page), "not absolute"
    assert anchor == name.lower() and anchor in _runbook_anchors(), f"no runbook section {anchor}"
    dashboard = annotations["dashboard_url"]
    unconditional = re.sub(r"^\{\{ if [^}]*\}\}", "", dashboard)
    assert unconditional.startswith(LINKS["grafana_url"] + "/d/oceanbase-backup-"), dashboard
    if name not in EXPORTER_ALERTS | JOB_ALERTS:
        for label in ("target", "ob_cluster_name", "tenant_name"):
            assert f"var-{label}={{{{ $labels.{label} }}}}" in dashboard, f"{name}: {label}"


def test_links_are_what_prometheus_generate_writes() -> None:
    """runbook_url and dashboard_url come from links.yml (the one place to set them), in the
    rule files and in the PrometheusRule."""
    result = subprocess.run(
        [sys.executable, str(PROMETHEUS / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_descriptions_carry_the_cause() -> None:
    """The reason is in the text, not only on another series the reader must look up."""
    needs = {
        "OceanBaseBackupFailed": (
            "oceanbase_backup_task_info",
            "comment",
            "oceanbase_backup_set_info",
        ),
        "OceanBaseRestoreFailed": ("oceanbase_restore_info", "comment"),
        "OceanBaseBackupTargetDown": ("oceanbase_backup_exporter_poll_errors_total", "reason"),
        "OceanBaseLogBackupDelayHigh": ("$value | humanizeDuration",),
        "OceanBaseBackupTooOld": ("$value | humanizeDuration",),
        "OceanBaseFullBackupTooOld": ("$value | humanizeDuration",),
        "OceanBaseRecoveryPointTooOld": ("$value | humanizeDuration",),
    }
    for name, words in needs.items():
        description = ALERTS[name]["annotations"]["description"]
        for word in words:
            assert word in description, f"{name}: {word}"


@pytest.mark.parametrize("name", sorted(ALERTS))
def test_data_alerts_hold_while_their_data_is_stale(name: str) -> None:
    expr = " ".join(ALERTS[name]["expr"].split())
    held = (
        "max without (alertname, alertstate, severity) "
        f'(ALERTS{{alertname="{name}", alertstate="firing"}})'
    )
    if name in JOB_ALERTS:
        assert "ALERTS" not in expr
        return
    assert f"{held} and on (job, instance) (up == 0)" in expr
    stale = f"{held} and on (job, instance, target) oceanbase:backup_exporter_target_stale"
    assert (stale in expr) is (name not in EXPORTER_ALERTS)
    assert "ALERTS{" not in expr.replace(held, ""), "an alert may only hold its own state"


def test_thresholds_live_in_the_recording_rules_only() -> None:
    """Alert expressions compare with the threshold records, never with literal numbers."""
    for name, rule in ALERTS.items():
        numbers = {text for kind, text in artifacts._tokens(rule["expr"]) if kind == "number"}
        assert numbers <= {"0", "1"}, f"{name} has a literal threshold: {numbers - {'0', '1'}}"
    groups = yaml.safe_load(RULE_FILES[0].read_text())["groups"]
    threshold_groups = {
        group["name"]
        for group in groups
        for rule in group["rules"]
        if rule.get("record", "").startswith("oceanbase:threshold:")
    }
    assert threshold_groups == {"oceanbase-backup-thresholds"}


def test_the_runbook_states_the_thresholds_as_they_are() -> None:
    table = {
        line.split("|")[1].strip(" `").split("{")[0]: line
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("| `oceanbase:threshold:")
    }
    for name, values in artifacts.thresholds().items():
        assert name in table, f"docs/runbook.md does not list {name}"
        for value in values.values():
            assert re.search(rf"\b{value:g}\b", table[name]), f"{name} = {value:g} in the runbook"
