"""The dashboards and rules against the real thing: simulator -> exporter -> Prometheus -> Alertmanager.

One module-wide stack, all on 127.0.0.1:
- a simulator per scenario, each behind one exporter target; a target whose port is closed;
- the exporter serving /metrics, and a second one with --probe-only for the /probe job;
- `oceanbase-backup-exporter --demo` as it is shipped (its simulated world on the real clock),
  a second instance of the /metrics job;
- Prometheus with the shipped rules and a config derived from prometheus/prometheus.yml,
  scraping and evaluating every second;
- Alertmanager with prometheus/alertmanager.yml, posting to a webhook receiver owned by the test.

The stack runs a fixed timeline (expected alerts reach the webhook; then the /metrics exporter
is stopped and the data alerts must hold), records what it saw, and the tests judge the record.
The shipped rules are used as they are. The demo's archive round stops 30 seconds in and
OceanBaseLogBackupStopped holds for 5 minutes: that sets the stack's length (about 6 minutes);
the scenarios' other alerts have no `for:` and their conditions are in place from the start.
"""

from __future__ import annotations

import copy
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.contract import CATALOGUE
from tests.helpers.alertmanager import alertmanager_config
from tests.helpers.process import free_port
from tests.monitoring import artifacts
from tests.monitoring.artifacts import ALL, PROMETHEUS, SOURCES
from tests.monitoring.stack import LOOPBACK, Process, PrometheusAPI, Webhook, http_ok, wait_for

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-root-password"
METRICS_JOB = "oceanbase-backup"
PROBE_JOB = "oceanbase-backup-probe"
PROBE_TARGET = "healthy-probe"
RUNBOOK = yaml.safe_load((PROMETHEUS / "links.yml").read_text())["runbook_url"]
DOWN_TARGET = "down"


@dataclass(frozen=True)
class Scenario:
    """A simulated cluster behind one exporter target named like the scenario."""

    name: str
    # How much faster simulated work runs (the simulator's timestamps stay on the real clock).
    speed: float = 1.0


# The scenarios run per source, and how to start them (SIMULATED, below): every source's
# dashboard rows are checked against one.
OBSHELL_SCENARIOS = (
    Scenario("healthy"),
    Scenario("failing-backup"),
    Scenario("log-lag"),
    Scenario("demo"),
    # 120x: its failing restore fails 9 seconds in rather than 17 minutes.
    Scenario("restore", speed=120.0),
)

# `--demo`'s targets (exporter/cli.py) and what must fire in them within ten minutes:
# (alertname, tenant_name or "" for a cluster-level alert).
DEMO_JOB_TARGETS = ("demo-0", "demo-1", "demo-ocp", "demo-cloud")
DEMO_TROUBLES = {
    ("OceanBaseBackupFailed", "pay"),
    ("OceanBaseLogBackupDelayHigh", "pay"),
    ("OceanBaseLogBackupStopped", "erp"),
    ("OceanBaseRestoreFailed", "app_r2"),
}
# OCP sees the same cluster through its per-tenant task routes: the same tenants page.
DEMO_REQUIRED = {"demo-0": DEMO_TROUBLES, "demo-ocp": DEMO_TROUBLES}
# What else may fire there: OCP's cluster overview may show obcluster-0's lagging archive
# before the tenants' own log tasks are read, Cloud its failed backup set (for the instance,
# and for a tenant only alone). Nothing in the healthy cluster (demo-1).
DEMO_ALLOWED = {
    **DEMO_REQUIRED,
    "demo-ocp": {*DEMO_TROUBLES, ("OceanBaseLogBackupDelayHigh", "")},
    "demo-cloud": {("OceanBaseBackupFailed", ""), ("OceanBaseBackupFailed", "pay")},
}

# What must reach the webhook, per target: (alertname, tenant_name). Nothing else may fire.
EXPECTED_FIRING = {
    "failing-backup": {("OceanBaseBackupFailed", tenant) for tenant in ("app", "pay", "crm")},
    # log-lag: "pay" lags a steady 15 minutes (over the 10m threshold); "app" stalls 2 minutes
    # in and would cross it only after 12 minutes.
    "log-lag": {("OceanBaseLogBackupDelayHigh", "pay")},
    "restore": {("OceanBaseRestoreFailed", "app_r3")},
    # nothing listens there; the stack outlasts the alert's 5 minutes
    DOWN_TARGET: {("OceanBaseBackupTargetDown", "")},
}
TENANT_IDS = {"app": "1002", "pay": "1004", "crm": "1006"}

# Alerts whose expression returns data in this stack, and in which target's (or job's) series.
ALERTS_IN_STACK = {
    "OceanBaseTenantWithoutBackup": {"target": "demo"},  # demo's "crm" has never been backed up
    "OceanBaseBackupFailed": {"target": "failing-backup"},
    "OceanBaseLogBackupDelayHigh": {"target": "log-lag"},
    "OceanBaseRestoreFailed": {"target": "restore"},
    "OceanBaseLogBackupStopped": {"target": "demo-0"},  # the demo's erp, 30 seconds in
    "OceanBaseBackupTargetDown": {"target": DOWN_TARGET},
    "OceanBaseBackupExporterDataStale": {"target": DOWN_TARGET},
    "OceanBaseBackupExporterDown": {"job": METRICS_JOB},  # once the exporter is stopped
}
# Alerts no scenario can make true within a test's time: their unit tests prove them, and
# here every series they read must exist.
ALERTS_PROVEN_BY_UNIT_TESTS_ONLY = {
    "OceanBaseBackupTooOld": "no scenario's last success is 36h old",
    "OceanBaseFullBackupTooOld": "no scenario's last full backup is 8 days old",
    "OceanBaseBackupExporterAbsent": "the stack's scrape jobs exist throughout",
    "OceanBaseBackupRunningTooLong": "no scenario has a backup running for 12h",
    "OceanBaseBackupStalled": "every simulated backup progresses",
    "OceanBaseRecoveryPointTooOld": "log-lag's tenants stay under the 30m RPO for half an hour",
    "OceanBaseRestoreStalled": "every simulated restore progresses",
}


@dataclass
class Record:
    """What the stack saw, for the tests to judge."""

    prometheus: PrometheusAPI
    started: float
    stopped_exporter_at: float
    exporter_address: str
    webhook_before_stop: list[dict[str, Any]]
    notifications_before_stop: list[dict[str, Any]]
    webhook_after_stop: list[dict[str, Any]]
    alerts_after_stop: list[dict[str, Any]]
    simulated_sources: set[str]
    demo_alerts_after: float  # seconds from the demo's start until its required alerts fired


class Stack:
    """The processes of the test, stopped in reverse order whatever happens."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.logs = workdir / "logs"
        self.logs.mkdir()
        self.processes: list[Process] = []
        self.webhook: Webhook | None = None

    def start(self, name: str, argv: list[str]) -> Process:
        process = Process(name, argv, self.logs)
        self.processes.append(process)
        return process

    def ready(self, process: Process, url: str, timeout: float = 30) -> None:
        def probe() -> bool:
            assert process.running(), process.tail()
            return http_ok(url)

        wait_for(f"{process.name} at {url}", probe, timeout)

    def tails(self) -> str:
        return "\n".join(process.tail() for process in self.processes)

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        if self.webhook is not None:
            self.webhook.close()


def start_obshell_scenarios(stack: Stack) -> list[dict[str, Any]]:
    """A simulator per obshell scenario; their exporter targets."""
    secret = stack.workdir / "ob_password"
    secret.write_text(PASSWORD + "\n")
    targets = []
    for scenario in OBSHELL_SCENARIOS:
        port = free_port()
        simulator = stack.start(
            f"simulator-{scenario.name}",
            [sys.executable, "-m", "simulator", "--listen", f"{LOOPBACK}:{port}",
             "--scenario", scenario.name, "--speed", str(scenario.speed), "--password", PASSWORD],
        )  # fmt: skip
        url = f"http://{LOOPBACK}:{port}"
        # Any answer will do: the agent's info route needs no auth.
        stack.ready(simulator, f"{url}/api/v1/info")
        targets.append(
            {"name": scenario.name, "source": "obshell", "url": url, "password_file": str(secret)}
        )
    return targets


def start_platform_simulator(stack: Stack, source: str) -> list[dict[str, Any]]:
    """A healthy simulator serving the OCP and Cloud APIs; one target of `source` on it."""
    port = free_port()
    simulator = stack.start(
        f"simulator-{source}",
        [sys.executable, "-m", "simulator", "--listen", f"{LOOPBACK}:{port}",
         "--scenario", "healthy", "--password", PASSWORD],
    )  # fmt: skip
    url = f"http://{LOOPBACK}:{port}"
    stack.ready(simulator, f"{url}/api/v1/info")
    # The simulator's default credentials (simulator/ocp/auth.py, simulator/cloud/auth.py).
    secret = stack.workdir / f"{source}_secret"
    if source == "ocp":
        secret.write_text("ocp-pass")
        return [{"name": "ocp-healthy", "source": "ocp", "url": url, "username": "admin",
                 "password_file": str(secret)}]  # fmt: skip
    secret.write_text("cloud-access-key-secret")
    return [{"name": "cloud-healthy", "source": "cloud", "url": url,
             "access_key_id": "cloud-access-key-id", "access_key_secret_file": str(secret)}]  # fmt: skip


SIMULATED: dict[str, Callable[[Stack], list[dict[str, Any]]]] = {
    "obshell": start_obshell_scenarios,
    "ocp": lambda stack: start_platform_simulator(stack, "ocp"),
    "cloud": lambda stack: start_platform_simulator(stack, "cloud"),
}


def exporter_config(stack: Stack, name: str, targets: list[dict[str, Any]]) -> Path:
    path = stack.workdir / f"{name}.yaml"
    # Polls every second, so that the alerts see the scenarios within seconds.
    config = {"defaults": {"interval": "1s", "timeout": "800ms"}, "targets": targets}
    path.write_text(yaml.safe_dump(config))
    return path


def prometheus_config(
    exporters: list[str], probe_exporter: str, alertmanager: str
) -> dict[str, Any]:
    """The shipped example with the test's addresses, every second, and the shipped rule files."""
    config = copy.deepcopy(yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text()))
    config["global"] = {
        "scrape_interval": "1s",
        "scrape_timeout": "1s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(PROMETHEUS / name) for name in config["rule_files"]]
    config["alerting"]["alertmanagers"] = [{"static_configs": [{"targets": [alertmanager]}]}]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    jobs[METRICS_JOB]["static_configs"] = [{"targets": exporters}]
    probe = jobs[PROBE_JOB]
    probe.pop("scrape_timeout", None)
    probe["static_configs"] = [{"targets": [PROBE_TARGET]}]
    for relabel in probe["relabel_configs"]:
        if relabel.get("target_label") == "__address__":
            relabel["replacement"] = probe_exporter  # every replica is the one test exporter
    return config


def by_target(labels: Iterable[dict[str, str]]) -> dict[str, set[tuple[str, str]]]:
    """target -> {(alertname, tenant_name)} of alerts with these label sets."""
    found: dict[str, set[tuple[str, str]]] = {}
    for one in labels:
        pair = (one["alertname"], one.get("tenant_name", ""))
        found.setdefault(one.get("target", ""), set()).add(pair)
    return found


def firing(posted: list[dict[str, Any]]) -> dict[str, set[tuple[str, str]]]:
    """by_target of the firing alerts among webhook posts."""
    return by_target(alert["labels"] for alert in posted if alert["status"] == "firing")


@pytest.fixture(scope="module")
def record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Record]:
    stack = Stack(tmp_path_factory.mktemp("monitoring-e2e"))
    try:
        yield run(stack)
    except BaseException:
        print(stack.tails(), file=sys.stderr)
        raise
    finally:
        stack.stop()


def run(stack: Stack) -> Record:
    """Start everything, wait for the expected alerts, stop the exporter, watch the alerts hold."""
    started = time.time()
    webhook = stack.webhook = Webhook()

    am_port = free_port()
    am_config = stack.workdir / "alertmanager.yml"
    shipped = alertmanager_config(webhook.url)
    # The shipped group_wait: the demo's two replicas fire the same alerts seconds apart, and
    # make one notification. group_interval stays short, so that a resolved alert (after the
    # exporter stops) would be posted within the test.
    shipped["route"]["group_wait"] = "30s"
    for receiver in shipped["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["send_resolved"] = True
    am_config.write_text(yaml.safe_dump(shipped))
    alertmanager = stack.start(
        "alertmanager",
        ["prometheus-alertmanager", f"--config.file={am_config}",
         f"--storage.path={stack.workdir / 'alertmanager'}",
         f"--web.listen-address={LOOPBACK}:{am_port}", "--cluster.listen-address="],
    )  # fmt: skip

    targets = [target for start in SIMULATED.values() for target in start(stack)]
    healthy = next(target for target in targets if target["name"] == "healthy")
    # Nothing listens there: the exporter's own alerts have a target to be about.
    targets.append({**healthy, "name": DOWN_TARGET, "url": f"http://{LOOPBACK}:{free_port()}"})
    exporter_port, probe_port = free_port(), free_port()
    exporter = stack.start(
        "exporter",
        [sys.executable, "-m", "exporter", "--config.file", str(exporter_config(stack, "exporter", targets)),
         "--web.listen-address", f"{LOOPBACK}:{exporter_port}"],
    )  # fmt: skip
    probe_targets = [{**healthy, "name": PROBE_TARGET}]
    probe_exporter = stack.start(
        "probe-exporter",
        [sys.executable, "-m", "exporter", "--probe-only",
         "--config.file", str(exporter_config(stack, "probe-exporter", probe_targets)),
         "--web.listen-address", f"{LOOPBACK}:{probe_port}"],
    )  # fmt: skip
    stack.ready(alertmanager, f"http://{LOOPBACK}:{am_port}/-/ready")
    stack.ready(exporter, f"http://{LOOPBACK}:{exporter_port}/-/ready")
    stack.ready(probe_exporter, f"http://{LOOPBACK}:{probe_port}/-/healthy")
    # `--demo` twice: two replicas (HA) of the same exporter config, as Prometheus sees them.
    demo_ports = [free_port(), free_port()]
    demo_started = time.time()
    demo_argv = [sys.executable, "-m", "exporter", "--demo", "--web.listen-address"]
    demos = [
        stack.start(f"demo-{index}", [*demo_argv, f"{LOOPBACK}:{port}"])
        for index, port in enumerate(demo_ports)
    ]
    for demo, port in zip(demos, demo_ports, strict=True):
        stack.ready(demo, f"http://{LOOPBACK}:{port}/-/ready", timeout=60)

    exporter_address = f"{LOOPBACK}:{exporter_port}"
    prom_port = free_port()
    prom_config = stack.workdir / "prometheus.yml"
    prom_config.write_text(
        yaml.safe_dump(
            prometheus_config(
                [exporter_address, *(f"{LOOPBACK}:{port}" for port in demo_ports)],
                f"{LOOPBACK}:{probe_port}",
                f"{LOOPBACK}:{am_port}",
            )
        )
    )
    prometheus = stack.start(
        "prometheus",
        ["prometheus", f"--config.file={prom_config}",
         f"--storage.tsdb.path={stack.workdir / 'prometheus'}",
         f"--web.listen-address={LOOPBACK}:{prom_port}"],
    )  # fmt: skip
    stack.ready(prometheus, f"http://{LOOPBACK}:{prom_port}/-/ready")
    api = PrometheusAPI(f"http://{LOOPBACK}:{prom_port}")

    def all_expected_arrived() -> bool:
        seen = firing(webhook.alerts())
        expected = {**EXPECTED_FIRING, **DEMO_REQUIRED}
        return all(pairs <= seen.get(target, set()) for target, pairs in expected.items())

    # Ten minutes from the demo's start at most, as a user trying it would wait.
    wait_for("the expected alerts at the webhook", all_expected_arrived, timeout=600)
    demo_alerts_after = time.time() - demo_started
    # A few more evaluations, so that an alert that should not fire has had its chance.
    time.sleep(3)
    before_stop = webhook.alerts()
    notifications_before_stop = list(webhook.notifications)

    exporter.stop()
    stopped = time.time()
    wait_for(
        "Prometheus to see the exporter down",
        lambda: api.query(f'up{{job="{METRICS_JOB}"}} == 0'),
        timeout=15,
    )
    # Long enough for the alerts to resolve, and Alertmanager to post that, if they did.
    time.sleep(5)
    return Record(
        prometheus=api,
        started=started,
        stopped_exporter_at=stopped,
        exporter_address=exporter_address,
        webhook_before_stop=before_stop,
        notifications_before_stop=notifications_before_stop,
        webhook_after_stop=webhook.alerts()[len(before_stop) :],
        alerts_after_stop=api.alerts(),
        simulated_sources=set(SIMULATED),
        demo_alerts_after=demo_alerts_after,
    )


# ----------------------------------------------------------------------------- alerts


def _posted(record: Record, target: str) -> list[dict[str, Any]]:
    return [a for a in record.webhook_before_stop if a["labels"].get("target") == target]


def test_failing_backup_alerts_reach_the_webhook_with_their_labels(record: Record) -> None:
    posted = _posted(record, "failing-backup")
    assert firing(posted)["failing-backup"] == EXPECTED_FIRING["failing-backup"]
    for alert in posted:
        tenant = alert["labels"]["tenant_name"]
        assert alert["labels"] == {
            "alertname": "OceanBaseBackupFailed",
            "severity": "warning",
            "job": METRICS_JOB,
            "instance": record.exporter_address,
            "target": "failing-backup",
            "source": "obshell",
            "ob_cluster_name": "obcluster-0",
            "ob_cluster_id": "1",
            "tenant_name": tenant,
            "ob_tenant_id": TENANT_IDS[tenant],
        }
        annotations = alert["annotations"]
        assert annotations["summary"] == f"Data backup of tenant {tenant} in obcluster-0 failed"
        assert "(target failing-backup) failed" in annotations["description"]
        # the cause, from the task the alert is about
        assert "failed with error -4018: " in annotations["description"]
        assert "OB_ENTRY_NOT_EXIST" in annotations["description"]
        assert annotations["runbook_url"] == RUNBOOK + "#oceanbasebackupfailed"
        assert annotations["dashboard_url"].endswith(
            "?var-source=obshell&var-target=failing-backup&var-ob_cluster_name=obcluster-0"
            f"&var-tenant_name={tenant}"
        )


def test_log_lag_alert_reaches_the_webhook_with_its_labels(record: Record) -> None:
    posted = _posted(record, "log-lag")
    assert firing(posted)["log-lag"] == EXPECTED_FIRING["log-lag"]
    labels = posted[0]["labels"]
    assert labels["severity"] == "warning"
    assert labels["tenant_name"] == "pay" and labels["ob_tenant_id"] == "1004"
    assert labels["ob_cluster_name"] == "obcluster-0" and labels["source"] == "obshell"
    summary = posted[0]["annotations"]["summary"]
    assert summary == "Log backup of tenant pay in obcluster-0 is more than 10m 0s behind"


def test_restore_failure_reaches_the_webhook(record: Record) -> None:
    posted = _posted(record, "restore")
    assert firing(posted)["restore"] == EXPECTED_FIRING["restore"]
    assert "ob_tenant_id" not in posted[0]["labels"], "restores carry no tenant id"
    assert "OB_BACKUP_FILE_NOT_EXIST(-9011)" in posted[0]["annotations"]["description"]


def test_target_down_says_why(record: Record) -> None:
    (alert,) = [a for a in _posted(record, DOWN_TARGET) if a["status"] == "firing"]
    assert (
        "Most failed requests in the last 15 minutes: connection on"
        in (alert["annotations"]["description"])
    )


def test_healthy_fires_nothing_and_nothing_else_fires(record: Record) -> None:
    posted = firing(record.webhook_before_stop)
    assert {t: pairs for t, pairs in posted.items() if t not in DEMO_JOB_TARGETS} == EXPECTED_FIRING
    fired = record.prometheus.query_range(
        'ALERTS{alertstate="firing"}', record.started, record.stopped_exporter_at
    )
    seen = {
        (series["metric"].get("target", ""), series["metric"]["alertname"])
        for series in fired
        if series["metric"].get("target") not in DEMO_JOB_TARGETS
    }
    expected = {(target, name) for target, pairs in EXPECTED_FIRING.items() for name, _ in pairs}
    assert seen == expected
    assert not {target for target, _ in seen} & {"healthy", PROBE_TARGET}


def test_data_alerts_hold_while_the_exporter_is_down(record: Record) -> None:
    """Stopping the exporter makes every series it served vanish: no alert may resolve."""
    assert not [a for a in record.webhook_after_stop if a["status"] == "resolved"]
    still = by_target(a["labels"] for a in record.alerts_after_stop if a["state"] == "firing")
    for target, expected in EXPECTED_FIRING.items():
        assert still.get(target) == expected, f"{target}: {still.get(target)}"
    down = [
        a
        for a in record.alerts_after_stop
        if a["labels"]["alertname"] == "OceanBaseBackupExporterDown"
    ]
    assert [(a["labels"]["job"], a["state"]) for a in down] == [(METRICS_JOB, "pending")]
    gone = f'count(oceanbase_tenant_info{{instance="{record.exporter_address}"}})'
    assert record.prometheus.query(gone) == [], "the exporter's data is gone from Prometheus"


def test_the_demo_shows_its_troubles_within_ten_minutes(record: Record) -> None:
    """`--demo` on the real clock: the alerts a newcomer should see fire, with their cause."""
    posted = firing(record.webhook_before_stop)
    for target, required in DEMO_REQUIRED.items():
        assert required <= posted.get(target, set()), f"{target}: {posted.get(target)}"
    for target in DEMO_JOB_TARGETS:
        assert posted.get(target, set()) <= DEMO_ALLOWED.get(target, set()), target
    assert record.demo_alerts_after < 600, f"{record.demo_alerts_after:.0f}s after the demo began"
    by_name = {
        (a["labels"]["alertname"], a["labels"].get("tenant_name", "")): a["annotations"]
        for a in record.webhook_before_stop
        if a["labels"].get("target") == "demo-0"
    }
    assert "failed with error -4018" in by_name["OceanBaseBackupFailed", "pay"]["description"]
    assert "OB_BACKUP_FILE_NOT_EXIST" in by_name["OceanBaseRestoreFailed", "app_r2"]["description"]
    assert "The round is NOT_RUNNING" in by_name["OceanBaseLogBackupStopped", "erp"]["description"]
    delay = by_name["OceanBaseLogBackupDelayHigh", "pay"]["description"]
    assert re.search(r"is 1[45]m \d+s old", delay), delay


def test_each_incident_is_notified_once(record: Record) -> None:
    """prometheus/alertmanager.yml groups by target, cluster and tenant (and alert): one
    notification per incident, however often its annotations (an age) change."""
    firing_notes = [n for n in record.notifications_before_stop if n["status"] == "firing"]
    groups = [n["groupKey"] for n in firing_notes]
    assert groups and len(groups) == len(set(groups)), sorted(groups)
    for note in firing_notes:
        labels = note["groupLabels"]
        alerts = {a["labels"]["alertname"] for a in note["alerts"]}
        assert alerts == {labels["alertname"]}, note
        if labels.get("target") in DEMO_REQUIRED:
            # both demo replicas' alerts, in the one notification
            assert len({a["labels"]["instance"] for a in note["alerts"]}) == 2, note


def test_ha_replicas_draw_one_bar_or_line(record: Record) -> None:
    """The demo runs twice (HA): no panel shows a series twice, apart only by `instance`."""
    doubled = []
    for query in artifacts.panel_queries():
        if query.row == "Exporter health":
            continue  # per replica on purpose
        found = _returns_data(record, artifacts.substitute(query.target["expr"], ALL))
        seen = [
            tuple(sorted((k, v) for k, v in series["metric"].items() if k != "instance"))
            for series in found
        ]
        if len(seen) != len(set(seen)):
            doubled.append(query.name)
    assert not doubled, "doubled by the replicas:\n" + "\n".join(doubled)


def test_no_panel_shows_a_negative_age_or_a_time_from_the_future(record: Record) -> None:
    """Every age a panel shows is >= 0, and every timestamp the exporters serve (the demo's
    and the sped-up scenarios' included) is at or before the moment it was scraped."""
    end = time.time()
    negative = [
        query.name
        for query in artifacts.panel_queries()
        if "time() -" in query.target["expr"]
        and record.prometheus.query_range(
            f"({artifacts.substitute(query.target['expr'], ALL)}) < 0", record.started, end
        )
    ]
    assert not negative, "negative ages:\n" + "\n".join(negative)
    stamps = [name for name in CATALOGUE if name.endswith("_timestamp_seconds")]
    # A sample's timestamp is the start of its scrape, and the exporter answers within the
    # scrape timeout (1s here): a poll that ends meanwhile is that much "ahead" of it. The
    # simulator's old clock ran minutes to hours ahead.
    window = (record.started, end)
    future = {
        name: found
        for name in stamps
        if (found := record.prometheus.query_range(f"{name} - timestamp({name}) > 1", *window))
    }
    assert not future, future


def test_prometheus_reads_the_exporters_own_process_series(record: Record) -> None:
    """The process_* series ride on the gzipped body Prometheus asks for."""
    found = _returns_data(record, f'process_resident_memory_bytes{{job="{METRICS_JOB}"}}')
    assert {series["metric"]["instance"] for series in found} >= {record.exporter_address}
    assert _returns_data(record, f'python_info{{job="{METRICS_JOB}"}}')


def test_probe_mode_labels_like_metrics_mode(record: Record) -> None:
    series = record.prometheus.query(f'oceanbase_tenant_info{{job="{PROBE_JOB}"}}')
    assert series
    for one in series:
        assert one["metric"]["target"] == PROBE_TARGET
        assert one["metric"]["instance"] == PROBE_TARGET
        assert one["metric"]["source"] == "obshell"
    assert record.prometheus.query(f'up{{job="{PROBE_JOB}"}} == 1')


# ----------------------------------------------------------------------------- expressions


def _returns_data(record: Record, expr: str) -> list[dict[str, Any]]:
    return record.prometheus.query_range(expr, record.started, time.time())


@pytest.mark.parametrize("source", [*SOURCES, "any"])
def test_every_dashboard_query_returns_data(record: Record, source: str) -> None:
    queries = [q for q in artifacts.panel_queries() if (q.source or "any") == source]
    assert queries, f"no dashboard query of source {source}"
    assert source == "any" or source in record.simulated_sources, (
        f"no {source} scenario in SIMULATED"
    )
    empty = [
        q.name
        for q in queries
        if not _returns_data(record, artifacts.substitute(q.target["expr"], ALL))
    ]
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_every_dashboard_variable_has_values(record: Record) -> None:
    for dashboard, name, series, label in artifacts.variable_queries():
        found = record.prometheus.series(
            artifacts.substitute(series, ALL), record.started, time.time()
        )
        assert {s[label] for s in found if s.get(label)}, f"{dashboard}: ${name} has no values"


def test_every_alert_is_checked_in_the_stack_or_by_its_unit_tests() -> None:
    assert set(ALERTS_IN_STACK) | set(ALERTS_PROVEN_BY_UNIT_TESTS_ONLY) == set(artifacts.alerts())
    assert not set(ALERTS_IN_STACK) & set(ALERTS_PROVEN_BY_UNIT_TESTS_ONLY)


@pytest.mark.parametrize("name", sorted(artifacts.recorded_names()))
def test_recording_rule_returns_data(record: Record, name: str) -> None:
    for rule in artifacts.rules():
        if rule.get("record") == name:
            assert _returns_data(record, rule["expr"]), f"{name}: {rule['expr']}"
            assert _returns_data(record, name), f"{name} was not recorded"


@pytest.mark.parametrize("name", sorted(ALERTS_IN_STACK))
def test_alert_expression_returns_data(record: Record, name: str) -> None:
    ((label, value),) = ALERTS_IN_STACK[name].items()
    result = _returns_data(record, artifacts.alerts()[name]["expr"])
    assert {series["metric"].get(label) for series in result} >= {value}, result


@pytest.mark.parametrize("name", sorted(ALERTS_PROVEN_BY_UNIT_TESTS_ONLY))
def test_series_of_unit_tested_alert_exist(record: Record, name: str) -> None:
    """Reason it cannot fire here: see ALERTS_PROVEN_BY_UNIT_TESTS_ONLY."""
    selectors = artifacts.names(artifacts.alerts()[name]["expr"]).selectors
    for metric, matchers in selectors:
        if metric == "ALERTS":
            continue  # its own firing state, for the hold: the unit tests cover it
        assert _returns_data(record, metric + matchers), f"{name}: no {metric}{matchers}"
