"""What every part of the config raises: ``ConfigError`` for the user, pydantic errors that
carry our own wording, and how a place in the file is written (``targets[0].tls.ca_file``)."""

from pydantic_core import PydanticCustomError


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one ``path.in.file: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def invalid(message: str) -> PydanticCustomError:
    """The error a field validator raises: pydantic shows ``message`` as it is."""
    # The message goes in the context so that braces in it are not read as a template.
    return PydanticCustomError("config", "{message}", {"message": message})


def problems_error(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """Report cross-field problems, each at its own path below the model that found them."""
    summary = "; ".join(f"{path}: {message}" for path, message in problems)
    return PydanticCustomError(
        "config_problems", "{message}", {"message": summary, "problems": tuple(problems)}
    )


def join_path(path: str, key: object) -> str:
    """``path`` one level down: ``targets`` and 0 give ``targets[0]``, then ``.url``."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)
