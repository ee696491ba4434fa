"""Comparing the JSON an upstream sends with what the simulator sends: keys and JSON types."""

from __future__ import annotations

from typing import Any


def shape(value: Any, key: str = "") -> Any:
    """What a JSON value looks like: keys and JSON types, not values."""
    if isinstance(value, dict):
        if key == "topology":  # zone names are data, not keys
            return ("zones", frozenset(shape(v) for v in value.values()))
        return ("object", frozenset((k, shape(v, k)) for k, v in value.items()))
    if isinstance(value, list):
        return ("array", frozenset(shape(v) for v in value))
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if value is None:
        return "null"
    return "string"


def differences(real: Any, simulated: Any, where: str = "") -> list[str]:
    """Where `simulated` has keys or types `real` does not have, or lacks keys it has."""
    if isinstance(real, dict) and isinstance(simulated, dict):
        problems = [f"{where}.{k}: missing" for k in real.keys() - simulated.keys()]
        problems += [f"{where}.{k}: not sent by obshell" for k in simulated.keys() - real.keys()]
        for k in real.keys() & simulated.keys():
            if k == "topology":
                problems += differences(
                    next(iter(real[k].values())), next(iter(simulated[k].values())), f"{where}.{k}"
                )
            else:
                problems += differences(real[k], simulated[k], f"{where}.{k}")
        return problems
    if isinstance(real, list) and isinstance(simulated, list):
        if not real:
            return [] if not simulated else [f"{where}: obshell sends an empty list here"]
        shapes = {shape(item) for item in real}
        return [
            f"{where}[{i}]: no row of obshell's looks like this: {differences(real[0], item)}"
            for i, item in enumerate(simulated)
            if shape(item) not in shapes
        ]
    if shape(real) != shape(simulated):
        return [f"{where}: {shape(simulated)} where obshell sends {shape(real)}"]
    return []
