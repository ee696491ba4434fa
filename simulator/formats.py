"""How obshell and OceanBase print times, SCNs, sizes and percentages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

# obshell formats times in the host's zone; real fleets mostly run in China Standard Time.
AGENT_TZ = timezone(timedelta(hours=8))
# Go's time.Time{} as encoding/json prints it: what a NULL timestamp column scans into.
GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_MIB = 1024 * 1024


def go_time(t: float, digits: int = 6) -> str:
    """RFC 3339 as Go's time.RFC3339Nano prints it: +08:00, trailing zeros of the fraction cut.

    Database timestamps have microseconds (`digits=6`); the envelope's has nanoseconds.
    """
    ns = round(t * 1e9)
    seconds, fraction = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).astimezone(AGENT_TZ)
    digits_text = f"{fraction:09d}"[:digits].rstrip("0")
    dot = f".{digits_text}" if digits_text else ""
    return f"{stamp:%Y-%m-%dT%H:%M:%S}{dot}+08:00"


def scn(t: float) -> int:
    """OceanBase's SCN for a moment: nanoseconds since the epoch (to the microsecond here)."""
    return round(t * 1e9) // 1000 * 1000


def percent(fraction: float) -> str:
    """A DECIMAL(6,2) progress column scanned into a string, e.g. "45.67"."""
    return f"{100 * min(max(fraction, 0.0), 1.0):.2f}"


def bytes_display(n: int) -> str:
    """CDB_OB_RESTORE_PROGRESS' *_BYTES_DISPLAY: "17.76MB", "1.20GB"; never below MB."""
    value, unit = n / _MIB, "MB"
    for bigger in ("GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.2f}{unit}"


def encode_ob_version(version: str) -> int:
    """OceanBase's packed cluster version (major<<32 | minor<<16 | patch<<8 | build)."""
    major, minor, patch, build = (int(p) for p in version.split("-", 1)[0].split("."))
    return major << 32 | minor << 16 | patch << 8 | build


def java_date(t: float) -> str:
    """A `java.util.Date` as OCP's Jackson writes it: `yyyy-MM-dd'T'HH:mm:ss.SSSZ`, `+0800`."""
    stamp = datetime.fromtimestamp(round(t, 3), UTC).astimezone(AGENT_TZ)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}+0800"


def java_offset_time(t: float) -> str:
    """An `OffsetDateTime` as OCP writes its envelope `timestamp`: milliseconds, `+08:00`."""
    stamp = datetime.fromtimestamp(round(t, 3), UTC).astimezone(AGENT_TZ)
    return f"{stamp:%Y-%m-%dT%H:%M:%S}.{stamp.microsecond // 1000:03d}+08:00"


def cloud_time(t: float) -> str:
    """OceanBase Cloud's times: UTC to the second, with `Z`."""
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
