"""HTTP plumbing every source shares: limits, a total deadline, a body cap, error reasons.

Each upstream request goes through `UpstreamHTTP.get`, which turns every way a request can go
wrong into a `PollError` with one of the documented reasons, and records the request count,
latency and failures in the target's `RequestStats`.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
import httpx

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


class UpstreamHTTP:
    """One target's view of the shared HTTP client: its base URL, limits, timeout and stats."""

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

        Raises PollError for transport failures and oversized bodies; any HTTP status is
        returned for the caller to judge, since what a 404 means depends on the API.
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
            except httpx.HTTPError as exc:
                raise PollError(_transport_reason(exc), endpoint, _describe(exc)) from exc
            except OSError as exc:
                raise PollError("connection", endpoint, _describe(exc)) from exc
            except PollError as exc:
                raise PollError(exc.reason, endpoint, exc.message) from exc
            finally:
                self.stats.record(endpoint, time.monotonic() - started)

    async def _send(
        self, url: str, params: Mapping[str, str] | None, headers: Mapping[str, str] | None
    ) -> Response:
        request = self._client.build_request("GET", url, params=params, headers=headers)
        response = await self._client.send(request, auth=self._auth, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise PollError(
                        "decode", "", f"response larger than {MAX_BODY_BYTES} bytes, not read"
                    )
            return Response(response.status_code, response.headers, bytes(body))
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
    """A short, secret-free description: the exception type and its message."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]
