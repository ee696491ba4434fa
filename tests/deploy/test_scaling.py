"""Scaling past one process: static shards, Prometheus-side sharding over /probe, and HA pairs.

All against one simulated fleet frozen in time, so that two processes polling the same cluster
at different moments read the same answers and their series can be compared value for value.
"""

from __future__ import annotations

import copy
import hashlib
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from tests.helpers.deploy import Exporter, Fleet, StartExporter
from tests.helpers.exposition import Samples, samples
from tests.helpers.paths import ROOT
from tests.helpers.process import free_port
from tests.monitoring.stack import LOOPBACK, Process, PrometheusAPI, http_ok, wait_for

pytestmark = pytest.mark.e2e

SHARDS = 3
NAMES = [f"ob-{i:02d}" for i in range(20)]
ADDED = "ob-20"
SELF = "oceanbase_backup_exporter_"
# The exporter's own series that tell when and how fast it polled: they differ between any two
# processes, however identical what they polled.
TIMING = {
    f"{SELF}last_poll_success_timestamp_seconds",
    f"{SELF}last_poll_duration_seconds",
    f"{SELF}request_duration_seconds_bucket",
    f"{SELF}request_duration_seconds_sum",
    f"{SELF}config_last_reload_success_timestamp_seconds",
    f"{SELF}cached_fact_verified_timestamp_seconds",
}


def by_target(parsed: Samples, name: str) -> dict[str, float]:
    """The value of the series `name` of each target."""
    return {dict(labels)["target"]: v for (n, labels), v in parsed.items() if n == name}


def targets_of(parsed: Samples) -> set[str]:
    return set(by_target(parsed, f"{SELF}target_up"))


def fleet_targets(fleet: Fleet, names: list[str]) -> dict[str, str]:
    return {name: fleet.agent_url(i) for i, name in enumerate(names)}


# ------------------------------------------------------------------------ --shard INDEX/COUNT


def once_per_shard(config: Path) -> list[Samples]:
    """`--once --shard i/SHARDS` for every i, run side by side; each one's exposition."""

    def argv(index: int) -> list[str]:
        return [sys.executable, "-m", "exporter", "--config.file", str(config),
                "--shard", f"{index}/{SHARDS}", "--once"]  # fmt: skip

    processes = [
        subprocess.Popen(argv(i), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(SHARDS)
    ]
    try:
        outputs = [process.communicate(timeout=60) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
    for process, (_, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
    return [samples(stdout) for stdout, _ in outputs]


def test_shards_are_disjoint_complete_and_stable_when_a_target_is_added(
    fleet: Fleet, tmp_path: Path, start_exporter: StartExporter
) -> None:
    before = once_per_shard(fleet.config(tmp_path / "20.yaml", fleet_targets(fleet, NAMES)))
    after = once_per_shard(
        fleet.config(tmp_path / "21.yaml", fleet_targets(fleet, [*NAMES, ADDED]))
    )
    shards = [targets_of(parsed) for parsed in before]
    assert all(shards), shards  # 20 names over 3 shards: none is empty
    assert sum(len(s) for s in shards) == len(NAMES)  # disjoint
    assert set().union(*shards) == set(NAMES)  # complete
    for parsed in before:  # each shard polled its targets, and they answered
        assert set(by_target(parsed, f"{SELF}target_up").values()) == {1.0}
    grown = [targets_of(parsed) for parsed in after]
    assert [g - s for g, s in zip(grown, shards, strict=True)].count({ADDED}) == 1
    assert all(g - s <= {ADDED} and s <= g for g, s in zip(grown, shards, strict=True))
    # A running exporter serves the same shard on /metrics as --once prints.
    running = start_exporter("shard-1", tmp_path / "20.yaml", "--shard", f"1/{SHARDS}")
    assert targets_of(running.metrics()) == shards[1]


# -------------------------------------------------------- Prometheus shards the targets: /probe


def probe_job(names: list[str], replicas: list[str]) -> dict[str, Any]:
    """The /probe job of prometheus/prometheus.yml, pointed at these names and replicas."""
    shipped = yaml.safe_load((ROOT / "prometheus" / "prometheus.yml").read_text())
    job = copy.deepcopy(
        next(j for j in shipped["scrape_configs"] if j.get("metrics_path") == "/probe")
    )
    (hashmod,) = [rule for rule in job["relabel_configs"] if rule.get("action") == "hashmod"]
    assert hashmod["modulus"] == len(replicas)
    routes = [rule for rule in job["relabel_configs"] if rule.get("target_label") == "__address__"]
    assert sorted(int(rule["regex"]) for rule in routes) == list(range(len(replicas)))
    for rule in routes:
        rule["replacement"] = replicas[int(rule["regex"])]
    job.update(
        job_name="probe",
        static_configs=[{"targets": names}],
        scrape_interval="1s",
        scrape_timeout="1s",
    )
    return job


def hashmod(name: str, modulus: int) -> int:
    """Prometheus' hashmod: the last 8 bytes of the MD5 of the value, big-endian, mod modulus."""
    return int.from_bytes(hashlib.md5(name.encode()).digest()[8:], "big") % modulus


StartPrometheus = Callable[[list[dict[str, Any]]], PrometheusAPI]


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[StartPrometheus]:
    """Start a Prometheus scraping `jobs`; returns its API. Stopped at the end of the test."""
    started: list[Process] = []

    def start(jobs: list[dict[str, Any]]) -> PrometheusAPI:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            yaml.safe_dump({"global": {"scrape_interval": "1s"}, "scrape_configs": jobs})
        )
        port = free_port()
        process = Process(
            "prometheus",
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address={LOOPBACK}:{port}"],
            tmp_path,
        )  # fmt: skip
        started.append(process)

        def ready() -> bool:
            assert process.running(), process.tail()
            return http_ok(f"http://{LOOPBACK}:{port}/-/ready")

        wait_for("Prometheus", ready, timeout=30)
        return PrometheusAPI(f"http://{LOOPBACK}:{port}")

    yield start
    for process in started:
        process.stop()


def series(api: PrometheusAPI, selector: str) -> dict[frozenset[tuple[str, str]], float]:
    """Every series matching `selector` now, without the labels Prometheus adds per target."""
    found = {}
    for result in api.query(selector):
        labels = {k: v for k, v in result["metric"].items() if k not in {"job", "instance"}}
        found[frozenset(labels.items())] = float(result["value"][1])
    return found


def test_prometheus_shards_probes_over_probe_only_replicas(
    fleet: Fleet, tmp_path: Path, start_exporter: StartExporter, prometheus: StartPrometheus
) -> None:
    names = NAMES[:8]
    config = fleet.config(tmp_path / "config.yaml", fleet_targets(fleet, names))
    # Nothing polled before the first probe: serving is all they can be waited for.
    replicas = [
        start_exporter(f"replica-{i}", config, "--probe-only", until="/-/healthy") for i in range(2)
    ]
    single = start_exporter("single", config)
    address = {urlsplit(r.url).netloc: r for r in replicas}
    api = prometheus([
        probe_job(names, list(address)),
        {"job_name": "single", "scrape_timeout": "1s",
         "static_configs": [{"targets": [urlsplit(single.url).netloc]}]},
    ])  # fmt: skip

    def complete(job: str) -> bool:
        query = f'count(count by (target) (oceanbase_tenant_info{{job="{job}"}}))'
        return [float(r["value"][1]) for r in api.query(query)] == [len(names)]

    wait_for(
        "every target's data through /probe and /metrics",
        lambda: complete("probe") and complete("single"),
        timeout=30,
    )

    # Which replica Prometheus sends each target to: hashmod, as predicted from the name alone.
    active = httpx.get(f"{api.url}/api/v1/targets", params={"state": "active"}, timeout=10).json()
    owner = {
        t["labels"]["target"]: urlsplit(t["scrapeUrl"]).netloc
        for t in active["data"]["activeTargets"]
        if t["labels"]["job"] == "probe"
    }
    replica_addresses = list(address)
    assert owner == {name: replica_addresses[hashmod(name, 2)] for name in names}
    assert set(owner.values()) == set(address)  # both replicas have a share

    # Each replica polled exactly the targets it was probed for; the others never.
    for netloc, replica in address.items():
        counts = by_target(replica.metrics(), f"{SELF}polls_total")
        mine = {name for name, where in owner.items() if where == netloc}
        assert {name for name, n in counts.items() if n > 0} == mine, counts

    # The union of the shards is what one process exporting every target gives.
    union = series(api, '{__name__=~"oceanbase_.+", job="probe"}')
    whole = series(api, '{__name__=~"oceanbase_.+", job="single", target!=""}')
    assert set(union) == set(whole)
    data = {labels for labels in whole if not dict(labels)["__name__"].startswith(SELF)}
    assert data and {k: union[k] for k in data} == {k: whole[k] for k in data}


# --------------------------------------------------------------------- high availability: pairs


def comparable(parsed: Samples) -> Samples:
    """The samples two replicas must agree on: not timings, nor their own process' figures."""
    return {
        key: v
        for key, v in parsed.items()
        if key[0] not in TIMING and not key[0].startswith("process_")
    }


def test_two_replicas_of_the_same_config_export_the_same_series(
    fleet: Fleet, tmp_path: Path, start_exporter: StartExporter
) -> None:
    config = fleet.config(tmp_path / "config.yaml", fleet_targets(fleet, NAMES[:4]))
    pair: list[Exporter] = [start_exporter(f"ha-{i}", config) for i in range(2)]

    def polled(exporter: Exporter) -> Samples | None:
        parsed = exporter.metrics()
        return parsed if set(by_target(parsed, f"{SELF}polls_total").values()) == {1.0} else None

    first, second = (
        wait_for(f"{e.process.name}'s first polls", lambda e=e: polled(e), timeout=30) for e in pair
    )
    assert set(first) == set(second)  # the same series, timing ones included
    assert comparable(first) == comparable(second)  # and the same values but for the timing
    assert any(not name.startswith(SELF) for name, _ in comparable(first))
