"""Which timeout ended a request: the request's own, the poll's deadline, or one below us."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import aiohttp
import pytest

from exporter.sources.errors import PollError
from exporter.sources.http import RequestStats, UpstreamHTTP


@contextlib.asynccontextmanager
async def silent_upstream() -> AsyncIterator[str]:
    """A loopback server that reads the request and never answers; yields its base URL."""
    stop = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await stop.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop.set()
        server.close()


async def test_a_timeout_below_ours_is_a_transport_timeout_not_the_deadline() -> None:
    # A socket read timeout of the session's: neither the request's 30 s nor a poll deadline
    # (there is none outside a poll) has passed, so "the poll's deadline passed" would be false.
    timeout = aiohttp.ClientTimeout(total=None, sock_read=0.2)
    async with silent_upstream() as url, aiohttp.ClientSession(timeout=timeout) as session:
        http = UpstreamHTTP(
            session, target_limit=asyncio.Semaphore(1), timeout=30, stats=RequestStats()
        )
        with pytest.raises(PollError) as raised:
            await http.get(f"{url}/api/v1/info", "/api/v1/info")
    assert raised.value.reason == "timeout"
    assert "deadline" not in raised.value.message


async def test_the_requests_own_timeout_is_still_a_timeout() -> None:
    async with silent_upstream() as url, aiohttp.ClientSession() as session:
        http = UpstreamHTTP(
            session, target_limit=asyncio.Semaphore(1), timeout=0.2, stats=RequestStats()
        )
        with pytest.raises(PollError) as raised:
            await http.get(f"{url}/api/v1/info", "/api/v1/info")
    assert (raised.value.reason, raised.value.message) == ("timeout", "no answer within 0.2s")
