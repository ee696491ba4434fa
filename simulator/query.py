"""Query parameters as OCP and OceanBase Cloud read them for paging."""

from __future__ import annotations


def positive_or(text: str | None, default: int) -> int:
    """`text` as a whole number of at least 1; `default` when it is absent, 0 or not a number."""
    value = int(text) if text and text.isdigit() else 0
    return value if value >= 1 else default
