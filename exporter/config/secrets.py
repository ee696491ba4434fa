"""Credentials: the ``Secret`` type (inline, or a file read again on every use), and the check
that every file a config names can be read."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, SecretStr

if TYPE_CHECKING:
    from exporter.config.model import Config


class SecretFileError(Exception):
    """A ``*_file`` secret could not be read; the message names the file, never its content.

    ``path_in_config`` is the key within its target (``password_file``); :func:`check_secrets`
    prefixes it with ``targets[i].``.
    """

    def __init__(self, path_in_config: str, message: str) -> None:
        super().__init__(f"{path_in_config}: {message}")
        self.path_in_config = path_in_config
        self.message = message


# Fingerprints are keyed per process: a plain hash of a short password could be brute-forced
# from a log line, and callers only ever compare fingerprints taken by the same process.
_FINGERPRINT_KEY = secrets.token_bytes(32)


@dataclass(frozen=True, repr=False)
class Secret:
    """A credential given inline or as a file that is read again on every :meth:`read`.

    Re-reading lets Kubernetes rotate a mounted secret without a signal to the exporter.
    ``origin`` is the config key it came from (``password`` or ``password_file``).
    """

    origin: str
    value: SecretStr | None = None
    file: Path | None = None

    def __post_init__(self) -> None:
        if (self.value is None) == (self.file is None):
            raise ValueError("a Secret holds exactly one of value and file")

    def read(self) -> str:
        """Return the secret, reading its file now; raise :class:`SecretFileError` on failure."""
        if self.value is not None:
            return self.value.get_secret_value()
        assert self.file is not None
        try:
            text = self.file.read_bytes().decode("utf-8")
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise SecretFileError(self.origin, f"cannot read {self.file}: {reason}") from None
        except UnicodeDecodeError:
            # `from None`: the decode error carries the file's bytes
            raise SecretFileError(self.origin, f"cannot read {self.file}: not UTF-8 text") from None
        # Editors and `echo` add one newline; anything beyond that is part of the secret.
        if text.endswith("\r\n"):
            return text[:-2]
        return text.removesuffix("\n")

    def fingerprint(self) -> str:
        """Return a keyed SHA-256 of the value: equal within this process iff the value is."""
        return hmac.new(_FINGERPRINT_KEY, self.read().encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        if self.file is not None:
            return f"Secret({self.origin}={str(self.file)!r})"
        return f"Secret({self.origin}=**********)"

    __str__ = __repr__


def secret_from(key: str, value: SecretStr | None, file: Path | None) -> Secret | None:
    """The secret of config key ``key``, given inline (``value``) or as ``key_file``; or None."""
    if value is not None:
        return Secret(origin=key, value=value)
    if file is not None:
        return Secret(origin=f"{key}_file", file=file)
    return None


def not_both(key: str, value: object, file: object) -> list[tuple[str, str]]:
    """The problem of a secret given both inline and as a file, if it is."""
    if value is not None and file is not None:
        return [(f"{key}_file", f"give {key} or {key}_file, not both")]
    return []


def _file_references(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Path]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path):
            yield prefix + name, value
        elif isinstance(value, BaseModel):  # the tls: section
            yield from _file_references(value, f"{prefix}{name}.")


def check_secrets(config: Config) -> list[str]:
    """Read every file the config names (``*_file`` secrets, TLS files) and report failures.

    Each problem is ``targets[i].key: cannot read PATH: reason``; contents are never shown.
    """
    problems = []
    for index, target in enumerate(config.targets):
        for key, file in _file_references(target):
            try:
                Secret(origin=key, file=file).read()
            except SecretFileError as error:
                problems.append(f"targets[{index}].{error}")
    return problems
