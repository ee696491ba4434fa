"""Polls every target on its own schedule and keeps each one's latest snapshot.

One asyncio task per target, all on shared HTTP clients (one per distinct TLS setting). After an
auth failure a target backs off exponentially (obshell checks a wrong password by logging in to
OceanBase, and repeated failed logins can lock root@sys) unless its credentials change.

A slow or dead target only ever waits on its own timeouts:

- Every poll has a deadline, its target's interval (a backstop cancels it shortly after, should
  anything but a request hang). A poll therefore ends before the next is due, its data is
  always younger than `stale_after` (at least 2 x interval) when it arrives, and a slow upstream
  shows as that target's `poll_errors_total{reason="deadline"}` and `last_poll_duration_seconds`,
  never as a stuck process.
- The shared caps (`concurrency` polls, `concurrency` requests) bound our own work in flight:
  parsed answers and tasks in memory, and CPU bursts that would make other requests miss their
  timeouts. A request waiting on a silent upstream does none of that work, so it must not
  count for long: a poll queues for its poll slot before it starts, and each of its requests
  takes a request slot, unless its upstream gave no answer in the previous poll (then it takes
  shared slots only once its upstream answers, so a target that stays silent holds none); a
  request gives back its shared slot once it has waited REQUEST_SLOT_LEASE seconds on its
  upstream, and its poll then gives back its poll slot (see exporter.sources.budget). A target
  that dies, or is dead at start (every new target is presumed to answer), therefore holds a
  slot for one lease, once. Time queued for a poll slot does not count against the deadline:
  when the exporter itself is the bottleneck, polls are late, not cut. The connection pool
  has no cap of its own for the same reason as the leases; each target's `max_concurrency`
  bounds its connections.

Alternatives rejected: backing dead targets off hides their recovery for longer and still lets
a target that just died hold slots; letting every poll's first request go out unqueued (the
rule before) opened a request per target at once as each cycle started, which at 1,000 targets
was a sixth of the process's peak memory.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import random
import ssl
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import assert_never

import aiohttp

from exporter.config import (
    CloudTarget,
    Config,
    ObshellTarget,
    OcpTarget,
    SecretFileError,
    Target,
    TLSConfig,
)
from exporter.logs import fields
from exporter.snapshot import HistogramSnapshot, TargetData, TargetHealth, TargetSnapshot
from exporter.sources.base import HttpFactory, PollResult, Source
from exporter.sources.budget import PollBudget, SharedSlots
from exporter.sources.cloud.build import build as build_cloud
from exporter.sources.errors import MESSAGE_LIMIT, PollError
from exporter.sources.http import (
    LATENCY_BUCKETS,
    Auth,
    RequestStats,
    UpstreamHTTP,
    open_session,
)
from exporter.sources.obshell.build import build as build_obshell
from exporter.sources.ocp.build import build as build_ocp

log = logging.getLogger(__name__)

MAX_AUTH_BACKOFF = 600.0
JITTER = 0.1
# With --probe-only, a target stays polled this many intervals after its last probe.
PROBE_KEEPALIVE = 3
REDACT_MIN_LENGTH = 4
# This many characters in a row of a secret are a leak wherever they show.
REDACT_WINDOW = 8
# How long a request may keep a shared slot. A healthy request takes tens of milliseconds;
# past this, it is waiting on its upstream, not using our resources (and its poll gives back
# its poll slot too).
REQUEST_SLOT_LEASE = 1.0


def build_source(target: Target, http: HttpFactory) -> Source:
    """The source object for a target; the one place that maps a target type to its source."""
    match target:
        case ObshellTarget():
            return build_obshell(target, http)
        case OcpTarget():
            return build_ocp(target, http)
        case CloudTarget():
            return build_cloud(target, http)
        case _:
            assert_never(target)


def credentials_fingerprint(target: Target) -> str:
    """A digest of the target's current secrets (files re-read), to notice rotation.

    Only the secrets: anything else in the target (a user name) is fixed for its runner, as a
    reload that changes it makes a new one.
    """
    parts: list[str] = []
    for secret in target.secrets():
        try:
            parts.append(secret.fingerprint())
        except SecretFileError:  # an unreadable file counts as changed; the poll reports it
            parts.append("unreadable")
    return "|".join(parts)


def redact(text: str, target: Target) -> str:
    """`text` without the target's current secrets, then cut to what a message may show.

    Error messages quote what upstreams answer, and an upstream may echo what it was sent: a
    basic auth header, or a password it decrypted. Each secret goes, plain, in Base64 or as
    HTTP basic credentials, and so does any REDACT_WINDOW characters of one (a part is a
    leak too) and a cut-off beginning of one at the end (PollError cuts long messages).
    Values (and cut-off ends of them) under REDACT_MIN_LENGTH are left alone: scrubbing every
    "ab" would garble messages and hide nothing worth hiding. The cut to MESSAGE_LIMIT comes
    last, so that it can never leave part of a secret behind with text after it.
    """
    # HTTP basic's user name (OCP's): with it, the Base64 of the credentials is known too.
    username = target.username if isinstance(target, OcpTarget) else None
    spans: list[tuple[int, int]] = []
    for secret in target.secrets():
        try:
            value = secret.read()
        except SecretFileError:
            continue
        if len(value) < REDACT_MIN_LENGTH:
            continue
        forms = [value, base64.b64encode(value.encode()).decode("ascii")]
        if username is not None:
            forms.append(base64.b64encode(f"{username}:{value}".encode()).decode("ascii"))
        for form in forms:
            spans += _runs_of(text, form)
            cut = _cut_off_beginning(text, form)
            if cut:
                spans.append((len(text) - cut, len(text)))
    return _blank_out(text, spans)[:MESSAGE_LIMIT]


def _runs_of(text: str, form: str) -> list[tuple[int, int]]:
    """Where `text` holds REDACT_WINDOW or more characters in a row of `form` (all of it, when
    shorter).

    Such a run holds one of the pieces of half that length that start at a multiple of it in
    `form`: find those (a few `find`s, not one per window), then grow each hit both ways.
    """
    size = min(REDACT_WINDOW, len(form))
    if size < REDACT_WINDOW:
        return [(at, at + size) for at in _occurrences(text, form)]
    piece = REDACT_WINDOW // 2
    spans = []
    for offset in range(0, len(form) - piece + 1, piece):
        for at in _occurrences(text, form[offset : offset + piece]):
            start, first = at, offset
            while start > 0 and first > 0 and text[start - 1] == form[first - 1]:
                start, first = start - 1, first - 1
            end, last = at + piece, offset + piece
            while end < len(text) and last < len(form) and text[end] == form[last]:
                end, last = end + 1, last + 1
            if end - start >= size:
                spans.append((start, end))
    return spans


def _occurrences(text: str, part: str) -> list[int]:
    found = []
    at = text.find(part)
    while at >= 0:
        found.append(at)
        at = text.find(part, at + 1)
    return found


def _cut_off_beginning(text: str, form: str) -> int:
    """How many characters at the end of `text` begin `form` (REDACT_MIN_LENGTH or more)."""
    tail = text[-(len(form) - 1) :]
    head = form[:REDACT_MIN_LENGTH]
    start = tail.find(head)
    while start >= 0:
        if form.startswith(tail[start:]):
            return len(tail) - start
        start = tail.find(head, start + 1)
    return 0


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each run of overlapping spans replaced by one `<redacted>`."""
    if not spans:
        return text
    out = []
    kept = 0
    for start, end in sorted(spans):
        if start > kept:
            out.append(text[kept:start])
            out.append("<redacted>")
        elif not out:
            out.append("<redacted>")
        kept = max(kept, end)
    out.append(text[kept:])
    return "".join(out)


@dataclass
class _Health:
    up: bool | None = None
    last_success: float | None = None
    last_duration: float | None = None
    last_attempt_end: float | None = None
    last_error: str = ""
    polls: int = 0
    auth_failures: int = 0


class TargetRunner:
    """One target: its source, its counters, its latest good data, and its poll loop."""

    def __init__(
        self,
        target: Target,
        source: Source,
        stats: RequestStats,
        budget: PollBudget | None = None,
    ) -> None:
        self.target = target
        self.source = source
        self.stats = stats
        self.budget = budget if budget is not None else PollBudget()
        self.loop_started: float | None = None
        self.health = _Health()
        self.data: TargetData | None = None
        self.data_expires = 0.0  # when `data` goes stale, Unix seconds
        self.next_delay = target.interval
        self._lock = asyncio.Lock()
        self._fingerprint = credentials_fingerprint(target)
        self.last_probe: float | None = None
        self._snapshot: TargetSnapshot | None = None
        self._snapshot_key: tuple[int, int] = (-1, 0)

    async def poll(self) -> PollResult:
        """Poll once now (serialised: a probe and the loop never poll concurrently).

        The poll has the target's interval: requests still waiting then fail with reason
        `deadline` and the source returns what it has. The backstop, a little later, ends a
        poll that hangs anywhere else, with no data.
        """
        async with self._lock:
            started = time.monotonic()
            crash = ""
            deadline = self.target.interval
            grace = min(1.0, deadline * JITTER)
            try:
                async with asyncio.timeout(deadline + grace) as backstop:
                    await self.budget.begin(deadline, backstop)
                    result = await self.source.poll()
            except TimeoutError:
                message = f"the poll did not end within {grace:g}s of its deadline"
                result = PollResult(data=None, errors=(PollError("deadline", "", message),))
            except Exception as exc:
                # Sources turn every upstream failure into a PollError, so this is a bug of
                # ours. Count a failed poll rather than let the loop die and leave the target's
                # last `up` and data standing as if it were still polled.
                log.error(
                    "poll crashed (a bug)", extra=fields(target=self.target.name), exc_info=True
                )
                result = PollResult(data=None)
                crash = f"internal error: {type(exc).__name__} (see the exporter's log)"
            finally:
                self.budget.end()
            ended = time.time()
            self._record(result, time.monotonic() - started, ended, crash)
            return result

    def _record(self, result: PollResult, duration: float, ended: float, crash: str) -> None:
        health = self.health
        health.polls += 1
        health.last_duration = duration
        health.last_attempt_end = ended
        for error in result.errors:
            self.stats.errors[(error.endpoint, error.reason)] += 1
        auth_failed = any(e.reason == "auth" for e in result.errors)
        health.up = result.data is not None and not auth_failed
        if result.data is not None:
            self.data = result.data
            # Shown until its oldest fact, not the poll, is stale_after old: a cached fact
            # re-served by this poll must not outlive stale_after if the target then dies.
            self.data_expires = result.data.oldest_fact() + self.target.stale_after
        if result.complete:
            health.last_success = ended
        messages = [redact(error.message, self.target) for error in result.errors]
        health.last_error = crash
        if result.errors:
            first = result.errors[0]
            health.last_error = f"{first.endpoint}: {first.reason}: {messages[0]}"
        for error, message in zip(result.errors, messages, strict=True):
            log.warning(
                "poll failed",
                extra=fields(
                    target=self.target.name,
                    endpoint=error.endpoint,
                    reason=error.reason,
                    error=message,
                ),
            )
        if auth_failed:
            health.auth_failures += 1
            self.next_delay = min(
                MAX_AUTH_BACKOFF, self.target.interval * 2 ** (health.auth_failures - 1)
            )
        else:
            health.auth_failures = 0
            self.next_delay = self.target.interval
        asked = self.stats.take_retry_after()
        if asked > self.next_delay:
            # A 429 or 503 asked us to wait (Retry-After): do, but never so long that the data
            # goes stale only because we did not ask: run() may stretch the delay by JITTER,
            # and the next poll takes up to an interval to answer.
            interval, stale_after = self.target.interval, self.target.stale_after
            cap = max(interval, (stale_after - interval) / (1 + JITTER))
            self.next_delay = max(self.next_delay, min(asked, cap))

    async def run(self, while_probed: bool = False) -> None:
        """Poll on the target's interval (with backoff after auth failures).

        With `while_probed`, the probe that started the loop has just polled: wait an interval
        first, and stop once probes stop coming (PROBE_KEEPALIVE intervals without one).
        """
        self.loop_started = time.time()
        if while_probed:
            await self._sleep_until(time.monotonic() + self.next_delay)
        else:
            await asyncio.sleep(random.uniform(0, min(1.0, self.target.interval * JITTER)))  # noqa: S311
        while True:
            if while_probed and not self.probed_recently():
                return
            started = time.monotonic()
            await self.poll()
            delay = self.next_delay * random.uniform(1 - JITTER, 1 + JITTER)  # noqa: S311
            await self._sleep_until(started + delay)

    async def _sleep_until(self, deadline: float) -> None:
        """Sleep, but during an auth backoff retry at once when the credentials change."""
        while (remaining := deadline - time.monotonic()) > 0:
            step = min(remaining, self.target.interval) if self.health.auth_failures else remaining
            await asyncio.sleep(step)
            if self.health.auth_failures:
                fingerprint = credentials_fingerprint(self.target)
                if fingerprint != self._fingerprint:
                    self._fingerprint = fingerprint
                    log.info(
                        "credentials changed, retrying now", extra=fields(target=self.target.name)
                    )
                    return

    def probed_recently(self) -> bool:
        """A probe came within the last PROBE_KEEPALIVE intervals."""
        if self.last_probe is None:
            return False
        return time.monotonic() - self.last_probe <= PROBE_KEEPALIVE * self.target.interval

    def snapshot(self, now: float) -> TargetSnapshot:
        """The target's state for rendering; its data is left out once it is stale.

        The same object comes back until a poll ends or the data goes stale, so renderers can
        tell "unchanged" by identity.
        """
        data = self.data
        stale = data is not None and now > self.data_expires
        if stale:
            data = None
        key = (self.health.polls, id(data))
        if self._snapshot is not None and self._snapshot_key == key:
            return self._snapshot
        self._snapshot_key = key
        self._snapshot = self._build_snapshot(data, stale)
        return self._snapshot

    def _build_snapshot(self, data: TargetData | None, stale: bool) -> TargetSnapshot:
        stats = self.stats
        latency = tuple(
            (
                endpoint,
                HistogramSnapshot(
                    tuple(zip(LATENCY_BUCKETS, h.buckets, strict=True)), h.count, h.total
                ),
            )
            for endpoint, h in sorted(stats.latency.items())
        )
        health = TargetHealth(
            # Never "up" while none of its data is shown: the poll that would refresh it hangs
            # (a bug: polls are bounded) or the last good data outlived `stale_after`.
            up=False if stale and self.health.up else self.health.up,
            last_success=self.health.last_success,
            last_duration=self.health.last_duration,
            last_attempt=self.health.last_attempt_end,
            last_error=self.health.last_error,
            polls_total=self.health.polls,
            requests=tuple(sorted(stats.requests.items())),
            errors=tuple(sorted((e, r, c) for (e, r), c in stats.errors.items())),
            latency=latency,
            endpoint_supported=tuple(sorted(self.source.endpoint_support().items())),
        )
        return TargetSnapshot(
            name=self.target.name,
            source=self.target.source,
            labels=tuple(sorted(self.target.labels.items())),
            health=health,
            data=data,
            stale_after=self.target.stale_after,
        )

    def healthy(self, now: float) -> bool:
        """False when the loop has not finished an attempt for too long (a bug: polls end by
        their deadline, so a slow upstream cannot cause this)."""
        last = self.health.last_attempt_end or self.loop_started
        if last is None:
            return True
        allowance = max(2 * self.target.interval, self.next_delay + self.target.interval)
        return now - last <= allowance * (1 + JITTER) + self.target.timeout


class TLSFilesError(Exception):
    """A target's TLS files cannot be loaded: `tls.ca_file: cannot load PATH: reason`."""

    def __init__(self, key: str, path: object, exc: OSError) -> None:
        reason = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(f"{key}: cannot load {path}: {reason}"[:MESSAGE_LIMIT])


class _TLSPending:
    """A target's source, made at its first poll once its TLS files load.

    A missing or bad `ca_file`, `cert_file` or `key_file` makes that target fail each poll with
    reason `tls` and the file in the message, and heal once the file is fixed, instead of
    stopping the exporter (at start) or a reload with a traceback.
    """

    def __init__(self, make: Callable[[], Source]) -> None:
        self._make = make
        self._source: Source | None = None

    async def poll(self) -> PollResult:
        """Poll the source, making it first if need be."""
        if self._source is None:
            try:
                self._source = self._make()
            except TLSFilesError as exc:
                return PollResult(data=None, errors=(PollError("tls", "", str(exc)),))
        return await self._source.poll()

    def endpoint_support(self) -> Mapping[str, bool]:
        """The source's, once there is one."""
        return self._source.endpoint_support() if self._source is not None else {}


class HTTPClients:
    """Shared aiohttp sessions, one per distinct TLS setting (a session holds one SSLContext).

    aiohttp directly, not httpx over it: httpx's layers (request building, auth-flow
    generators, cookies, response wrapping) cost several times the CPU of a bare aiohttp
    request (docs/benchmarks.md).
    """

    def __init__(self) -> None:
        self._sessions: dict[TLSConfig, aiohttp.ClientSession] = {}

    def client(self, tls: TLSConfig) -> aiohttp.ClientSession:
        """The session for a TLS setting, created on first use; TLSFilesError if it cannot be."""
        existing = self._sessions.get(tls)
        if existing is not None:
            return existing
        try:
            context = ssl.create_default_context(cafile=str(tls.ca_file) if tls.ca_file else None)
        except OSError as exc:  # ssl.SSLError is one too
            raise TLSFilesError("tls.ca_file", tls.ca_file, exc) from None
        if tls.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if tls.cert_file:
            key = str(tls.key_file) if tls.key_file else None
            try:
                context.load_cert_chain(str(tls.cert_file), key)
            except OSError as exc:
                raise TLSFilesError("tls.cert_file", tls.cert_file, exc) from None
        session = self._sessions[tls] = open_session(context)
        return session

    async def aclose(self) -> None:
        """Close every session."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()


class Poller:
    """All targets of a config: runs their loops and hands out their snapshots."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self._clients = HTTPClients()
        self._request_slots = SharedSlots(config.concurrency, REQUEST_SLOT_LEASE)
        self._poll_slots = SharedSlots(_poll_slots(config.concurrency))
        self.runners: dict[str, TargetRunner] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False
        self._ready = False
        for target in config.targets:
            self.runners[target.name] = self._runner(target)

    def _runner(self, target: Target) -> TargetRunner:
        stats = RequestStats()
        target_limit = asyncio.Semaphore(target.max_concurrency)
        budget = PollBudget(self._poll_slots, self._request_slots)

        def source() -> Source:
            session = self._clients.client(target.tls)

            def http(auth: Auth | None) -> UpstreamHTTP:
                return UpstreamHTTP(
                    session,
                    target_limit=target_limit,
                    timeout=target.timeout,
                    stats=stats,
                    auth=auth,
                    budget=budget,
                )

            return build_source(target, http)

        return TargetRunner(target, _TLSPending(source), stats, budget)

    def start(self) -> None:
        """Start every target's poll loop."""
        self._running = True
        for name, runner in self.runners.items():
            self._tasks[name] = asyncio.create_task(runner.run(), name=f"poll:{name}")

    async def apply(self, config: Config) -> None:
        """Switch to a new config: unchanged targets keep their runner, state and counters.

        The swap of `runners` is one assignment, so a scrape sees the old or the new set of
        targets, never a mix.
        """
        rebuild = config.concurrency != self.config.concurrency
        if rebuild:
            self._request_slots = SharedSlots(config.concurrency, REQUEST_SLOT_LEASE)
            self._poll_slots = SharedSlots(_poll_slots(config.concurrency))
        runners: dict[str, TargetRunner] = {}
        for target in config.targets:
            current = self.runners.get(target.name)
            keep = current is not None and current.target == target and not rebuild
            runners[target.name] = current if keep and current else self._runner(target)
        for name, task in list(self._tasks.items()):
            if runners.get(name) is not self.runners.get(name):
                task.cancel()
                del self._tasks[name]
        self.config = config
        self.runners = runners
        if self._running:
            for name, runner in runners.items():
                if name not in self._tasks:
                    self._tasks[name] = asyncio.create_task(runner.run(), name=f"poll:{name}")

    def probed(self, name: str) -> bool:
        """Note a probe of `name`; (re)start its keep-alive loop. True when one was started."""
        runner = self.runners[name]
        runner.last_probe = time.monotonic()
        task = self._tasks.get(name)
        if task is not None and not task.done():
            return False
        self._tasks[name] = asyncio.create_task(runner.run(while_probed=True), name=f"probe:{name}")
        return True

    async def poll_all_once(self) -> list[PollResult]:
        """Poll every target once, concurrently (for `--once`)."""
        return list(await asyncio.gather(*(r.poll() for r in self.runners.values())))

    def snapshots(self, now: float | None = None) -> list[TargetSnapshot]:
        """Every target's current snapshot, in config order."""
        moment = time.time() if now is None else now
        return [runner.snapshot(moment) for runner in self.runners.values()]

    def ready(self) -> bool:
        """Every polled target has finished its first poll (with --probe-only, at once).

        A first poll ends by its deadline (one interval), failed or not; until then the target
        has no `target_up` and no data, so it must not count as ready. Once ready, always: a
        target added by a reload must not take the whole exporter out of its Service.
        """
        if not self._running:
            return True
        if not self._ready:
            self._ready = all(r.health.last_attempt_end is not None for r in self.runners.values())
        return self._ready

    def healthy(self, now: float) -> list[str]:
        """Names of targets whose poll loop died or stopped making progress (empty when well).

        Polls end by their deadline, so this is about the process (a bug, a blocked event
        loop), never about a slow upstream.
        """
        return [name for name, task in self._tasks.items() if not self._loop_fine(task, name, now)]

    def _loop_fine(self, task: asyncio.Task[None], name: str, now: float) -> bool:
        if task.done():  # a probe loop ends when probes stop; any loop may die of a bug
            return task.cancelled() or task.exception() is None
        return self.runners[name].healthy(now)

    async def stop(self) -> None:
        """Cancel the loops and close the HTTP clients."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._clients.aclose()


def _poll_slots(concurrency: int) -> int:
    """How many polls may be under way at once (a stalled one for its lease at most).

    Each holds its parsed answers and up to `max_concurrency` tasks per fan-out; with 1,000
    targets polled together that was the process's peak memory. More polls in flight than
    requests allowed in flight buys no throughput, and polls taken in turn finish in turn, each
    far from its deadline, instead of all of them at the end of the burst.
    """
    return max(1, concurrency)


def select_shard(targets: Iterable[Target], index: int, count: int) -> list[Target]:
    """Targets whose stable hash of `name` falls in shard `index` of `count`."""

    def shard(name: str) -> int:
        return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % count

    return [t for t in targets if shard(t.name) == index]
