"""The lower bound: a bare fan-out of as many GETs at the same concurrency, no auth, no parsing.

`aiohttp` is the cheapest client measured here; `httpx` is httpx's own transport. Each runs in
a fresh process and prints JSON: wall time and CPU of a measured round after a warm-up one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import aiohttp
import httpx

from bench.fleet import agent_url, process_cpu


async def _round(urls: list[str], concurrency: int, get: Callable[[str], Awaitable[None]]) -> None:
    limit = asyncio.Semaphore(concurrency)

    async def one(url: str) -> None:
        async with limit:
            await get(url)

    await asyncio.gather(*(one(u) for u in urls))


async def _measure(client: str, urls: list[str], concurrency: int) -> dict[str, float]:
    if client == "aiohttp":
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency))

        async def get(url: str) -> None:
            async with session.get(url) as response:
                await response.read()

        close: Callable[[], Awaitable[None]] = session.close
    else:
        http = httpx.AsyncClient(limits=httpx.Limits(max_connections=concurrency))

        async def get(url: str) -> None:
            await http.get(url)

        close = http.aclose
    try:
        await _round(urls, concurrency, get)
        cpu, wall = process_cpu(), time.monotonic()
        await _round(urls, concurrency, get)
        return {"wall": time.monotonic() - wall, "cpu": process_cpu() - cpu, "requests": len(urls)}
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
    args = parser.parse_args()
    urls = [agent_url(args.base, i % args.targets) + "/api/v1/info" for i in range(args.requests)]
    print(json.dumps(asyncio.run(_measure(args.client, urls, args.concurrency))))


if __name__ == "__main__":
    main()
