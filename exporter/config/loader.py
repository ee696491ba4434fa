"""``load_config``: read the YAML file, expand ``${VAR}``, apply ``defaults:``, validate, and
report every problem at once."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from exporter.config.environment import expand
from exporter.config.errors import ConfigError
from exporter.config.messages import note_inherited, validation_problems
from exporter.config.model import Config, Defaults, duplicate_names
from exporter.yamlfile import YAMLFileError, read_yaml


def _read_file(path: Path) -> dict[Any, Any]:
    try:
        data = read_yaml(path)
    except YAMLFileError as error:
        raise ConfigError([str(error)]) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; it needs at least a targets: list"])
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping with a targets: list"])
    return data


def _apply_defaults(
    defaults: Mapping[str, Any], unusable: set[str], targets: list[Any]
) -> tuple[list[Any], list[set[str]]]:
    """Merge ``defaults`` into each target; return the targets and what each one inherited."""
    merged_targets: list[Any] = []
    inherited: list[set[str]] = []
    for target in targets:
        taken: set[str] = set()
        if isinstance(target, dict):
            merged = dict(target)
            for key, value in defaults.items():
                if value is None or key in unusable:
                    continue
                own = target.get(key)
                if key == "tls" and isinstance(value, dict) and isinstance(own, dict):
                    extra = {k: v for k, v in value.items() if k not in own and v is not None}
                    merged["tls"] = {**own, **extra}
                    taken.update(f"tls.{k}" for k in extra)
                elif key not in target:
                    merged[key] = value
                    taken.add(key)
            target = merged
        merged_targets.append(target)
        inherited.append(taken)
    return merged_targets, inherited


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate the config file at ``path``; raise :class:`ConfigError`.

    ``environ`` (default ``os.environ``) supplies ``${VAR}``. Every problem found is reported at
    once. Secrets files are not read here: see :func:`check_secrets` and :meth:`Secret.read`.
    """
    raw = _read_file(path)
    env_problems: dict[str, str] = {}
    data = expand(raw, "", os.environ if environ is None else environ, env_problems)
    problems = list(env_problems.items())

    defaults = data.pop("defaults", None)
    inherited: list[set[str]] = []
    if defaults is not None:
        unusable: set[str] = set()
        try:
            Defaults.model_validate(defaults)
        except ValidationError as error:
            found = validation_problems(error, Defaults, "defaults")
            problems += [(p, m) for p, m in found if p not in env_problems]
            unusable = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
        if isinstance(defaults, dict) and isinstance(data.get("targets"), list):
            data["targets"], inherited = _apply_defaults(defaults, unusable, data["targets"])

    try:
        config = Config.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as error:
        # A failed ${VAR} was replaced by "": what that breaks is already reported.
        problems += [
            (p, note_inherited(p, m, inherited))
            for p, m in validation_problems(error, Config)
            if p not in env_problems
        ]
        # Config's own name check runs only once every target is valid; report a clash anyway.
        targets = data.get("targets")
        if isinstance(targets, list):
            names = [t.get("name") if isinstance(t, dict) else None for t in targets]
            problems += [p for p in duplicate_names(names) if p not in problems]
    if problems:
        raise ConfigError([f"{p}: {m}" if p else m for p, m in problems])
    return config
