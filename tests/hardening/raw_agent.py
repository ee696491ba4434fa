"""A raw TCP (or TLS) server in front of a real agent, misbehaving where a test says so.

The simulator's fault injection speaks HTTP properly; the faults here live below that: a
response that never comes, headers or a body trickled byte by byte, a reset mid-body, a body
far past any cap, a gzip bomb, bytes that are not HTTP, a redirect to itself. A fault applies
to one concrete path (so to one tenant of one route), to every path, or to none; requests
without a fault are forwarded to the real agent (the simulator) unchanged, so auth still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

# What a fault does with one connection, once its request head is read.
Behaviour = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Request"], Awaitable[None]]
ALL_PATHS = "*"
HEAD_LIMIT = 64 * 1024


class Request:
    """The head of one request: its raw bytes, path (without query) and headers."""

    def __init__(self, head: bytes) -> None:
        self.head = head
        lines = head.decode("latin-1").split("\r\n")
        _, target, _ = lines[0].split(" ", 2)
        self.target = target
        self.path = target.split("?", 1)[0]
        self.headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)


class RawAgent:
    """A loopback server that forwards to `upstream` unless `faults` has a behaviour for a path.

    `faults` maps a concrete path (`/obshell/0/api/v1/tenant/pay/backup/info`) or ALL_PATHS to a
    behaviour; tests change it while the agent runs.
    """

    def __init__(
        self,
        upstream: str | None = None,
        tls: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.faults: dict[str, Behaviour] = {}
        self._upstream = urlsplit(upstream) if upstream else None
        self._tls = tls
        self._port = port
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> RawAgent:
        """Listen on 127.0.0.1 (on `port`, or a free one)."""
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self._port, ssl=self._tls, limit=HEAD_LIMIT
        )
        return self

    async def stop(self) -> None:
        """Stop listening and drop every open connection."""
        if self._server is None:
            return
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()
        self._server = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """`http(s)://127.0.0.1:PORT`."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            request = Request(head)
            behaviour = self.faults.get(request.path) or self.faults.get(ALL_PATHS)
            await (behaviour or self.forward)(reader, writer, request)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass  # the client gave up or never finished a request (or a TLS handshake)
        finally:
            self._writers.discard(writer)
            writer.close()  # after the buffered bytes; a reset_mid_body linger makes it a RST

    async def forward(
        self, _: asyncio.StreamReader, writer: asyncio.StreamWriter, request: Request
    ) -> None:
        """Relay the request to the real agent and its whole answer back, then close."""
        body = await self.fetch(request)
        writer.write(body)
        await writer.drain()

    async def fetch(self, request: Request) -> bytes:
        """The real agent's raw answer (head and body) to `request`, on a fresh connection."""
        assert self._upstream is not None, "no upstream to forward to"
        up_reader, up_writer = await asyncio.open_connection(
            self._upstream.hostname, self._upstream.port
        )
        try:
            lines = request.head.decode("latin-1").split("\r\n")
            kept = [line for line in lines[:-2] if not line.lower().startswith("connection:")]
            up_writer.write(("\r\n".join([*kept, "Connection: close", "", ""])).encode("latin-1"))
            await up_writer.drain()
            return await up_reader.read()
        finally:
            up_writer.close()


def respond(status: int, body: bytes, content_type: str = "application/json") -> Behaviour:
    """Answer with this status and body (Connection: close)."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()

    return behave


def rewrite(agent: RawAgent, change: Callable[[Any], Any]) -> Behaviour:
    """Forward, then answer with `change(document)` instead of the real JSON document."""

    async def behave(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request
    ) -> None:
        head, _, body = (await agent.fetch(req)).partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        changed = json.dumps(change(json.loads(body))).encode()
        await respond(status, changed)(reader, writer, req)

    return behave


async def _hold(reader: asyncio.StreamReader) -> None:
    """Wait until the client hangs up (bounded: the test's own timeouts are far shorter)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.read(), timeout=30)


def no_answer() -> Behaviour:
    """Accept the request and never answer."""

    async def behave(reader: asyncio.StreamReader, _: asyncio.StreamWriter, __: Request) -> None:
        await _hold(reader)

    return behave


def slow_headers(gap: float = 0.05) -> Behaviour:
    """The status line, then the headers one byte per `gap` seconds, never finished."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for byte in b"Content-Type: application/json\r\nX-Padding: " + b"p" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(gap)

    return behave


def trickled_body(gap: float = 0.05) -> Behaviour:
    """Complete headers, then a body one byte per `gap` seconds (10 kB: minutes in all)."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        body = b'{"successful": true, "data": {"padding": "' + b"p" * 10_000 + b'"}}'
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(gap)

    return behave


def reset_mid_body() -> Behaviour:
    """Headers promising 1000 bytes, 500 of them, then a TCP reset."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"{" + b" " * 499)
        await writer.drain()
        await asyncio.sleep(0.05)  # let the half body reach the client before the reset
        sock = writer.get_extra_info("socket")
        # Linger 0 turns the close into a RST instead of an orderly FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return behave


def close_at_once() -> Behaviour:
    """Read the request and hang up without a byte."""

    async def behave(_: asyncio.StreamReader, __: asyncio.StreamWriter, ___: Request) -> None:
        return

    return behave


def redirect_to_itself() -> Behaviour:
    """A 302 back to the same URL: a client following redirects would loop forever."""

    async def behave(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request
    ) -> None:
        writer.write(
            f"HTTP/1.1 302 Found\r\nLocation: {req.target}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        await writer.drain()

    return behave


def oversized(megabytes: int, declared: bool) -> Behaviour:
    """A JSON-looking body of `megabytes` MiB, its length declared up front or chunked."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        chunk = b" " * (1 << 20)
        if declared:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (megabytes << 20))
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n%s\r\n" % (len(chunk), chunk)
        for _ in range(megabytes):
            writer.write(chunk)
            await writer.drain()

    return behave


def gzip_bomb(megabytes: int = 1024) -> Behaviour:
    """About 1 MB of gzip that decodes to `megabytes` MiB of zeros."""
    # Concatenated gzip members decode as one stream: one compressed MiB, many times.
    bomb = gzip.compress(b"\0" * (1 << 20), compresslevel=9) * megabytes

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            b"Content-Length: %d\r\n\r\n" % len(bomb) + bomb
        )
        await writer.drain()

    return behave


def not_http() -> Behaviour:
    """Bytes that are not an HTTP response."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()

    return behave


def huge_header() -> Behaviour:
    """A header line of 100 kB, past any sane parser's limit."""

    async def behave(_: asyncio.StreamReader, writer: asyncio.StreamWriter, __: Request) -> None:
        writer.write(
            b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 100_000 + b"\r\nContent-Length: 2\r\n\r\n{}"
        )
        await writer.drain()

    return behave


def deep_json(depth: int = 200_000) -> Behaviour:
    """Valid JSON nested deeper than Python's recursion limit."""
    return respond(200, b"[" * depth + b"]" * depth)


def echo() -> Behaviour:
    """A 500 in obshell's and OCP's error shape whose message is the request head as sent,
    credential headers first (sources cut messages to a few hundred characters)."""

    async def behave(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: Request
    ) -> None:
        credentials = [
            f"{name}: {value}"
            for name, value in req.headers.items()
            if "auth" in name.lower() or "ocs" in name.lower()
        ]
        text = "\n".join([*credentials, req.head.decode("latin-1")])
        body = {"successful": False, "status": 500, "error": {"code": 1, "message": text}}
        await respond(500, json.dumps(body).encode())(reader, writer, req)

    return behave
