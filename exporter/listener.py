"""The HTTP listener's defences against hostile clients: a bound on connections, a deadline
for each request head, and at most one log line a minute when file descriptors run out.

aiohttp alone holds a connection that trickles its request head forever (versions before 3.14
do not even time out one that sends nothing), and asyncio logs a traceback for every failed
accept(): a few thousand slow clients stop every scrape and flood the log.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from exporter.logs import fields

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 512
DEFAULT_HEAD_TIMEOUT = 10.0
# accept() failures that mean "no file descriptor (or memory) left", as asyncio lists them.
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_RESOURCE_LOG_INTERVAL = 60.0


def default_max_connections() -> int:
    """512, or half the open-files limit when that is lower: the other half is for the
    connections to the targets, the log and the event loop."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(1, min(DEFAULT_MAX_CONNECTIONS, soft // 2))


@dataclass
class _Connection:
    """What the guard knows of one connection."""

    # loop.time() since when it waits for a request head; None while a request is handled.
    waiting_since: float | None
    # Closes the connection if its first request head is not complete in time.
    first_head: asyncio.TimerHandle | None


class GuardedServer(web.Server):
    """aiohttp's server, with at most `max_connections` connections and `head_timeout` seconds
    for a request head (from the connection's start, or from its previous response)."""

    def __init__(
        self,
        handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]],
        *,
        max_connections: int,
        head_timeout: float,
        **kwargs: Any,
    ) -> None:
        # aiohttp's keep-alive timer closes a connection that waits this long for its next
        # request after a response; the first request's head is timed here.
        super().__init__(self._tracked(handler), keepalive_timeout=head_timeout, **kwargs)
        self._max_connections = max_connections
        self._head_timeout = head_timeout
        self._tracked_connections: dict[RequestHandler, _Connection] = {}

    def _tracked(
        self, handler: Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]:
        async def tracked(request: web.BaseRequest) -> web.StreamResponse:
            connection = self._tracked_connections.get(request.protocol)
            if connection is not None:
                connection.waiting_since = None
                if connection.first_head is not None:
                    connection.first_head.cancel()
                    connection.first_head = None
            try:
                return await handler(request)
            finally:
                if connection is not None:
                    connection.waiting_since = self._loop.time()

        return tracked

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        """Track the connection; over the limit, close the one that waited longest for a
        request head (a slow client, or an idle keep-alive one), else this new one."""
        super().connection_made(handler, transport)
        now = self._loop.time()
        timer = self._loop.call_at(now + self._head_timeout, self._head_overdue, handler)
        self._tracked_connections[handler] = _Connection(now, timer)
        if len(self._tracked_connections) <= self._max_connections:
            return
        waiting = [
            (connection.waiting_since, other)
            for other, connection in self._tracked_connections.items()
            if connection.waiting_since is not None and other is not handler
        ]
        if waiting:
            _, oldest = min(waiting, key=lambda pair: pair[0])
            log.debug("connection limit reached: closed the connection idle the longest")
            self._close(oldest)
        else:
            log.debug("connection limit reached: every connection is busy; refused a new one")
            self._close(handler)

    def _close(self, handler: RequestHandler) -> None:
        # Forgotten now: its socket is closed only on the loop's next turn, and the connections
        # accepted in this turn must not pick it again.
        connection = self._tracked_connections.pop(handler, None)
        if connection is not None and connection.first_head is not None:
            connection.first_head.cancel()
        handler.force_close()

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        """Forget the connection."""
        super().connection_lost(handler, exc)
        connection = self._tracked_connections.pop(handler, None)
        if connection is not None and connection.first_head is not None:
            connection.first_head.cancel()

    def _head_overdue(self, handler: RequestHandler) -> None:
        connection = self._tracked_connections.get(handler)
        if connection is not None and connection.waiting_since is not None:
            log.debug("closed a connection that sent no complete request head in time")
            self._close(handler)


class GuardedAppRunner(web.AppRunner):
    """An AppRunner whose connections a :class:`GuardedServer` handles."""

    def __init__(
        self, app: web.Application, *, max_connections: int, head_timeout: float, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._max_connections = max_connections
        self._head_timeout = head_timeout
        self._handler_options = kwargs

    async def _make_server(self) -> web.Server:
        # aiohttp has no public way to choose the server class of an AppRunner. The one the
        # application makes starts the application (on_startup); ours serves its handler.
        plain = await super()._make_server()
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            max_connections=self._max_connections,
            head_timeout=self._head_timeout,
            **{k: v for k, v in self._handler_options.items() if k != "handle_signals"},
        )


class ClientErrorLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server log, where a malformed request is one line at debug.

    aiohttp logs each request it cannot parse at error, with a traceback: anyone who can reach
    the port could fill the log. The line names the kind of error, never the bytes received.
    """

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        """Log as aiohttp asks, except for requests that could not be parsed."""
        error = kwargs.get("exc_info")
        if isinstance(error, HttpProcessingError):
            if self.logger.isEnabledFor(logging.DEBUG):
                remote = args[0] if args else "?"
                self.logger.debug("malformed request from %s: %s", remote, type(error).__name__)
            return
        super().log(level, msg, *args, **kwargs)


class AcceptErrorFilter:
    """An event loop exception handler that logs running out of file descriptors once a
    minute, in one line, and leaves every other error to the default handler."""

    def __init__(self) -> None:
        self._last_logged: float | None = None
        self._suppressed = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """Handle one error the event loop could not deliver anywhere."""
        error = context.get("exception")
        if not isinstance(error, OSError) or error.errno not in _OUT_OF_RESOURCES:
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if self._last_logged is not None and now - self._last_logged < _RESOURCE_LOG_INTERVAL:
            self._suppressed += 1
            return
        log.error(
            "cannot accept connections (raise the open files limit, LimitNOFILE, or lower"
            " --web.max-connections)",
            extra=fields(
                error=error.strerror or errno.errorcode.get(error.errno or 0, "error"),
                suppressed=self._suppressed or None,
            ),
        )
        self._last_logged, self._suppressed = now, 0
