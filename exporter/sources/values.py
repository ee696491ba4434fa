"""Reading upstream values the way the metric contract wants them: unknown is None, never 0."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, tzinfo
from typing import Annotated

from pydantic import Field

from exporter.snapshot import Restore
from exporter.states import RESTORE_FINISHED

# The widest integers an upstream's types hold (Go's int64 and uint64, Java's Long): anything
# beyond is a decode error, not a value that breaks float conversion or renders as nonsense.
# A bound checked natively costs nothing per field, where a Python validator doubled the
# parse time.
Int = Annotated[int, Field(ge=-(2**63), le=2**64 - 1)]
_FRACTION = re.compile(r"(\.\d{6})\d+")
_COMPACT_OFFSET = re.compile(r"([+-]\d{2})(\d{2})$")


def parse_time(text: str | None, default_tz: tzinfo = UTC) -> float | None:
    """Unix seconds of an upstream time, or None when it is empty or not a real time.

    Accepts RFC 3339 with any offset (`Z`, `+08:00`, `+0800`) and any number of fractional
    digits, and `YYYY-MM-DD HH:MM:SS[.f]` without offset, read in `default_tz`. The Go zero
    time and anything at or before the Unix epoch mean "none".
    """
    moment = _datetime(text)
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=default_tz)
    seconds = moment.timestamp()
    return seconds if seconds > 0 else None


def offset_of(text: str | None) -> tzinfo | None:
    """The UTC offset an upstream time carries (`Z`, `+08:00`, `+0800`), or None without one.

    An API's envelope timestamp tells the server's zone, which is how its offset-less times
    are meant to be read.
    """
    moment = _datetime(text)
    return moment.tzinfo if moment is not None else None


def envelope_zone(configured: tzinfo | None, envelope_timestamp: str | None) -> tzinfo:
    """The zone to read an answer's offset-less times in.

    The target's configured zone wins; else the offset of the envelope's own timestamp (the
    server's zone, with any number of fraction digits: Go's RFC3339Nano trims trailing
    zeros); else UTC.
    """
    return configured or offset_of(envelope_timestamp) or UTC


def finite(value: float | None) -> float | None:
    """`value` when it is a real number: an overflow to infinity (or NaN) is unknown."""
    return value if value is not None and math.isfinite(value) else None


def _datetime(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        # Python 3.11 reads `Z`, `+0800` and any number of fraction digits itself: the
        # normalising below is for the rest (`z`, spaces), at five times the cost.
        return datetime.fromisoformat(text)
    except ValueError:
        pass
    if not text.strip():
        return None
    value = _FRACTION.sub(r"\1", text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    value = _COMPACT_OFFSET.sub(r"\1:\2", value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def scn_seconds(scn: int) -> float | None:
    """An SCN is nanoseconds since the epoch: exact integer until the one division."""
    return scn / 1_000_000_000 if scn > 0 else None


def percent_ratio(text: str) -> float | None:
    """`"45.67"` -> 0.4567; None for "", garbage, NaN or values outside 0..100."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    if math.isnan(value) or not 0.0 <= value <= 100.0:
        return None
    return value / 100.0


def positive(value: int) -> int | None:
    """A count the API zero-fills when it does not apply: 0 means unknown."""
    return value if value > 0 else None


def restore_shown(restore: Restore, now: float, restore_history: float) -> bool:
    """A restore is shown while it runs, and for `restore_history` after it finished (from
    its start when its end is unknown); one with neither time is not shown once finished."""
    if restore.status not in RESTORE_FINISHED:
        return True
    ended = restore.finish or restore.start
    return ended is not None and now - ended <= restore_history
