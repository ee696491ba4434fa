"""HTTP plumbing every source shares: limits, a total deadline, a body cap, error reasons.

Each upstream request goes through `UpstreamHTTP.get`, which turns every way a request can go
wrong into a `PollError` with one of the documented reasons, and records the request count,
latency and failures in the target's `RequestStats`. `CappedTransport` bounds what any response
may make us hold in memory.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

import aiohttp
import httpx

from exporter.config import SecretFileError
from exporter.sources.errors import PollError, Reason

# Generous for any real answer (a cluster overview of 1,000 tenants is ~1 MB): a response
# beyond it is a misbehaving upstream, and reading it whole would cost us our memory.
MAX_BODY_BYTES = 16 * 1024 * 1024
LATENCY_BUCKETS: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
)  # fmt: skip


@dataclass
class Histogram:
    """Cumulative bucket counts, as Prometheus histograms want them."""

    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))
    count: int = 0
    total: float = 0.0

    def observe(self, value: float) -> None:
        """Add one observation."""
        self.count += 1
        self.total += value
        for i, bound in enumerate(LATENCY_BUCKETS):
            if value <= bound:
                self.buckets[i] += 1


@dataclass
class RequestStats:
    """A target's request counters; they only grow, for the life of the process."""

    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    latency: dict[str, Histogram] = field(default_factory=dict)

    def record(self, endpoint: str, seconds: float) -> None:
        """Count one request to `endpoint` that took `seconds`."""
        self.requests[endpoint] += 1
        self.latency.setdefault(endpoint, Histogram()).observe(seconds)


@dataclass(frozen=True)
class Response:
    """What a source needs of an HTTP response: status, headers and the (capped) body."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class CappedTransport(httpx.AsyncBaseTransport):
    """Wraps a transport so that no response body beyond MAX_BODY_BYTES is ever read.

    The cap sits here, below httpx, because httpx reads whole bodies on its own inside an auth
    flow (the agent key lookups, a 401 before the retry): a cap in our own read loop would leave
    those unbounded. Compressed responses are refused: the cap counts bytes off the socket, and
    1 MB of gzip decodes to 1 GB. We ask for `identity`, so only a misbehaving server compresses.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, limit: int = MAX_BODY_BYTES) -> None:
        self._inner = inner
        self._limit = limit

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request`; the response's stream stops with a PollError past the cap."""
        request.headers["Accept-Encoding"] = "identity"
        response = await self._inner.handle_async_request(request)
        encoding = response.headers.get("Content-Encoding", "").strip().lower()
        length = response.headers.get("Content-Length", "")
        problem = None
        if encoding not in ("", "identity"):
            problem = f"response is {encoding[:40]}-encoded though identity was asked for, not read"
        elif length.isdigit() and int(length) > self._limit:
            problem = f"response of {length} bytes is larger than {self._limit}, not read"
        if problem is not None:
            await response.aclose()
            raise PollError("decode", "", problem)
        assert isinstance(response.stream, httpx.AsyncByteStream)
        response.stream = _CappedStream(response.stream, self._limit)
        return response

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self._inner.aclose()


class _CappedStream(httpx.AsyncByteStream):
    """A response stream that fails once more than `limit` bytes came through it."""

    def __init__(self, inner: httpx.AsyncByteStream, limit: int) -> None:
        self._inner = inner
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        received = 0
        async for chunk in self._inner:
            received += len(chunk)
            if received > self._limit:
                raise PollError("decode", "", f"response larger than {self._limit} bytes, not read")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class UpstreamHTTP:
    """One target's view of the shared HTTP client: its base URL, limits, timeout and stats.

    The client's transport should be a `CappedTransport`: the body cap lives there.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        global_limit: asyncio.Semaphore,
        target_limit: asyncio.Semaphore,
        timeout: float,
        stats: RequestStats,
        auth: httpx.Auth | None = None,
    ) -> None:
        self._client = client
        self._global_limit = global_limit
        self._target_limit = target_limit
        self._timeout = timeout
        self._auth = auth
        self.stats = stats

    async def get(
        self,
        url: str,
        endpoint: str,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        """GET `url`; `endpoint` is the route template used in metrics and errors.

        Raises PollError for transport failures, malformed HTTP and oversized bodies; any HTTP
        status is returned for the caller to judge, since what a 404 means depends on the API.
        The deadline covers the whole exchange, auth flow and body included.
        """
        async with self._target_limit, self._global_limit:
            started = time.monotonic()
            try:
                async with asyncio.timeout(self._timeout):
                    return await self._send(url, params, headers)
            except TimeoutError as exc:
                raise PollError(
                    "timeout", endpoint, f"no answer within {self._timeout:g}s"
                ) from exc
            except PollError as exc:
                # Raised inside the auth flow, it may concern another route (the key lookup).
                message = exc.message
                if exc.endpoint not in ("", endpoint):
                    message = f"{exc.endpoint}: {message}"
                raise PollError(exc.reason, endpoint, message) from exc
            except SecretFileError as exc:
                # A *_file secret went missing (the auth flow reads it per request): we cannot
                # sign in; the poller backs off and retries as soon as the file changes.
                raise PollError("auth", endpoint, str(exc)) from None
            except (httpx.HTTPError, aiohttp.ClientError, OSError) as exc:
                # aiohttp.ClientError: a response that is not HTTP (bad status line, a header
                # past aiohttp's limits) escapes the transport's exception mapping.
                raise PollError(_transport_reason(exc), endpoint, _describe(exc)) from exc
            finally:
                self.stats.record(endpoint, time.monotonic() - started)

    async def _send(
        self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str] | None
    ) -> Response:
        request = self._client.build_request("GET", url, params=params, headers=headers)
        response = await self._client.send(request, auth=self._auth, stream=True)
        try:
            body = await response.aread()
            return Response(response.status_code, response.headers, body)
        finally:
            await response.aclose()


def _transport_reason(exc: BaseException) -> Reason:
    """Classify by the root cause: the aiohttp transport maps every connection error to
    httpx.ConnectTimeout, so the httpx type alone would call a refused connection a timeout."""
    cause: BaseException | None = exc
    root: BaseException = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError | ssl.CertificateError | aiohttp.ClientSSLError):
            return "tls"
        root = cause
        cause = cause.__cause__ or cause.__context__
    if isinstance(root, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout"
    if isinstance(root, aiohttp.ClientError | OSError):
        return "connection"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    return "connection"


def _describe(exc: BaseException) -> str:
    """A short, secret-free description: the exception type and its message.

    The aiohttp transport re-raises aiohttp's errors as httpx types that mislead (a closed
    connection becomes ConnectTimeout), so the error it wraps is the one described.
    """
    if isinstance(exc, httpx.HTTPError) and exc.__cause__ is not None:
        exc = exc.__cause__
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"malformed HTTP response: {' '.join(exc.message.split())}"[:300]
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
