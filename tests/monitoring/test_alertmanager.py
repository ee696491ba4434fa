"""prometheus/alertmanager.yml in a real Alertmanager: one notification per incident.

The shipped example runs with only its receivers pointed at the test's webhook and its waits
shortened; alerts are posted to its API the way Prometheus posts them, each incident as HA
replicas would send it (twice, apart by `instance`).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.helpers.alertmanager import alertmanager_config
from tests.helpers.process import free_port
from tests.monitoring.stack import LOOPBACK, Process, Webhook, wait_for

REPLICAS = ("exporter-0:10180", "exporter-1:10180")
DOWN = "exporter-2:10180"  # a third exporter of the job, which Prometheus cannot scrape
TENANT = {"job": "oceanbase-backup", "target": "hz", "source": "obshell"}
CLUSTER = {**TENANT, "ob_cluster_name": "ob1", "ob_cluster_id": "1"}


class Alertmanager:
    """A running Alertmanager and the webhook it notifies."""

    def __init__(self, workdir: Path) -> None:
        self.webhook = Webhook()
        config = workdir / "alertmanager.yml"
        config.write_text(yaml.safe_dump(alertmanager_config(self.webhook.url)))
        port = free_port()
        self.url = f"http://{LOOPBACK}:{port}"
        self.process = Process(
            "alertmanager",
            ["prometheus-alertmanager", f"--config.file={config}",
             f"--storage.path={workdir / 'data'}", f"--web.listen-address={LOOPBACK}:{port}",
             "--cluster.listen-address="],
            workdir,
        )  # fmt: skip

    def ready(self) -> None:
        def probe() -> bool:
            assert self.process.running(), self.process.tail()
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200

        wait_for("Alertmanager", probe, timeout=30)

    def post(self, *alerts: dict[str, str], instances: tuple[str, ...] = REPLICAS) -> None:
        """Fire these alerts (label sets, severity included) as from these instances (by
        default both HA replicas)."""
        now = datetime.datetime.now(datetime.UTC)
        body = [
            {
                "labels": {**labels, "instance": instance},
                "annotations": {"summary": labels["alertname"]},
                "startsAt": now.isoformat(),
                "endsAt": (now + datetime.timedelta(minutes=10)).isoformat(),
            }
            for labels in alerts
            for instance in instances
        ]
        response = httpx.post(f"{self.url}/api/v2/alerts", json=body, timeout=5)
        assert response.status_code == 200, response.text

    def stop(self) -> None:
        self.process.stop()
        self.webhook.close()


def alert(name: str, severity: str = "warning", **labels: str) -> dict[str, str]:
    return {"alertname": name, "severity": severity, **labels}


# Sources of inhibitions first (Alertmanager judges a notification by the alerts it holds then).
CAUSES = (
    alert("OceanBaseBackupExporterDown", "critical", job="oceanbase-backup"),
    alert("OceanBaseBackupTargetDown", **{**TENANT, "target": "sh"}),
    alert("OceanBaseLogBackupStopped", "critical", **CLUSTER, tenant_name="app"),
    alert("OceanBaseBackupFailed", **{**CLUSTER, "source": "cloud", "target": "obcloud"}),
)
# Explained by a cause: no notification.
EXPLAINED = (
    alert("OceanBaseBackupTargetDown", **TENANT),  # said by the exporter that is down
    alert("OceanBaseBackupExporterDataStale", **{**TENANT, "target": "sh"}),  # target down
    alert("OceanBaseLogBackupDelayHigh", **CLUSTER, tenant_name="app"),
    alert("OceanBaseRecoveryPointTooOld", "critical", **CLUSTER, tenant_name="app"),
    alert(
        "OceanBaseBackupFailed",
        **{**CLUSTER, "source": "cloud", "target": "obcloud"},
        tenant_name="pay",
    ),
)
# Not explained by any cause: one notification each.
OWN = (
    alert("OceanBaseLogBackupDelayHigh", **CLUSTER, tenant_name="pay"),  # another tenant
    alert("OceanBaseBackupFailed", **CLUSTER, tenant_name="pay"),  # obshell, per tenant
    alert("OceanBaseBackupExporterDataStale", **{**TENANT, "target": "bj"}),
)


@pytest.fixture(scope="module")
def notifications(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    """Every notification Alertmanager sent for CAUSES, then EXPLAINED and OWN."""
    manager = Alertmanager(tmp_path_factory.mktemp("alertmanager"))
    try:
        manager.ready()
        exporter_down, *other_causes = CAUSES
        manager.post(exporter_down, instances=(DOWN,))
        manager.post(*other_causes)
        wait_for(
            "the causes' notifications",
            lambda: len(manager.webhook.notifications) >= len(CAUSES),
            15,
        )
        # What the down exporter last said (its alerts hold while it cannot be scraped).
        target_down, *other_explained = EXPLAINED
        manager.post(target_down, instances=(DOWN,))
        manager.post(*other_explained, *OWN)
        wait_for(
            "the other notifications",
            lambda: len(manager.webhook.notifications) >= len(CAUSES) + len(OWN),
            15,
        )
        time.sleep(4)  # a few group intervals: anything else would have been sent by now
        yield list(manager.webhook.notifications)
    finally:
        manager.stop()


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, v) for k, v in labels.items() if k != "instance"))


def test_each_incident_is_notified_once(notifications: list[dict[str, Any]]) -> None:
    incidents = [_key(note["groupLabels"]) for note in notifications]
    assert len(incidents) == len(set(incidents)), "an incident was notified twice"
    expected = {
        _key({k: v for k, v in labels.items() if k not in {"severity", "job", "source"}})
        for labels in (*CAUSES, *OWN)
    }
    assert set(incidents) == expected


def test_ha_replicas_make_one_notification(notifications: list[dict[str, Any]]) -> None:
    for note in notifications:
        firing = [a for a in note["alerts"] if a["status"] == "firing"]
        name = note["groupLabels"]["alertname"]
        expected = {DOWN} if name == "OceanBaseBackupExporterDown" else set(REPLICAS)
        assert {a["labels"]["instance"] for a in firing} == expected, note


def test_what_a_cause_explains_is_not_notified(notifications: list[dict[str, Any]]) -> None:
    sent = {_key(a["labels"]) for note in notifications for a in note["alerts"]}
    for labels in EXPLAINED:
        assert _key(labels) not in sent, labels


def test_critical_alerts_go_to_the_paging_receiver(notifications: list[dict[str, Any]]) -> None:
    for note in notifications:
        severity = note["commonLabels"]["severity"]
        assert (note["receiver"] == "oceanbase-dba-page") is (severity == "critical"), note
