"""Generate the Grafana dashboards in grafana/dashboards/ from the panel lists below.

    python3 grafana/generate.py           # write the JSON
    python3 grafana/generate.py --check   # exit 1 if the committed JSON is not what this writes

The colour steps of the panels that show an alerting quantity are read from
prometheus/recording.yml (the thresholds) and prometheus/alerts.yml (the severity of the alert
that uses each one), so a threshold changed there changes the dashboards on the next run, and
the tests fail until it has been run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
DASHBOARDS = ROOT / "grafana" / "dashboards"
RECORDING = ROOT / "prometheus" / "recording.yml"
ALERTS = ROOT / "prometheus" / "alerts.yml"

OVERVIEW_UID = "oceanbase-backup-overview"
TENANT_UID = "oceanbase-backup-tenant"
TENANT_URL = f"/d/{TENANT_UID}/oceanbase-backup-tenant-detail"
OVERVIEW_URL = f"/d/{OVERVIEW_UID}/oceanbase-backup-overview"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
# What Grafana 11.6 (and grafana-foundation-sdk for it, which the tests validate against) writes.
SCHEMA_VERSION = 41
SEVERITY_COLOURS = {"critical": "red", "warning": "orange"}

# The variables every query narrows by. A source's row also pins source="X": the metric names
# are shared between sources, and a row shows only its own source's series. Cluster names are
# not unique in a fleet: `target` tells two clusters of the same name apart.
TARGET_SELECTOR = 'source=~"$source", target=~"$target"'
CLUSTER_SELECTOR = TARGET_SELECTOR + ', ob_cluster_name=~"$ob_cluster_name"'
TENANT_SELECTOR = CLUSTER_SELECTOR + ', tenant_name=~"$tenant_name"'
# Labels that differ between exporter replicas serving the same targets (HA): left out of every
# aggregation, so that two replicas draw one bar or line.
REPLICA_LABELS = "instance, pod"
# Columns of the state tables.
TABLE_LABELS = "target, source, ob_cluster_name, tenant_name"
TENANT_LEGEND = "{{target}} / {{ob_cluster_name}} / {{tenant_name}}"
CLUSTER_LEGEND = "{{target}} / {{ob_cluster_name}}"
# Series a bar gauge shows, and lines a graph draws, at most: a fleet of 1,000 targets x 10
# tenants shows its worst.
TOP = 20
TOP_LINES = 10
WEEK = 7 * 24 * 3600

BACKUP_TASK_COLOURS = {
    "COMPLETED": "green",
    "DOING": "blue",
    "INIT": "blue",
    "FAILED": "red",
    "CANCELING": "orange",
    "CANCELED": "orange",
    "UNKNOWN": "purple",
}
LOG_BACKUP_COLOURS = {
    "DOING": "green",
    "PREPARE": "blue",
    "BEGINNING": "blue",
    "STOPPING": "orange",
    "SUSPEND": "red",
    "NOT_RUNNING": "red",
    "UNKNOWN": "purple",
}
RESTORE_COLOURS = {"RESTORE_SUCCESS": "green", "RESTORE_FAIL": "red", "UNKNOWN": "purple"}
BACKUP_SET_COLOURS = {
    "DONE": "green",
    "BEGINNING": "blue",
    "DOING": "blue",
    "FAILED": "red",
    "OVERDUE": "orange",
    "UNKNOWN": "purple",
}
SCHEDULE_COLOURS = {
    "NORMAL": "green",
    "WAITING": "blue",
    "NONE": "orange",
    "PAUSED": "orange",
    "ABNORMAL": "red",
    "UNKNOWN": "purple",
}
CLUSTER_COLOURS = {
    "RUNNING": "green",
    "CREATING": "blue",
    "STARTING": "blue",
    "OPERATING": "blue",
    "UPGRADING": "blue",
    "DELETING": "orange",
    "UNAVAILABLE": "red",
    "UNKNOWN": "purple",
}


# ----------------------------------------------------------------------------- thresholds


@dataclass(frozen=True)
class Threshold:
    """An alert threshold as the rules define it: value(s) in seconds and the alert's colour."""

    values: dict[str, float]  # by `source` label; "" when the threshold has no source label
    colour: str

    @property
    def value(self) -> float:
        """The single value of a threshold that does not vary by source."""
        return self.values[""]


# Which alert each threshold belongs to: its severity colours the panels at that threshold.
THRESHOLD_ALERTS = {
    "backup_max_age_seconds": "OceanBaseBackupTooOld",
    "full_backup_max_age_seconds": "OceanBaseFullBackupTooOld",
    "backup_max_duration_seconds": "OceanBaseBackupRunningTooLong",
    "log_backup_max_delay_seconds": "OceanBaseLogBackupDelayHigh",
    "recovery_point_max_age_seconds": "OceanBaseRecoveryPointTooOld",
    "exporter_data_max_age_seconds": "OceanBaseBackupExporterDataStale",
}


def load_thresholds() -> dict[str, Threshold]:
    """`oceanbase:threshold:NAME` records -> NAME: values and the colour of its alert."""
    values: dict[str, dict[str, float]] = {}
    for group in yaml.safe_load(RECORDING.read_text())["groups"]:
        for rule in group["rules"]:
            name = rule.get("record", "")
            if not name.startswith("oceanbase:threshold:"):
                continue
            number = re.fullmatch(r"vector\((\d+(?:\.\d+)?)\)", rule["expr"].strip())
            if number is None:
                raise ValueError(f"{name}: a threshold must be vector(NUMBER)")
            source = rule.get("labels", {}).get("source", "")
            by_source = values.setdefault(name.removeprefix("oceanbase:threshold:"), {})
            by_source[source] = float(number.group(1))
    severities = {
        rule["alert"]: rule["labels"]["severity"]
        for group in yaml.safe_load(ALERTS.read_text())["groups"]
        for rule in group["rules"]
    }
    return {
        name: Threshold(by_source, SEVERITY_COLOURS[severities[THRESHOLD_ALERTS[name]]])
        for name, by_source in values.items()
    }


# ----------------------------------------------------------------------------- panels


@dataclass
class Query:
    """One PromQL query of a panel."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass
class Panel:
    """A panel: what it shows, how, and in what unit; placed by the layout."""

    kind: str
    title: str
    description: str
    queries: list[Query]
    unit: str
    width: int = 8
    height: int = 8
    steps: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, "green")])
    min: float | None = None
    max: float | None = None
    mappings: list[dict[str, Any]] = field(default_factory=list)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    transformations: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Row:
    """A row of panels; `title` names the source it shows where it shows one."""

    title: str
    panels: list[Panel]


def steps_for(threshold: Threshold, value: float | None = None) -> list[tuple[float | None, str]]:
    """Green below the threshold, the alert's colour from it on."""
    return [(None, "green"), (threshold.value if value is None else value, threshold.colour)]


def value_colours(colours: dict[str, str]) -> list[dict[str, Any]]:
    """Value mappings that colour state strings."""
    return [
        {
            "type": "value",
            "options": {
                state: {"color": colour, "index": index}
                for index, (state, colour) in enumerate(colours.items())
            },
        }
    ]


def one(expr: str) -> str:
    """One series per target whatever the number of exporter replicas (HA replicas serve the
    same series apart by `instance`, and `pod` on Kubernetes)."""
    return f"max without ({REPLICA_LABELS}) ({expr})"


def oldest_ages(metric: str, selector: str) -> list[Query]:
    """A line per tenant of `time() - metric`, the TOP_LINES oldest: how old each tenant's
    timestamp is, where the worst are what an operator looks for."""
    return [
        Query(f"topk({TOP_LINES}, " + one(f"time() - {metric}{{{selector}}}") + ")", TENANT_LEGEND)
    ]


def worst(expr: str, count: int = TOP) -> str:
    """The `count` largest values, largest first: what a bar gauge can show of a fleet."""
    return f"sort_desc(topk({count}, {one(expr)}))"


def _hidden_columns(*extra: str) -> dict[str, Any]:
    hidden = ("Time", "Value", "__name__", "job", "instance", "pod", *extra)
    return {"id": "organize", "options": {"excludeByName": dict.fromkeys(hidden, True)}}


def _link_override(links: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    if not links:
        return []
    return [
        {
            "matcher": {"id": "byName", "options": "tenant_name"},
            "properties": [{"id": "links", "value": links}],
        }
    ]


def state_table(
    title: str,
    description: str,
    metric: str,
    selector: str,
    colours: dict[str, str],
    links: list[dict[str, Any]] | None = None,
    width: int = 8,
) -> Panel:
    """A table of the current state (the `status` label of the series at 1), coloured, the
    worst states first."""
    expr = f"max by ({TABLE_LABELS}, status) ({metric}{{{selector}}} == 1)"
    overrides: list[dict[str, Any]] = [
        {
            "matcher": {"id": "byName", "options": "status"},
            "properties": [
                {"id": "mappings", "value": value_colours(colours)},
                {"id": "custom.cellOptions", "value": {"type": "color-background"}},
            ],
        },
        *_link_override(links),
    ]
    return Panel(
        kind="table",
        title=title,
        description=description,
        queries=[Query(expr, instant=True, table=True)],
        unit="none",
        width=width,
        overrides=overrides,
        transformations=[_hidden_columns()],
        options={"showHeader": True, "cellHeight": "sm", "sortBy": [{"displayName": "status"}]},
    )


def info_table(
    title: str,
    description: str,
    expr: str,
    width: int = 12,
    links: list[dict[str, Any]] | None = None,
    hide: tuple[str, ...] = (),
) -> Panel:
    """A table of `_info` (or any value-1) series: one row each, its labels as columns."""
    return Panel(
        kind="table",
        title=title,
        description=description,
        queries=[Query(expr, instant=True, table=True)],
        unit="none",
        width=width,
        overrides=_link_override(links),
        transformations=[_hidden_columns(*hide)],
        options={"showHeader": True, "cellHeight": "sm"},
    )


def tenants_without_success(selector: str, description: str) -> Panel:
    """The user tenants of `selector` with no successful data backup: they cannot be restored."""
    return info_table(
        "Tenants without a successful backup",
        description,
        one(f"oceanbase_tenant_info{{{selector}}}")
        + " unless on (target, ob_cluster_id, tenant_name) "
        + f"oceanbase_backup_last_success_timestamp_seconds{{{selector}}}",
        width=8,
        links=[tenant_link("Tenant detail")],
        hide=("ob_cluster_id", "ob_tenant_id", "site"),
    )


def state_timeline(title: str, description: str, expr: str, colours: dict[str, str]) -> Panel:
    """The history of a state: one lane per status, filled while it was the current one."""
    return Panel(
        kind="state-timeline",
        title=title,
        description=description,
        queries=[Query(expr, legend="{{status}}")],
        unit="none",
        width=12,
        overrides=[
            {
                "matcher": {"id": "byName", "options": state},
                "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}],
            }
            for state, colour in colours.items()
        ],
        mappings=[{"type": "value", "options": {"1": {"text": " ", "index": 0}}}],
        options={"showValue": "never", "mergeValues": True, "rowHeight": 0.8},
    )


def bars(
    title: str,
    description: str,
    expr: str,
    unit: str,
    legend: str,
    steps: list[tuple[float | None, str]] | None = None,
    width: int = 8,
    min_: float | None = None,
    max_: float | None = None,
) -> Panel:
    """The current value per series as horizontal bars (give it a `worst(...)` query: a bar
    gauge lays out every series it gets)."""
    return Panel(
        kind="bargauge",
        title=title,
        description=description,
        queries=[Query(expr, legend=legend, instant=True)],
        unit=unit,
        width=width,
        steps=steps or [(None, "green")],
        min=min_,
        max=max_,
        options={
            "orientation": "horizontal",
            "displayMode": "basic",
            "showUnfilled": True,
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
    )


def graph(
    title: str,
    description: str,
    queries: list[Query],
    unit: str,
    steps: list[tuple[float | None, str]] | None = None,
    width: int = 8,
    min_: float | None = None,
    max_: float | None = None,
    overrides: list[dict[str, Any]] | None = None,
) -> Panel:
    """A time series; with steps, the threshold is drawn as a line in the alert's colour."""
    custom: dict[str, Any] = {"lineWidth": 1, "fillOpacity": 10, "showPoints": "never"}
    if steps is not None or overrides:
        custom["thresholdsStyle"] = {"mode": "line"}
    return Panel(
        kind="timeseries",
        title=title,
        description=description,
        queries=queries,
        unit=unit,
        width=width,
        steps=steps or [(None, "green")],
        min=min_,
        max=max_,
        custom=custom,
        overrides=overrides or [],
        options={"legend": {"displayMode": "list", "placement": "bottom"}},
    )


def stat(
    title: str, description: str, queries: list[Query], unit: str, width: int = 8, **extra: Any
) -> Panel:
    """Big numbers, one per series."""
    return Panel(
        kind="stat",
        title=title,
        description=description,
        queries=queries,
        unit=unit,
        width=width,
        options={
            "colorMode": "background",
            "graphMode": "none",
            "textMode": "value_and_name",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        },
        **extra,
    )


def tenant_link(title: str) -> dict[str, Any]:
    """A data link from a table row to that tenant's detail dashboard."""
    return {
        "title": title,
        "url": TENANT_URL
        + "?${datasource:queryparam}&var-source=${__data.fields.source}"
        + "&var-target=${__data.fields.target}"
        + "&var-ob_cluster_name=${__data.fields.ob_cluster_name}"
        + "&var-tenant_name=${__data.fields.tenant_name}&${__url_time_range}",
    }


# ----------------------------------------------------------------------------- dashboards


def firing_alerts() -> Row:
    """What is wrong now: the OceanBase alerts Prometheus fires, the most severe first."""
    selector = f'alertstate="firing", alertname=~"OceanBase.*", {TENANT_SELECTOR}'
    return Row(
        "Firing alerts",
        [
            Panel(
                kind="table",
                title="Firing OceanBase alerts",
                description="Alerts of prometheus/alerts.yml firing now (from Prometheus' "
                "ALERTS series: load the rules). Click a tenant for its detail; the "
                "runbook says what to do.",
                queries=[
                    Query(
                        f"max without ({REPLICA_LABELS}, alertstate) (ALERTS{{{selector}}})",
                        instant=True,
                        table=True,
                    )
                ],
                unit="none",
                width=24,
                height=7,
                overrides=[
                    {
                        "matcher": {"id": "byName", "options": "severity"},
                        "properties": [
                            {
                                "id": "mappings",
                                "value": value_colours({"critical": "red", "warning": "orange"}),
                            },
                            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        ],
                    },
                    *_link_override([tenant_link("Tenant detail")]),
                ],
                transformations=[
                    _hidden_columns(),
                    {
                        "id": "organize",
                        "options": {
                            "indexByName": {
                                "severity": 0,
                                "alertname": 1,
                                "target": 2,
                                "ob_cluster_name": 3,
                                "tenant_name": 4,
                            }
                        },
                    },
                ],
                options={
                    "showHeader": True,
                    "cellHeight": "sm",
                    "sortBy": [{"displayName": "severity"}],
                },
            )
        ],
    )


def overview_rows(t: dict[str, Threshold]) -> list[Row]:
    """The backup overview: firing alerts, a row per source, restores, the exporter's health."""
    obshell = f'source="obshell", {TENANT_SELECTOR}'
    ocp = f'source="ocp", {CLUSTER_SELECTOR}'
    ocp_tenant = f'source="ocp", {TENANT_SELECTOR}'
    cloud = f'source="cloud", {CLUSTER_SELECTOR}'
    cloud_tenant = f'source="cloud", {TENANT_SELECTOR}'
    data_age = t["exporter_data_max_age_seconds"]
    return [
        firing_alerts(),
        Row(
            "obshell: data backup, log backup and recovery point per tenant",
            [
                state_table(
                    "Latest data backup",
                    "State of each tenant's latest data backup task. Click a tenant for its "
                    "detail.",
                    "oceanbase_backup_task_status",
                    obshell,
                    BACKUP_TASK_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                tenants_without_success(
                    obshell,
                    "User tenants with no successful data backup in their history: they cannot "
                    "be restored (OceanBaseTenantWithoutBackup fires after a day).",
                ),
                bars(
                    "Time since the last successful data backup",
                    f"The {TOP} oldest. Turns the colour of OceanBaseBackupTooOld at its "
                    "threshold.",
                    worst(f"time() - oceanbase_backup_last_success_timestamp_seconds{{{obshell}}}"),
                    "s",
                    TENANT_LEGEND,
                    steps_for(t["backup_max_age_seconds"]),
                ),
                bars(
                    "Time since the last successful full backup",
                    f"The {TOP} oldest FULL backups (incrementals build on them). Turns the colour "
                    "of OceanBaseFullBackupTooOld at its threshold.",
                    worst(
                        "time() - oceanbase_backup_last_full_success_timestamp_seconds"
                        f"{{{obshell}}}"
                    ),
                    "s",
                    TENANT_LEGEND,
                    steps_for(t["full_backup_max_age_seconds"]),
                ),
                bars(
                    "Backup failures in the last 7 days",
                    f"Tenants whose latest failed data backup ended within 7 days, and how long "
                    f"ago (the {TOP} most recent). The tenant detail has the error.",
                    f"sort(bottomk({TOP}, "
                    + one(
                        f"time() - oceanbase_backup_last_failure_timestamp_seconds{{{obshell}}}"
                        f" < {WEEK}"
                    )
                    + "))",
                    "s",
                    TENANT_LEGEND,
                ),
                bars(
                    "Running data backups: time running",
                    f"The {TOP} longest. Turns the colour of OceanBaseBackupRunningTooLong at its "
                    "threshold.",
                    worst(f"oceanbase:backup_task_running_seconds{{{obshell}}}"),
                    "s",
                    TENANT_LEGEND,
                    steps_for(t["backup_max_duration_seconds"]),
                ),
                graph(
                    "Data backup duration history",
                    f"How long each tenant's data backups took (the {TOP_LINES} longest): each "
                    "step is a finished task.",
                    [
                        Query(
                            f"topk({TOP_LINES}, "
                            + one(
                                f"oceanbase_backup_task_end_timestamp_seconds{{{obshell}}} - "
                                f"oceanbase_backup_task_start_timestamp_seconds{{{obshell}}}"
                            )
                            + ")",
                            TENANT_LEGEND,
                        )
                    ],
                    "s",
                ),
                graph(
                    "Data backup output rate",
                    f"Bytes per second the latest data backup task writes (its average so far; "
                    f"the {TOP_LINES} fastest).",
                    [
                        Query(
                            f"topk({TOP_LINES}, "
                            + one(f"oceanbase_backup_task_output_bytes_per_second{{{obshell}}}")
                            + ")",
                            TENANT_LEGEND,
                        )
                    ],
                    "Bps",
                ),
                bars(
                    "Tablet progress",
                    f"Finished / total tablets of the latest data backup task (the {TOP} least "
                    "advanced).",
                    f"sort(bottomk({TOP}, "
                    + one(f"oceanbase_backup_task_tablet_progress_ratio{{{obshell}}}")
                    + "))",
                    "percentunit",
                    TENANT_LEGEND,
                    min_=0,
                    max_=1,
                ),
                graph(
                    "Log backup delay",
                    f"Age of the log backup (archive) checkpoint (the {TOP_LINES} oldest). The "
                    "line is OceanBaseLogBackupDelayHigh's threshold.",
                    oldest_ages("oceanbase_log_backup_checkpoint_timestamp_seconds", obshell),
                    "s",
                    steps_for(t["log_backup_max_delay_seconds"]),
                ),
                state_table(
                    "Log backup",
                    "State of each tenant's log backup (archive) round. NOT_RUNNING: a "
                    "checkpoint but no running round (obshell cannot tell interrupted from "
                    "stopped).",
                    "oceanbase_log_backup_status",
                    obshell,
                    LOG_BACKUP_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                graph(
                    "Recovery point age",
                    "The data a disaster now would lose: time since the latest point each tenant "
                    f"can provably be restored to (the {TOP_LINES} oldest). The line is the RPO "
                    "of OceanBaseRecoveryPointTooOld.",
                    oldest_ages("oceanbase_backup_recovery_point_timestamp_seconds", obshell),
                    "s",
                    steps_for(t["recovery_point_max_age_seconds"]),
                ),
                bars(
                    "Latest data backup size",
                    f"Bytes the latest data backup task has written (the {TOP} largest).",
                    worst(f"oceanbase_backup_task_output_bytes{{{obshell}}}"),
                    "bytes",
                    TENANT_LEGEND,
                    width=24,
                ),
            ],
        ),
        Row(
            "OCP: data backup, log backup and recovery point per tenant; backup per cluster",
            [
                state_table(
                    "Latest data backup",
                    "State of each tenant's latest data backup task in OCP. Click a tenant for "
                    "its detail.",
                    "oceanbase_backup_task_status",
                    ocp_tenant,
                    BACKUP_TASK_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                tenants_without_success(
                    ocp_tenant,
                    "User tenants with no DONE data backup task in OCP: they cannot be restored "
                    "(OceanBaseTenantWithoutBackup fires after a day).",
                ),
                bars(
                    "Time since the last successful data backup",
                    f"The newest DONE data backup task of each tenant (the {TOP} oldest). Turns "
                    "the colour of OceanBaseBackupTooOld at its threshold.",
                    worst(
                        f"time() - oceanbase_backup_last_success_timestamp_seconds{{{ocp_tenant}}}"
                    ),
                    "s",
                    TENANT_LEGEND,
                    steps_for(t["backup_max_age_seconds"]),
                ),
                bars(
                    "Backup failures in the last 7 days",
                    f"Tenants whose latest failed data backup task ended within 7 days, and how "
                    f"long ago (the {TOP} most recent). The tenant detail has the error.",
                    f"sort(bottomk({TOP}, "
                    + one(
                        f"time() - oceanbase_backup_last_failure_timestamp_seconds{{{ocp_tenant}}}"
                        f" < {WEEK}"
                    )
                    + "))",
                    "s",
                    TENANT_LEGEND,
                ),
                state_table(
                    "Log backup",
                    "State of each tenant's latest log backup task. NOT_RUNNING: OCP reports "
                    "it STOPPED, FAILED or INTERRUPTED (the tenant detail has OCP's word).",
                    "oceanbase_log_backup_status",
                    ocp_tenant,
                    LOG_BACKUP_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                graph(
                    "Log backup delay",
                    "Age of each tenant's log backup checkpoint (the cluster's, from OCP's "
                    f"overview, where the tenant routes could not be read; the {TOP_LINES} "
                    "oldest). The line is OceanBaseLogBackupDelayHigh's threshold.",
                    oldest_ages("oceanbase_log_backup_checkpoint_timestamp_seconds", ocp_tenant),
                    "s",
                    steps_for(t["log_backup_max_delay_seconds"]),
                ),
                graph(
                    "Recovery point age",
                    "The data a disaster now would lose: per tenant, the later of its newest "
                    "DONE data backup's end and its log backup checkpoint (per cluster, an "
                    "approximation, where the tenant routes could not be read; the "
                    f"{TOP_LINES} oldest). The line is the RPO of OceanBaseRecoveryPointTooOld.",
                    oldest_ages("oceanbase_backup_recovery_point_timestamp_seconds", ocp_tenant),
                    "s",
                    steps_for(t["recovery_point_max_age_seconds"]),
                ),
                bars(
                    "Latest data backup size",
                    f"Bytes the latest data backup task has written (the {TOP} largest).",
                    worst(f"oceanbase_backup_task_output_bytes{{{ocp_tenant}}}"),
                    "bytes",
                    TENANT_LEGEND,
                ),
                bars(
                    "Last data backup (success not known), age",
                    "Time since lastDataBackupTime of OCP's backup overview, per cluster (the "
                    f"{TOP} oldest). OCP does not say whether that backup succeeded, nor "
                    "whether the time is its start or its end: the success of each tenant's "
                    "backups is the panel 'Time since the last successful data backup'.",
                    worst(f"time() - oceanbase_backup_last_data_backup_timestamp_seconds{{{ocp}}}"),
                    "s",
                    CLUSTER_LEGEND,
                ),
                state_table(
                    "Cluster status",
                    "The cluster's state as OCP reports it.",
                    "oceanbase_cluster_status",
                    ocp,
                    CLUSTER_COLOURS,
                ),
                state_table(
                    "Backup scheduling",
                    "State of the cluster's backup schedule in OCP.",
                    "oceanbase_backup_schedule_status",
                    ocp,
                    SCHEDULE_COLOURS,
                ),
                stat(
                    "Backup strategy",
                    "Whether OCP has a backup strategy for the cluster.",
                    [
                        Query(
                            one(f"oceanbase_backup_strategy_configured{{{ocp}}}"),
                            CLUSTER_LEGEND,
                            instant=True,
                        )
                    ],
                    "none",
                    mappings=[
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "none", "color": "red", "index": 0},
                                "1": {"text": "configured", "color": "green", "index": 1},
                            },
                        }
                    ],
                ),
                bars(
                    "Backup size",
                    f"Size of the cluster's backups as OCP reports it (the {TOP} largest).",
                    worst(f"oceanbase_backup_size_bytes{{{ocp}}}"),
                    "bytes",
                    CLUSTER_LEGEND,
                    width=24,
                ),
            ],
        ),
        Row(
            "OceanBase Cloud: latest backup set and restorable window per instance and tenant",
            [
                state_table(
                    "Latest backup set",
                    "State of the latest data backup set of each instance and tenant.",
                    "oceanbase_backup_set_status",
                    cloud_tenant,
                    BACKUP_SET_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                bars(
                    "Time since the last successful backup",
                    f"The newest DONE backup set per instance (the {TOP} oldest). Turns the "
                    "colour of OceanBaseBackupTooOld at its threshold.",
                    worst(f"time() - oceanbase_backup_last_success_timestamp_seconds{{{cloud}}}"),
                    "s",
                    CLUSTER_LEGEND,
                    steps_for(t["backup_max_age_seconds"]),
                ),
                graph(
                    "Recovery point age",
                    "The data a disaster now would lose: time since the end of each tenant's "
                    "last restorable window (per instance, the checkpoint of the newest DONE "
                    "backup set, where the windows could not be read; the "
                    f"{TOP_LINES} oldest). OceanBaseRecoveryPointTooOld leaves Cloud out.",
                    oldest_ages("oceanbase_backup_recovery_point_timestamp_seconds", cloud_tenant),
                    "s",
                ),
                bars(
                    "Restorable since",
                    "How far back each tenant can be restored: time since the start of the "
                    "restorable window that ends at its recovery point (the "
                    f"{TOP} shortest). A gap in the windows makes it jump forward.",
                    f"sort(bottomk({TOP}, "
                    + one(
                        "time() - oceanbase_backup_recovery_window_start_timestamp_seconds"
                        f"{{{cloud_tenant}}}"
                    )
                    + "))",
                    "s",
                    TENANT_LEGEND,
                ),
                bars(
                    "Latest backup set size",
                    f"dataBackupSize of the latest set, read as GiB (the {TOP} largest).",
                    worst(f"oceanbase_backup_set_size_bytes{{{cloud_tenant}}}"),
                    "bytes",
                    TENANT_LEGEND,
                    width=8,
                ),
                bars(
                    "Latest backup set duration",
                    f"End minus start of the latest finished set (the {TOP} longest).",
                    worst(
                        f"oceanbase_backup_set_end_timestamp_seconds{{{cloud_tenant}}} "
                        f"- oceanbase_backup_set_start_timestamp_seconds{{{cloud_tenant}}}"
                    ),
                    "s",
                    TENANT_LEGEND,
                    width=8,
                ),
                info_table(
                    "Backup set details",
                    "The latest backup set of each instance (tenant_name empty) and of each "
                    "tenant in it: its id, full or incremental, trigger, validity and the "
                    "upstream status.",
                    one(f"oceanbase_backup_set_info{{{cloud_tenant}}}"),
                    width=24,
                    links=[tenant_link("Tenant detail")],
                    hide=("ob_cluster_id", "ob_tenant_id", "site"),
                ),
            ],
        ),
        Row(
            "Restores",
            [
                state_table(
                    "Restore phase",
                    "Phase of the newest restore into each tenant (finished ones stay for "
                    "restore_history).",
                    "oceanbase_restore_status",
                    TENANT_SELECTOR,
                    RESTORE_COLOURS,
                    links=[tenant_link("Tenant detail")],
                ),
                info_table(
                    "Restore details",
                    "Each restore: its job, the tenant and cluster it restores from, its phase "
                    "(raw_status) and OceanBase's comment (the cause of a failure).",
                    one(f"oceanbase_restore_info{{{TENANT_SELECTOR}}}"),
                    width=16,
                    links=[tenant_link("Tenant detail")],
                    hide=("ob_cluster_id", "restore_tenant_id", "site"),
                ),
                graph(
                    "Restore progress",
                    "Data restore and log recovery progress as OceanBase reports them.",
                    [
                        Query(
                            one(f"oceanbase_restore_progress_ratio{{{TENANT_SELECTOR}}}"),
                            TENANT_LEGEND + " data",
                        ),
                        Query(
                            one(f"oceanbase_restore_recover_progress_ratio{{{TENANT_SELECTOR}}}"),
                            TENANT_LEGEND + " log",
                        ),
                    ],
                    "percentunit",
                    min_=0,
                    max_=1,
                    width=12,
                ),
                graph(
                    "Restored bytes",
                    "Bytes restored so far, and the total to restore.",
                    [
                        Query(
                            one(f"oceanbase_restore_finished_bytes{{{TENANT_SELECTOR}}}"),
                            TENANT_LEGEND + " restored",
                        ),
                        Query(
                            one(f"oceanbase_restore_bytes{{{TENANT_SELECTOR}}}"),
                            TENANT_LEGEND + " total",
                        ),
                    ],
                    "bytes",
                    width=12,
                ),
            ],
        ),
        Row(
            "Exporter health",
            [
                stat(
                    "Targets up",
                    "Whether the last poll of each target by each exporter reached its API and "
                    "authenticated.",
                    [
                        Query(
                            "oceanbase_backup_exporter_target_up"
                            '{source=~"$source", target=~"$target"}',
                            "{{target}} ({{instance}})",
                            instant=True,
                        )
                    ],
                    "none",
                    mappings=[
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "down", "color": "red", "index": 0},
                                "1": {"text": "up", "color": "green", "index": 1},
                            },
                        }
                    ],
                ),
                graph(
                    "Poll duration",
                    "Length of each target's last poll, by exporter.",
                    [
                        Query(
                            "oceanbase_backup_exporter_last_poll_duration_seconds"
                            '{source=~"$source", target=~"$target"}',
                            "{{target}} ({{instance}})",
                        )
                    ],
                    "s",
                ),
                graph(
                    "Upstream errors by reason",
                    "Failed upstream requests per second, by target and reason.",
                    [
                        Query(
                            "sum by (target, instance, reason) "
                            "(oceanbase:backup_exporter_poll_errors:rate5m"
                            '{source=~"$source", target=~"$target"})',
                            "{{target}} ({{instance}}) {{reason}}",
                        )
                    ],
                    "reqps",
                ),
                graph(
                    "Data age",
                    "Time since each target's last complete poll, by exporter. The lines are "
                    "the per-source thresholds of OceanBaseBackupExporterDataStale.",
                    [
                        Query(
                            # A poll may end while a scrape of it is under way: its end is then
                            # a few ms after the sample's (the scrape's start) time.
                            "clamp_min(time() - "
                            "oceanbase_backup_exporter_last_poll_success_timestamp_seconds"
                            f'{{source="{source}", source=~"$source", target=~"$target"}}, 0)',
                            "{{target}} ({{instance}})",
                        )
                        for source in ("obshell", "ocp", "cloud")
                    ],
                    "s",
                    overrides=[
                        {
                            "matcher": {"id": "byFrameRefID", "options": ref},
                            "properties": [
                                {
                                    "id": "thresholds",
                                    "value": thresholds_json(
                                        steps_for(data_age, data_age.values[source])
                                    ),
                                }
                            ],
                        }
                        for ref, source in zip("ABC", ("obshell", "ocp", "cloud"), strict=True)
                    ],
                ),
                graph(
                    "Upstream requests",
                    "Requests per second to each target's API, by exporter.",
                    [
                        Query(
                            "oceanbase:backup_exporter_requests:rate5m"
                            '{source=~"$source", target=~"$target"}',
                            "{{target}} ({{instance}})",
                        )
                    ],
                    "reqps",
                ),
                graph(
                    "Upstream latency (p99)",
                    "99th percentile latency of each target's API, by route and exporter.",
                    [
                        Query(
                            "oceanbase:backup_exporter_request_duration_seconds:p99_5m"
                            '{source=~"$source", target=~"$target"}',
                            "{{target}} ({{instance}}) {{endpoint}}",
                        )
                    ],
                    "s",
                ),
                bars(
                    "Requests per poll",
                    "Upstream requests one poll of each target made, on average over the last "
                    f"hour (the {TOP} costliest): it grows with clusters and tenants (OCP "
                    "reads each tenant's tasks). Each exporter replica polls on its own; this "
                    "is the highest replica's.",
                    worst(
                        "sum without (endpoint) (increase(oceanbase_backup_exporter_requests_total"
                        '{source=~"$source", target=~"$target"}[1h])) '
                        "/ (increase(oceanbase_backup_exporter_polls_total"
                        '{source=~"$source", target=~"$target"}[1h]) > 0)'
                    ),
                    "none",
                    "{{target}}",
                    width=12,
                ),
                bars(
                    "Cached facts, age",
                    "How long ago the exporter last confirmed a fact it does not ask for on "
                    "every poll (obshell's cluster identity and job history, OCP's cluster and "
                    f"tenant lists, Cloud's instance list), the {TOP} oldest. One past the "
                    "target's stale_after is dropped; a growing age means the refresh fails "
                    "(see poll errors).",
                    worst(
                        "time() - oceanbase_backup_exporter_cached_fact_verified_timestamp_seconds"
                        '{source=~"$source", target=~"$target"}'
                    ),
                    "s",
                    "{{target}} {{fact}}",
                    width=12,
                    min_=0,
                ),
            ],
        ),
    ]


def tenant_rows(t: dict[str, Threshold]) -> list[Row]:
    """One tenant's history."""
    obshell = f'source="obshell", {TENANT_SELECTOR}'
    # obshell and OCP both report the tenant's data and log backup tasks.
    tasks = f'source=~"obshell|ocp", {TENANT_SELECTOR}'
    cloud = f'source="cloud", {TENANT_SELECTOR}'
    return [
        Row(
            "Data backup (obshell, OCP)",
            [
                state_timeline(
                    "Data backup state",
                    "State of the latest data backup task over time.",
                    f"max by (status) (oceanbase_backup_task_status{{{tasks}}} == 1)",
                    BACKUP_TASK_COLOURS,
                ),
                graph(
                    "Time since the last successful data backup",
                    "The line is OceanBaseBackupTooOld's threshold.",
                    [
                        Query(
                            one(
                                "time() - oceanbase_backup_last_success_timestamp_seconds"
                                f"{{{tasks}}}"
                            ),
                            "since last success",
                        )
                    ],
                    "s",
                    steps_for(t["backup_max_age_seconds"]),
                    width=12,
                ),
                graph(
                    "Time since the last successful full backup",
                    "Incremental backups build on the latest full one (obshell 4.3.2+; OCP does "
                    "not say). The line is OceanBaseFullBackupTooOld's threshold.",
                    [
                        Query(
                            one(
                                "time() - oceanbase_backup_last_full_success_timestamp_seconds"
                                f"{{{obshell}}}"
                            ),
                            "since last full backup",
                        )
                    ],
                    "s",
                    steps_for(t["full_backup_max_age_seconds"]),
                    width=12,
                ),
                graph(
                    "Data backup duration history",
                    "How long each data backup took: each step is a finished task.",
                    [
                        Query(
                            one(
                                f"oceanbase_backup_task_end_timestamp_seconds{{{tasks}}} - "
                                f"oceanbase_backup_task_start_timestamp_seconds{{{tasks}}}"
                            ),
                            "duration",
                        )
                    ],
                    "s",
                    width=12,
                ),
                stat(
                    "Last success and failure",
                    "When the latest successful and the latest failed data backup ended.",
                    [
                        Query(
                            one(f"oceanbase_backup_last_success_timestamp_seconds{{{tasks}}}")
                            + " * 1000",
                            "last success",
                            instant=True,
                        ),
                        Query(
                            one(f"oceanbase_backup_last_failure_timestamp_seconds{{{tasks}}}")
                            + " * 1000",
                            "last failure",
                            instant=True,
                        ),
                    ],
                    "dateTimeFromNow",
                    width=6,
                    steps=[(None, "blue")],
                ),
                stat(
                    "Latest task result",
                    "0 for success, else the OceanBase error code of the latest task.",
                    [
                        Query(
                            one(f"oceanbase_backup_task_result_code{{{tasks}}}"),
                            "result",
                            instant=True,
                        )
                    ],
                    "none",
                    width=6,
                    mappings=[
                        {"type": "value", "options": {"0": {"text": "OK", "color": "green"}}},
                        {
                            "type": "range",
                            "options": {"from": -1e12, "to": -1, "result": {"color": "red"}},
                        },
                    ],
                ),
                info_table(
                    "Latest task",
                    "Identity of the latest data backup task; raw_status is the phase, comment "
                    "the error text.",
                    one(f"oceanbase_backup_task_info{{{tasks}}}"),
                    hide=("site",),
                ),
                graph(
                    "Progress",
                    "Finished / total tablets and macro blocks of the latest task (obshell).",
                    [
                        Query(
                            one(f"oceanbase_backup_task_tablet_progress_ratio{{{obshell}}}"),
                            "tablets",
                        ),
                        Query(
                            one(f"oceanbase_backup_task_macro_block_progress_ratio{{{obshell}}}"),
                            "macro blocks",
                        ),
                    ],
                    "percentunit",
                    min_=0,
                    max_=1,
                ),
                graph(
                    "Output rate",
                    "Bytes per second the latest task writes (its average so far; obshell).",
                    [
                        Query(
                            one(f"oceanbase_backup_task_output_bytes_per_second{{{obshell}}}"),
                            "output rate",
                        )
                    ],
                    "Bps",
                ),
                graph(
                    "Bytes read and written",
                    "Input (obshell) and output bytes of the latest task.",
                    [
                        Query(one(f"oceanbase_backup_task_input_bytes{{{obshell}}}"), "read"),
                        Query(one(f"oceanbase_backup_task_output_bytes{{{tasks}}}"), "written"),
                    ],
                    "bytes",
                ),
            ],
        ),
        Row(
            "Log backup (obshell, OCP) and recovery point",
            [
                graph(
                    "Log backup delay",
                    "Age of the archive checkpoint, and the delay obshell or OCP reported at "
                    "poll time. The line is OceanBaseLogBackupDelayHigh's threshold.",
                    [
                        Query(
                            one(
                                "time() - oceanbase_log_backup_checkpoint_timestamp_seconds"
                                f"{{{tasks}}}"
                            ),
                            "checkpoint age",
                        ),
                        Query(
                            one(f"oceanbase_log_backup_delay_seconds{{{tasks}}}"),
                            "reported delay",
                        ),
                    ],
                    "s",
                    steps_for(t["log_backup_max_delay_seconds"]),
                    width=12,
                ),
                state_timeline(
                    "Log backup state",
                    "State of the log backup (archive) round over time (OCP's own word is "
                    "raw_status on oceanbase_log_backup_info).",
                    f"max by (status) (oceanbase_log_backup_status{{{tasks}}} == 1)",
                    LOG_BACKUP_COLOURS,
                ),
                info_table(
                    "Log backup details",
                    "The upstream status of the log backup round (raw_status): OCP's STOPPED, "
                    "FAILED or INTERRUPTED, which the state shows as NOT_RUNNING.",
                    one(f"oceanbase_log_backup_info{{{tasks}}}"),
                    width=24,
                    hide=("ob_cluster_id", "ob_tenant_id", "site"),
                ),
                graph(
                    "Recovery point age",
                    "The data a disaster now would lose (obshell: proven from the backup and "
                    "archive history; OCP: the later of the newest DONE data backup's end and the "
                    "log backup checkpoint; OceanBase Cloud: the end of the last restorable "
                    "window). The line is the RPO of OceanBaseRecoveryPointTooOld, which leaves "
                    "Cloud out.",
                    [
                        Query(
                            one(
                                "time() - oceanbase_backup_recovery_point_timestamp_seconds"
                                f"{{{TENANT_SELECTOR}}}"
                            ),
                            "recovery point age",
                        )
                    ],
                    "s",
                    steps_for(t["recovery_point_max_age_seconds"]),
                    width=24,
                ),
            ],
        ),
        Row(
            "Restore into this tenant",
            [
                state_timeline(
                    "Restore phase",
                    "Phase of the newest restore into this tenant over time.",
                    f"max by (status) (oceanbase_restore_status{{{TENANT_SELECTOR}}} == 1)",
                    RESTORE_COLOURS,
                ),
                graph(
                    "Restore progress",
                    "Data restore and log recovery progress.",
                    [
                        Query(
                            one(f"oceanbase_restore_progress_ratio{{{TENANT_SELECTOR}}}"), "data"
                        ),
                        Query(
                            one(f"oceanbase_restore_recover_progress_ratio{{{TENANT_SELECTOR}}}"),
                            "log",
                        ),
                    ],
                    "percentunit",
                    min_=0,
                    max_=1,
                    width=6,
                ),
                graph(
                    "Restored bytes",
                    "Bytes restored so far, and the total to restore.",
                    [
                        Query(
                            one(f"oceanbase_restore_finished_bytes{{{TENANT_SELECTOR}}}"),
                            "restored",
                        ),
                        Query(one(f"oceanbase_restore_bytes{{{TENANT_SELECTOR}}}"), "total"),
                    ],
                    "bytes",
                    width=6,
                ),
                info_table(
                    "Restore details",
                    "The restore's job, the tenant and cluster it restores from, its phase "
                    "(raw_status) and OceanBase's comment (the cause of a failure).",
                    one(f"oceanbase_restore_info{{{TENANT_SELECTOR}}}"),
                    width=24,
                    hide=("ob_cluster_id", "restore_tenant_id", "site"),
                ),
            ],
        ),
        Row(
            "OceanBase Cloud: backup sets and restorable window of this tenant",
            [
                state_timeline(
                    "Backup set state",
                    "State of the tenant's latest backup set over time.",
                    f"max by (status) (oceanbase_backup_set_status{{{cloud}}} == 1)",
                    BACKUP_SET_COLOURS,
                ),
                graph(
                    "Backup set size",
                    "dataBackupSize of the latest set, read as GiB.",
                    [Query(one(f"oceanbase_backup_set_size_bytes{{{cloud}}}"), "size")],
                    "bytes",
                    width=12,
                ),
                stat(
                    "Restorable window",
                    "Any point from 'restorable since' to 'restorable up to' (the recovery "
                    "point) can be restored: the restorable window of OceanBase Cloud that ends "
                    "at the recovery point. A gap in the windows makes its start jump forward.",
                    [
                        Query(
                            one(
                                "oceanbase_backup_recovery_window_start_timestamp_seconds"
                                f"{{{cloud}}}"
                            )
                            + " * 1000",
                            "restorable since",
                            instant=True,
                        ),
                        Query(
                            one(f"oceanbase_backup_recovery_point_timestamp_seconds{{{cloud}}}")
                            + " * 1000",
                            "restorable up to",
                            instant=True,
                        ),
                    ],
                    "dateTimeFromNow",
                    width=24,
                    height=4,
                    steps=[(None, "blue")],
                ),
                info_table(
                    "Backup set details",
                    "The tenant's latest backup set: id, full or incremental, trigger, validity "
                    "and the upstream status.",
                    one(f"oceanbase_backup_set_info{{{cloud}}}"),
                    width=24,
                    hide=("ob_cluster_id", "ob_tenant_id", "site"),
                ),
            ],
        ),
    ]


# ----------------------------------------------------------------------------- JSON


def thresholds_json(steps: list[tuple[float | None, str]]) -> dict[str, Any]:
    """Grafana's absolute thresholds."""
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    """One panel as Grafana stores it."""
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "color": {"mode": "thresholds"},
        "thresholds": thresholds_json(panel.steps),
        "mappings": panel.mappings,
    }
    if panel.min is not None:
        defaults["min"] = panel.min
    if panel.max is not None:
        defaults["max"] = panel.max
    if panel.custom:
        defaults["custom"] = panel.custom
    if panel.kind == "timeseries":
        defaults["color"] = {"mode": "palette-classic"}
    targets = []
    for index, query in enumerate(panel.queries):
        target: dict[str, Any] = {
            "datasource": DATASOURCE,
            "refId": "ABCDEFGH"[index],
            "expr": query.expr,
            "legendFormat": query.legend or "__auto",
            "range": not query.instant,
            "instant": query.instant,
        }
        if query.table:
            target["format"] = "table"
        targets.append(target)
    body: dict[str, Any] = {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "fieldConfig": {"defaults": defaults, "overrides": panel.overrides},
        "options": panel.options,
        "targets": targets,
    }
    if panel.transformations:
        body["transformations"] = panel.transformations
    return body


def layout(rows: list[Row]) -> list[dict[str, Any]]:
    """Rows and their panels left to right, top to bottom, on Grafana's 24-column grid."""
    out: list[dict[str, Any]] = []
    next_id = 1
    y = 0
    for row in rows:
        out.append(
            {
                "id": next_id,
                "type": "row",
                "title": row.title,
                "collapsed": False,
                "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                "panels": [],
            }
        )
        next_id += 1
        y += 1
        x = 0
        line_height = 0
        for panel in row.panels:
            if x + panel.width > 24:
                y += line_height
                x, line_height = 0, 0
            out.append(panel_json(panel, next_id, x, y))
            next_id += 1
            x += panel.width
            line_height = max(line_height, panel.height)
        y += line_height
    return out


def variable(name: str, label: str, query: str, multi: bool) -> dict[str, Any]:
    """A query variable over label values, refreshed when the time range changes."""
    body: dict[str, Any] = {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "sort": 1,
        "multi": multi,
        "includeAll": multi,
        "current": {},
        "options": [],
        "hide": 0,
    }
    if multi:
        # `.*` also matches series without the label (cluster-level series of OCP and Cloud).
        body["allValue"] = ".*"
    return body


def templating(multi_tenant: bool) -> dict[str, Any]:
    """datasource, then source -> target -> ob_cluster_name -> tenant_name, each narrowed by
    those before."""
    # Tenants as each source knows them: obshell and OCP list them (tenant_info), OceanBase
    # Cloud through their backup sets and restorable windows; restored tenants by the restore.
    tenant_series = (
        '{__name__=~"oceanbase_tenant_info|oceanbase_backup_set_status|oceanbase_restore_status'
        '|oceanbase_backup_recovery_point_timestamp_seconds",'
        f" {CLUSTER_SELECTOR}}}"
    )
    return {
        "list": [
            {
                "type": "datasource",
                "name": "datasource",
                "label": "Data source",
                "query": "prometheus",
                "current": {},
                "options": [],
                "refresh": 1,
                "regex": "",
                "hide": 0,
            },
            variable(
                "source",
                "Source",
                "label_values(oceanbase_backup_exporter_target_up, source)",
                multi=True,
            ),
            variable(
                "target",
                "Target",
                'label_values(oceanbase_backup_exporter_target_up{source=~"$source"}, target)',
                multi=multi_tenant,
            ),
            variable(
                "ob_cluster_name",
                "Cluster",
                f"label_values(oceanbase_cluster_info{{{TARGET_SELECTOR}}}, ob_cluster_name)",
                multi=True,
            ),
            variable(
                "tenant_name",
                "Tenant",
                f"label_values({tenant_series}, tenant_name)",
                multi=multi_tenant,
            ),
        ]
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    rows: list[Row],
    multi_tenant: bool,
    link: dict[str, Any],
) -> dict[str, Any]:
    """A whole dashboard."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["oceanbase", "backup"],
        "editable": True,
        "graphTooltip": 1,
        "refresh": "1m",
        "schemaVersion": SCHEMA_VERSION,
        "time": {"from": "now-24h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "version": 1,
        "links": [link],
        "annotations": {"list": []},
        "templating": templating(multi_tenant),
        "panels": layout(rows),
    }


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    thresholds = load_thresholds()
    overview = dashboard(
        OVERVIEW_UID,
        "OceanBase backup overview",
        "Data backup, log backup, recovery point and restore of every cluster and tenant, by "
        "source, and the health of oceanbase-backup-exporter.",
        overview_rows(thresholds),
        multi_tenant=True,
        link={
            "title": "Tenant detail",
            "type": "link",
            "url": TENANT_URL,
            "icon": "dashboard",
            "includeVars": True,
            "keepTime": True,
            "tooltip": "One tenant's history (pick the tenant there, or click one in a table)",
        },
    )
    tenant = dashboard(
        TENANT_UID,
        "OceanBase backup tenant detail",
        "One tenant's data backup, log backup, recovery point and restore history.",
        tenant_rows(thresholds),
        multi_tenant=False,
        link={
            "title": "Backup overview",
            "type": "link",
            "url": OVERVIEW_URL,
            "icon": "dashboard",
            "includeVars": True,
            "keepTime": True,
            "tooltip": "Every cluster and tenant",
        },
    )
    return {
        "oceanbase-backup-overview.json": json.dumps(overview, indent=2) + "\n",
        "oceanbase-backup-tenant.json": json.dumps(tenant, indent=2) + "\n",
    }


def main() -> int:
    """Write the dashboards, or with --check report whether the committed ones are current."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    stale = []
    for name, text in render().items():
        path = DASHBOARDS / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    for name in stale:
        print(f"{name} is not what grafana/generate.py writes: run it", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
