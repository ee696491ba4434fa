"""One exporter process polling an obshell, an OCP and a Cloud target: one clean `/metrics`."""

from __future__ import annotations

import asyncio
import base64
import inspect
import json
import logging
import re
import secrets
import shutil
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import get_args, get_type_hints

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from exporter.config import CloudTarget, ObshellTarget, OcpTarget, Target, load_config
from exporter.logs import JSONFormatter, LogfmtFormatter
from exporter.poller import Poller
from exporter.server import ExporterServer
from exporter.sources.cloud import client as cloud_client
from exporter.sources.cloud import models as cloud_models
from exporter.sources.envelope import UpstreamModel, decode, parametrized
from exporter.sources.errors import PollError
from exporter.sources.http import Response
from exporter.sources.obshell import client as obshell_client
from exporter.sources.obshell import models as obshell_models
from exporter.sources.ocp import client as ocp_client
from exporter.sources.ocp import models as ocp_models
from simulator import Simulator
from tests.helpers.configs import write_config
from tests.helpers.exposition import samples, value
from tests.helpers.obshell_stub import ObshellStub, error
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


# ------------------------------------------- every declared secret of every target is redacted

OCP_USER = "ocp-monitor"


def _declared_secrets(target: Target) -> dict[str, str]:
    """Every property of the target's type that is typed as a Secret, with its value if set:
    found by type, not by name, so that a new secret field is covered whatever it is called."""
    found = {}
    for name, attribute in inspect.getmembers(type(target), lambda a: isinstance(a, property)):
        if "Secret" in str(get_type_hints(attribute.fget).get("return", "")):
            secret = getattr(target, name)
            if secret is not None:
                found[name] = secret.read()
    return found


def _echo(secrets: list[str]) -> str:
    """What a careless upstream quotes back: every secret as is, in Base64, and as OCP's basic
    credentials."""
    forms = []
    for secret in secrets:
        forms += [
            secret,
            base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"{OCP_USER}:{secret}".encode()).decode(),
        ]
    return "you sent " + " ".join(forms)


def _leaks(text: str, secrets: list[str]) -> list[str]:
    """The secrets that show in `text`, in any form, even 8 characters of one."""
    leaked = []
    for secret in secrets:
        basic = base64.b64encode(f"{OCP_USER}:{secret}".encode()).decode()
        forms = (secret[:8], base64.b64encode(secret.encode()).decode()[:8], basic[16:24])
        if any(form in text for form in forms):
            leaked.append(secret)
    return leaked


async def test_every_declared_secret_of_every_target_type_is_redacted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Each target's upstream quotes back every secret that target has, in every form.
    planted = {name: secrets.token_hex(16) for name in ("ob", "ob_agent", "ocp_pw", "ocp_sk", "sk")}
    own = {
        "ob": [planted["ob"], planted["ob_agent"]],
        "ocp-basic": [planted["ocp_pw"]],
        "ocp-key": [planted["ocp_sk"]],
        "cloud": [planted["sk"]],
    }
    servers = {name: HTTPServer(host="127.0.0.1", port=0) for name in own}
    for server in servers.values():
        server.start()
    try:
        agent = ObshellStub(
            servers["ob"], password=planted["ob"], agent_password=planted["ob_agent"]
        )
        agent.unknown = (500, error(500, "Common.Unexpected", _echo(own["ob"])))
        for name in ("ocp-basic", "ocp-key"):
            body = {"successful": False, "error": {"code": 1, "message": _echo(own[name])}}
            servers[name].expect_request(re.compile(".*")).respond_with_json(body, status=500)
        body = {"success": False, "errorCode": "Oops", "errorMessage": _echo(own["cloud"])}
        servers["cloud"].expect_request(re.compile(".*")).respond_with_json(body, status=500)
        (tmp_path / "ob_agent").write_text(planted["ob_agent"])
        (tmp_path / "ocp_sk").write_text(planted["ocp_sk"])
        url = {name: server.url_for("") for name, server in servers.items()}
        config = write_config(
            tmp_path,
            f"""targets:
  - {{name: ob, source: obshell, url: '{agent.url}', password: '{planted["ob"]}',
      agent_password_file: ob_agent}}
  - {{name: ocp-basic, source: ocp, url: '{url["ocp-basic"]}', username: {OCP_USER},
      password: '{planted["ocp_pw"]}'}}
  - {{name: ocp-key, source: ocp, url: '{url["ocp-key"]}', access_key_id: ak,
      access_key_secret_file: ocp_sk}}
  - {{name: cloud, source: cloud, url: '{url["cloud"]}', access_key_id: ak,
      access_key_secret: '{planted["sk"]}'}}
""",
        )
        loaded = load_config(config)
        # Every target type is here, and every secret it declares is set and in `secrets()`.
        assert {type(t) for t in loaded.targets} == set(get_args(Target))
        declared: dict[type, set[str]] = {}
        for target in loaded.targets:
            found = _declared_secrets(target)
            assert sorted(found.values()) == sorted(own[target.name])
            assert sorted(s.read() for s in target.secrets()) == sorted(own[target.name])
            declared.setdefault(type(target), set()).update(found)
        assert declared == {
            ObshellTarget: {"password", "agent_password"},
            OcpTarget: {"password", "access_key_secret"},
            CloudTarget: {"access_key_secret"},
        }

        poller = Poller(loaded)
        caplog.set_level(logging.DEBUG)
        try:
            results = dict(zip(poller.runners, await poller.poll_all_once(), strict=True))
            page = await ExporterServer(poller, lambda: loaded).index(None)  # type: ignore[arg-type]
        finally:
            await poller.stop()
    finally:
        for server in servers.values():
            server.clear()
            server.stop()

    records = [r for r in caplog.records if r.name.startswith("exporter")]
    assert isinstance(page.text, str)
    for name, runner in poller.runners.items():
        # The upstream did quote them (else this test would prove nothing) ...
        assert _leaks(results[name].errors[0].message, own[name]) == own[name]
        # ... and none shows in the error shown, the status page or a log line (both formats).
        assert runner.health.last_error.startswith(results[name].errors[0].endpoint)
        assert _leaks(runner.health.last_error, own[name]) == [], name
        assert _leaks(page.text, own[name]) == [], name
        for formatter in (LogfmtFormatter(), JSONFormatter()):
            lines = "\n".join(formatter.format(r) for r in records)
            assert name in lines
            assert _leaks(lines, own[name]) == [], name


# ------------------------------------------------ one decoder: the same verdicts for each source

_DECODERS = {
    "obshell": (obshell_models.Envelope, obshell_client.judge, {"successful": True}),
    "ocp": (ocp_models.Envelope, ocp_client.judge, {"successful": True}),
    "cloud": (cloud_models.Envelope, cloud_client.judge, {"success": True}),
}


class _Item(UpstreamModel):
    name: str
    size: float | None = None


@pytest.mark.parametrize("source", sorted(_DECODERS))
@pytest.mark.parametrize(
    ("data", "verdict"),
    [
        ('{"name": "a", "size": 1.5}', "a"),
        ('{"name": "a\\ud800b"}', "a\ufffdb"),  # a lone surrogate: the slow path replaces it
        ('{"name": "a", "size": 1e400}', "decode"),  # infinity is no size
        ('{"name": "a", "size": NaN}', "decode"),
        ('{"size": 1}', "decode"),  # no name
        ("null", "decode"),  # no data
    ],
)
def test_every_source_decodes_a_success_the_same_way(source: str, data: str, verdict: str) -> None:
    envelope, judge, flag = _DECODERS[source]
    body = (json.dumps(flag)[:-1] + f', "data": {data}}}').encode()
    try:
        decoded = decode("/r", Response(200, {}, body), parametrized(envelope, _Item), judge)
    except PollError as exc:
        assert exc.reason == verdict, exc
        return
    assert decoded is not None and decoded.data is not None
    assert decoded.data.name == verdict


@pytest.mark.parametrize("source", sorted(_DECODERS))
@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"[1, 2]", "decode"),
        (200, b'{"trunc', "decode"),
        (401, b"", "auth"),
        (500, b"<html>oops</html>", "http_status"),
    ],
)
def test_every_source_judges_a_failure_by_its_status(
    source: str, status: int, body: bytes, reason: str
) -> None:
    envelope, judge, _ = _DECODERS[source]
    with pytest.raises(PollError) as failure:
        decode("/r", Response(status, {}, body), parametrized(envelope, _Item), judge)
    assert failure.value.reason == reason
