"""The requests of one steady exporter poll cycle, recorded for the bare fan-out to replay.

`python -m bench.routes --base URL --targets N --out FILE` runs a warm-up cycle and writes the
URLs the second cycle asked, in order (JSON list), so that `bench.fanout --urls FILE` can ask
the same routes, signed the same way, with nothing of the exporter around them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from yarl import URL

from bench.fleet import write_config
from exporter.config import load_config
from exporter.poller import Poller
from exporter.sources import http


async def _record(config: Path) -> list[str]:
    poller = Poller(load_config(config))
    urls: list[str] = []
    exchange = http.UpstreamHTTP._exchange

    async def recorded(self: http.UpstreamHTTP, url: URL, headers: dict[str, str]) -> object:
        urls.append(str(url))
        return await exchange(self, url, headers)

    try:
        await poller.poll_all_once()
        http.UpstreamHTTP._exchange = recorded  # type: ignore[assignment,method-assign]
        await poller.poll_all_once()
    finally:
        http.UpstreamHTTP._exchange = exchange  # type: ignore[method-assign]
        await poller.stop()
    return urls


def main() -> None:
    """Parse the arguments, record, write the URLs."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--targets", type=int, required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        config = write_config(Path(folder), args.base, args.targets, None, "5m")
        urls = asyncio.run(_record(config))
    Path(args.out).write_text(json.dumps(urls))
    print(json.dumps({"requests": len(urls)}))


if __name__ == "__main__":
    main()
