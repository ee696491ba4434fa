"""The exporter as a user runs it: its command line, a free loopback port."""

from __future__ import annotations

import socket
import subprocess
import sys


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run the exporter's command line in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
