"""The `oceanbase-backup-simulator` command line."""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys

import httpx
import pytest

from simulator.cli import build_parser, parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:2886", ("127.0.0.1", 2886)),
        (":9000", ("0.0.0.0", 9000)),
        ("[::1]:0", ("::1", 0)),
    ],
)
def test_listen_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize("text", ["2886", "host:", "host:99999"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_listen(text)


def test_password_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMULATOR_PASSWORD", "from-env")

    args = build_parser().parse_args([])

    assert args.password == "from-env"
    assert args.listen == ("127.0.0.1", 2886)
    assert args.agent_password is None


async def test_python_m_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "simulator",
        "--listen",
        "127.0.0.1:0",
        "--scenario",
        "healthy",
        "--clusters",
        "2",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        line = (await asyncio.wait_for(process.stderr.readline(), timeout=20)).decode()
        found = re.search(r"listening on (http://\S+):", line)
        assert found, line
        async with httpx.AsyncClient() as client:
            info = await client.get(f"{found.group(1)}/obshell/1/api/v1/info")
        assert info.json()["data"]["identity"] == "CLUSTER AGENT"
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), timeout=20)
    assert code == 0
