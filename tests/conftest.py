"""Shared fixtures: a scripted obshell agent, config files, exposition parsing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from exporter.collector import collect
from exporter.config import load_config
from exporter.exposition import render
from exporter.poller import Poller
from tests.helpers.obshell_stub import ObshellStub

DATA = Path(__file__).parent / "data"
PASSWORD = "stub-root-password-7"


def seed(name: str) -> dict[str, Any]:
    """A response example of the obshell API documents (tests/data/seed_*.json)."""
    return json.loads((DATA / f"seed_{name}.json").read_text())


def standard_routes(stub: ObshellStub) -> None:
    """A 4.3.2 agent with two backed-up tenants (the seed examples) and a finished restore."""
    stub.set(
        "/api/v1/ob/info",
        {
            "agent_info": [],
            "obcluster_info": {"id": 1728727000, "name": "ob-test", "version": "4.3.5.0"},
        },
    )
    stub.set("/api/v1/tenants/overview", {"contents": [
        {"tenant_id": 1, "tenant_name": "sys", "status": "NORMAL"},
        {"tenant_id": 1002, "tenant_name": "tenant1", "status": "NORMAL"},
        {"tenant_id": 1004, "tenant_name": "tenant2", "status": "NORMAL"},
    ]})  # fmt: skip
    stub.routes["/api/v1/obcluster/backup/overview"] = (200, seed("cluster_backup_overview"))
    for name in ("tenant1", "tenant2"):
        stub.set(f"/api/v1/tenant/{name}/backup/info", {
            "tenant_id": 1002,
            "lastest_archive_log_checkpoint": "2024-10-12T18:20:00.5+08:00",
            "archive_log_delay": 3.25,
        })  # fmt: skip
        stub.set(f"/api/v1/tenant/{name}/backup/log/tasks", {"contents": [
            {"tenant_id": 1002, "tenant_name": "", "round_id": 1, "status": "DOING", "path": "oss://b/clog",
             "delay": 3.25, "checkpoint": "2024-10-12T18:20:00.5+08:00", "start_time": "2024-10-12T18:00:00+08:00"},
        ]})  # fmt: skip
        stub.set(f"/api/v1/tenant/{name}/backup/tasks", {
            "contents": [{"tenant_id": 1002, "job_id": 1, "backup_set_id": 1, "plus_archivelog": False,
                          "backup_type": "FULL", "start_timestamp": "2024-10-12T18:08:08.723714+08:00",
                          "end_timestamp": "2024-10-12T18:10:43.487426+08:00", "status": "COMPLETED",
                          "result": 0, "comment": "", "description": "", "path": "oss://b/data"}],
            "page": {"total_elements": 1, "total_pages": 1, "size": 1, "number": 1},
        })  # fmt: skip
    restore = seed("restore_overview")["data"]
    stub.set(
        "/api/v1/restore/tasks",
        {
            "contents": [restore],
            "page": {"total_elements": 1, "total_pages": 1, "size": 100, "number": 1},
        },
    )


@pytest.fixture
def obshell(httpserver: HTTPServer) -> Iterator[ObshellStub]:
    """A scripted obshell 4.3.2 agent with the standard routes and password PASSWORD."""
    stub = ObshellStub(httpserver, password=PASSWORD)
    standard_routes(stub)
    yield stub


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(tmp_path: Path, body: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return path


def obshell_config(tmp_path: Path, url: str, extra: str = "", password: str = PASSWORD) -> Path:
    """A one-target obshell config with the password in a secrets file."""
    secret = tmp_path / "ob_password"
    secret.write_text(password + "\n")
    return write_config(
        tmp_path,
        f"targets:\n  - name: hz-prod\n    source: obshell\n    url: {url}\n"
        f"    password_file: {secret}\n    labels: {{site: hz}}\n{extra}",
    )


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the exporter's command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Parse an exposition into {(sample name, labels): value}."""
    found: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    """The value of the one sample of `name` whose labels include `labels` (None if absent)."""
    matches = [v for (n, ls), v in parsed.items() if n == name and set(labels.items()) <= set(ls)]
    assert len(matches) <= 1, f"{name} {labels}: {len(matches)} samples match"
    return matches[0] if matches else None


def exact_value(
    parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    """The value of the sample of `name` with exactly `labels` (None if absent).

    For series that differ only by a label being absent, such as a cluster-level series and
    the per-tenant ones of the same family.
    """
    return parsed.get((name, frozenset(labels.items())))


async def poll_once(poller: Poller) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Poll every target once and parse the exposition users would scrape."""
    await poller.poll_all_once()
    return samples(render(collect(poller.snapshots(), None), open_metrics=False).decode())


async def scrape(config: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Load `config`, poll once in this process, and return the parsed exposition."""
    poller = Poller(load_config(config))
    try:
        return await poll_once(poller)
    finally:
        await poller.stop()
