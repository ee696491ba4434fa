"""A JSON log line is JSON whatever a field holds: a parser must read every line."""

from __future__ import annotations

import json
import logging

from exporter.logs import JSONFormatter, fields


def _line(**values: object) -> dict[str, object]:
    record = logging.LogRecord("exporter", logging.INFO, __file__, 1, "poll done", None, None)
    record.__dict__.update(fields(**values))
    parsed: dict[str, object] = json.loads(JSONFormatter().format(record), parse_constant=_refuse)
    return parsed


def _refuse(constant: str) -> object:
    raise ValueError(f"{constant} is not JSON")


def test_numbers_stay_numbers_and_non_finite_ones_become_text() -> None:
    line = _line(requests=24, seconds=0.25, delay=float("nan"), age=float("inf"), ok=True)
    assert line["requests"] == 24 and line["seconds"] == 0.25 and line["ok"] is True
    assert line["delay"] == "nan" and line["age"] == "inf"
    assert line["msg"] == "poll done"
