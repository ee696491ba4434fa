"""The exporter as a running process: endpoints, content negotiation, reload, shutdown."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from exporter.config import Config, load_config
from exporter.poller import Poller
from exporter.server import ExporterServer
from tests.helpers.configs import obshell_config
from tests.helpers.exporter_process import Exporter
from tests.helpers.exposition import samples, value
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.process import free_port, run_cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def exporter(obshell: ObshellStub, tmp_path: Path) -> Iterator[Exporter]:
    running = Exporter(obshell_config(tmp_path, obshell.url))
    yield running
    if running.process.poll() is None:
        running.stop()


def test_metrics_text_openmetrics_and_gzip(exporter: Exporter) -> None:
    plain = exporter.get("/metrics")
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert value(samples(plain.text), "oceanbase_tenant_info", tenant_name="tenant1") == 1
    om = exporter.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text")
    assert om.text.endswith("# EOF\n")
    raw = httpx.get(exporter.url + "/metrics", headers={"Accept-Encoding": "gzip"}, timeout=10)
    assert raw.headers["content-encoding"] == "gzip"
    assert "oceanbase_tenant_info" in raw.text  # httpx decoded it: the gzip is valid


@pytest.mark.parametrize(
    ("accept", "accept_encoding", "open_metrics", "gzipped"),
    [
        ("application/openmetrics-text;q=0", "gzip;q=0", False, False),
        ("application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
         "gzip;q=0.5, identity", True, True),
        ("text/plain, application/openmetrics-text;q=0.5", "*", False, True),
        ("application/openmetrics-text; q=1, text/plain; q=0", "gzip; q=0, *", True, False),
    ],
)  # fmt: skip
def test_content_negotiation_honours_q_values_and_says_what_varies(
    exporter: Exporter, accept: str, accept_encoding: str, open_metrics: bool, gzipped: bool
) -> None:
    response = exporter.get(
        "/metrics", headers={"Accept": accept, "Accept-Encoding": accept_encoding}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/openmetrics-text" if open_metrics else "text/plain"
    )
    assert ("content-encoding" in response.headers) == gzipped
    assert response.headers["vary"] == "Accept, Accept-Encoding"
    probe = exporter.get("/probe", params={"target": "hz-prod"}, headers={"Accept": accept})
    assert probe.headers["content-type"].startswith(
        "application/openmetrics-text" if open_metrics else "text/plain"
    )
    assert probe.headers["vary"] == "Accept"


def test_probe_serves_one_target_without_the_target_label(exporter: Exporter) -> None:
    response = exporter.get("/probe", params={"target": "hz-prod"})
    assert response.status_code == 200
    parsed = samples(response.text)
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1", source="obshell") == 1
    assert not [k for k in parsed if any(name == "target" for name, _ in k[1])]


def test_probe_rejects_names_not_in_the_config(exporter: Exporter) -> None:
    for name in ("http://169.254.169.254/", "nope", ""):
        assert exporter.get("/probe", params={"target": name}).status_code == 400


def test_health_ready_and_index(exporter: Exporter) -> None:
    assert exporter.get("/-/healthy").status_code == 200
    assert exporter.get("/-/ready").status_code == 200
    page = exporter.get("/")
    assert "hz-prod" in page.text and "/metrics" in page.text and "up" in page.text


def test_reload_rejects_a_bad_config_and_keeps_the_old_one(
    exporter: Exporter, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    good = config.read_text()
    config.write_text(good + "  - {name: x, source: obshell, url: 'ftp://bad'}\n")
    assert httpx.post(exporter.url + "/-/reload", timeout=10).status_code == 500
    parsed = samples(exporter.get("/metrics").text)
    assert value(parsed, "oceanbase_backup_exporter_config_last_reload_successful") == 0
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1") == 1
    config.write_text(good.replace("site: hz", "site: sh"))
    exporter.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        parsed = samples(exporter.get("/metrics").text)
        reloaded = value(parsed, "oceanbase_backup_exporter_config_last_reload_successful") == 1
        if (
            reloaded
            and value(parsed, "oceanbase_tenant_info", tenant_name="tenant1", site="sh") == 1
        ):
            break
        time.sleep(0.1)
    assert value(parsed, "oceanbase_backup_exporter_config_last_reload_successful") == 1
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1", site="sh") == 1
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1", site="hz") is None
    stderr = exporter.stop()
    assert 'msg="config reload rejected" problem="targets[1].url' in stderr
    assert "Traceback" not in stderr


def test_a_reload_that_fails_for_any_reason_is_reported(exporter: Exporter, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    good = config.read_text()
    # 100,000 levels of nesting: PyYAML alone would raise RecursionError, not a config error.
    config.write_text(good + "    tenants: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert httpx.post(exporter.url + "/-/reload", timeout=10).status_code == 500
    parsed = samples(exporter.get("/metrics").text)
    assert value(parsed, "oceanbase_backup_exporter_config_last_reload_successful") == 0
    assert value(parsed, "oceanbase_tenant_info", tenant_name="tenant1") == 1
    assert exporter.get("/-/healthy").status_code == 200
    stderr = exporter.stop()
    (line,) = [line for line in stderr.splitlines() if "config reload" in line]
    assert "nested deeper than 64 levels" in line
    assert "Traceback" not in stderr


async def test_a_reload_that_raises_anything_sets_the_metric_to_0(tmp_path: Path) -> None:
    config = load_config(obshell_config(tmp_path, "https://127.0.0.1:1"))

    def broken() -> Config:
        raise RuntimeError("a bug while loading")

    server = ExporterServer(Poller(config), broken)
    try:
        assert await server.reload() is False
        assert server.reload_state.successful is False
    finally:
        await server.poller.stop()


@pytest.mark.parametrize(
    ("flags", "problem"),
    [
        (["--web.listen-address", "127.0.0.1:70000"], "port from 0 to 65535"),
        (["--web.listen-address", "127.0.0.1:"], "port from 0 to 65535"),
        (["--web.telemetry-path", "metrics"], "absolute URL path"),
        (["--web.telemetry-path", "/met rics"], "absolute URL path"),
        (["--web.telemetry-path", "/-/healthy"], "another endpoint"),
        (["--web.max-connections", "0"], "at least 1"),
        (["--web.read-header-timeout", "10"], "not a duration"),
    ],
)
def test_bad_flags_are_usage_errors(tmp_path: Path, flags: list[str], problem: str) -> None:
    config = obshell_config(tmp_path, "https://127.0.0.1:1")
    listen = ["--web.listen-address", f"127.0.0.1:{free_port()}"]  # the flags may override it
    result = run_cli("--config.file", str(config), *listen, *flags, timeout=20)
    assert result.returncode == 2
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_exits_cleanly(exporter: Exporter) -> None:
    stderr = exporter.stop()
    assert exporter.process.returncode == 0
    assert "shutting down" in stderr


def test_config_check_accepts_the_example() -> None:
    result = run_cli("--config.file", str(ROOT / "config.example.yaml"), "--config.check")
    assert result.returncode == 0, result.stderr


def test_config_check_names_each_problem_and_hides_secrets(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(
        "targets:\n"
        "  - {name: a, source: obshell, url: 'http://127.0.0.1:2886', password: 'PLANTED-secret-1', interval: 5x}\n"
        "  - {name: b, source: obshell, urll: 'http://x'}\n"
    )
    result = run_cli("--config.file", str(config), "--check-config")
    assert result.returncode == 1
    assert "targets[0].interval" in result.stderr
    assert "targets[1].urll" in result.stderr
    assert "PLANTED-secret-1" not in result.stdout + result.stderr


def test_probe_only_polls_what_is_probed_and_stops_when_probes_stop(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    config = obshell_config(tmp_path, obshell.url, extra="    interval: 1s\n    timeout: 500ms\n")
    exporter = Exporter(config, "--probe-only")
    try:
        time.sleep(1.5)
        assert obshell.seen == [], "nothing is polled before the first probe"
        metrics = samples(exporter.get("/metrics").text)
        assert value(metrics, "oceanbase_tenant_info", tenant_name="tenant1") is None
        probe = samples(exporter.get("/probe", params={"target": "hz-prod"}).text)
        assert value(probe, "oceanbase_tenant_info", tenant_name="tenant1") == 1
        for _ in range(3):  # probes keep coming: the target stays polled in the background
            time.sleep(1)
            exporter.get("/probe", params={"target": "hz-prod"})
        polls_while_probed = obshell.seen.count("/api/v1/tenants/overview")
        assert polls_while_probed >= 3
        time.sleep(5)  # no probes for more than 3 intervals: polling stops
        settled = obshell.seen.count("/api/v1/tenants/overview")
        time.sleep(2)
        assert obshell.seen.count("/api/v1/tenants/overview") == settled
        # /metrics carries the exporter's own series only.
        metrics = samples(exporter.get("/metrics").text)
        assert (
            value(metrics, "oceanbase_backup_exporter_polls_total", target="hz-prod")
            >= polls_while_probed
        )
        assert value(metrics, "oceanbase_tenant_info", tenant_name="tenant1") is None
    finally:
        exporter.stop()
