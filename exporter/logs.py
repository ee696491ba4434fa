"""Logging set-up: one line per event on stderr, logfmt or JSON."""

from __future__ import annotations

import json
import logging
import sys
import time

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


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
    """`ts=... level=info logger=... msg="..."`; a traceback is folded into one `exc` field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        fields = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": _one_line(record.getMessage()),
        }
        if record.exc_info:
            fields["exc"] = _one_line(self.formatException(record.exc_info))
        return " ".join(f"{k}={_quote(v)}" for k, v in fields.items())


def _quote(value: str) -> str:
    if value and not any(c in value for c in ' "=\\'):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JSONFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """Render one record."""
        fields = {
            "ts": _timestamp(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            fields["exc"] = self.formatException(record.exc_info)
        return json.dumps(fields)


def setup_logging(level: str, fmt: str) -> None:
    """Send every log line to stderr in `fmt` at `level`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(LEVELS[level])
    # aiohttp logs every request at info; our own lines are what operators need.
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
