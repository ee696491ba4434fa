"""``Config``, the whole file once validated, and its ``defaults:`` section."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from exporter.config.errors import problems_error
from exporter.config.fields import Concurrency, Duration, PositiveDuration, StrictModel, Zone
from exporter.config.targets import Target, TLSConfig


def duplicate_names(names: list[object]) -> list[tuple[str, str]]:
    """A problem for each target name given before, at ``targets[i].name``."""
    first: dict[str, int] = {}
    problems = []
    for index, name in enumerate(names):
        if not isinstance(name, str):
            continue
        if name in first:
            message = f'duplicate target name "{name}" (also targets[{first[name]}])'
            problems.append((f"targets[{index}].name", message))
        first.setdefault(name, index)
    return problems


class Config(StrictModel):
    """The whole config, with the ``defaults:`` section already applied to every target."""

    concurrency: Concurrency = 32
    targets: Annotated[list[Annotated[Target, Field(discriminator="source")]], Field(min_length=1)]

    @model_validator(mode="after")
    def _check_names(self) -> Self:
        problems = duplicate_names([target.name for target in self.targets])
        if problems:
            raise problems_error(problems)
        return self

    @property
    def warnings(self) -> list[str]:
        """Problems that do not stop the exporter, as ``path: message`` (never from the file)."""
        return [
            f"targets[{index}].{path}: {message}"
            for index, target in enumerate(self.targets)
            for path, message in target._warnings()
        ]


class Defaults(StrictModel):
    """The ``defaults:`` section: what a target leaves unset, it takes from here."""

    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    stale_after: PositiveDuration | None = None
    restore_history: Duration | None = None
    max_concurrency: Concurrency | None = None
    timezone: Zone | None = None
    tls: TLSConfig | None = None
