"""Hostile upstream text (issue 16), through real sockets: strings that are not valid UTF-8,
tenant names that are no path segment, rows listed twice, a secret cut off mid-message, and
`Retry-After`. One target's bytes may only ever cost that target, never `/metrics` or `/`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)

from exporter.collector import ExporterState, collect
from exporter.exposition import Exposition, render
from exporter.snapshot import (
    Cluster,
    ClusterIdentity,
    TargetData,
    TargetHealth,
    TargetSnapshot,
    Tenant,
)
from exporter.sources.obshell import routes
from tests.hardening.raw_agent import (
    ALL_PATHS,
    Behaviour,
    RawAgent,
    Request,
    respond,
    rewrite,
)
from tests.helpers.exposition import Samples, value
from tests.helpers.hardening import (
    PollerFor,
    StartAgent,
    StartExporter,
    StartSimulator,
    secret_file,
    target_line,
    write_config,
)
from tests.helpers.polling import rendered
from tests.helpers.process import run_cli

TENANTS, BACKUP_INFO, LOG_TASKS = routes.TENANTS, routes.BACKUP_INFO, routes.LOG_TASKS
BACKUP_JOBS = routes.BACKUP_JOBS
UP = "oceanbase_backup_exporter_target_up"
POLL_ERRORS = "oceanbase_backup_exporter_poll_errors_total"
SUPPORTED = "oceanbase_backup_exporter_endpoint_supported"
LONE = "\ud800"  # half of a UTF-16 pair: json.dumps writes it as the escape `\ud800`
REPLACED = "\ufffd"


def errors(parsed: Samples, target: str) -> dict[tuple[str, str], float]:
    """The target's poll_errors_total by (endpoint, reason)."""
    return {
        (dict(labels).get("endpoint", ""), dict(labels)["reason"]): count
        for (name, labels), count in parsed.items()
        if name == POLL_ERRORS and dict(labels)["target"] == target
    }


def label_values(parsed: Samples, target: str, label: str) -> set[str]:
    """Every value `label` has in the target's series."""
    return {
        dict(labels)[label]
        for (_, labels), _ in parsed.items()
        if ("target", target) in labels and label in dict(labels)
    }


def log_backup_tenants(parsed: Samples, target: str) -> set[str]:
    """The tenants whose log backup checkpoint the target shows (read per tenant by name)."""
    return {
        dict(labels)["tenant_name"]
        for (name, labels), _ in parsed.items()
        if name == "oceanbase_log_backup_checkpoint_timestamp_seconds"
        and ("target", target) in labels
    }


def _poison(node: Any, keys: frozenset[str]) -> Any:
    """Every string under one of `keys` with a lone surrogate appended."""
    if isinstance(node, dict):
        return {
            k: v + LONE if k in keys and isinstance(v, str) else _poison(v, keys)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_poison(item, keys) for item in node]
    return node


def poisoned(agent: RawAgent, *keys: str) -> Behaviour:
    """Forward; in a 2xx JSON answer, give every string under `keys` a lone surrogate (as a
    JSON escape). Other answers (a Digest challenge) pass unchanged, headers and all."""

    async def behave(
        _: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
    ) -> None:
        head, _, body = (await agent.fetch(request)).partition(b"\r\n\r\n")
        status_line, *headers = head.split(b"\r\n")
        if 200 <= int(status_line.split(b" ", 2)[1]) < 300 and body:
            body = json.dumps(_poison(json.loads(body), frozenset(keys))).encode()
        dropped = (b"content-length:", b"transfer-encoding:", b"connection:")
        kept = [h for h in headers if not h.lower().startswith(dropped)]
        lines = [status_line, *kept, b"Content-Length: %d" % len(body), b"Connection: close"]
        writer.write(b"\r\n".join([*lines, b"", b""]) + body)
        await writer.drain()

    return behave


# ------------------------------------------------------------------ item 1: lone surrogates


async def test_lone_surrogates_cost_nothing_and_never_take_metrics_or_the_page_down(
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    start_exporter: StartExporter,
    tmp_path: Path,
) -> None:
    sim = await start_simulator(scenario="demo", clusters=4, tenants=3, seed=3)
    agents = {}
    for name, keys in {
        "ob-names": ("tenant_name", "restore_tenant_name"),
        "ob-status": ("status",),
        "ocp": ("clusterName",),
        "cloud": ("tenantName",),
    }.items():
        agent = agents[name] = await start_agent(upstream=sim.base_url)
        agent.faults[ALL_PATHS] = poisoned(agent, *keys)
    failing = await start_agent(upstream=sim.base_url)
    broken = {"code": 1, "errCode": "Common.Unexpected", "message": f"broken {LONE} text"}
    failing.faults["/obshell/2/api/v1/tenants/overview"] = respond(
        500, json.dumps({"successful": False, "status": 500, "error": broken}).encode()
    )
    secret = secret_file(tmp_path)
    for name, value_ in {
        "ocp_pw": sim.ocp.account.password,
        "cloud_sk": sim.cloud.account.access_key_secret,
    }.items():
        (tmp_path / name).write_text(value_)
    fast = ", interval: 2s, timeout: 1500ms"  # generous: two cores shared
    lines = [
        target_line("healthy", sim.agent_url(3), secret, fast),
        target_line("ob-names", f"{agents['ob-names'].url}/obshell/0", secret, fast),
        target_line("ob-status", f"{agents['ob-status'].url}/obshell/1", secret, fast),
        target_line("ob-error", f"{failing.url}/obshell/2", secret, fast),
        f"  - {{name: ocp, source: ocp, url: '{agents['ocp'].url}',"
        f" username: {sim.ocp.account.username}, password_file: '{tmp_path / 'ocp_pw'}'{fast}}}\n",
        f"  - {{name: cloud, source: cloud, url: '{agents['cloud'].url}',"
        f" access_key_id: {sim.cloud.account.access_key_id},"
        f" access_key_secret_file: '{tmp_path / 'cloud_sk'}'{fast}}}\n",
    ]
    exporter = await start_exporter(write_config(tmp_path, lines))
    names = ("healthy", "ob-names", "ob-status", "ob-error", "ocp", "cloud")

    def polled(parsed: Samples) -> bool:
        """every target polled twice, the hostile ones with their data"""
        polls = "oceanbase_backup_exporter_polls_total"
        return all((value(parsed, polls, target=t) or 0) >= 2 for t in names) and all(
            any(REPLACED in v for v in label_values(parsed, t, label))
            for t, label in (
                ("ob-names", "tenant_name"),
                ("ob-status", "raw_status"),
                ("ocp", "ob_cluster_name"),
                ("cloud", "tenant_name"),
            )
        )

    parsed = await exporter.until(polled, seconds=40)
    assert "pay" + REPLACED in label_values(parsed, "ob-names", "tenant_name")
    assert label_values(parsed, "healthy", "tenant_name") >= {"app", "pay", "crm"}
    for target in ("healthy", "ob-names", "ob-status", "ocp", "cloud"):
        assert value(parsed, UP, target=target) == 1, (target, errors(parsed, target))
    assert value(parsed, UP, target="ob-error") == 0
    assert errors(parsed, "ob-error").keys() == {(TENANTS, "api_error")}
    openmetrics = await exporter.client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text"}
    )
    assert openmetrics.status_code == 200
    families = list(openmetrics_families(openmetrics.text))  # a strict parser: it must pass
    assert any(REPLACED in s.labels.get("ob_cluster_name", "") for f in families for s in f.samples)
    page = await exporter.client.get("/")
    assert page.status_code == 200
    assert f"broken {REPLACED} text" in page.text, "the message is kept, its bad half replaced"
    assert (await exporter.client.get("/-/healthy")).status_code == 200
    log = await exporter.stop()
    assert "Traceback" not in log and "level=error" not in log


def test_one_targets_unencodable_bytes_cost_no_other_target() -> None:
    # Past every source's boundary (a config label, say), a lone surrogate still must not fail
    # the whole exposition: its target's lines carry U+FFFD, the others are untouched.
    def snapshot(name: str, tenant: str) -> TargetSnapshot:
        identity = ClusterIdentity(name="c", id="1", version="4.3.5.1")
        tenants = (Tenant(name=tenant, tenant_id=1002, tenant_status="NORMAL"),)
        cluster = Cluster(identity=identity, tenants=tenants)
        return TargetSnapshot(
            name=name,
            source="obshell",
            labels=(("site", "hz" + LONE),) if name == "bad" else (),
            health=TargetHealth(up=True, last_error=f"oops {LONE}"),
            data=TargetData(clusters=(cluster,), polled_at=time.time()),
            stale_after=60.0,
        )

    targets = [snapshot("bad", "t" + LONE), snapshot("good", "app")]
    exposition = Exposition(lambda _: targets, lambda: ExporterState(True, None))
    for open_metrics in (False, True):
        text = exposition.body(open_metrics, gzipped=False).decode()
        assert f'tenant_name="t{REPLACED}"' in text and 'tenant_name="app"' in text
    assert render(collect(targets, None), open_metrics=False).decode().count(REPLACED) > 0


# ------------------------------------------------------- item 5 and low: hostile tenant names

HOSTILE_NAMES = ("nul\x00x", "esc\x1bx", "del\x7fx", "q?x", "h#x", "sp ace", "pct%2Fx", "nl\nx")
UNADDRESSABLE = "sl/ash"  # obshell routes on the decoded path: no URL can name this tenant


async def test_tenant_names_are_one_path_segment_whatever_they_hold(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=10, seed=3)
    world_tenants = sim.world.clusters[0].tenants
    for tenant, name in zip(world_tenants[1:], (*HOSTILE_NAMES, UNADDRESSABLE), strict=True):
        tenant.name = name
    secret = secret_file(tmp_path)
    lines = [
        target_line("c0", sim.agent_url(0), secret),
        # `.` matches a newline, as in Prometheus: the filter sees the name like any other.
        target_line("only", sim.agent_url(0), secret, ", tenants: {include: ['nl.x', 'app']}"),
    ]
    poller = poller_for(write_config(tmp_path, lines))
    for _ in range(2):
        await poller.poll_all_once()
    parsed = rendered(poller)

    assert value(parsed, UP, target="c0") == 1
    shown = label_values(parsed, "c0", "tenant_name")
    assert shown == {"app", *HOSTILE_NAMES, UNADDRESSABLE}
    # Each name reached its own tenant's routes (the simulator routes on the decoded path).
    assert log_backup_tenants(parsed, "c0") == {"app", *HOSTILE_NAMES}
    assert errors(parsed, "c0") == {
        (BACKUP_INFO, "decode"): 2,
        (LOG_TASKS, "decode"): 2,
        (BACKUP_JOBS, "decode"): 2,  # one history read (two calls, one error) per poll
    }
    assert "cannot be sent as one path segment" in poller.runners["c0"].health.last_error
    supported = {dict(k[1])["endpoint"]: v for k, v in parsed.items() if k[0] == SUPPORTED}
    assert supported and all(v == 1 for v in supported.values()), supported
    assert label_values(parsed, "only", "tenant_name") == {"app", "nl\nx"}


def _late(status: int, error: dict[str, str]) -> Behaviour:
    """An obshell error envelope (no `data` key), sent after the other tenants' answers."""
    answer = respond(
        status, json.dumps({"successful": False, "status": status, "error": error}).encode()
    )

    async def behave(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
    ) -> None:
        await asyncio.sleep(0.3)
        await answer(reader, writer, request)

    return behave


async def test_a_404_for_one_tenant_never_unsupports_the_route(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=2, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)
    # Cluster 0: obshell's "no such route" for pay only (a proxy's doing, say). Cluster 1: a
    # 4.3.1+ 404 with another errCode: about this tenant, never about the route.
    no_route = {"errCode": "Common.NotFound", "message": "Element not found: 404 not found"}
    not_found = {"errCode": "Common.NotFound", "message": "Element not found: tenant"}
    agent.faults["/obshell/0/api/v1/tenant/pay/backup/info"] = _late(404, no_route)
    agent.faults["/obshell/1/api/v1/tenant/pay/backup/info"] = _late(404, not_found)
    secret = secret_file(tmp_path)
    lines = [target_line(f"c{i}", f"{agent.url}/obshell/{i}", secret) for i in range(2)]
    poller = poller_for(write_config(tmp_path, lines))
    for _ in range(3):
        await poller.poll_all_once()
    parsed = rendered(poller)
    for target in ("c0", "c1"):
        assert value(parsed, SUPPORTED, target=target, endpoint=BACKUP_INFO) == 1, target
        assert log_backup_tenants(parsed, target) == {"app", "pay", "crm"}  # pay's: log tasks
    assert errors(parsed, "c0") == {(BACKUP_INFO, "http_status"): 3}
    assert errors(parsed, "c1") == {}


async def test_a_tenant_listed_twice_is_one_series_set(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)

    def twice(document: Any) -> Any:
        rows = document["data"]["contents"]
        pay = next(r for r in rows if r["tenant_name"] == "pay")
        rows.append({**pay, "status": "LOCKED"})  # a second, different row for pay
        return document

    agent.faults["/obshell/0/api/v1/tenants/overview"] = rewrite(agent, twice)
    secret = secret_file(tmp_path)
    poller = poller_for(
        write_config(tmp_path, [target_line("c0", f"{agent.url}/obshell/0", secret)])
    )
    await poller.poll_all_once()
    for open_metrics in (False, True):
        text = render(collect(poller.snapshots(), None), open_metrics).decode()
        if open_metrics:
            list(openmetrics_families(text))  # rejects a body with duplicate series
        lines = [line for line in text.splitlines() if line.startswith("oceanbase_tenant_info{")]
        assert len([line for line in lines if 'tenant_name="pay"' in line]) == 1, lines
        assert [line for line in lines if 'tenant_name="pay"' in line and "NORMAL" in line]
    parsed = rendered(poller)
    assert errors(parsed, "c0") == {(TENANTS, "decode"): 1}
    assert "'pay' is listed twice" in poller.runners["c0"].health.last_error


def test_control_characters_in_header_settings_are_config_errors(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "targets:\n"
        "  - {name: c, source: cloud, url: 'https://cloud.example', access_key_id: \"ak\\r\\n\","
        '     access_key_secret: sk, project_id: "p\\r\\nX-Injected: 1"}\n'
        "  - {name: o, source: ocp, url: 'https://ocp.example', username: \"ad\\nmin\","
        "     password: pw}\n"
        "  - {name: s, source: ocp, url: 'https://ocp.example', access_key_id: \"ak\\u0000\","
        "     access_key_secret: sk}\n"
    )
    result = run_cli("--config.file", str(config), "--config.check")
    assert result.returncode == 1, result.stderr
    for key in ("targets[0].access_key_id", "targets[0].project_id", "targets[1].username",
                "targets[2].access_key_id"):  # fmt: skip
        assert f"{key}: must not contain control characters" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- item 7: a secret cut off


def _windows(secret: str, size: int = 8) -> Iterable[str]:
    return (secret[i : i + size] for i in range(len(secret) - size + 1))


async def test_a_secret_cut_by_the_message_limit_never_leaks(
    start_agent: StartAgent, start_exporter: StartExporter, tmp_path: Path
) -> None:
    planted = secrets.token_hex(16)
    # Twelve characters of the secret mid-message, then the whole secret across the 300th
    # character, then text: Cloud adds the request id after the message.
    head = f"signature mismatch near {planted[5:17]}; "
    message = head + "x" * (290 - len(head)) + planted + " was not accepted"
    failure = {"success": False, "errorCode": "E1", "errorMessage": message, "requestId": "r-1"}
    agent = await start_agent()
    agent.faults[ALL_PATHS] = respond(500, json.dumps(failure).encode())
    (tmp_path / "sk").write_text(planted + "\n")
    config = write_config(
        tmp_path,
        [
            f"  - {{name: cloud, source: cloud, url: '{agent.url}', access_key_id: ak,"
            f" access_key_secret_file: '{tmp_path / 'sk'}', interval: 1s, timeout: 500ms}}\n"
        ],
    )
    exporter = await start_exporter(config)
    await exporter.until(lambda p: value(p, UP, target="cloud") == 0)
    page = (await exporter.client.get("/")).text
    log = await exporter.stop()
    once = await asyncio.to_thread(run_cli, "--config.file", str(config), "--once")
    assert "signature mismatch near &lt;redacted&gt;" in page, "the message is kept, scrubbed"
    assert "r-1" in once.stderr
    for where, text in {"/": page, "the log": log, "--once": once.stdout + once.stderr}.items():
        for window in _windows(planted):
            assert window not in text, f"8 characters of the secret leaked into {where}"


# --------------------------------------------------------------------- low: Retry-After


def _busy(status: int, retry_after: str | None) -> Behaviour:
    extra = f"Retry-After: {retry_after}\r\n" if retry_after is not None else ""
    body = b'{"successful": false, "status": %d, "error": {"message": "busy"}}' % status

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(
            f"HTTP/1.1 {status} Busy\r\nContent-Type: application/json\r\n{extra}"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return behave


async def test_retry_after_delays_the_targets_next_poll_up_to_stale_after(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=6, tenants=2, seed=3)
    agent = await start_agent(upstream=sim.base_url)
    in_five = format_datetime(datetime.fromtimestamp(time.time() + 5, UTC), usegmt=True)
    cases = {  # target: (status, Retry-After, the next poll's delay: a range)
        "seconds": (503, "7", (7.0, 7.0)),
        "date": (429, in_five, (3.0, 5.0)),
        # (stale_after - interval) / (1 + JITTER): even the jittered poll comes in time.
        "too-long": (503, "3600", (18 / 1.1, 18 / 1.1)),
        "no-header": (503, None, (2.0, 2.0)),  # the interval
        "garbage": (429, "soon", (2.0, 2.0)),
        "too-many-digits": (503, "9" * 400, (2.0, 2.0)),  # no float holds it: ignored
    }
    secret = secret_file(tmp_path)
    lines = []
    for index, (target, (status, header, _)) in enumerate(cases.items()):
        agent.faults[f"/obshell/{index}/api/v1/tenants/overview"] = _busy(status, header)
        extra = ", interval: 2s, timeout: 1s, stale_after: 20s"
        lines.append(target_line(target, f"{agent.url}/obshell/{index}", secret, extra))
    poller = poller_for(write_config(tmp_path, lines))
    await poller.poll_all_once()
    for target, (status, _, (low, high)) in cases.items():
        delay = poller.runners[target].next_delay
        assert low <= delay <= high, (target, delay)
        # The busy answer is the target's error, never a crash of the poll.
        assert "HTTP 503" in poller.runners[target].health.last_error or status == 429, target
    # Once the upstream answers again, the interval is back.
    agent.faults.clear()
    await poller.poll_all_once()
    assert all(runner.next_delay == 2.0 for runner in poller.runners.values())
