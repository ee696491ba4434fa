"""One exporter process polling an obshell, an OCP and a Cloud target: one clean `/metrics`."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from simulator import Simulator
from tests.helpers.configs import write_config
from tests.helpers.exposition import samples, value
from tests.helpers.process import free_port

PASSWORD = "sim-root-password"


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(scenario="demo", clusters=2, tenants=3, password=PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


def _config(sim: Simulator, tmp_path: Path) -> Path:
    secrets = {
        "ob_pw": PASSWORD,
        "ocp_pw": sim.ocp.account.password,
        "cloud_sk": sim.cloud.account.access_key_secret,
    }
    for name, secret in secrets.items():
        (tmp_path / name).write_text(secret + "\n")
    return write_config(
        tmp_path,
        f"""targets:
  - name: hz-obshell
    source: obshell
    url: {sim.agent_url(0)}
    password_file: ob_pw
  - name: ocp-main
    source: ocp
    url: {sim.ocp_url}
    username: {sim.ocp.account.username}
    password_file: ocp_pw
  - name: obcloud
    source: cloud
    url: {sim.cloud_url}
    access_key_id: {sim.cloud.account.access_key_id}
    access_key_secret_file: cloud_sk
""",
    )


def _series(exposition: str) -> Counter[tuple[str, frozenset[tuple[str, str]]]]:
    """Every sample's identity, counted: a count above 1 is a duplicate series."""
    return Counter(
        (sample.name, frozenset(sample.labels.items()))
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    )


async def test_one_process_one_metrics_page_for_all_three_sources(
    simulator: Simulator, tmp_path: Path
) -> None:
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "exporter", "--config.file", str(_config(simulator, tmp_path)),
        "--web.listen-address", f"127.0.0.1:{port}",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            for _ in range(200):
                try:
                    if (await client.get("/-/ready")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            metrics = (await client.get("/metrics")).text
            probe = (await client.get("/probe", params={"target": "ocp-main"})).text
    finally:
        process.terminate()
        _, stderr = await process.communicate()

    parsed = samples(metrics)
    for target, source in (("hz-obshell", "obshell"), ("ocp-main", "ocp"), ("obcloud", "cloud")):
        up = value(parsed, "oceanbase_backup_exporter_target_up", target=target, source=source)
        assert up == 1, stderr.decode()
    # obshell and OCP report the same cluster (obcluster-0, id 1): `source` and `target` keep
    # their series apart.
    same = {"ob_cluster_name": "obcluster-0", "ob_cluster_id": "1"}
    assert value(parsed, "oceanbase_cluster_info", **same, source="obshell") == 1
    assert value(parsed, "oceanbase_cluster_info", **same, source="ocp") == 1
    assert value(parsed, "oceanbase_log_backup_checkpoint_timestamp_seconds", **same,
                 source="obshell", tenant_name="app") is not None  # fmt: skip
    assert value(parsed, "oceanbase_tenant_info", source="obshell", tenant_name="app") == 1
    assert value(parsed, "oceanbase_backup_schedule_status", **same, status="NORMAL") == 1
    assert value(parsed, "oceanbase_backup_set_status", source="cloud",
                 ob_cluster_name="obcluster-0", tenant_name="pay", status="DOING") == 1  # fmt: skip
    duplicates = [key for key, count in _series(metrics).items() if count > 1]
    assert duplicates == []
    assert [key for key, count in _series(probe).items() if count > 1] == []
    assert 'target="ocp-main"' not in probe and 'source="ocp"' in probe
    if shutil.which("promtool") is None:
        pytest.skip("promtool (Debian package prometheus) not installed")
    check = await asyncio.create_subprocess_exec(
        "promtool", "check", "metrics",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await check.communicate(metrics.encode())
    assert check.returncode == 0, output.decode()
