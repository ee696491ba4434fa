"""Slow and dead targets cost only themselves (issue 16), through real sockets on loopback.

A dead target is a raw TCP listener that accepts and never answers; a slow one is the
simulator with latency on some routes. The claims: a dead target holds no shared slot a live
target needs (beyond one lease on its first poll); `concurrency` bounds the requests in flight
even as a cycle's polls all start; a target that answers and then stalls gives the shared
slots back after their lease; a poll ends by its deadline (its interval) and says so on its
own target's metrics; the process stays healthy through it; a target is never `up` while none
of its data is shown; `/-/ready` waits for every first poll; per-tenant work is bounded in
flight; a runaway tenant list is one clear error. Speed itself is measured by
`python -m bench isolation`, not here.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from exporter import poller as poller_module
from exporter.config import load_config
from exporter.poller import Poller
from exporter.sources.obshell import routes
from tests.hardening.raw_agent import ALL_PATHS, Request, no_answer
from tests.helpers.exposition import value
from tests.helpers.hardening import (
    PollerFor,
    StartAgent,
    StartExporter,
    StartSimulator,
    secret_file,
    target_line,
)
from tests.helpers.polling import rendered

UP = "oceanbase_backup_exporter_target_up"
POLLS = "oceanbase_backup_exporter_polls_total"
ERRORS = "oceanbase_backup_exporter_poll_errors_total"
DURATION = "oceanbase_backup_exporter_last_poll_duration_seconds"
PER_TENANT = (routes.BACKUP_INFO, routes.LOG_TASKS, routes.BACKUP_JOBS)


def config(folder: Path, lines: list[str], concurrency: int = 32) -> Path:
    """A config with a global `concurrency` and these target lines."""
    path = folder / "config.yaml"
    path.write_text(f"concurrency: {concurrency}\ntargets:\n" + "".join(lines))
    return path


def tenant_series(parsed: dict[tuple[str, frozenset[tuple[str, str]]], float], target: str) -> int:
    """How many tenant series the target's data shows."""
    return sum(
        1
        for (name, labels), _ in parsed.items()
        if name == "oceanbase_tenant_info" and ("target", target) in labels
    )


async def live_polls_while_running(poller: Poller, name: str, seconds: float) -> int:
    """Run every loop for `seconds`; the polls `name` finished meanwhile."""
    poller.start()
    await asyncio.sleep(seconds)
    return poller.runners[name].health.polls


async def test_dead_targets_hold_no_slot_a_live_target_needs(
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    poller_for: PollerFor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # One shared slot, four targets that accept and never answer, one live target, all polled
    # every 0.5 s. A target never polled is presumed to answer: its first poll queues for the slot
    # and holds it for one lease (0.3 s here). From then on it is known silent and holds
    # nothing shared. Were it to queue on every poll, the four would want 1.2 s of the slot
    # per round and the live target would get a turn every 1.2 s or so (before issue 16, each
    # held the slot for its whole timeout).
    monkeypatch.setattr(poller_module, "REQUEST_SLOT_LEASE", 0.3, raising=False)
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=2)
    dead = await start_agent()
    dead.faults[ALL_PATHS] = no_answer()
    secret = secret_file(tmp_path)
    lines = [target_line("live", sim.agent_url(0), secret, ", interval: 500ms, timeout: 400ms")]
    lines += [
        target_line(f"dead{i}", dead.url, secret, ", interval: 500ms, timeout: 450ms")
        for i in range(4)
    ]
    poller = poller_for(config(tmp_path, lines, concurrency=1))
    poller.start()
    runners = poller.runners
    for _ in range(100):  # every dead target's first poll over: all now known silent
        if all(runners[f"dead{i}"].health.polls >= 1 for i in range(4)):
            break
        await asyncio.sleep(0.05)
    before = runners["live"].health.polls
    await asyncio.sleep(4.0)
    polls = runners["live"].health.polls - before
    # About 8 expected; generous for a loaded machine (queueing on every poll: 4).
    assert polls >= 6, polls
    assert runners["live"].health.up is True


async def test_requests_in_flight_never_exceed_concurrency_even_as_a_cycle_starts(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    # `concurrency` is the most requests in flight across all targets (the config reference).
    # Twelve targets start their polls together, in the first cycle and in a steady one; the
    # agents see at most 2 requests at a time. Before, each poll's first request went out
    # without a shared slot, so a cycle of 1,000 targets opened 1,000 requests at once (the
    # largest part of the process's peak memory); here 12.
    sim = await start_simulator(scenario="healthy", clusters=12, tenants=2)
    agent = await start_agent(upstream=sim.base_url)
    in_flight = peak = 0

    async def counted(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
    ) -> None:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.02)  # long enough for every poll to have started
            await agent.forward(reader, writer, request)
        finally:
            in_flight -= 1

    agent.faults[ALL_PATHS] = counted
    secret = secret_file(tmp_path)
    lines = [target_line(f"t{i}", f"{agent.url}/obshell/{i}", secret) for i in range(12)]
    poller = poller_for(config(tmp_path, lines, concurrency=2))
    for cycle in ("first", "steady"):
        peak = 0
        results = await poller.poll_all_once()
        assert all(result.complete for result in results), cycle
        assert peak <= 2, (cycle, peak)


async def test_a_target_that_answers_then_stalls_gives_the_shared_slots_back(
    start_simulator: StartSimulator,
    start_agent: StartAgent,
    poller_for: PollerFor,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Half-dead targets: /api/v1/info answers, every later request hangs until its timeout.
    # They take a shared poll slot and request slots, but a request gives its slot back once
    # it has waited a lease on its upstream (shortened here to the test's scale), and its poll
    # then gives back the poll slot; before, both were held for the whole poll.
    monkeypatch.setattr(poller_module, "REQUEST_SLOT_LEASE", 0.05, raising=False)
    sim = await start_simulator(scenario="healthy", clusters=2, tenants=2)
    stalls = await start_agent(upstream=sim.base_url)
    stalls.faults[ALL_PATHS] = no_answer()
    stalls.faults["/obshell/1/api/v1/info"] = stalls.forward
    secret = secret_file(tmp_path)
    half_dead = f"{stalls.url}/obshell/1"
    lines = [target_line("live", sim.agent_url(0), secret, ", interval: 500ms, timeout: 400ms")]
    lines += [
        target_line(f"stalls{i}", half_dead, secret, ", interval: 2s, timeout: 1900ms")
        for i in range(4)
    ]
    poller = poller_for(config(tmp_path, lines, concurrency=1))
    polls = await live_polls_while_running(poller, "live", 4.0)
    assert polls >= 5, polls


async def test_a_slow_upstream_is_its_own_deadline_error_and_the_process_stays_healthy(
    start_simulator: StartSimulator,
    start_exporter: StartExporter,
    tmp_path: Path,
    quiet_simulator: None,
) -> None:
    # Every per-tenant call of cluster 1 times out: one poll would take 6 x 4 x 0.5 s = 12 s
    # at max_concurrency 1. Before, the poll ran on, `/-/healthy` answered 503 for the whole
    # process (the shipped liveness probe restarts the pod), and `/-/ready` said 200 after one
    # interval while that target had no first poll. Now the poll ends at its 1 s deadline with
    # reason `deadline` on that target, and health is about the process.
    sim = await start_simulator(scenario="healthy", clusters=2, tenants=6)
    for route in PER_TENANT:
        sim.faults.add("latency", route=route, cluster=1, delay=5.0)
    secret = secret_file(tmp_path)
    fast = ", interval: 1s, timeout: 500ms, max_concurrency: 1"
    lines = [
        target_line("fine", sim.agent_url(0), secret, ", interval: 2s, timeout: 1s"),
        target_line("slow", sim.agent_url(1), secret, fast),
    ]
    exporter = await start_exporter(config(tmp_path, lines))
    seen_ready = False
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        healthy = await exporter.client.get("/-/healthy")
        assert healthy.status_code == 200, healthy.text
        ready = await exporter.client.get("/-/ready")
        parsed = await exporter.metrics()
        if ready.status_code == 200:
            seen_ready = True
            for target in ("fine", "slow"):
                assert value(parsed, POLLS, target=target), f"ready before {target}'s first poll"
        await asyncio.sleep(0.2)
    assert seen_ready
    slow_errors = {
        dict(labels)["reason"]
        for (name, labels), count in parsed.items()
        if name == ERRORS and ("target", "slow") in labels and count
    }
    assert "deadline" in slow_errors, slow_errors
    duration = value(parsed, DURATION, target="slow")
    assert duration is not None and duration < 2.5, duration  # its 1 s deadline, generously
    assert value(parsed, UP, target="slow") == 1, "reachable, with partial data"
    assert tenant_series(parsed, "slow") == 6
    assert value(parsed, UP, target="fine") == 1
    assert value(parsed, POLLS, target="fine") >= 3
    fine_errors = [dict(labels) for (name, labels) in parsed if name == ERRORS]
    assert not [e for e in fine_errors if e["target"] == "fine"], fine_errors
    assert "Traceback" not in await exporter.stop()


async def test_a_poll_slower_than_stale_after_never_shows_up_without_data(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    # 5 tenants x 4 calls x 0.25 s one at a time: 5 s a poll, against a stale_after of 2 s.
    # Before: the data was stamped at the poll's start and arrived already stale, so for the
    # whole run the target said up 1 with a fresh last success and exported no tenant series.
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=5)
    for route in PER_TENANT:
        sim.faults.add("latency", route=route, delay=0.25)
    secret = secret_file(tmp_path)
    extra = ", interval: 1s, timeout: 900ms, stale_after: 2s, max_concurrency: 1"
    poller = poller_for(config(tmp_path, [target_line("slow", sim.agent_url(0), secret, extra)]))
    poller.start()
    checks = 0
    showing = 0
    until = time.monotonic() + 7
    while time.monotonic() < until:
        parsed = rendered(poller)
        if value(parsed, UP, target="slow") == 1:
            checks += 1
            assert tenant_series(parsed, "slow") == 5, "up 1, but none of its data is shown"
            showing += 1
        await asyncio.sleep(0.1)
    assert checks >= 10 and showing == checks


async def test_a_target_up_whose_data_went_stale_is_shown_down(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    # A poll that hangs past stale_after (a bug: polls are bounded) must not leave the last
    # successful poll's `up 1` standing beside no data.
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=2)
    secret = secret_file(tmp_path)
    line = target_line(
        "c0", sim.agent_url(0), secret, ", interval: 10s, timeout: 5s, stale_after: 20s"
    )
    poller = poller_for(config(tmp_path, [line]))
    await poller.poll_all_once()
    now = time.time()
    assert value(rendered(poller, now + 15), UP, target="c0") == 1
    later = rendered(poller, now + 25)
    assert tenant_series(later, "c0") == 0
    assert value(later, UP, target="c0") == 0


async def test_tenant_work_is_bounded_in_flight(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    # 300 tenants: before, one task per tenant and route was created up front (1,200 waiting
    # coroutines, and their memory); now a few per slot of the target's max_concurrency.
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=300, latency=0.002)
    secret = secret_file(tmp_path)
    poller = poller_for(config(tmp_path, [target_line("big", sim.agent_url(0), secret)]))
    peak = 0

    async def watch() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(asyncio.all_tasks()))
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        [result] = await poller.poll_all_once()
    finally:
        watcher.cancel()
    assert result.complete, result.errors
    assert tenant_series(rendered(poller), "big") == 300
    assert peak < 100, peak


async def test_more_tenants_than_max_tenants_is_one_clear_error(
    start_simulator: StartSimulator, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=5)
    secret = secret_file(tmp_path)
    lines = [
        target_line("runaway", sim.agent_url(0), secret, ", max_tenants: 4"),
        target_line("filtered", sim.agent_url(0), secret,
                    ", max_tenants: 4, tenants: {exclude: [app]}"),
    ]  # fmt: skip
    poller = poller_for(config(tmp_path, lines))
    runaway, filtered = await poller.poll_all_once()
    assert runaway.data is None
    [error] = runaway.errors
    assert (error.endpoint, error.reason) == (routes.TENANTS, "decode")
    assert "5 tenants to poll, more than max_tenants (4)" in error.message
    assert poller.runners["runaway"].health.up is False
    assert filtered.complete, filtered.errors


def test_max_tenants_is_a_positive_number(tmp_path: Path) -> None:
    secret = secret_file(tmp_path)
    good = config(tmp_path, [target_line("t", "http://127.0.0.1:1", secret, ", max_tenants: 7")])
    assert load_config(good).targets[0].max_tenants == 7  # type: ignore[union-attr]
    bad = config(tmp_path, [target_line("t", "http://127.0.0.1:1", secret, ", max_tenants: 0")])
    with pytest.raises(Exception, match="max_tenants"):
        load_config(bad)


async def test_probe_only_is_ready_at_once(tmp_path: Path, start_exporter: StartExporter) -> None:
    # Nothing is polled until probed: there is no first poll to wait for.
    secret = secret_file(tmp_path)
    path = config(tmp_path, [target_line("t", "http://127.0.0.1:9", secret, ", interval: 1h")])
    exporter = await start_exporter(path, "--probe-only")
    async with httpx.AsyncClient(base_url=exporter.url) as client:
        assert (await client.get("/-/ready")).status_code == 200


async def test_ready_waits_for_first_polls_then_latches(
    start_simulator: StartSimulator, start_agent: StartAgent, poller_for: PollerFor, tmp_path: Path
) -> None:
    sim = await start_simulator(scenario="healthy", clusters=1, tenants=2)
    dead = await start_agent()
    dead.faults[ALL_PATHS] = no_answer()
    secret = secret_file(tmp_path)
    live = target_line("live", sim.agent_url(0), secret, ", interval: 1s, timeout: 900ms")
    poller = poller_for(config(tmp_path, [live]))
    poller.start()
    assert not poller.ready(), "no first poll yet"
    for _ in range(50):
        if poller.ready():
            break
        await asyncio.sleep(0.1)
    assert poller.ready()
    # A reload adds a target whose first poll hangs: the exporter stays in its Service.
    hung = target_line("hung", dead.url, secret, ", interval: 2s, timeout: 1900ms")
    await poller.apply(load_config(config(tmp_path, [live, hung])))
    assert poller.runners["hung"].health.last_attempt_end is None
    assert poller.ready()
