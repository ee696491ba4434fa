"""The lower bound: a bare fan-out of as many GETs at the same concurrency, no auth, no parsing.

`aiohttp` is the cheapest client measured here; `httpx` is httpx's own transport. Each runs in
a fresh process and prints JSON: the median wall time and CPU of 3 measured rounds after a
warm-up one (as `bench.poll_cycle` does).

By default every GET asks the agents' unauthenticated `/api/v1/info`. With `--urls FILE` (from
`bench.routes`) it asks the exporter's own routes instead, each with obshell's auth header made
before the round starts (not counted): the same requests, as costly for the agents to answer,
with nothing of the exporter's work around them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
import httpx
from yarl import URL

from bench.fleet import PASSWORD, agent_url, process_cpu
from exporter.sources.http import Response
from exporter.sources.obshell.auth import HybridAuth

Headers = dict[str, dict[str, str]]
ROUNDS = 3


async def _signed(session: aiohttp.ClientSession, urls: list[str]) -> Headers:
    """obshell's auth header for every URL, as the exporter would send it now."""
    auth = HybridAuth(lambda: PASSWORD)

    async def fetch(url: URL) -> Response:
        async with session.get(url) as response:
            return Response(response.status, response.headers, await response.read())

    return {
        url: dict(await auth.headers("GET", URL(url, encoded=True), fetch)) for url in set(urls)
    }


async def _round(urls: list[str], concurrency: int, get: Callable[[str], Awaitable[None]]) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with limit:
            await get(url)

    await asyncio.gather(*(one(u) for u in urls))


async def _measure(client: str, urls: list[str], concurrency: int, sign: bool) -> dict[str, float]:
    signed: Headers = {}
    if client == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def get(url: str) -> None:
            async with session.get(URL(url, encoded=True), headers=signed.get(url)) as response:
                await response.read()

        close: Callable[[], Awaitable[None]] = session.close
    else:
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))

        async def get(url: str) -> None:
            await http.get(url)

        close = http.aclose
    try:
        if sign:
            signed = await _signed(session, urls)
        await _round(urls, concurrency, get)
        walls: list[float] = []
        cpus: list[float] = []
        for _ in range(ROUNDS):
            if sign:  # headers live 60 s: made again for each measured round
                signed = await _signed(session, urls)
            cpu, wall = process_cpu(), time.monotonic()
            await _round(urls, concurrency, get)
            walls.append(time.monotonic() - wall)
            cpus.append(process_cpu() - cpu)
        return {
            "wall": statistics.median(walls),
            "cpu": statistics.median(cpus),
            "requests": len(urls),
        }
    finally:
        await close()


def main() -> None:
    """Parse the arguments, measure, print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--targets", type=int, required=True)
    parser.add_argument("--requests", type=int, required=True, help="in all, spread over targets")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--client", choices=["aiohttp", "httpx"], required=True)
    parser.add_argument("--urls", help="a JSON list of URLs to ask, signed (from bench.routes)")
    args = parser.parse_args()
    if args.urls:
        urls = json.loads(Path(args.urls).read_text())
    else:
        urls = [
            agent_url(args.base, i % args.targets) + "/api/v1/info" for i in range(args.requests)
        ]
    sign = bool(args.urls)
    if sign and args.client != "aiohttp":
        parser.error("--urls is for --client aiohttp")
    print(json.dumps(asyncio.run(_measure(args.client, urls, args.concurrency, sign))))


if __name__ == "__main__":
    main()
