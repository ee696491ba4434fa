"""The typed failures a source reports; the poller counts them by `reason`."""

from __future__ import annotations

from typing import Literal

Reason = Literal["timeout", "connection", "tls", "auth", "api_error", "http_status", "decode"]
REASONS: tuple[Reason, ...] = (
    "timeout",
    "connection",
    "tls",
    "auth",
    "api_error",
    "http_status",
    "decode",
)


class PollError(Exception):
    """One upstream request failed; `endpoint` is the route template, never a concrete path.

    Messages are built by our code from status codes, upstream error codes and upstream
    messages, never from request headers, so no credential can end up in one.
    """

    def __init__(self, reason: Reason, endpoint: str, message: str) -> None:
        super().__init__(f"{endpoint}: {reason}: {message}")
        self.reason: Reason = reason
        self.endpoint = endpoint
        self.message = message
