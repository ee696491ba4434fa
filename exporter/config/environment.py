"""``${VAR}`` expansion in the config's strings, done on the parsed YAML before validation."""

import re
from collections.abc import Mapping
from typing import Any

from exporter.config.errors import join_path

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_UNCLOSED = "unclosed ${ (write $$ for a literal $)"
_MALFORMED = "use ${NAME} or ${NAME:-default} (and $$ for a literal $)"
# Defaults within defaults, at most this deep: each level is a Python call.
_MAX_NESTED_DEFAULTS = 8


def _expand_string(text: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${NAME}``, ``${NAME:-default}`` and ``$$`` in ``text``; also return problems.

    A default may itself hold references (``${OUTER:-${INNER}}``), expanded only when used.
    A substituted value is never scanned again, so a ``$`` in a password stays.
    """
    errors: list[str] = []
    try:
        expanded, _ = _expand_from(text, 0, environ, errors, depth=0)
    except _NestedTooDeep:
        return "", [f"defaults nested more than {_MAX_NESTED_DEFAULTS} deep"]
    return expanded, errors


class _NestedTooDeep(Exception):
    """Defaults within defaults, deeper than _MAX_NESTED_DEFAULTS."""


def _expand_from(
    text: str, pos: int, environ: Mapping[str, str], errors: list[str], depth: int
) -> tuple[str, int]:
    """Expand from ``pos`` to the end, or (``depth`` defaults deep) to the default's closing
    brace, whose position is returned."""
    parts: list[str] = []
    while pos < len(text):
        if text.startswith("$$", pos):
            parts.append("$")
            pos += 2
        elif text.startswith("${", pos):
            value, pos = _reference(text, pos + 2, environ, errors, depth)
            parts.append(value)
        elif depth and text[pos] == "}":
            return "".join(parts), pos
        else:
            parts.append(text[pos])
            pos += 1
    return "".join(parts), pos


def _reference(
    text: str, pos: int, environ: Mapping[str, str], errors: list[str], depth: int
) -> tuple[str, int]:
    """Expand the reference whose body starts at ``pos`` (after ``${``); return the value and
    the position after its closing brace."""
    name = _NAME.match(text, pos)
    end = name.end() if name else pos
    if name and text.startswith("}", end):
        value = environ.get(name[0])
        if value is None:
            errors.append(f"environment variable {name[0]} is not set")
            return "", end + 1
        return value, end + 1
    if name and text.startswith(":-", end):
        if depth >= _MAX_NESTED_DEFAULTS:
            raise _NestedTooDeep
        default_errors: list[str] = []
        default, close = _expand_from(text, end + 2, environ, default_errors, depth + 1)
        if close >= len(text):
            errors.append(_UNCLOSED)
            return "", close
        value = environ.get(name[0])
        # `:-` as in the shell: the default also replaces an empty value, and is only
        # looked at when it is used.
        if value:
            return value, close + 1
        errors.extend(default_errors)
        return default, close + 1
    close = text.find("}", pos)
    if close < 0:
        errors.append(_UNCLOSED)
        return "", len(text)
    errors.append(_MALFORMED)
    return "", close + 1


def expand(node: Any, path: str, environ: Mapping[str, str], problems: dict[str, str]) -> Any:
    """``node`` with every string in it expanded; the first problem of each string is put in
    ``problems`` under its path (``path`` is where ``node`` is)."""
    if isinstance(node, str):
        text, errors = _expand_string(node, environ)
        for error in errors:
            problems.setdefault(path, error)
        return text
    if isinstance(node, dict):
        return {
            key: expand(value, join_path(path, key), environ, problems)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [
            expand(value, join_path(path, i), environ, problems) for i, value in enumerate(node)
        ]
    return node
