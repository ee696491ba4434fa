"""Hostile clients of the exporter's own HTTP server, through real sockets on loopback: slow
request heads (slowloris), running out of file descriptors, malformed requests."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.configs import obshell_config
from tests.helpers.exporter_process import Exporter
from tests.helpers.obshell_stub import ObshellStub

# A request head that is never finished: one more header byte now and then.
PARTIAL_HEAD = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def _connect(port: int) -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return None  # the listen backlog is full: the kernel drops the SYN


@contextlib.contextmanager
def tricklers(port: int, count: int, head: bytes = PARTIAL_HEAD) -> Iterator[list[socket.socket]]:
    """`count` connections that send `head` and then one byte every 0.2 s until the end."""
    sockets = [s for s in (_connect(port) for _ in range(count)) if s is not None]
    stop = threading.Event()

    def trickle() -> None:
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.sendall(head)
        while not stop.wait(0.2):
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.send(b"a")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield sockets
    finally:
        stop.set()
        thread.join(timeout=10)
        for sock in sockets:
            sock.close()


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    """True when the server closes `sock` within `within` seconds."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True  # reset
    return False


@pytest.fixture
def config(obshell: ObshellStub, tmp_path: Path) -> Path:
    return obshell_config(tmp_path, obshell.url)


def test_trickling_connections_do_not_stop_a_scrape(config: Path) -> None:
    # systemd's default of 1,024 file descriptors: 1,100 slow clients would take them all
    # without a connection limit (by default 512, half the descriptors).
    exporter = Exporter(config, open_files=1024)
    try:
        with tricklers(exporter.port, 1100) as sockets:
            assert len(sockets) >= 1050
            time.sleep(0.5)
            for _ in range(5):
                response = exporter.get("/metrics")
                assert response.status_code == 200
                assert "oceanbase_backup_exporter_target_up" in response.text
    finally:
        stderr = exporter.stop()
    assert "Traceback" not in stderr and "exc=" not in stderr
    assert "cannot accept connections" not in stderr  # the limit kept descriptors free


def test_connections_idle_past_the_head_timeout_are_closed(config: Path) -> None:
    exporter = Exporter(config)  # the default head timeout: 10 s
    try:
        silent = socket.create_connection(("127.0.0.1", exporter.port), timeout=2)
        served = socket.create_connection(("127.0.0.1", exporter.port), timeout=2)
        served.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert served.recv(65536).startswith(b"HTTP/1.1 200")  # keep-alive: stays open
        with tricklers(exporter.port, 1) as (trickling,):
            for sock in (silent, served, trickling):
                # 10 s and a margin for a machine under load.
                assert _closed_by_server(sock, within=25)
        silent.close()
        served.close()
        assert exporter.get("/-/healthy").status_code == 200
    finally:
        exporter.stop()


def test_running_out_of_file_descriptors_is_one_log_line(config: Path) -> None:
    # No connection limit below the descriptor limit: accept() fails with EMFILE, which asyncio
    # would log with a traceback on every attempt, hundreds of times a second.
    exporter = Exporter(
        config, "--web.max-connections", "1000", "--web.read-header-timeout", "2s", open_files=64
    )
    try:
        with tricklers(exporter.port, 100, head=b""):
            time.sleep(3)
        # The slow clients are gone (closed by the head timeout, then by themselves).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                if exporter.get("/metrics").status_code == 200:
                    break
            time.sleep(0.2)
        assert exporter.get("/metrics").status_code == 200
    finally:
        stderr = exporter.stop()
    lines = [line for line in stderr.splitlines() if "cannot accept connections" in line]
    assert len(lines) == 1, stderr[-2000:]
    assert "Too many open files" in lines[0] and "level=error" in lines[0]
    assert "Traceback" not in stderr and "exc=" not in stderr


MALFORMED = [
    b"GET / HTTP/1.1\r\nHost: x\r\nno colon in this header\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32),  # a TLS hello on plain HTTP
    b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/7.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n",
    b"POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
]


def test_malformed_requests_are_debug_lines_without_a_traceback(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    exporter = Exporter(obshell_config(tmp_path, obshell.url), "--log.level", "debug")
    try:
        for request in MALFORMED:
            with socket.create_connection(("127.0.0.1", exporter.port), timeout=5) as sock:
                sock.sendall(request)
                answer = sock.recv(65536)
                assert answer == b"" or re.match(rb"HTTP/1\.[01] 4\d\d ", answer), answer[:100]
        assert exporter.get("/-/healthy").status_code == 200
    finally:
        stderr = exporter.stop()
    assert "Traceback" not in stderr and "exc=" not in stderr
    server_lines = [line for line in stderr.splitlines() if "logger=aiohttp" in line]
    assert server_lines, "each malformed request is logged at debug"
    assert all(line.startswith("ts=") and " level=debug " in line for line in server_lines)
    assert any("malformed request from 127.0.0.1: " in line for line in server_lines)
