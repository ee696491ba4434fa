"""HTTP plumbing every source shares: limits, a total deadline, a body cap, error reasons.

Each upstream request goes through `UpstreamHTTP.get`, which turns every way a request can go
wrong into a `PollError` with one of the documented reasons, and records the request count,
latency and failures in the target's `RequestStats`. aiohttp is used directly: httpx's layers
on top of it (request building, auth-flow generators, cookies, response wrapping) cost about
five times the CPU of a bare aiohttp request.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import quote

import aiohttp
from yarl import URL

from exporter.config import SecretFileError
from exporter.sources.budget import PollBudget
from exporter.sources.errors import VALUE_LIMIT, DeadlinePassed, PollError, Reason

# Generous for any real answer (a cluster overview of 1,000 tenants is ~1 MB): a response
# beyond it is a misbehaving upstream, and reading it whole would cost us our memory.
MAX_BODY_BYTES = 16 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
# A Retry-After of more digits (over 30 years) is no wait anyone means: ignored.
MAX_RETRY_AFTER_DIGITS = 9
# Answers whose Retry-After the poller honours (RFC 9110: "too many requests", "unavailable").
RETRY_AFTER_STATUSES = frozenset({429, 503})
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


@dataclass(slots=True)  # one per route per target, kept for the life of the process
class Histogram:
    """Latency observations, kept per bucket (one increment per request) and summed up into
    the cumulative counts Prometheus wants only when read (once per poll)."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.count += 1
        self.total += value
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, value)] += 1

    @property
    def buckets(self) -> list[int]:
        """Cumulative counts per bound of LATENCY_BUCKETS (+Inf is `count`)."""
        return list(itertools.accumulate(self.counts[:-1]))


@dataclass
class RequestStats:
    """A target's request counters; they only grow, for the life of the process."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency: dict[str, Histogram] = field(default_factory=dict)
    # Not a counter: the longest wait a 429 or 503 asked for (Retry-After, in seconds) since
    # the poller last took it; it delays the target's next poll.
    retry_after: float = 0.0

    def record(self, endpoint: str, seconds: float) -> None:
        """Count one request to `endpoint` that took `seconds`."""
        self.requests[endpoint] += 1
        histogram = self.latency.get(endpoint)
        if histogram is None:  # not setdefault: that would build a Histogram per request
            histogram = self.latency[endpoint] = Histogram()
        histogram.observe(seconds)

    def take_retry_after(self) -> float:
        """The wait asked for since the last call (0.0 for none), forgotten once taken."""
        asked, self.retry_after = self.retry_after, 0.0
        return asked


@dataclass(frozen=True)
class Response:
    """What a source needs of an HTTP response: status, headers and the (capped) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


# An unauthenticated GET of an exact URL, under the caller's deadline and body cap.
Fetch = Callable[[URL], Awaitable[Response]]


class Auth(Protocol):
    """How a source signs its requests; UpstreamHTTP asks it before each attempt."""

    async def headers(self, method: str, url: URL, fetch: Fetch) -> Mapping[str, str]:
        """The headers that authenticate `method url` (the URL exactly as it will be sent).

        `fetch` makes the unauthenticated requests a scheme may need first (obshell's key
        lookup); they share the request's deadline and body cap, and their failures are the
        request's.
        """
        ...

    async def retry(self, url: URL, response: Response, fetch: Fetch) -> bool:
        """Whether the first answer to `url` calls for one more, newly signed, attempt.

        Called with every request's first answer, once; the auth updates what it knows (a new
        challenge, a key to forget or, through `fetch`, to look up again) before saying yes.
        """
        ...


def open_session(context: ssl.SSLContext) -> aiohttp.ClientSession:
    """A client session as every upstream request needs it; the caller closes it.

    No connection cap of its own: a shared cap would be held by connections to silent
    upstreams; each target's `max_concurrency` bounds its connections instead.

    No cookies (no upstream needs them, and extracting them costs CPU on every response), no
    total timeout of aiohttp's own (UpstreamHTTP's deadline covers the whole exchange), no
    proxy settings from the environment, and no decompression: the body cap counts bytes off
    the socket, and 1 MB of gzip decodes to 1 GB.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ssl=context),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None),
        auto_decompress=False,
        trust_env=False,
    )


class UpstreamHTTP:
    """One target's view of the shared HTTP session: its limits, timeout, auth and stats.

    `budget` carries the poll's deadline and its claim on the shared slots (see
    exporter.sources.budget): the target's own `target_limit` always applies; a shared
    request slot unless the upstream was silent in the last poll and has not answered yet.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        target_limit: asyncio.Semaphore,
        timeout: float,
        stats: RequestStats,
        auth: Auth | None = None,
        budget: PollBudget | None = None,
    ) -> None:
        self._session = session
        self._target_limit = target_limit
        self._timeout = timeout
        self._auth = auth
        self.stats = stats
        self.budget = budget if budget is not None else PollBudget()

    async def get(
        self,
        url: str,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET `url`; `endpoint` is the route template used in metrics and errors.

        `url` is sent byte for byte as given (obshell and Cloud sign the request target);
        `params` are appended sorted by key and percent-encoded, the canonical form OCP's
        signature covers. Raises PollError for transport failures, malformed HTTP and
        oversized bodies; any HTTP status is returned for the caller to judge, since what a 404
        means depends on the API. The timeout covers the whole exchange, auth included, from
        when the request got its slots; the poll's deadline covers the wait for them too
        (not the wait for the poll's shared slot, which postpones the deadline).
        """
        if self.budget.expired():
            raise DeadlinePassed(endpoint)
        shared = await self.budget.admit()  # may queue behind other targets: not our time
        slots = self.budget.request_slots
        sent: float | None = None
        own = False  # whether the timer running is the request's own timeout
        loop = asyncio.get_running_loop()
        remaining = self.budget.remaining()
        deadline = None if remaining is None else loop.time() + remaining
        # One Timeout per request: the poll's deadline while waiting for slots, then the
        # request's own timeout if that comes first.
        timer = asyncio.timeout_at(deadline)
        try:
            async with timer, self._target_limit:
                # Taken and given back by hand: a context manager made per request costs
                # more than the rest of this method. A stalled holder's lease ends with
                # `stalled`, which gives back its poll's shared slot too.
                slot = await slots.take(self.budget.stalled) if shared and slots else None
                try:
                    sent = time.monotonic()
                    own, when = _earlier(loop.time() + self._timeout, deadline)
                    timer.reschedule(when)
                    response = await self._send(_with_params(url, params), headers or {})
                    timer.reschedule(None)
                finally:
                    if slot is not None:
                        slot.give_back()
                if response.status in RETRY_AFTER_STATUSES:
                    asked = retry_after_seconds(response.headers.get("Retry-After", ""))
                    self.stats.retry_after = max(self.stats.retry_after, asked or 0.0)
                return response
        except TimeoutError as exc:
            if own and timer.expired():
                raise PollError(
                    "timeout", endpoint, f"no answer within {self._timeout:g}s"
                ) from exc
            if timer.expired() or (deadline is not None and loop.time() >= deadline):
                message = "the poll's deadline passed before the answer came"
                raise PollError("deadline", endpoint, message) from exc
            # Neither of our timers: a timeout below us (a socket read, a TLS handshake).
            raise PollError("timeout", endpoint, _describe(exc)) from exc
        except PollError as exc:
            # Raised by the auth, it may concern another route (the key lookup).
            message = exc.message
            if exc.endpoint not in ("", endpoint):
                message = f"{exc.endpoint}: {message}"
            raise PollError(exc.reason, endpoint, message) from exc
        except SecretFileError as exc:
            # A *_file secret went missing (the auth reads it per request): we cannot
            # sign in; the poller backs off and retries as soon as the file changes.
            raise PollError("auth", endpoint, str(exc)) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PollError(_transport_reason(exc), endpoint, _describe(exc)) from exc
        finally:
            if sent is not None:  # a request cut before it was sent is no request
                self.stats.record(endpoint, time.monotonic() - sent)

    async def _send(self, url: URL, headers: Mapping[str, str]) -> Response:
        auth = self._auth
        if auth is None:
            return await self._exchange(url, headers)
        signed = await auth.headers("GET", url, self._fetch)
        response = await self._exchange(url, {**headers, **signed})
        if await auth.retry(url, response, self._fetch):
            signed = await auth.headers("GET", url, self._fetch)
            response = await self._exchange(url, {**headers, **signed})
        return response

    async def _fetch(self, url: URL) -> Response:
        return await self._exchange(url, {})

    async def _exchange(self, url: URL, headers: Mapping[str, str]) -> Response:
        """One request and its capped body; compressed or oversized answers are not read."""
        async with self._session.get(
            url,
            headers={**headers, "Accept-Encoding": "identity"},
            allow_redirects=False,
        ) as response:
            self.budget.answered()
            encoding = response.headers.get("Content-Encoding", "").strip().lower()
            length = response.headers.get("Content-Length", "")
            problem = None
            if encoding not in ("", "identity"):
                problem = (
                    f"response is {encoding[:VALUE_LIMIT]}-encoded though identity was asked"
                    " for, not read"
                )
            elif length.isdigit() and int(length) > MAX_BODY_BYTES:
                problem = f"response of {length} bytes is larger than {MAX_BODY_BYTES}, not read"
            if problem is not None:
                response.close()  # the connection still holds the body: drop it
                raise PollError("decode", "", problem)
            if length.isdigit():
                # aiohttp reads no more than Content-Length, which is within the cap.
                return Response(response.status, response.headers, await response.read())
            chunks = []
            received = 0
            async for chunk in response.content.iter_chunked(READ_CHUNK_BYTES):
                received += len(chunk)
                if received > MAX_BODY_BYTES:
                    response.close()
                    message = f"response larger than {MAX_BODY_BYTES} bytes, not read"
                    raise PollError("decode", "", message)
                chunks.append(chunk)
            return Response(response.status, response.headers, b"".join(chunks))


def _earlier(own_end: float, deadline: float | None) -> tuple[bool, float]:
    """Which comes first, the request's own timeout or the poll's deadline, and when."""
    if deadline is None or own_end < deadline:
        return True, own_end
    return False, deadline


def retry_after_seconds(value: str, now: float | None = None) -> float | None:
    """A `Retry-After` value (delay seconds or an HTTP date) as seconds from `now`; None when
    it is neither. A date in the past asks for no wait."""
    value = value.strip()
    if value.isdigit():
        # More digits than that is no sane wait (and would not fit a float anyway).
        if len(value) > MAX_RETRY_AFTER_DIGITS:
            return None
        try:
            return float(int(value))
        except ValueError:  # digits int() does not read, such as superscripts
            return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """A query in canonical form: pairs sorted by key, each part percent-encoded."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(pairs))


def _with_params(url: str, params: Mapping[str, str] | None) -> URL:
    """The URL as given (encoded=True: yarl must not re-normalise what is signed), plus params."""
    if params:
        url += ("&" if "?" in url else "?") + canonical_query(params.items())
    return URL(url, encoded=True)


def _transport_reason(exc: BaseException) -> Reason:
    """Classify by the root cause: an aiohttp error may wrap the TLS error that caused it."""
    cause: BaseException | None = exc
    root: BaseException = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError | aiohttp.ClientSSLError):
            return "tls"
        root = cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(root, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    return "connection"


def _describe(exc: BaseException) -> str:
    """A short, secret-free description: the exception type and its message."""
    if isinstance(exc, aiohttp.ClientResponseError):
        # A response that is not HTTP: a bad status line, a header past aiohttp's limits.
        return f"malformed HTTP response: {' '.join(exc.message.split())}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
