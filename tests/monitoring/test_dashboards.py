"""The Grafana dashboards: generated as committed, loadable by Grafana, consistent with the rules."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from grafana_foundation_sdk.cog import plugins
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from exporter.contract import CATALOGUE
from tests.monitoring import artifacts
from tests.monitoring.artifacts import SOURCES

EXPECTED_UIDS = {
    "oceanbase-backup-overview.json": "oceanbase-backup-overview",
    "oceanbase-backup-tenant.json": "oceanbase-backup-tenant",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_TYPES = {"row", "table", "timeseries", "bargauge", "stat", "state-timeline"}
SEVERITY_COLOURS = {"critical": "red", "warning": "orange"}
DASHBOARDS = artifacts.dashboards()


def test_committed_json_is_what_the_generator_writes() -> None:
    rendered = artifacts.generator().render()
    assert sorted(rendered) == sorted(DASHBOARDS), "a dashboard file is not generated"
    for name, text in rendered.items():
        committed = (artifacts.DASHBOARDS / name).read_text()
        assert committed == text, f"{name} is stale: run python3 grafana/generate.py"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboard_has_what_grafana_needs(name: str) -> None:
    dashboard = DASHBOARDS[name]
    assert dashboard["uid"] == EXPECTED_UIDS[name], "uids are stable: links and bookmarks use them"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int) and dashboard["schemaVersion"] >= 36
    assert dashboard["time"]["from"] and dashboard["time"]["to"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in dashboard["panels"]:
        assert panel["type"] in PANEL_TYPES
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
    for row, panel in artifacts.panels(dashboard):
        where = f"{row} / {panel['title']}"
        assert panel["datasource"] == DATASOURCE, where
        assert panel["fieldConfig"]["defaults"]["unit"], f"{where}: no unit"
        assert panel["targets"], f"{where}: no query"
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), where
        for target in panel["targets"]:
            assert target["expr"].strip(), where
            assert target["datasource"] == DATASOURCE, where


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_no_datasource_is_hard_coded(name: str) -> None:
    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "datasource" in node:
                assert node["datasource"] == DATASOURCE, node
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DASHBOARDS[name])
    uids = set(re.findall(r'"uid": "([^"]*)"', json.dumps(DASHBOARDS[name])))
    assert uids == {EXPECTED_UIDS[name], "${datasource}"}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_variables_are_chained(name: str) -> None:
    variables = {v["name"]: v for v in DASHBOARDS[name]["templating"]["list"]}
    assert list(variables) == ["datasource", "source", "target", "ob_cluster_name", "tenant_name"]
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for later, earlier in (
        ("target", ["source"]),
        ("ob_cluster_name", ["source", "target"]),
        ("tenant_name", ["source", "target", "ob_cluster_name"]),
    ):
        for variable in earlier:
            assert f"${variable}" in variables[later]["definition"], f"{later} ignores ${variable}"
    for variable in ("source", "target", "ob_cluster_name", "tenant_name"):
        assert variables[variable]["datasource"] == DATASOURCE
        assert variables[variable]["query"]["query"] == variables[variable]["definition"]
        if variables[variable]["includeAll"]:
            # `.*`, not a union of the values, so that cluster-level series (no tenant_name) pass
            assert variables[variable]["allValue"] == ".*"
    for variable in ("target", "tenant_name"):
        multi = variables[variable]["multi"]
        assert multi is (name == "oceanbase-backup-overview.json"), "one tenant on the detail"


def test_every_query_narrows_by_the_variables() -> None:
    for query in artifacts.panel_queries():
        expr = query.target["expr"]
        assert 'source=~"$source"' in expr, query.name
        # Cluster names are not unique in a fleet: every selector, not only every query.
        selectors = re.findall(r"\{[^{}]*\}", expr.replace("{{", "").replace("}}", ""))
        assert all('target=~"$target"' in sel for sel in selectors), query.name
        if "tenant_name" in artifacts.names(artifacts.substitute(expr, artifacts.ALL)).labels:
            continue
        if query.row != "Exporter health":
            assert 'ob_cluster_name=~"$ob_cluster_name"' in expr, query.name


def test_overview_has_a_row_per_source_then_restores_and_exporter_health() -> None:
    rows = [
        p["title"]
        for p in DASHBOARDS["oceanbase-backup-overview.json"]["panels"]
        if p["type"] == "row"
    ]
    by_row: dict[str, set[str | None]] = {}
    for query in artifacts.panel_queries():
        if query.dashboard == "oceanbase-backup-overview.json":
            by_row.setdefault(query.row, set()).add(query.source)
    per_source = [row for row in rows if len(by_row[row]) == 1 and None not in by_row[row]]
    assert [next(iter(by_row[row])) for row in per_source] == list(SOURCES)
    assert rows[1 : 1 + len(SOURCES)] == per_source
    assert rows[0] == "Firing alerts" and not by_row["Firing alerts"] - {None}
    assert rows[1 + len(SOURCES) :] == ["Restores", "Exporter health"]


def test_overview_links_to_the_tenant_detail_and_back() -> None:
    overview = DASHBOARDS["oceanbase-backup-overview.json"]
    tenant = DASHBOARDS["oceanbase-backup-tenant.json"]
    assert any(
        f"/d/{tenant['uid']}/" in link["url"] and link["includeVars"] for link in overview["links"]
    )
    assert any(f"/d/{overview['uid']}/" in link["url"] for link in tenant["links"])
    data_links = [
        link["url"]
        for _, panel in artifacts.panels(overview)
        for override in panel["fieldConfig"]["overrides"]
        for prop in override["properties"]
        if prop["id"] == "links"
        for link in prop["value"]
    ]
    assert data_links, "no table links a tenant to its detail"
    for url in data_links:
        assert url.startswith(f"/d/{tenant['uid']}/")
        for variable in ("source", "target", "ob_cluster_name", "tenant_name"):
            assert f"var-{variable}=${{__data.fields.{variable}}}" in url


def _comparisons() -> list[tuple[str, str, str, str]]:
    """(what is compared, its matchers, threshold record, alert severity) for every threshold."""
    found = []
    pattern = re.compile(
        r"(time\(\) - \w+|oceanbase:[\w:]+)(\{[^}]*\})?\s*>\s*on \(\) group_left \(\) "
        r"(oceanbase:threshold:\w+)"
    )
    for name, rule in artifacts.alerts().items():
        for compared, selector, threshold in pattern.findall(rule["expr"]):
            found.append((compared, selector, threshold, rule["labels"]["severity"]))
        assert "oceanbase:threshold:" not in pattern.sub("", rule["expr"]), name
    # The data age is compared per source in the staleness set OceanBaseBackupExporterDataStale
    # alerts on.
    recorded = {rule["record"]: rule["expr"] for rule in artifacts.rules() if "record" in rule}
    stale = " ".join(recorded["oceanbase:backup_exporter_target_stale"].split())
    assert (
        "oceanbase:backup_exporter_data_age_seconds > on (source) group_left () "
        "oceanbase:threshold:exporter_data_max_age_seconds"
    ) in stale
    severity = artifacts.alerts()["OceanBaseBackupExporterDataStale"]["labels"]["severity"]
    data_age = recorded["oceanbase:backup_exporter_data_age_seconds"].strip()
    found.append((data_age, "", "oceanbase:threshold:exporter_data_max_age_seconds", severity))
    return found


def _steps(panel: dict[str, Any], ref_id: str) -> list[dict[str, Any]]:
    """The colour steps that apply to one query of a panel."""
    for override in panel["fieldConfig"]["overrides"]:
        if override["matcher"] == {"id": "byFrameRefID", "options": ref_id}:
            for prop in override["properties"]:
                if prop["id"] == "thresholds":
                    return list(prop["value"]["steps"])
    return list(panel["fieldConfig"]["defaults"]["thresholds"]["steps"])


def test_panels_turn_the_alerts_colour_at_the_alerts_thresholds() -> None:
    thresholds = artifacts.thresholds()
    comparisons = _comparisons()
    assert {threshold for _, _, threshold, _ in comparisons} == set(thresholds)
    by_panel: dict[tuple[str, int], list[artifacts.PanelQuery]] = {}
    for query in artifacts.panel_queries():
        by_panel.setdefault((query.dashboard, query.panel["id"]), []).append(query)
    shown: set[str] = set()
    for queries in by_panel.values():
        coloured = False
        for query in queries:
            steps = _steps(query.panel, query.target["refId"])
            for compared, selector, threshold, severity in comparisons:
                excluded = re.findall(r'source!="(\w+)"', selector)
                if compared not in query.target["expr"] or query.source in excluded:
                    continue
                values = thresholds[threshold]
                value = values[query.source] if query.source in values else values[""]
                step = {"color": SEVERITY_COLOURS[severity], "value": value}
                assert step in steps, f"{query.name}: no step {step} for {threshold}"
                shown.add(threshold)
                coloured = True
        if not coloured:
            panel = queries[0].panel
            assert len(_steps(panel, "")) == 1, f"{queries[0].name}: colour steps that no alert has"
    assert shown == set(thresholds), "a threshold no dashboard shows"


# What a panel must group by to tell two clusters of the same name apart.
def _aggregations(expr: str) -> list[str]:
    return re.findall(r"\b(?:max|min|sum|avg|count) (?:by|without) \([^)]*\)", expr)


def test_legends_and_tables_name_the_target() -> None:
    for query in artifacts.panel_queries():
        legend = query.target["legendFormat"]
        if query.panel["type"] in {"timeseries", "bargauge", "stat"} and "{{" in legend:
            assert "{{target}}" in legend, query.name
        if query.target.get("format") == "table":
            for aggregation in _aggregations(query.target["expr"]):
                assert aggregation.startswith(("max without", "min without")) or (
                    "target" in aggregation
                ), f"{query.name}: {aggregation} drops the target column"


def test_ha_replicas_do_not_double_a_bar_or_a_line() -> None:
    """Two exporter replicas serve the same series apart by `instance`: every data panel
    aggregates it away (the exporter-health row shows each replica on purpose)."""
    for query in artifacts.panel_queries():
        if query.row == "Exporter health":
            continue
        expr = query.target["expr"]
        aggregations = _aggregations(expr)
        assert aggregations, f"{query.name}: no aggregation over replicas"
        for aggregation in aggregations:
            kind = aggregation.split(" (")[0]
            labels = aggregation.split("(", 1)[1].rstrip(")")
            dropped = "instance" in labels if "without" in kind else "instance" not in labels
            assert dropped, f"{query.name}: {aggregation} keeps `instance`"


def test_bar_gauges_show_the_worst_of_a_fleet() -> None:
    """At 1,000 targets x 10 tenants a bar gauge of every tenant is unreadable: each shows a
    bounded, sorted selection (topk/bottomk), and every per-tenant graph a bounded one."""
    for query in artifacts.panel_queries():
        expr = query.target["expr"]
        if query.panel["type"] == "bargauge":
            assert re.match(r"sort(_desc)?\((top|bottom)k\(\d+, ", expr), query.name
        if query.panel["type"] == "timeseries" and query.dashboard.endswith("overview.json"):
            per_tenant = "{{tenant_name}}" in query.target["legendFormat"]
            restore = query.row == "Restores"  # one per running restore: a handful
            if per_tenant and not restore:
                assert re.match(r"topk\(\d+, ", expr), query.name


def test_dashboards_are_valid_for_grafanas_own_sdk() -> None:
    """grafana-foundation-sdk (Grafana 11.6's dashboard schema) reads every dashboard, and
    writes it back with nothing we wrote lost or changed, at the schema version it writes."""
    plugins.register_default_plugins()
    for name, dashboard in DASHBOARDS.items():
        model = Dashboard.from_json(dashboard)
        assert dashboard["schemaVersion"] == Dashboard().schema_version, name
        written = json.loads(JSONEncoder().encode(model))
        lost = _lost(dashboard, written, "")
        # Grafana itself writes `definition` on query variables; the SDK's model lacks it.
        lost = [
            path for path in lost if not re.fullmatch(r"/templating/list\[\d+\]/definition", path)
        ]
        assert not lost, f"{name}: the SDK does not know {lost}"


def _lost(ours: Any, sdk: Any, path: str) -> list[str]:
    """Paths of what we wrote that the SDK dropped or changed (its defaults it adds are fine)."""
    if isinstance(ours, dict):
        if not isinstance(sdk, dict):
            return [path]
        return [
            lost
            for key, value in ours.items()
            for lost in (
                [f"{path}/{key}"] if key not in sdk else _lost(value, sdk[key], f"{path}/{key}")
            )
        ]
    if isinstance(ours, list):
        if not isinstance(sdk, list) or len(ours) != len(sdk):
            return [path]
        return [
            lost
            for i, (a, b) in enumerate(zip(ours, sdk, strict=True))
            for lost in _lost(a, b, f"{path}[{i}]")
        ]
    return [] if ours == sdk else [path]


# Series no panel shows, and why: every other series the exporter emits is on a dashboard.
NOT_SHOWN = {
    "oceanbase_backup_task_extra_meta_bytes": "a detail of the task, not of its health",
    "oceanbase_backup_task_tablets": "shown as the progress ratio",
    "oceanbase_backup_task_finished_tablets": "shown as the progress ratio",
    "oceanbase_backup_task_macro_blocks": "shown as the progress ratio",
    "oceanbase_backup_task_finished_macro_blocks": "shown as the progress ratio",
    "oceanbase_backup_task_files": "a detail of the task, not of its health",
    "oceanbase_backup_task_start_scn_timestamp_seconds": "the recovery point shows what matters",
    "oceanbase_backup_task_end_scn_timestamp_seconds": "the recovery point shows what matters",
    "oceanbase_backup_set_checkpoint_timestamp_seconds": "the recovery point shows what matters",
    "oceanbase_cluster_info": "the $ob_cluster_name variable reads it",
    "oceanbase_backup_schedule_info": "the scheduling table shows the state",
    "oceanbase_restore_tablets": "shown as the progress ratio",
    "oceanbase_restore_finished_tablets": "shown as the progress ratio",
    "oceanbase_restore_log_streams": "shown as the progress ratio",
    "oceanbase_restore_finished_log_streams": "shown as the progress ratio",
    "oceanbase_restore_start_timestamp_seconds": "the restore phase shows it",
    "oceanbase_restore_finish_timestamp_seconds": "the restore phase shows it",
    "oceanbase_restore_scn_timestamp_seconds": "a detail of the restore",
    "oceanbase_restore_recover_scn_timestamp_seconds": "the log recovery progress shows it",
    "oceanbase_backup_exporter_endpoint_supported": "the exporter's own knowledge",
    "oceanbase_backup_exporter_config_last_reload_successful": "a config alert's business",
    "oceanbase_backup_exporter_config_last_reload_success_timestamp_seconds": "same",
    "oceanbase_backup_exporter_build_info": "the exporter's own identity",
}
# Families obshell exports per tenant; OCP's tenant-level task routes (issue 13) export the same.
PER_TENANT_TASKS = {
    "oceanbase_tenant_info",
    "oceanbase_backup_task_status",
    "oceanbase_backup_task_info",
    "oceanbase_backup_task_output_bytes",
    "oceanbase_backup_last_success_timestamp_seconds",
    "oceanbase_backup_last_failure_timestamp_seconds",
    "oceanbase_log_backup_status",
    "oceanbase_log_backup_info",
    "oceanbase_log_backup_checkpoint_timestamp_seconds",
    "oceanbase_log_backup_delay_seconds",
    "oceanbase_backup_recovery_point_timestamp_seconds",
    "oceanbase_restore_status",
    "oceanbase_restore_info",
}
# Families each source exports per tenant (docs/metrics.md): its panels draw them per tenant,
# and the tenant detail shows them for that source's tenants.
PER_TENANT = {
    "obshell": PER_TENANT_TASKS,
    "ocp": PER_TENANT_TASKS,
    # issue 13: Cloud's restorable windows
    "cloud": {
        "oceanbase_backup_set_status",
        "oceanbase_backup_recovery_point_timestamp_seconds",
        "oceanbase_backup_recovery_window_start_timestamp_seconds",
    },
}


def _metrics(query: artifacts.PanelQuery) -> frozenset[str]:
    return artifacts.names(artifacts.substitute(query.target["expr"], artifacts.ALL)).metrics


def _admits(query: artifacts.PanelQuery, source: str) -> bool:
    """Whether the query's selectors let `source`'s series through (on "All")."""
    expr = query.target["expr"]
    pinned = re.findall(r'\bsource(=~?)"([^"$]+)"', expr)
    return all(re.fullmatch(value, source) for _, value in pinned)


def test_every_series_is_on_a_dashboard() -> None:
    shown: set[str] = set()
    for query in artifacts.panel_queries():
        shown |= _metrics(query)
    recorded = {rule["record"]: rule["expr"] for rule in artifacts.rules() if "record" in rule}
    for name in set(shown) & set(recorded):
        shown |= artifacts.names(recorded[name]).metrics
    for family, spec in CATALOGUE.items():
        samples = {family + suffix for suffix in ("", "_total", "_bucket", "_count", "_sum")}
        if family in NOT_SHOWN:
            assert not samples & shown, f"{family} is shown: take it off NOT_SHOWN"
        else:
            assert samples & shown, f"no panel shows {family} ({spec.type})"


def test_per_tenant_series_are_drawn_per_tenant() -> None:
    """A line or bar of a per-tenant series names its tenant: a row that draws OCP's or Cloud's
    tenants per cluster hides which tenant is late."""
    for query in artifacts.panel_queries():
        if query.source is None or query.panel["type"] not in {"timeseries", "bargauge"}:
            continue
        if not query.dashboard.endswith("overview.json"):
            continue
        if _metrics(query) & PER_TENANT[query.source]:
            assert "{{tenant_name}}" in query.target["legendFormat"], query.name


@pytest.mark.parametrize("source", SOURCES)
def test_tenant_detail_shows_every_per_tenant_series_of_each_source(source: str) -> None:
    """The tenant detail is where the alerts link a tenant of any source: no panel pinned to
    another source may be the only one to show a series this source has per tenant."""
    shown: set[str] = set()
    for query in artifacts.panel_queries():
        if query.dashboard.endswith("tenant.json") and _admits(query, source):
            shown |= _metrics(query)
    missing = PER_TENANT[source] - shown - {"oceanbase_tenant_info"}
    assert not missing, f"{source} tenants do not see {sorted(missing)}"


@pytest.mark.parametrize("source", SOURCES)
def test_overview_row_of_each_source_shows_its_per_tenant_series(source: str) -> None:
    shown: set[str] = set()
    for query in artifacts.panel_queries():
        if query.dashboard.endswith("overview.json") and _admits(query, source):
            shown |= _metrics(query)
    missing = (
        PER_TENANT[source]
        - shown
        - {
            "oceanbase_log_backup_info",
            "oceanbase_backup_task_info",
            "oceanbase_log_backup_delay_seconds",
        }
    )
    assert not missing, f"the overview does not show {source}'s {sorted(missing)}"
