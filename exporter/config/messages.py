"""How a pydantic validation error is worded for the user: ``path.in.file: message``, never
the value that was given."""

import difflib
import re
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from exporter.config.errors import join_path
from exporter.config.model import Config
from exporter.config.targets import TARGET_TYPES
from exporter.yamlfile import shown_key

_MESSAGES = {
    "missing": "required",
    "string_type": "must be a string (quote it in YAML)",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "path_type": "must be a file path",
    "too_short": "must not be empty",
    "greater_than_equal": "must be at least {ge}",
    "union_tag_not_found": "required: one of obshell, ocp, cloud",
    "union_tag_invalid": "must be one of obshell, ocp, cloud",
}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _keys(model: type[BaseModel]) -> list[str]:
    keys = [field.alias or name for name, field in model.model_fields.items()]
    return [*keys, "defaults"] if model is Config else keys


def _known_keys(root: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """The keys allowed where ``loc`` points, or [] when that is not a model."""
    model: type[BaseModel] | None = root
    parts = list(loc)
    while parts and model is not None:
        part = parts.pop(0)
        if model is Config and part == "targets" and len(parts) >= 2:
            model = TARGET_TYPES.get(str(parts[1]))
            del parts[:2]
            continue
        fields = {field.alias or name: field for name, field in model.model_fields.items()}
        field = fields.get(str(part))
        model = None if field is None else _model_in(field.annotation)
    return [] if model is None else _keys(model)


def _loc_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        # A discriminated union puts the tag into the location: targets[0].obshell.url
        if part == "[key]" or (index == 2 and loc[0] == "targets" and part in TARGET_TYPES):
            continue
        path = join_path(path, part)
    return path


def _describe(error: ErrorDetails, root: type[BaseModel]) -> list[tuple[str, str]]:
    """Turn one pydantic error into ``(path, message)`` pairs, leaving out the input value."""
    loc = error["loc"]
    kind = error["type"]
    context = error.get("ctx", {})
    path = _loc_path(loc)
    if kind == "config_problems":
        return [
            (f"{path}{'' if sub.startswith('[') or not path else '.'}{sub}", message)
            for sub, message in context["problems"]
        ]
    if kind in ("union_tag_not_found", "union_tag_invalid"):
        return [(join_path(path, "source"), _MESSAGES[kind])]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        # Named by its path, but a key that could be a misplaced secret is not shown.
        path = join_path(_loc_path(loc[:-1]), shown_key(key))
        close = difflib.get_close_matches(key, _known_keys(root, loc[:-1]), n=1)
        return [(path, f'unknown key (did you mean "{close[0]}"?)' if close else "unknown key")]
    if kind in _MESSAGES:
        return [(path, _MESSAGES[kind].format_map(context))]
    return [(path, error["msg"].removeprefix("Value error, "))]


def validation_problems(
    error: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[tuple[str, str]]:
    """Every problem of ``error``, raised validating ``root``, as ``(path, message)``; ``prefix``
    is where ``root`` sits in the file."""
    problems = []
    for detail in error.errors(include_input=False, include_url=False):
        for path, message in _describe(detail, root):
            joined = f"{prefix}.{path}" if prefix and path else prefix or path
            problems.append((joined, message))
    return problems


_TARGET_PATH = re.compile(r"targets\[(\d+)\]\.(.+)")


def note_inherited(path: str, message: str, inherited: list[set[str]]) -> str:
    """Say when a target's problem comes from a value it inherited from ``defaults:``."""
    match = _TARGET_PATH.fullmatch(path)
    if match is None or int(match[1]) >= len(inherited):
        return message
    key = match[2]
    taken = inherited[int(match[1])]
    if key in taken or key.split(".")[0] in taken:
        return f"{message} (set in defaults)"
    return message
