"""The typed failures a source reports; the poller counts them by `reason`."""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

Reason = Literal[
    "timeout", "deadline", "connection", "tls", "auth", "api_error", "http_status", "decode"
]
REASONS: tuple[Reason, ...] = (
    "timeout",
    "deadline",
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


class DeadlinePassed(PollError):
    """A request not made because its poll's deadline had passed (counted once per poll)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__("deadline", endpoint, "the poll's deadline passed before this request")


def shape_problem(exc: ValidationError) -> str:
    """Where a response differs from its model, without echoing the values it held."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"unexpected response shape at {where}: {first['msg']} ({exc.error_count()} problems)"
