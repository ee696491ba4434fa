"""Upstream faults per target, per endpoint and per tenant, through real sockets: what users see.

For every fault: the failing target's `target_up` and `poll_errors_total{endpoint,reason}` say
what happened, with the exact reason; every other target's data is untouched and on time; a bad
tenant costs only that tenant; the log has one clear line per failed request and no traceback;
the target recovers by itself once the fault clears; and data is never shown as fresh once it
is older than `stale_after`. The last test runs the exporter as a process through all of it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pytest_httpserver import HTTPServer

from exporter.config import load_config
from exporter.logs import JSONFormatter, LogfmtFormatter, fields_of
from exporter.poller import Poller, TargetRunner
from exporter.sources.base import PollResult
from exporter.sources.errors import PollError
from exporter.sources.http import RequestStats
from exporter.sources.obshell import routes
from tests.hardening.raw_agent import (
    ALL_PATHS,
    Behaviour,
    close_at_once,
    deep_json,
    gzip_bomb,
    huge_header,
    no_answer,
    not_http,
    oversized,
    redirect_to_itself,
    reset_mid_body,
    respond,
    rewrite,
    slow_headers,
    trickled_body,
)
from tests.helpers.configs import PASSWORD, obshell_config
from tests.helpers.exposition import Samples, value
from tests.helpers.hardening import (
    ExporterProcess,
    PollerFor,
    StartAgent,
    StartSimulator,
    secret_file,
    target_line,
    write_config,
)
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.payloads import standard_routes
from tests.helpers.polling import rendered
from tests.helpers.process import free_port
from tests.helpers.tls_material import CA

INFO, SECRET, OB_INFO, TENANTS = routes.INFO, "/api/v1/secret", routes.OB_INFO, routes.TENANTS
CLUSTER_BACKUP, TENANT_BACKUP = routes.CLUSTER_BACKUP, routes.TENANT_BACKUP
BACKUP_INFO, LOG_TASKS, BACKUP_JOBS = routes.BACKUP_INFO, routes.LOG_TASKS, routes.BACKUP_JOBS
RESTORE_TASKS, RESTORE_OVERVIEW = routes.RESTORE_TASKS, routes.RESTORE_OVERVIEW
# Every route the exporter asks obshell for (the per-tenant overview: see its own test).
ROUTES = (INFO, SECRET, OB_INFO, TENANTS, CLUSTER_BACKUP, BACKUP_INFO, LOG_TASKS, BACKUP_JOBS,
          RESTORE_TASKS, RESTORE_OVERVIEW)  # fmt: skip
# Without these a poll has nothing to show (the key lookup is part of the first signed call).
REQUIRED = {INFO, SECRET, OB_INFO, TENANTS}
# The demo scenario's tenants: one with a running backup, one never backed up, one restoring.
DEMO_TENANTS = {"app", "pay", "crm", "app_r1"}
# The healthy scenario's: all backed up and archiving.
HEALTHY_TENANTS = {"app", "pay", "crm"}
EXTRA = ", timeout: 500ms, interval: 30s"

# What each simulator fault is counted as.
KIND_REASONS = {
    "http_500": "api_error",
    "html_500": "http_status",
    "unauthorized": "auth",
    "not_json": "decode",
    "truncated_json": "decode",
    "slow_body": "timeout",
    "reset": "connection",
    "latency": "timeout",
}
# The key lookup runs inside the auth flow, which judges a failed lookup by its status only.
SECRET_REASONS = {**KIND_REASONS, "http_500": "http_status", "unauthorized": "http_status"}
POLL_ERRORS = "oceanbase_backup_exporter_poll_errors_total"
UP = "oceanbase_backup_exporter_target_up"


def errors(parsed: Samples, target: str) -> dict[tuple[str, str], float]:
    """The target's poll_errors_total by (endpoint, reason)."""
    found = {}
    for (name, labels), count in parsed.items():
        label = dict(labels)
        if name == POLL_ERRORS and label["target"] == target:
            found[(label.get("endpoint", ""), label["reason"])] = count
    return found


def tenants(parsed: Samples, target: str) -> set[str]:
    """The tenants the target's data shows."""
    return {
        dict(labels)["tenant_name"]
        for (name, labels), _ in parsed.items()
        if name == "oceanbase_tenant_info" and ("target", target) in labels
    }


def log_backup_tenants(parsed: Samples, target: str) -> set[str]:
    """The tenants whose log backup checkpoint the target's data shows."""
    return {
        dict(labels)["tenant_name"]
        for (name, labels), _ in parsed.items()
        if name == "oceanbase_log_backup_checkpoint_timestamp_seconds"
        and ("target", target) in labels
    }


def poll_failed_records(caplog: pytest.LogCaptureFixture, target: str) -> list[logging.LogRecord]:
    """The exporter's log records about failed requests of `target`."""
    return [
        r
        for r in caplog.records
        if r.getMessage() == "poll failed" and fields_of(r).get("target") == target
    ]


def poll_failed_lines(caplog: pytest.LogCaptureFixture, target: str) -> list[str]:
    """Those records as logfmt lines."""
    return [LogfmtFormatter().format(r) for r in poll_failed_records(caplog, target)]


def assert_clear_log(caplog: pytest.LogCaptureFixture) -> None:
    """The exporter logged one line per event, none with a traceback, none at error level."""
    ours = [r for r in caplog.records if r.name.startswith("exporter")]
    assert ours, "nothing was logged"
    for record in ours:
        assert record.exc_info is None, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()
        assert "\n" not in record.getMessage()
    # asyncio reports tasks that died with an exception, aiohttp unclosed sessions: none.
    assert not [r for r in caplog.records if r.name == "asyncio"]


def assert_errors_logged(caplog: pytest.LogCaptureFixture, parsed: Samples, target: str) -> None:
    """Each counted error has its one log line, naming the endpoint and the reason."""
    logged = [fields_of(r) for r in poll_failed_records(caplog, target)]
    for (endpoint, reason), count in errors(parsed, target).items():
        matching = [f for f in logged if (f["endpoint"], f["reason"]) == (endpoint, reason)]
        assert len(matching) == count, (target, endpoint, reason, logged)


def assert_recovered(parsed: Samples, target: str, before: dict[tuple[str, str], float]) -> None:
    """Up, a complete poll, the demo's tenants, and no new error."""
    assert value(parsed, UP, target=target) == 1, errors(parsed, target)
    assert (
        value(
            parsed, "oceanbase_backup_exporter_last_poll_success_timestamp_seconds", target=target
        )
        is not None
    )
    assert tenants(parsed, target) == DEMO_TENANTS
    assert errors(parsed, target) == before


def assert_unaffected(poller: Poller, parsed: Samples, target: str) -> None:
    """A healthy target beside failing ones: complete, every request answered (none timed
    out), and no backoff: it waited on nobody's fault.

    Structural, not timed: a poll's duration depends on how loaded the machine is.
    """
    assert value(parsed, UP, target=target) == 1
    assert errors(parsed, target) == {}
    assert tenants(parsed, target) == DEMO_TENANTS
    success = "oceanbase_backup_exporter_last_poll_success_timestamp_seconds"
    assert value(parsed, success, target=target) is not None
    runner = poller.runners[target]
    assert runner.stats.requests and not runner.stats.errors, runner.stats.errors
    # Slots for every target at once: none could queue behind a failing one.
    assert poller.config.concurrency >= len(poller.runners)
    assert runner.next_delay == runner.target.interval  # no backoff


# ----------------------------------------------------------------- each fault on each endpoint


@pytest.mark.parametrize("kind", sorted(KIND_REASONS))
async def test_each_simulator_fault_on_each_endpoint(
    kind: str,
    start_simulator: StartSimulator,
    poller_for: PollerFor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    quiet_simulator: None,
) -> None:
    # Cluster i has the fault on ROUTES[i]; the last cluster is healthy.
    sim = await start_simulator(scenario="demo", clusters=len(ROUTES) + 1, tenants=3, seed=3)
    # From 4.3.2 /restore/tasks has the running restore's row: only older agents are asked for
    # the restore overview.
    sim.world.clusters[ROUTES.index(RESTORE_OVERVIEW)].version = "4.3.0.0"
    for index, route in enumerate(ROUTES):
        # Past the 0.5 s timeout: 1 s of latency, or a body in ten parts 0.1 s apart.
        sim.faults.add(kind, route=route, cluster=index, delay=1.0 if kind == "latency" else 0.1)
    secret = secret_file(tmp_path)
    lines = [target_line(f"c{i}", sim.agent_url(i), secret, EXTRA) for i in range(len(ROUTES) + 1)]
    poller = poller_for(write_config(tmp_path, lines))
    caplog.set_level(logging.INFO)

    await poller.poll_all_once()
    parsed = rendered(poller)

    for index, route in enumerate(ROUTES):
        target = f"c{index}"
        reason = (SECRET_REASONS if route == SECRET else KIND_REASONS)[kind]
        endpoint = OB_INFO if route == SECRET else route  # the signed call that needed the key
        assert errors(parsed, target).keys() == {(endpoint, reason)}, (route, parsed)
        # An auth failure anywhere stops the poll (a wrong password must not be retried per
        # tenant); so does a dead agent on the cluster-wide backup call (no per-tenant retries).
        whole = (
            route in REQUIRED
            or reason == "auth"
            or (route == CLUSTER_BACKUP and reason in ("timeout", "connection"))
        )
        assert value(parsed, UP, target=target) == (0 if whole else 1), route
        assert tenants(parsed, target) == (set() if whole else DEMO_TENANTS), route
        assert_errors_logged(caplog, parsed, target)
    if KIND_REASONS[kind] not in ("timeout", "connection"):  # those fail below HTTP, unnamed
        assert any(SECRET in line for line in poll_failed_lines(caplog, "c1")), "names the lookup"
    assert_unaffected(poller, parsed, f"c{len(ROUTES)}")
    assert_clear_log(caplog)

    sim.faults.clear()
    await poller.poll_all_once()
    healed = rendered(poller)
    for index in range(len(ROUTES)):
        assert_recovered(healed, f"c{index}", errors(parsed, f"c{index}"))


async def test_per_tenant_overview_is_judged_when_the_cluster_call_fails(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path, quiet_simulator: None
) -> None:
    sim = await start_simulator(scenario="demo", clusters=2, tenants=3, seed=3)
    for cluster, kind in enumerate(("html_500", "reset")):
        sim.faults.add("html_500", route=CLUSTER_BACKUP, cluster=cluster)
        sim.faults.add(kind, route=TENANT_BACKUP, cluster=cluster)
    secret = secret_file(tmp_path)
    lines = [target_line(f"c{i}", sim.agent_url(i), secret, EXTRA) for i in range(2)]
    poller = poller_for(write_config(tmp_path, lines))
    await poller.poll_all_once()
    parsed = rendered(poller)
    for target, reason in (("c0", "http_status"), ("c1", "connection")):
        assert errors(parsed, target).keys() == {
            (CLUSTER_BACKUP, "http_status"),
            (TENANT_BACKUP, reason),
        }
        assert value(parsed, UP, target=target) == 1
        assert tenants(parsed, target) == DEMO_TENANTS
        assert value(parsed, "oceanbase_backup_task_info", target=target, tenant_name="app") is None
    sim.faults.clear()
    await poller.poll_all_once()
    healed = rendered(poller)
    assert value(healed, "oceanbase_backup_task_info", target="c0", tenant_name="app") == 1


async def test_unknown_enum_values_become_unknown_and_keep_the_raw_string(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    for route in (TENANTS, CLUSTER_BACKUP, LOG_TASKS, RESTORE_TASKS, RESTORE_OVERVIEW):
        sim.faults.add("unknown_enum", route=route, value="SOMETHING_NEW")
    secret = secret_file(tmp_path)
    poller = poller_for(write_config(tmp_path, [target_line("c0", sim.agent_url(0), secret)]))
    await poller.poll_all_once()
    parsed = rendered(poller)
    app = {"target": "c0", "tenant_name": "app"}
    assert errors(parsed, "c0") == {}
    assert value(parsed, "oceanbase_tenant_info", **app, tenant_status="SOMETHING_NEW") == 1
    assert value(parsed, "oceanbase_backup_task_status", **app, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_backup_task_status", **app, status="COMPLETED") == 0
    assert value(parsed, "oceanbase_backup_task_info", **app, raw_status="SOMETHING_NEW") == 1
    assert value(parsed, "oceanbase_log_backup_status", **app, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_log_backup_info", **app, raw_status="SOMETHING_NEW") == 1
    restore = {"target": "c0", "tenant_name": "app_r1"}
    assert value(parsed, "oceanbase_restore_status", **restore, status="UNKNOWN") == 1
    assert value(parsed, "oceanbase_restore_info", **restore, raw_status="SOMETHING_NEW") == 1


# ------------------------------------------------------------- one bad tenant, wrong JSON content


def _set(path: tuple[str | int, ...], new: Any) -> Callable[[Any], Any]:
    """A document change: set the value at `path` (keys and list indexes)."""

    def change(document: Any) -> Any:
        node = document
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = new
        return document

    return change


def _drop(path: tuple[str | int, ...]) -> Callable[[Any], Any]:
    """A document change: delete the key at `path`."""

    def change(document: Any) -> Any:
        node = document
        for step in path[:-1]:
            node = node[step]
        del node[path[-1]]
        return document

    return change


# What is wrong: (which of pay's two log backup answers, the change to it). The other answer
# is an HTML 500, so pay has nothing left to show its log backup with.
INFO_OF_PAY, TASKS_OF_PAY = "backup/info", "backup/log/tasks"
WRONG_JSON: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "missing data": (INFO_OF_PAY, _drop(("data",))),
    "missing required field": (TASKS_OF_PAY, _drop(("data", "contents", 0, "status"))),
    "wrong type": (INFO_OF_PAY, _set(("data", "tenant_id"), "one thousand")),
    "list for an object": (INFO_OF_PAY, _set(("data",), [1, 2, 3])),
    "number past 64 bits": (TASKS_OF_PAY, _set(("data", "contents", 0, "round_id"), 10**30)),
    "number past float": (INFO_OF_PAY, _set(("data", "tenant_id"), 10**400)),
    "infinity": (INFO_OF_PAY, _set(("data", "archive_log_delay"), float("inf"))),
    "NaN": (TASKS_OF_PAY, _set(("data", "contents", 0, "delay"), float("nan"))),
    "not an envelope": (INFO_OF_PAY, lambda _: "just a string"),
}


@pytest.mark.parametrize("problem", sorted(WRONG_JSON))
async def test_wrong_json_for_one_tenant_costs_only_that_tenant(
    problem: str,
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    poller_for: PollerFor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)
    secret = secret_file(tmp_path)
    poller = poller_for(
        write_config(tmp_path, [target_line("c0", agent.url + "/obshell/0", secret)])
    )
    caplog.set_level(logging.INFO)
    await poller.poll_all_once()
    before = rendered(poller)
    assert log_backup_tenants(before, "c0") == HEALTHY_TENANTS

    wrong, change = WRONG_JSON[problem]
    other = TASKS_OF_PAY if wrong == INFO_OF_PAY else INFO_OF_PAY
    agent.faults[f"/obshell/0/api/v1/tenant/pay/{wrong}"] = rewrite(agent, change)
    agent.faults[f"/obshell/0/api/v1/tenant/pay/{other}"] = respond(
        500, b"<h1>500</h1>", "text/html"
    )
    await poller.poll_all_once()
    parsed = rendered(poller)

    assert value(parsed, UP, target="c0") == 1
    assert tenants(parsed, "c0") == HEALTHY_TENANTS
    # pay's log backup is gone, not kept from the last poll; the others' is fresh.
    assert log_backup_tenants(parsed, "c0") == {"app", "crm"}
    route = {INFO_OF_PAY: BACKUP_INFO, TASKS_OF_PAY: LOG_TASKS}
    assert errors(parsed, "c0") == {(route[wrong], "decode"): 1, (route[other], "http_status"): 1}
    assert_errors_logged(caplog, parsed, "c0")
    assert_clear_log(caplog)

    agent.faults.clear()
    await poller.poll_all_once()
    assert log_backup_tenants(rendered(poller), "c0") == HEALTHY_TENANTS


async def test_a_bad_tenant_in_the_cluster_overview_costs_only_that_tenant(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    # One tenant's row is impossible (a byte count past float range) in both the cluster-wide
    # call and its own: the exporter falls back to per-tenant calls and loses only that tenant.
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)

    def break_pay(document: Any) -> Any:
        rows = document["data"]["statuses"]
        rows[[r["tenant_id"] for r in rows].index(1004)]["input_bytes"] = 10**400
        return document

    agent.faults["/obshell/0/api/v1/obcluster/backup/overview"] = rewrite(agent, break_pay)
    agent.faults["/obshell/0/api/v1/tenant/pay/backup/overview"] = rewrite(
        agent, _set(("data", "status", "input_bytes"), 10**400)
    )
    secret = secret_file(tmp_path)
    poller = poller_for(
        write_config(tmp_path, [target_line("c0", agent.url + "/obshell/0", secret)])
    )
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert set(errors(parsed, "c0")) == {(CLUSTER_BACKUP, "decode"), (TENANT_BACKUP, "decode")}
    assert value(parsed, UP, target="c0") == 1
    for name in ("app", "crm"):
        assert value(parsed, "oceanbase_backup_task_info", target="c0", tenant_name=name) == 1
    assert value(parsed, "oceanbase_backup_task_info", target="c0", tenant_name="pay") is None
    assert value(parsed, "oceanbase_tenant_info", target="c0", tenant_name="pay") == 1


async def test_negative_numbers_are_shown_as_reported_and_never_as_progress(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)

    def negative(document: Any) -> Any:
        for row in document["data"]["statuses"]:
            row.update(input_bytes=-5, tablet_count=-1, finish_tablet_count=3, end_scn=-1)
        return document

    agent.faults["/obshell/0/api/v1/obcluster/backup/overview"] = rewrite(agent, negative)
    secret = secret_file(tmp_path)
    poller = poller_for(
        write_config(tmp_path, [target_line("c0", agent.url + "/obshell/0", secret)])
    )
    await poller.poll_all_once()
    parsed = rendered(poller)
    app = {"target": "c0", "tenant_name": "app"}
    assert errors(parsed, "c0") == {}
    assert value(parsed, "oceanbase_backup_task_input_bytes", **app) == -5
    # A ratio needs a positive total; an SCN at or before the epoch is no time at all.
    assert value(parsed, "oceanbase_backup_task_tablet_progress_ratio", **app) is None
    assert value(parsed, "oceanbase_backup_task_end_scn_timestamp_seconds", **app) is None


# ------------------------------------------------------------------- below HTTP: raw misbehaviour

# name: (behaviour, reason, a phrase of the message)
RAW_FAULTS: dict[str, tuple[Callable[[], Behaviour], str, str]] = {
    "no answer": (no_answer, "timeout", "no answer within 0.5s"),
    "slow headers": (slow_headers, "timeout", "no answer within 0.5s"),
    "body trickled past the timeout": (trickled_body, "timeout", "no answer within 0.5s"),
    "reset mid-body": (reset_mid_body, "connection", "payload"),
    "closed without an answer": (close_at_once, "connection", "Server disconnected"),
    "redirect loop": (redirect_to_itself, "http_status", "HTTP 302"),
    "not HTTP": (not_http, "connection", "malformed HTTP response"),
    "header past the parser's limit": (huge_header, "connection", "malformed HTTP response"),
    "body past the cap, length declared": (
        lambda: oversized(20, declared=True),
        "decode",
        "larger than 16777216",
    ),
    "body past the cap, chunked": (
        lambda: oversized(20, declared=False),
        "decode",
        "larger than 16777216",
    ),
    "gzip bomb": (gzip_bomb, "decode", "gzip-encoded"),
    "JSON nested past the stack": (deep_json, "decode", "not a JSON object"),
}
# Where a fault sits: (path under the agent's prefix, the endpoint it is counted on, up after).
PLACES = {
    "agent info": ("/api/v1/info", INFO, 0),
    "key lookup": ("/api/v1/secret", OB_INFO, 0),
    "tenant list": ("/api/v1/tenants/overview", TENANTS, 0),
    "one tenant": ("/api/v1/tenant/pay/backup/info", BACKUP_INFO, 1),
}


@pytest.mark.parametrize("fault", sorted(RAW_FAULTS))
async def test_raw_faults_per_endpoint_and_per_target(
    fault: str,
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    poller_for: PollerFor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    make, reason, phrase = RAW_FAULTS[fault]
    # Cluster i behind `agent` has the fault at PLACES[i]; behind `whole`, on every path.
    sim = await start_simulator(scenario="demo", clusters=len(PLACES) + 2, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)
    whole = await start_agent(upstream=sim.base_url)
    whole.faults[ALL_PATHS] = make()
    secret = secret_file(tmp_path)
    lines = []
    for index, (path, _, _) in enumerate(PLACES.values()):
        agent.faults[f"/obshell/{index}{path}"] = make()
        lines.append(target_line(f"c{index}", f"{agent.url}/obshell/{index}", secret, EXTRA))
    lines.append(target_line("whole", f"{whole.url}/obshell/{len(PLACES)}", secret, EXTRA))
    lines.append(target_line("healthy", sim.agent_url(len(PLACES) + 1), secret, EXTRA))
    poller = poller_for(write_config(tmp_path, lines))
    caplog.set_level(logging.INFO)

    await poller.poll_all_once()
    parsed = rendered(poller)

    expected = {**{f"c{i}": place for i, place in enumerate(PLACES.values())}}
    expected["whole"] = ("*", INFO, 0)
    for target, (_, endpoint, up) in expected.items():
        assert errors(parsed, target).keys() == {(endpoint, reason)}, (target, parsed)
        assert value(parsed, UP, target=target) == up, target
        assert tenants(parsed, target) == (DEMO_TENANTS if up else set()), target
        assert_errors_logged(caplog, parsed, target)
        assert all(phrase in line for line in poll_failed_lines(caplog, target)), target
    assert_unaffected(poller, parsed, "healthy")
    assert_clear_log(caplog)

    agent.faults.clear()
    whole.faults.clear()
    await poller.poll_all_once()
    healed = rendered(poller)
    for target in expected:
        assert_recovered(healed, target, errors(parsed, target))


async def test_refused_then_listening(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    port = free_port()  # nothing listens there until the agent starts on it
    secret = secret_file(tmp_path)
    url = f"http://127.0.0.1:{port}/obshell/0"
    poller = poller_for(write_config(tmp_path, [target_line("c0", url, secret, EXTRA)]))
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert errors(parsed, "c0") == {(INFO, "connection"): 1}
    assert value(parsed, UP, target="c0") == 0
    assert "Connect call failed" in poller.runners["c0"].health.last_error
    await start_agent(upstream=sim.base_url, port=port)
    await poller.poll_all_once()
    assert_recovered(rendered(poller), "c0", {(INFO, "connection"): 1})


async def test_dns_failure(poller_for: PollerFor, tmp_path: Path) -> None:
    # .invalid never resolves (RFC 6761); the resolver answers fast, but give it time.
    url = "http://exporter-test.invalid:2886"
    line = target_line("c0", url, secret_file(tmp_path), ", timeout: 5s")
    poller = poller_for(write_config(tmp_path, [line]))
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert errors(parsed, "c0") == {(INFO, "connection"): 1}
    assert value(parsed, UP, target="c0") == 0
    assert "exporter-test.invalid" in poller.runners["c0"].health.last_error


async def test_tls_failures_then_a_good_certificate(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=2, tenants=3, seed=3)
    trusted = CA(tmp_path, "trusted-ca")
    stranger = CA(tmp_path, "self-signed-ca")  # the exporter was told to trust only `trusted`
    wrong_host = trusted.issue("wrong-host", hosts=("db.example.com",))
    self_signed = stranger.issue("self-signed")
    contexts = []
    for issued in (self_signed, wrong_host):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(issued.cert, issued.key)
        contexts.append(context)
    agents = [await start_agent(upstream=sim.base_url, tls=context) for context in contexts]
    secret = secret_file(tmp_path)
    tls = f", tls: {{ca_file: '{trusted.path}'}}" + EXTRA
    lines = [
        target_line(f"c{i}", f"{a.url}/obshell/{i}", secret, tls) for i, a in enumerate(agents)
    ]
    poller = poller_for(write_config(tmp_path, lines))
    await poller.poll_all_once()
    parsed = rendered(poller)
    for target, phrase in (("c0", "certificate verify failed"), ("c1", "mismatch")):
        assert errors(parsed, target) == {(INFO, "tls"): 1}, target
        assert value(parsed, UP, target=target) == 0
        assert phrase in poller.runners[target].health.last_error, target
    # The operator fixes the certificates: new handshakes present a valid one.
    good = trusted.issue("good")
    for context in contexts:
        context.load_cert_chain(good.cert, good.key)
    await poller.poll_all_once()
    healed = rendered(poller)
    for target in ("c0", "c1"):
        assert_recovered(healed, target, {(INFO, "tls"): 1})


# ------------------------------------------------------------------ credentials, keys, TLS files


async def test_password_change_then_rotation_of_the_secret_file(
    start_simulator: StartSimulator,
    poller_for: PollerFor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    secret = secret_file(tmp_path)
    poller = poller_for(write_config(tmp_path, [target_line("c0", sim.agent_url(0), secret)]))
    caplog.set_level(logging.INFO)
    await poller.poll_all_once()
    sim.world.clusters[0].password = "changed-by-the-dba"
    for _ in range(2):
        await poller.poll_all_once()
    parsed = rendered(poller)
    # Refused at the polls' first signed request: the tenant list (the identity is cached).
    assert errors(parsed, "c0") == {(TENANTS, "auth"): 2}
    assert value(parsed, UP, target="c0") == 0
    runner = poller.runners["c0"]
    assert "IncorrectOceanbasePassword" in runner.health.last_error
    assert runner.next_delay == 2 * runner.target.interval, "backs off: logins can lock root"
    # Data of the last good poll stays until stale_after, and says so by its age.
    assert tenants(parsed, "c0") == DEMO_TENANTS
    secret.write_text("changed-by-the-dba\n")
    await poller.poll_all_once()
    assert_recovered(rendered(poller), "c0", {(TENANTS, "auth"): 2})
    assert runner.next_delay == runner.target.interval
    assert_clear_log(caplog)


async def test_key_rotation_is_transparent(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    secret = secret_file(tmp_path)
    poller = poller_for(write_config(tmp_path, [target_line("c0", sim.agent_url(0), secret)]))
    await poller.poll_all_once()
    sim.world.clusters[0].rotate_key()
    await poller.poll_all_once()
    assert_recovered(rendered(poller), "c0", {})


@pytest.mark.parametrize("bits", [64, 88, 256])
async def test_a_weak_agent_key_is_refused(
    bits: int, httpserver: HTTPServer, poller_for: PollerFor, tmp_path: Path
) -> None:
    # A hostile key lookup could offer a key anyone can factor (or, under 96 bits, one too
    # small to hold a block: that used to crash the poll).
    stub = ObshellStub(httpserver, password=PASSWORD)
    standard_routes(stub)
    weak = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 0x10001).public_key()
    der = weak.public_bytes(Encoding.DER, PublicFormat.PKCS1)
    stub.set("/api/v1/secret", {"public_key": base64.b64encode(der).decode()})
    poller = poller_for(obshell_config(tmp_path, stub.url))
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert errors(parsed, "hz-prod") == {(OB_INFO, "decode"): 1}
    assert f"public key of {bits} bits is weaker than obshell's 512" in (
        poller.runners["hz-prod"].health.last_error
    )


async def test_missing_secret_and_tls_files_at_run_time(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=2, tenants=3, seed=3)
    secret = secret_file(tmp_path)
    ca = CA(tmp_path, "some-ca")
    missing_ca = tmp_path / "later" / "ca.pem"  # its directory does not exist yet either
    lines = [
        target_line("pw", sim.agent_url(0), secret),
        # The simulator speaks plain HTTP: the CA file is loaded, never used.
        target_line("tls", sim.agent_url(1), secret, f", tls: {{ca_file: '{missing_ca}'}}"),
    ]
    poller = poller_for(write_config(tmp_path, lines))
    secret.rename(tmp_path / "pw.moved")
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert errors(parsed, "pw") == {(OB_INFO, "auth"): 1}
    assert errors(parsed, "tls") == {("", "tls"): 1}
    for target in ("pw", "tls"):
        assert value(parsed, UP, target=target) == 0
    assert poller.runners["pw"].health.last_error == (
        f"{OB_INFO}: auth: password_file: cannot read {secret}: No such file or directory"
    )
    assert poller.runners["tls"].health.last_error == (
        f": tls: tls.ca_file: cannot load {missing_ca}: No such file or directory"
    )
    (tmp_path / "pw.moved").rename(secret)
    missing_ca.parent.mkdir()
    missing_ca.write_bytes(ca.path.read_bytes())
    await poller.poll_all_once()
    healed = rendered(poller)
    assert_recovered(healed, "pw", {(OB_INFO, "auth"): 1})
    assert_recovered(healed, "tls", {("", "tls"): 1})


async def test_an_agent_without_backup_routes_and_a_url_that_is_no_agent(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=3, seed=3)
    sim.world.clusters[0].version = "4.2.3.0"  # before 4.2.4 no route of the backup API exists
    secret = secret_file(tmp_path)
    lines = [
        target_line("old", sim.agent_url(0), secret),
        target_line("not-an-agent", f"{sim.base_url}/somewhere/else", secret),
    ]
    poller = poller_for(write_config(tmp_path, lines))
    await poller.poll_all_once()
    parsed = rendered(poller)
    assert errors(parsed, "old") == {}
    assert value(parsed, UP, target="old") == 1
    # 4.2.3 has no /tenants/overview either (it came with the backup API in 4.2.4): the
    # target shows its identity and says which routes it lacks, and no tenant.
    assert tenants(parsed, "old") == set()
    assert value(parsed, "oceanbase_cluster_info", target="old") == 1
    supported = "oceanbase_backup_exporter_endpoint_supported"
    assert value(parsed, supported, target="old", endpoint="/api/v1/tenants/overview") == 0
    assert errors(parsed, "not-an-agent") == {(INFO, "http_status"): 1}
    assert value(parsed, UP, target="not-an-agent") == 0
    assert "is the URL an obshell agent's?" in poller.runners["not-an-agent"].health.last_error


async def test_upstream_text_cannot_forge_log_lines(
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    poller_for: PollerFor,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    agent = await start_agent(upstream=sim.base_url)
    forged = "boom\nts=2000-01-01T00:00:00Z level=error msg=forged\r\x1b[2J\x1b[31mred\x07"
    body = {"successful": False, "status": 500, "error": {"code": 1, "message": forged}}
    agent.faults["/obshell/0/api/v1/tenants/overview"] = respond(500, json.dumps(body).encode())
    secret = secret_file(tmp_path)
    poller = poller_for(
        write_config(tmp_path, [target_line("c0", f"{agent.url}/obshell/0", secret)])
    )
    caplog.set_level(logging.INFO)
    await poller.poll_all_once()
    (record,) = [r for r in caplog.records if r.getMessage().startswith("poll failed")]
    for formatter in (LogfmtFormatter(), JSONFormatter()):
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\x07" not in line
        assert "forged" in line, "the text is kept, escaped"
    # The event's fields are fields, with the same keys in both formats.
    line = LogfmtFormatter().format(record)
    wanted = 'msg="poll failed" target=c0 endpoint=/api/v1/tenants/overview reason=api_error error='
    assert wanted in line, line
    as_json = json.loads(JSONFormatter().format(record))
    assert {k: as_json[k] for k in ("msg", "target", "endpoint", "reason")} == {
        "msg": "poll failed",
        "target": "c0",
        "endpoint": "/api/v1/tenants/overview",
        "reason": "api_error",
    }
    assert "forged" in as_json["error"] and "\n" in as_json["error"]


class _Buggy:
    """A source with a bug: its poll raises what no upstream failure should."""

    async def poll(self) -> PollResult:
        return PollResult(data=None, errors=(PollError("decode", "", str(1 / 0)),))

    def endpoint_support(self) -> dict[str, bool]:
        return {}


async def test_a_bug_in_a_source_is_one_failed_poll_not_a_dead_loop(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = load_config(
        write_config(
            tmp_path,
            [
                target_line(
                    "c0",
                    "http://127.0.0.1:9",
                    secret_file(tmp_path),
                    ", interval: 100ms, timeout: 50ms",
                )
            ],
        )
    )
    runner = TargetRunner(config.targets[0], _Buggy(), RequestStats())
    runner.health.up = True  # as after an earlier good poll
    loop = asyncio.create_task(runner.run())
    try:
        for _ in range(50):  # bounded: the loop polls every 100 ms
            await asyncio.sleep(0.1)
            if runner.health.polls >= 3:
                break
        assert runner.health.polls >= 3 and not loop.done(), "the loop outlived its crashes"
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert runner.health.up is False
    assert runner.health.last_error == "internal error: ZeroDivisionError (see the exporter's log)"
    crashes = [r for r in caplog.records if r.getMessage().startswith("poll crashed (a bug)")]
    assert crashes and all(r.levelno == logging.ERROR and r.exc_info for r in crashes)


# ---------------------------------------------------------------------- stale data is not fresh


async def test_stale_data_is_dropped_and_partial_data_is_never_carried_over(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="demo", clusters=1, tenants=3, seed=3)
    secret = secret_file(tmp_path)
    line = target_line("c0", sim.agent_url(0), secret, ", interval: 20s, stale_after: 40s")
    poller = poller_for(write_config(tmp_path, [line]))
    await poller.poll_all_once()
    good = rendered(poller)
    success = "oceanbase_backup_exporter_last_poll_success_timestamp_seconds"
    polled = value(good, success, target="c0")

    # A failed part of a poll: that part's series go, they are not kept from the last poll.
    sim.faults.add("html_500", route=LOG_TASKS)
    sim.faults.add("html_500", route=BACKUP_INFO)
    await poller.poll_all_once()
    partial = rendered(poller)
    assert value(partial, UP, target="c0") == 1
    assert log_backup_tenants(partial, "c0") == set()
    assert value(partial, success, target="c0") == polled, "an incomplete poll is no success"

    # A failed poll: the last good data stays until stale_after, then goes; `up` says 0 at once.
    sim.faults.add("html_500", route=TENANTS)
    await poller.poll_all_once()
    now = time.time()
    fresh_enough = rendered(poller, now + 35)
    too_old = rendered(poller, now + 45)
    assert value(fresh_enough, UP, target="c0") == 0
    assert tenants(fresh_enough, "c0") == DEMO_TENANTS
    assert tenants(too_old, "c0") == set()
    assert value(too_old, UP, target="c0") == 0
    assert value(too_old, success, target="c0") == polled


# ------------------------------------------------------------- the exporter process through it all


async def test_the_exporter_process_keeps_serving_through_every_fault(
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    start_exporter: Callable[..., Awaitable[ExporterProcess]],
    tmp_path: Path,
    quiet_simulator: None,
) -> None:
    sim = await start_simulator(scenario="demo", clusters=6, tenants=3, seed=3)
    hung = await start_agent(upstream=sim.base_url)
    hung.faults[ALL_PATHS] = no_answer()
    agent = await start_agent(upstream=sim.base_url)
    agent.faults["/obshell/2/api/v1/secret"] = gzip_bomb(1024)  # 1 GiB once decoded
    agent.faults["/obshell/3/api/v1/tenants/overview"] = oversized(256, declared=False)
    # The key lookup is read inside the auth, before the signed call: the cap holds there too.
    agent.faults["/obshell/5/api/v1/secret"] = oversized(1024, declared=False)
    agent.faults["/obshell/4/api/v1/tenant/pay/backup/info"] = respond(
        500, b"<html>bad gateway</html>", "text/html"
    )
    secret = secret_file(tmp_path)
    fast = ", interval: 1s, timeout: 500ms, stale_after: 3s"
    lines = [
        target_line("healthy", sim.agent_url(0), secret, fast),
        target_line("flaky", sim.agent_url(1), secret, fast),
        target_line("bomb", f"{agent.url}/obshell/2", secret, fast),
        target_line("huge", f"{agent.url}/obshell/3", secret, fast),
        target_line("badtenant", f"{agent.url}/obshell/4", secret, fast),
        target_line("hung", f"{hung.url}/obshell/5", secret, fast),
        target_line("hugekey", f"{agent.url}/obshell/5", secret, fast),
        target_line("dead", f"http://127.0.0.1:{free_port()}", secret, fast),
        target_line("tlsfile", sim.agent_url(0), secret, fast + ", tls: {ca_file: /nonexistent}"),
    ]
    exporter = await start_exporter(write_config(tmp_path, lines))

    def all_seen(parsed: Samples) -> bool:
        """every target polled, healthy and flaky with data"""
        return all(
            value(parsed, UP, target=t) is not None for t in ("dead", "hung", "bomb")
        ) and all(tenants(parsed, t) == DEMO_TENANTS for t in ("healthy", "flaky", "badtenant"))

    parsed = await exporter.until(all_seen)
    expected = {
        "bomb": (OB_INFO, "decode"),
        "huge": (TENANTS, "decode"),
        "hugekey": (OB_INFO, "decode"),
        "badtenant": (BACKUP_INFO, "http_status"),
        "hung": (INFO, "timeout"),
        "dead": (INFO, "connection"),
        "tlsfile": ("", "tls"),
    }
    for target, pair in expected.items():
        assert errors(parsed, target).keys() == {pair}, (target, errors(parsed, target))
        assert value(parsed, UP, target=target) == (1 if target == "badtenant" else 0), target

    # The flaky agent starts failing: up goes to 0 at once; its data stays only while it is
    # younger than stale_after; the healthy target's polls go on at its interval.
    sim.faults.add("http_500", route=TENANTS, cluster=1)
    started, polls_before = (
        time.time(),
        value(parsed, "oceanbase_backup_exporter_polls_total", target="healthy"),
    )
    success = "oceanbase_backup_exporter_last_poll_success_timestamp_seconds"
    deadline = time.monotonic() + 10
    saw_down_with_data = False
    while time.monotonic() < deadline:
        parsed = await exporter.metrics()
        now = time.time()
        healthy_success = value(parsed, success, target="healthy")
        assert healthy_success is not None and now - healthy_success < 2.5, "healthy is on time"
        flaky_success = value(parsed, success, target="flaky")
        if tenants(parsed, "flaky"):
            assert flaky_success is not None and now - flaky_success <= 3 + 0.5, "never stale"
            saw_down_with_data |= value(parsed, UP, target="flaky") == 0
        elif value(parsed, UP, target="flaky") == 0:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("the flaky target's data never went stale")
    assert saw_down_with_data, "within stale_after the last data stays, marked by up 0"
    polls = value(parsed, "oceanbase_backup_exporter_polls_total", target="healthy")
    assert polls - polls_before >= (time.time() - started) / 1.1 - 2

    sim.faults.clear()
    parsed = await exporter.until(lambda p: tenants(p, "flaky") == DEMO_TENANTS)
    assert value(parsed, UP, target="flaky") == 1
    assert exporter.status("VmHWM") < 250 * 1024, "1 GiB bodies and bombs are not read"
    log = await exporter.stop()

    assert "Traceback" not in log
    lines_logged = log.splitlines()
    assert all(line.startswith("ts=") for line in lines_logged), "one logfmt line per event"
    assert not [line for line in lines_logged if "level=error" in line]
    for target, (endpoint, reason) in {**expected, "flaky": (TENANTS, "api_error")}.items():
        shown = endpoint or '""'  # logfmt's empty value
        wanted = f'msg="poll failed" target={target} endpoint={shown} reason={reason} '
        assert any(wanted in line and "level=warn" in line for line in lines_logged), wanted
