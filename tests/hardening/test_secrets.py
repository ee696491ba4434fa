"""Planted secrets never come out: not in logs (debug included, both formats), /metrics, /,
/probe, command output, config errors or reprs, whatever the upstreams do.

Every secret field gets its own unique value: obshell's password (inline, from a file, from
the environment), its agent password, OCP's password and AccessKey secret, OceanBase Cloud's
AccessKey secret. The upstreams answer correctly, fail in every way the fault tests use, echo
the request (credential headers first) back in their error messages, or decrypt the obshell
header and quote the password they found. What leaves the process must hold none of it, in
plain text or as the Base64 of HTTP basic auth.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from exporter.config import ConfigError, load_config
from simulator import Simulator
from tests.hardening.raw_agent import (
    ALL_PATHS,
    RawAgent,
    deep_json,
    echo,
    no_answer,
    not_http,
    oversized,
    redirect_to_itself,
    reset_mid_body,
    respond,
)
from tests.helpers.hardening import ExporterProcess, target_line
from tests.helpers.obshell_stub import ObshellStub, error
from tests.helpers.polling import running_poller
from tests.helpers.process import run_cli

OCP_USER = "ocp-monitor"  # 12 bytes: Base64 of "ocp-monitor:" is 16 characters, no padding
# One unique, wholly random value per secret field (and per way of giving it), so that even
# a few of its characters showing is a leak.
PLANTED = {
    field: secrets.token_hex(16)
    for field in (
        "obshell_password_file",
        "obshell_password_inline",
        "obshell_password_env",
        "obshell_agent_password",
        "obshell_wrong_password",
        "ocp_password",
        "ocp_access_key_secret",
        "cloud_access_key_secret",
        "broken_config",
    )
}
FAULTS = {
    "no-answer": no_answer,
    "reset": reset_mid_body,
    "not-http": not_http,
    "redirect": redirect_to_itself,
    "oversized": lambda: oversized(20, declared=False),
    "deep-json": deep_json,
    "html-500": lambda: respond(500, b"<html>oops</html>", "text/html"),
    "echo-tenants": echo,
}


PART = 8  # this many characters of a secret (beyond the user name, for basic auth) leak it


def forms(secret: str) -> list[str]:
    """The shortest leaking beginnings of a secret's forms: as is, in Base64, and inside HTTP
    basic credentials (a message cut off inside one leaks its beginning)."""
    basic = base64.b64encode(f"{OCP_USER}:{secret}".encode()).decode()
    return [secret[:PART], base64.b64encode(secret.encode()).decode()[:PART], basic[: 16 + PART]]


def assert_no_secret(text: str, where: str) -> None:
    """No part of any planted secret, in any of its forms, is in `text`."""
    for field, secret in PLANTED.items():
        for form in forms(secret):
            assert form not in text, f"{field} leaked into {where}"


class LeakyAgent(ObshellStub):
    """An agent that decrypts the password header and quotes the password in its 401."""

    def _verify(self, request: Request) -> tuple[int, dict[str, Any]] | None:
        header = request.headers.get("X-OCS-Agent-Header") or request.headers.get("X-OCS-Header")
        fields = json.loads(self._decrypt(header or ""))
        message = f"Unauthorized: password {fields.get('Auth')!r} is incorrect"
        return 401, error(401, "Security.Authentication.IncorrectOceanbasePassword", message)


@pytest.fixture
def leaky_agents() -> Iterator[list[LeakyAgent]]:
    """Two leaky agents on their own servers (the shared `httpserver` serves the stubs)."""
    servers = [HTTPServer(host="127.0.0.1", port=0) for _ in range(2)]
    for server in servers:
        server.start()
    yield [LeakyAgent(server) for server in servers]
    for server in servers:
        server.clear()
        server.stop()


async def _upstreams(
    start_simulator: Callable[..., Awaitable[Simulator]],
    start_agent: Callable[..., Awaitable[RawAgent]],
    leaky: list[LeakyAgent],
    folder: Path,
) -> Path:
    """Every kind of upstream, and a config with one target per way of failing."""
    files = {}
    for field in ("obshell_password_file", "obshell_agent_password", "ocp_access_key_secret"):
        files[field] = folder / field
        files[field].write_text(PLANTED[field] + "\n")
    by_file = await start_simulator(
        scenario="demo", clusters=len(FAULTS) + 1, password=PLANTED["obshell_password_file"]
    )
    inline = await start_simulator(scenario="demo", password=PLANTED["obshell_password_inline"])
    env = await start_simulator(scenario="demo", password=PLANTED["obshell_password_env"])
    agent_pw = await start_simulator(
        scenario="demo", password="not-used", agent_password=PLANTED["obshell_agent_password"]
    )
    faulty = await start_agent(upstream=by_file.base_url)
    echoing = await start_agent()
    echoing.faults[ALL_PATHS] = echo()
    fast = ", interval: 1s, timeout: 500ms"
    lines = [
        target_line("by-file", by_file.agent_url(0), files["obshell_password_file"], fast),
        f"  - {{name: inline, source: obshell, url: '{inline.agent_url(0)}',"
        f" password: '{PLANTED['obshell_password_inline']}'{fast}}}\n",
        f"  - {{name: from-env, source: obshell, url: '{env.agent_url(0)}',"
        f" password: '${{OB_PASSWORD}}'{fast}}}\n",
        f"  - {{name: agent-password, source: obshell, url: '{agent_pw.agent_url(0)}',"
        f" password: x, agent_password_file: '{files['obshell_agent_password']}'{fast}}}\n",
        f"  - {{name: wrong-password, source: obshell, url: '{inline.agent_url(0)}',"
        f" password: '{PLANTED['obshell_wrong_password']}'{fast}}}\n",
        f"  - {{name: leaky, source: obshell, url: '{leaky[0].url}',"
        f" password_file: '{files['obshell_password_file']}'{fast}}}\n",
        f"  - {{name: leaky-agent, source: obshell, url: '{leaky[1].url}', password: x,"
        f" agent_password_file: '{files['obshell_agent_password']}'{fast}}}\n",
        f"  - {{name: ocp-basic, source: ocp, url: '{echoing.url}', username: {OCP_USER},"
        f" password: '{PLANTED['ocp_password']}'{fast}}}\n",
        f"  - {{name: ocp-ak, source: ocp, url: '{echoing.url}', access_key_id: ak,"
        f" access_key_secret_file: '{files['ocp_access_key_secret']}'{fast}}}\n",
        f"  - {{name: cloud, source: cloud, url: '{echoing.url}', access_key_id: ak,"
        f" access_key_secret: '${{CLOUD_SK}}'{fast}}}\n",
        target_line("echo-all", f"{echoing.url}/obshell/0", files["obshell_password_file"], fast),
    ]
    for index, (name, make) in enumerate(FAULTS.items(), start=1):
        faulty.faults[f"/obshell/{index}/api/v1/tenants/overview"] = make()
        url = f"{faulty.url}/obshell/{index}"
        lines.append(target_line(name, url, files["obshell_password_file"], fast))
    config = folder / "config.yaml"
    config.write_text("targets:\n" + "".join(lines))
    return config


ENVIRON = {
    "OB_PASSWORD": PLANTED["obshell_password_env"],
    "CLOUD_SK": PLANTED["cloud_access_key_secret"],
}


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets the config takes from the environment (inherited by exporter processes)."""
    for name, secret in ENVIRON.items():
        monkeypatch.setenv(name, secret)


@pytest.mark.parametrize("log_format", ["logfmt", "json"])
async def test_no_secret_leaves_the_exporter(
    log_format: str,
    start_simulator: Callable[..., Awaitable[Simulator]],
    start_agent: Callable[..., Awaitable[RawAgent]],
    start_exporter: Callable[..., Awaitable[ExporterProcess]],
    leaky_agents: list[LeakyAgent],
    environment: None,
    tmp_path: Path,
    quiet_simulator: None,
) -> None:
    config = await _upstreams(start_simulator, start_agent, leaky_agents, tmp_path)
    exporter = await start_exporter(config, "--log.level", "debug", "--log.format", log_format)
    names = [t.name for t in load_config(config).targets]

    def twice(parsed: dict[Any, float]) -> bool:
        """every target polled at least twice"""
        polls = {dict(k[1])["target"]: v for k, v in parsed.items() if k[0].endswith("polls_total")}
        return all(polls.get(name, 0) >= 2 for name in names)

    await exporter.until(twice, seconds=30)
    client = exporter.client
    pages = {
        "/metrics": (await client.get("/metrics")).text,
        "/metrics (OpenMetrics)": (
            await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        ).text,
        "/": (await client.get("/")).text,
        "/-/healthy": (await client.get("/-/healthy")).text,
        "/-/ready": (await client.get("/-/ready")).text,
        "/-/reload": (await client.post("/-/reload")).text,
    }
    for name in names:
        pages[f"/probe?target={name}"] = (await client.get("/probe", params={"target": name})).text
    assert "leaky" in pages["/"] and "IncorrectOceanbasePassword" in pages["/"]
    assert "&lt;redacted&gt;" in pages["/"], "the leaky agent's quote is scrubbed, not dropped"
    # A bad config on reload: rejected, and its messages hold no secret either.
    config.write_text(_broken_configs()[1])
    assert (await client.post("/-/reload")).status_code == 500
    await asyncio.sleep(0.1)
    log = await exporter.stop()

    assert "level=debug" in log or '"level": "debug"' in log, "debug lines were written"
    assert "config reload rejected" in log
    logfmt, json_line = 'msg="poll failed" target=leaky ', '"msg": "poll failed", "target": "leaky"'
    assert (logfmt in log or json_line in log) and "<redacted>" in log
    assert_no_secret(log, f"the {log_format} log")
    for page, text in pages.items():
        assert_no_secret(text, page)


async def test_no_secret_in_command_output(
    start_simulator: Callable[..., Awaitable[Simulator]],
    start_agent: Callable[..., Awaitable[RawAgent]],
    leaky_agents: list[LeakyAgent],
    environment: None,
    tmp_path: Path,
    quiet_simulator: None,
) -> None:
    config = await _upstreams(start_simulator, start_agent, leaky_agents, tmp_path)
    # `--once` polls every target from a subprocess: serve the upstreams meanwhile.
    once = await asyncio.to_thread(
        run_cli, "--config.file", str(config), "--once", "--log.level", "debug"
    )
    check = await asyncio.to_thread(run_cli, "--config.file", str(config), "--config.check")
    assert once.returncode == 1 and "oceanbase_backup_exporter_target_up" in once.stdout
    assert check.returncode == 0, check.stderr
    for result in (once, check):
        assert_no_secret(result.stdout + result.stderr, " ".join(result.args[3:]))
    for index, broken in enumerate(_broken_configs()):
        path = tmp_path / f"broken-{index}.yaml"
        path.write_text(broken)
        result = await asyncio.to_thread(run_cli, "--config.file", str(path), "--config.check")
        assert result.returncode == 1
        assert_no_secret(result.stdout + result.stderr, f"--config.check of broken config {index}")


def _broken_configs() -> list[str]:
    """Configs where a secret sits where it does not belong (as a typo or a paste would put
    it): the first fails as YAML, the second validation."""
    planted = PLANTED["broken_config"]
    return [
        # Unquoted, a password starting with ! or * is a YAML tag or alias.
        f"targets:\n  - {{name: a, source: obshell, url: 'https://a', password: !{planted}}}\n"
        f"  - {{name: b, source: obshell, url: 'https://a', password: *{planted}}}\n",
        "targets:\n"
        f"  - {{name: a, source: obshell, url: 'https://u:{planted}@a', interval: '{planted}'}}\n"
        f"  - {{name: b, source: obshell, url: 'https://a', password: [{planted}]}}\n"
        f"  - {{name: c, source: obshell, url: 'https://a', pasword: '{planted}'}}\n"
        f"  - {{name: d, source: obshell, url: 'https://a', timezone: '{planted}'}}\n"
        f"  - {{name: e, source: obshell, url: '{planted}', tenants: {{include: ['{planted}[']}}}}\n"
        f"  - {{name: f, source: ocp, url: 'https://o', username: u, password: {{x: '{planted}'}}}}\n"
        f"  - {{name: g, source: cloud, url: 'https://c', access_key_id: k,"
        f" access_key_secret: '{planted}', access_key_secret_file: /x}}\n"
        f"  - {{name: h, source: obshell, url: 'https://a', labels: {{site: 1}}, max_concurrency: '{planted}'}}\n",
    ]


def test_no_secret_in_config_errors_or_reprs(tmp_path: Path) -> None:
    for index, broken in enumerate(_broken_configs()):
        path = tmp_path / f"broken-{index}.yaml"
        path.write_text(broken)
        with pytest.raises(ConfigError) as caught:
            load_config(path, ENVIRON)
        assert len(caught.value.problems) >= 2 or index == 0
        assert_no_secret(str(caught.value), f"the errors of broken config {index}")
        assert_no_secret(repr(caught.value), f"the repr of broken config {index}'s error")
    good = tmp_path / "good.yaml"
    good.write_text(
        "targets:\n"
        f"  - {{name: a, source: obshell, url: 'https://a', password: '{PLANTED['obshell_password_inline']}',"
        f" agent_password: '{PLANTED['obshell_agent_password']}'}}\n"
        f"  - {{name: b, source: ocp, url: 'https://o', username: u, password: '{PLANTED['ocp_password']}'}}\n"
        f"  - {{name: c, source: cloud, url: 'https://c', access_key_id: k, access_key_secret: '${{CLOUD_SK}}'}}\n"
    )  # fmt: skip
    config = load_config(good, ENVIRON)
    texts = [repr(config), str(config), config.model_dump_json(), str(config.model_dump())]
    for target in config.targets:
        texts += [repr(target), str(target)]
        for field in ("password", "agent_password", "access_key_secret"):
            texts.append(repr(getattr(target, field, None)))
    for text in texts:
        assert_no_secret(text, "a repr of the loaded config")


async def test_redaction_covers_every_error_the_poller_keeps(
    leaky_agents: list[LeakyAgent], tmp_path: Path
) -> None:
    # The leaky agents quote the plain password: what the poller keeps and logs is scrubbed.
    secret = tmp_path / "pw"
    secret.write_text(PLANTED["obshell_password_file"])
    config = tmp_path / "c.yaml"
    config.write_text(
        "targets:\n" + target_line("leaky", leaky_agents[0].url, secret, ", timeout: 2s")
    )
    async with running_poller(config) as poller:
        (result,) = await poller.poll_all_once()
    assert PLANTED["obshell_password_file"] in result.errors[0].message, "the agent did quote it"
    last_error = poller.runners["leaky"].health.last_error
    assert "<redacted>" in last_error
    assert_no_secret(last_error, "last_error")
