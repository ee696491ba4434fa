"""The typed failures a source reports; the poller counts them by `reason`."""

from __future__ import annotations

from typing import Literal

from pydantic import ValidationError

from exporter.text import replace_surrogates

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
# What a log line or the status page shows of a message (the poller cuts, after redacting).
MESSAGE_LIMIT = 300
# What a message quotes of one upstream value (a unit, an algorithm): enough to recognise it.
VALUE_LIMIT = 40
# What a PollError keeps: enough to redact a secret that straddles MESSAGE_LIMIT whole, little
# enough that an upstream's megabyte of error text costs nothing.
KEPT_MESSAGE = 4 * MESSAGE_LIMIT


class PollError(Exception):
    """One upstream request failed; `endpoint` is the route template, never a concrete path.

    Messages are built by our code from status codes, upstream error codes and upstream
    messages, never from request headers; an upstream may still echo a credential, which the
    poller redacts. Sources put upstream text last and never cut it: the message is cut here,
    at its end only, so that a secret cut off is a tail the redaction recognises. Lone
    surrogates (an upstream's invalid text) become U+FFFD: the message must encode.
    """

    def __init__(self, reason: Reason, endpoint: str, message: str) -> None:
        message = replace_surrogates(message[:KEPT_MESSAGE])
        super().__init__(f"{endpoint}: {reason}: {message}")
        self.reason: Reason = reason
        self.endpoint = endpoint
        self.message = message


class DeadlinePassed(PollError):
    """A request not made because its poll's deadline had passed (counted once per poll)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__("deadline", endpoint, "the poll's deadline passed before this request")


def shown(value: str | None) -> str:
    """An upstream value as a message quotes it: `repr`, cut to VALUE_LIMIT; "missing" when
    absent or empty."""
    return repr(value)[:VALUE_LIMIT] if value else "missing"


def shape_problem(exc: ValidationError) -> str:
    """Where a response differs from its model, without echoing the values it held."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"unexpected response shape at {where}: {first['msg']} ({exc.error_count()} problems)"
