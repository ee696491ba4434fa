"""OCP's sizes: a number in `obStorageVolumeUnit`, in bytes, or a decode error, never a guess."""

from __future__ import annotations

from exporter.sources.errors import PollError, shown
from exporter.sources.values import finite

# obStorageVolumeUnit: OCP sizes storage in powers of 1024, as its UI does.
UNIT_BYTES: dict[str, int] = {
    unit: 1024**power for power, unit in enumerate(("B", "KB", "MB", "GB", "TB", "PB"))
}


def storage_bytes(size: float | None, unit: str | None, route: str, owner: str) -> float | None:
    """`size` in `unit` as bytes; None when unknown (absent, negative, or overflowing to
    infinity: unknown, not +Inf). A unit OCP does not document raises a decode PollError
    naming `owner` (`cluster 'x'`, `tenant 'y'`)."""
    if size is None or size < 0:
        return None
    known = (unit or "").strip().upper()
    if known not in UNIT_BYTES:
        units = ", ".join(UNIT_BYTES)
        message = f"obStorageVolumeUnit {shown(unit)} is not one of {units}; size not exported"
        raise PollError("decode", route, f"{owner}: {message}")
    return finite(size * UNIT_BYTES[known])
