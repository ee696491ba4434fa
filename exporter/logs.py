"""Logging set-up: one line per event on stderr, logfmt or JSON, with the event's fields.

A line is a short fixed message and fields (`msg="poll failed" target=a endpoint=/x
reason=timeout error="..."`), so that a log pipeline can filter on a target or a reason
without parsing prose: `log.warning("poll failed", extra=fields(target=name, ...))`. The same
keys are top-level keys in JSON.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Mapping
from typing import Any

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


# Where `fields` puts an event's fields on a LogRecord.
_FIELDS = "fields"
# Keys every line has: an event's field of the same name is written after them as `field_KEY`.
_BASE_KEYS = frozenset({"ts", "level", "logger", "msg", "exc"})


def fields(**values: object) -> dict[str, Any]:
    """The `extra=` of a logging call whose event has these fields (None values left out)."""
    return {_FIELDS: {k: v for k, v in values.items() if v is not None}}


def fields_of(record: logging.LogRecord) -> Mapping[str, object]:
    """The fields a record was logged with (none for other libraries' records)."""
    found = getattr(record, _FIELDS, None)
    return found if isinstance(found, dict) else {}


def _keyed(record: logging.LogRecord) -> dict[str, object]:
    return {(f"field_{k}" if k in _BASE_KEYS else k): v for k, v in fields_of(record).items()}


def _timestamp(record: logging.LogRecord) -> str:
    moment = time.gmtime(record.created)
    return time.strftime("%Y-%m-%dT%H:%M:%S", moment) + f".{int(record.msecs):03d}Z"


def _one_line(text: str) -> str:
    """Whitespace folded and control characters escaped: messages quote upstream text, which
    must not forge log lines or drive a terminal (ANSI escapes)."""
    folded = " ".join(text.split())
    if folded.isprintable():
        return folded
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in folded)


class LogfmtFormatter(logging.Formatter):
    """`ts=... level=info logger=... msg="..." KEY=VALUE...`; a traceback is folded into one
    `exc` field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        line = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _one_line(record.getMessage()),
        }
        for key, value in _keyed(record).items():
            line[key] = _one_line(str(value))
        if record.exc_info:
            line["exc"] = _one_line(self.formatException(record.exc_info))
        return " ".join(f"{k}={_quote(v)}" for k, v in line.items())


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JSONFormatter(logging.Formatter):
    """One JSON object per line: the same keys as logfmt."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        line: dict[str, object] = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in _keyed(record).items():
            # Numbers and booleans stay JSON numbers and booleans (NaN and infinities are not
            # JSON: their text); anything else is its text.
            number = isinstance(value, int | bool) or (
                isinstance(value, float) and math.isfinite(value)
            )
            line[key] = value if number else str(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        # json.dumps escapes control characters (and keeps no lone surrogate unescaped).
        return json.dumps(line)


def setup_logging(level: str, fmt: str) -> None:
    """Send every log line to stderr in `fmt` at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # aiohttp logs every request at info; our own lines are what operators need.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
