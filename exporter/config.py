"""The config file: pydantic models, loading, ``${VAR}`` expansion, ``*_file`` secrets, durations.

Knows nothing of HTTP. Every problem is reported as ``path.in.file: message`` and never shows the
value that was given: a misplaced secret must not end up in a terminal or a log.
"""

import difflib
import hashlib
import hmac
import ipaddress
import os
import re
import secrets
from abc import abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, Self, get_args
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from exporter.collector import EMITTED_LABELS
from exporter.yamlfile import YAMLFileError, read_yaml, shown_key

__all__ = [
    "RESERVED_LABELS",
    "CloudTarget",
    "Config",
    "ConfigError",
    "NameFilter",
    "ObshellTarget",
    "OcpTarget",
    "RestoreOptions",
    "Secret",
    "SecretFileError",
    "TLSConfig",
    "Target",
    "TargetBase",
    "check_secrets",
    "load_config",
    "parse_duration",
]

# Labels a static `labels:` entry may not use: Prometheus' own target labels and every label the
# exporter emits, since a clash would silently overwrite (or be overwritten by) real data.
RESERVED_LABELS = frozenset({"job", "instance"}) | EMITTED_LABELS


class ConfigError(Exception):
    """A config that cannot be used; ``problems`` holds one ``path.in.file: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


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


_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?"
    r"(?:([0-9]+)m)?(?:([0-9]+)s)?(?:([0-9]+)ms)?"
)
_UNIT_SECONDS = (365 * 86400.0, 7 * 86400.0, 86400.0, 3600.0, 60.0, 1.0, 0.001)
_UNIT_NAMES = ("y", "w", "d", "h", "m", "s", "ms")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration (``30s``, ``5m``, ``1h30m``, ``500ms``) into seconds.

    Units, largest first, each at most once: ``y`` (365d), ``w``, ``d``, ``h``, ``m``, ``s``,
    ``ms``. A bare number, a fraction or a sign is a :class:`ValueError`. The message does not
    repeat the text, which may have come from a misplaced secret.
    """
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise ValueError(
            "not a duration: use whole numbers with units, largest first, such as 30s, 5m or"
            " 1h30m (units y, w, d, h, m, s, ms)"
        )
    return sum(
        int(n) * size
        for n, size in zip(match.groups(), _UNIT_SECONDS, strict=True)
        if n is not None
    )


def _format_duration(seconds: float) -> str:
    rest = round(seconds * 1000)
    parts = []
    for name, size in zip(_UNIT_NAMES, _UNIT_SECONDS, strict=True):
        count, rest = divmod(rest, round(size * 1000))
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts) or "0s"


def _error(message: str) -> PydanticCustomError:
    # The message goes in the context so that braces in it are not read as a template.
    return PydanticCustomError("config", "{message}", {"message": message})


def _problems_error(problems: list[tuple[str, str]]) -> PydanticCustomError:
    """Report cross-field problems, each at its own path below the model that found them."""
    summary = "; ".join(f"{path}: {message}" for path, message in problems)
    return PydanticCustomError(
        "config_problems", "{message}", {"message": summary, "problems": tuple(problems)}
    )


def _to_seconds(value: object) -> object:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if not isinstance(value, str):
        # A bare number has no unit: 30 could mean seconds or minutes to whoever wrote it.
        raise _error("use a duration such as 30s, 5m or 1h; a bare number has no unit")
    try:
        return parse_duration(value)
    except ValueError as error:
        raise _error(str(error)) from None


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise _error("must be longer than 0s")
    return seconds


Duration = Annotated[float, BeforeValidator(_to_seconds)]
PositiveDuration = Annotated[float, BeforeValidator(_to_seconds), AfterValidator(_positive)]

_TARGET_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def _check_target_name(name: str) -> str:
    if not _TARGET_NAME.fullmatch(name):
        raise _error("must be non-empty and use only letters, digits and _ . : -")
    return name


TargetName = Annotated[str, AfterValidator(_check_target_name)]


def _check_url(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        raise _error("must start with http:// or https://")
    if any(char.isspace() for char in url):
        raise _error("must not contain spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise _error("is not a valid URL (check the host and port)") from None
    if "@" in parts.netloc:
        raise _error(
            "must not contain user info (user:password@): it would be logged;"
            " use the credential keys instead"
        )
    if not parts.hostname:
        raise _error("has no host")
    if "?" in url or "#" in url:
        raise _error("must not have a query or fragment")
    # Sources append API paths; a trailing slash would double it.
    return url.rstrip("/")


Url = Annotated[str, AfterValidator(_check_url)]


def _check_header_text(text: str) -> str:
    # Sent in a request header: a CR or LF would end it (aiohttp refuses to send it at all),
    # which is a typo in the config (a secret file's newline), not an upstream failure.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise _error("must not contain control characters such as CR or LF (it goes in a header)")
    return text


HeaderText = Annotated[str, AfterValidator(_check_header_text)]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _check_label_name(name: str) -> str:
    if not _LABEL_NAME.fullmatch(name):
        raise _error("label names must match [a-zA-Z_][a-zA-Z0-9_]*")
    if name.startswith("__"):
        raise _error("label names starting with __ are reserved for Prometheus")
    if name in RESERVED_LABELS:
        raise _error("reserved: Prometheus or the exporter itself sets this label")
    return name


LabelName = Annotated[str, AfterValidator(_check_label_name)]


def _compile(value: object) -> object:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise _error("must be a string (a regular expression)")
    try:
        # `.` matches a newline too, as in Prometheus (`(?s:...)`): an upstream name with one
        # is matched like any other, not silently left out by the default `.*`.
        return re.compile(value, re.DOTALL)
    except re.error as error:
        where = "" if error.pos is None else f" at position {error.pos}"
        raise _error(f"invalid regular expression: {error.msg}{where}") from None


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile)]


def _id_text(value: object) -> object:
    # OCP cluster ids are numbers, Cloud instance ids are strings (ob317v4uif...): keep one type.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _zone(value: object) -> object:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str) or not value:
        raise _error("must be an IANA time zone name such as Asia/Shanghai or UTC")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _error("unknown time zone: use an IANA name such as Asia/Shanghai or UTC") from None


Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]


def _file_path(path: Path, info: ValidationInfo) -> Path:
    if path == Path():
        raise _error("must name a file")
    # Relative to the config file, as in Prometheus: a config and its secrets move together.
    context = info.context if isinstance(info.context, dict) else {}
    base = context.get("config_dir")
    if isinstance(base, Path) and not path.is_absolute():
        return base / path
    return path


FilePath = Annotated[Path, AfterValidator(_file_path)]


def _not_bool(value: object) -> object:
    # pydantic takes true for 1: `concurrency: true` is a mistake, not a request for one.
    if isinstance(value, bool):
        raise _error("must be an integer, not true or false")
    return value


Concurrency = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # `key: null` means "not set", as in the documented example config.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class TLSConfig(_Model):
    """TLS settings for the connections to one target."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    insecure_skip_verify: bool = False


def _match_all() -> list[re.Pattern[str]]:
    return [re.compile(".*", re.DOTALL)]


class NameFilter(_Model):
    """Which tenants, clusters or instances of a target to export."""

    include: list[Regex] = Field(default_factory=_match_all)
    exclude: list[Regex] = Field(default_factory=list)
    ids: list[Annotated[str, BeforeValidator(_id_text)]] = Field(default_factory=list)

    def matches(self, name: str, id_: int | str | None = None) -> bool:
        """True when ``name`` fully matches an include and no exclude, and ``id_`` is in ``ids``.

        With ``ids`` empty the id is not looked at; with ``ids`` set an unknown id never matches.
        """
        if self.ids and (id_ is None or str(id_) not in self.ids):
            return False
        included = any(pattern.fullmatch(name) for pattern in self.include)
        return included and not any(pattern.fullmatch(name) for pattern in self.exclude)


class RestoreOptions(_Model):
    """Restore polling of an obshell target."""

    enabled: bool = True


def _secret(key: str, value: SecretStr | None, file: Path | None) -> Secret | None:
    if value is not None:
        return Secret(origin=key, value=value)
    if file is not None:
        return Secret(origin=f"{key}_file", file=file)
    return None


def _not_both(key: str, value: object, file: object) -> list[tuple[str, str]]:
    if value is not None and file is not None:
        return [(f"{key}_file", f"give {key} or {key}_file, not both")]
    return []


class TargetBase(_Model):
    """What every target has, whatever its source. Durations are in seconds."""

    name: TargetName
    source: Literal["obshell", "ocp", "cloud"]
    interval: PositiveDuration
    timeout: PositiveDuration = 10.0
    # Stored as configured; the property applies the default and the floor.
    stale_after_setting: PositiveDuration | None = Field(default=None, alias="stale_after")
    restore_history: Duration = 86400.0
    max_concurrency: Concurrency = 4
    timezone: Zone | None = None
    tls: TLSConfig = Field(default_factory=TLSConfig)
    labels: dict[LabelName, str] = Field(default_factory=dict)

    @property
    @abstractmethod
    def urls(self) -> list[str]:
        """The base URLs of the target, tried in order."""

    @property
    def stale_after(self) -> float:
        """How long a failing target keeps its last good data: 3 x interval when unset.

        Never less than 2 x interval, so a single failed poll never drops the data.
        """
        if self.stale_after_setting is None:
            return 3 * self.interval
        return max(self.stale_after_setting, 2 * self.interval)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = self._problems()
        if problems:
            raise _problems_error(problems)
        return self

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.timeout >= self.interval:
            limit = _format_duration(self.interval)
            problems.append(("timeout", f"must be shorter than interval ({limit})"))
        if (self.tls.cert_file is None) != (self.tls.key_file is None):
            missing = "key_file" if self.tls.key_file is None else "cert_file"
            problems.append((f"tls.{missing}", "cert_file and key_file go together"))
        return problems

    def _warnings(self) -> list[tuple[str, str]]:
        setting = self.stale_after_setting
        if setting is not None and setting < 2 * self.interval:
            floor = _format_duration(2 * self.interval)
            return [("stale_after", f"less than 2 x interval; using {floor}")]
        return []


class ObshellTarget(TargetBase):
    """One OceanBase cluster through its obshell agents."""

    source: Literal["obshell"] = "obshell"
    interval: PositiveDuration = 60.0
    url: Url | None = None
    url_list: Annotated[list[Url], Field(min_length=1)] | None = Field(default=None, alias="urls")
    password_value: SecretStr | None = Field(default=None, alias="password")
    password_file: FilePath | None = None
    agent_password_value: SecretStr | None = Field(default=None, alias="agent_password")
    agent_password_file: FilePath | None = None
    tenants: NameFilter = Field(default_factory=NameFilter)
    # Most tenants (after the filter) one poll may ask about. Every tenant reserves memory on
    # every node, so real clusters hold tens to hundreds (OceanBase Cloud allows 50 an
    # instance); a list past this is a runaway upstream, and each tenant costs four requests
    # and ~10 KB while polled: the poll fails with one clear error rather than ballooning.
    max_tenants: Concurrency = 1_000
    restore: RestoreOptions = Field(default_factory=RestoreOptions)

    @property
    def urls(self) -> list[str]:
        """Obshell nodes of one cluster, tried in order."""
        return list(self.url_list) if self.url_list is not None else [str(self.url)]

    @property
    def password(self) -> Secret | None:
        """The root@sys password; ``None`` means an empty one."""
        return _secret("password", self.password_value, self.password_file)

    @property
    def agent_password(self) -> Secret | None:
        """The obshell agent password, when one is set."""
        return _secret("agent_password", self.agent_password_value, self.agent_password_file)

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret the target has: what the poller redacts and watches for rotation."""
        return tuple(s for s in (self.password, self.agent_password) if s is not None)

    def _problems(self) -> list[tuple[str, str]]:
        problems = super()._problems()
        if self.url is None and self.url_list is None:
            problems.append(("url", "required (or urls: obshell nodes of one cluster)"))
        if self.url is not None and self.url_list is not None:
            problems.append(("urls", "give url or urls, not both"))
        first: dict[str, int] = {}
        for index, url in enumerate(self.url_list or []):
            if url in first:
                problems.append((f"urls[{index}]", f"duplicate of urls[{first[url]}]"))
            first.setdefault(url, index)
        problems += _not_both("password", self.password_value, self.password_file)
        problems += _not_both("agent_password", self.agent_password_value, self.agent_password_file)
        return problems

    def _warnings(self) -> list[tuple[str, str]]:
        paths = ["url"] if self.url_list is None else [f"urls[{i}]" for i in range(len(self.urls))]
        plain = [
            path
            for path, url in zip(paths, self.urls, strict=True)
            if url.lower().startswith("http://") and not _is_loopback(url)
        ]
        message = (
            "http:// sends the obshell password protected only by 512-bit RSA before"
            " obshell 4.4.2; use https"
        )
        return super()._warnings() + [(path, message) for path in plain]


def _is_loopback(url: str) -> bool:
    """A loopback URL never crosses a network, so plain HTTP there needs no warning."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _SingleUrlTarget(TargetBase):
    url: Url

    @property
    def urls(self) -> list[str]:
        """The one API endpoint."""
        return [self.url]


class OcpTarget(_SingleUrlTarget):
    """The clusters an OCP (OceanBase Cloud Platform) server manages."""

    source: Literal["ocp"] = "ocp"
    interval: PositiveDuration = 120.0
    username: HeaderText | None = None
    password_value: SecretStr | None = Field(default=None, alias="password")
    password_file: FilePath | None = None
    access_key_id: HeaderText | None = None
    access_key_secret_value: SecretStr | None = Field(default=None, alias="access_key_secret")
    access_key_secret_file: FilePath | None = None
    clusters: NameFilter = Field(default_factory=NameFilter)

    @property
    def password(self) -> Secret | None:
        """The HTTP basic auth password, with ``username``."""
        return _secret("password", self.password_value, self.password_file)

    @property
    def access_key_secret(self) -> Secret | None:
        """The secret of ``access_key_id``, for OCP's request signature."""
        return _secret(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret the target has: what the poller redacts and watches for rotation."""
        return tuple(s for s in (self.password, self.access_key_secret) if s is not None)

    def _problems(self) -> list[tuple[str, str]]:
        problems = super()._problems()
        problems += _not_both("password", self.password_value, self.password_file)
        problems += _not_both(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )
        basic = self.username is not None or self.password is not None
        signed = self.access_key_id is not None or self.access_key_secret is not None
        if basic and signed:
            problems.append(
                (
                    "access_key_id",
                    "give username and password, or access_key_id and access_key_secret, not both",
                )
            )
        elif not basic and not signed:
            problems.append(
                (
                    "username",
                    "required, with password (or password_file); or use access_key_id and"
                    " access_key_secret",
                )
            )
        elif basic and self.username is None:
            problems.append(("username", "required with password"))
        elif basic and self.password is None:
            problems.append(("password", "required with username (or password_file)"))
        elif signed and self.access_key_id is None:
            problems.append(("access_key_id", "required with access_key_secret"))
        elif signed and self.access_key_secret is None:
            problems.append(
                ("access_key_secret", "required with access_key_id (or access_key_secret_file)")
            )
        return problems

    def _warnings(self) -> list[tuple[str, str]]:
        warnings = super()._warnings()
        plain = self.url.lower().startswith("http://") and not _is_loopback(self.url)
        if self.username is not None and plain:
            message = "http:// sends the OCP password in clear text (HTTP basic auth); use https"
            warnings.append(("url", message))
        return warnings


class CloudTarget(_SingleUrlTarget):
    """The instances of an OceanBase Cloud account (HTTP digest auth)."""

    source: Literal["cloud"] = "cloud"
    interval: PositiveDuration = 300.0
    access_key_id: HeaderText
    access_key_secret_value: SecretStr | None = Field(default=None, alias="access_key_secret")
    access_key_secret_file: FilePath | None = None
    project_id: HeaderText | None = None
    instances: NameFilter = Field(default_factory=NameFilter)

    @property
    def access_key_secret(self) -> Secret:
        """The secret of ``access_key_id``."""
        secret = _secret(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )
        assert secret is not None, "validation requires access_key_secret"
        return secret

    def secrets(self) -> tuple[Secret, ...]:
        """Every secret the target has: what the poller redacts and watches for rotation."""
        return (self.access_key_secret,)

    def _problems(self) -> list[tuple[str, str]]:
        problems = super()._problems()
        problems += _not_both(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )
        if self.access_key_secret_value is None and self.access_key_secret_file is None:
            problems.append(("access_key_secret", "required (or access_key_secret_file)"))
        return problems


Target = ObshellTarget | OcpTarget | CloudTarget
_TARGET_TYPES: dict[str, type[TargetBase]] = {
    "obshell": ObshellTarget,
    "ocp": OcpTarget,
    "cloud": CloudTarget,
}


def _duplicate_names(names: list[object]) -> list[tuple[str, str]]:
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


class Config(_Model):
    """The whole config, with the ``defaults:`` section already applied to every target."""

    concurrency: Concurrency = 32
    targets: Annotated[list[Annotated[Target, Field(discriminator="source")]], Field(min_length=1)]

    @model_validator(mode="after")
    def _check_names(self) -> Self:
        problems = _duplicate_names([target.name for target in self.targets])
        if problems:
            raise _problems_error(problems)
        return self

    @property
    def warnings(self) -> list[str]:
        """Problems that do not stop the exporter, as ``path: message`` (never from the file)."""
        return [
            f"targets[{index}].{path}: {message}"
            for index, target in enumerate(self.targets)
            for path, message in target._warnings()
        ]


class _Defaults(_Model):
    interval: PositiveDuration | None = None
    timeout: PositiveDuration | None = None
    stale_after: PositiveDuration | None = None
    restore_history: Duration | None = None
    max_concurrency: Concurrency | None = None
    timezone: Zone | None = None
    tls: TLSConfig | None = None


def _read_yaml(path: Path) -> dict[Any, Any]:
    try:
        data = read_yaml(path)
    except YAMLFileError as error:
        raise ConfigError([str(error)]) from None
    if data is None:
        raise ConfigError([f"{path}: the file is empty; it needs at least a targets: list"])
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: the top level must be a mapping with a targets: list"])
    return data


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


def _join(path: str, key: object) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def _expand(node: Any, path: str, environ: Mapping[str, str], problems: dict[str, str]) -> Any:
    if isinstance(node, str):
        text, errors = _expand_string(node, environ)
        for error in errors:
            problems.setdefault(path, error)
        return text
    if isinstance(node, dict):
        return {
            key: _expand(value, _join(path, key), environ, problems) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_expand(value, _join(path, i), environ, problems) for i, value in enumerate(node)]
    return node


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
            model = _TARGET_TYPES.get(str(parts[1]))
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
        if part == "[key]" or (index == 2 and loc[0] == "targets" and part in _TARGET_TYPES):
            continue
        path = _join(path, part)
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
        return [(_join(path, "source"), _MESSAGES[kind])]
    if kind == "extra_forbidden":
        key = str(loc[-1])
        # Named by its path, but a key that could be a misplaced secret is not shown.
        path = _join(_loc_path(loc[:-1]), shown_key(key))
        close = difflib.get_close_matches(key, _known_keys(root, loc[:-1]), n=1)
        return [(path, f'unknown key (did you mean "{close[0]}"?)' if close else "unknown key")]
    if kind in _MESSAGES:
        return [(path, _MESSAGES[kind].format_map(context))]
    return [(path, error["msg"].removeprefix("Value error, "))]


def _validation_problems(
    error: ValidationError, root: type[BaseModel], prefix: str = ""
) -> list[tuple[str, str]]:
    problems = []
    for detail in error.errors(include_input=False, include_url=False):
        for path, message in _describe(detail, root):
            joined = f"{prefix}.{path}" if prefix and path else prefix or path
            problems.append((joined, message))
    return problems


_TARGET_PATH = re.compile(r"targets\[(\d+)\]\.(.+)")


def _note_inherited(path: str, message: str, inherited: list[set[str]]) -> str:
    """Say when a target's problem comes from a value it inherited from ``defaults:``."""
    match = _TARGET_PATH.fullmatch(path)
    if match is None or int(match[1]) >= len(inherited):
        return message
    key = match[2]
    taken = inherited[int(match[1])]
    if key in taken or key.split(".")[0] in taken:
        return f"{message} (set in defaults)"
    return message


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate the config file at ``path``; raise :class:`ConfigError`.

    ``environ`` (default ``os.environ``) supplies ``${VAR}``. Every problem found is reported at
    once. Secrets files are not read here: see :func:`check_secrets` and :meth:`Secret.read`.
    """
    raw = _read_yaml(path)
    env_problems: dict[str, str] = {}
    data = _expand(raw, "", os.environ if environ is None else environ, env_problems)
    problems = list(env_problems.items())

    defaults = data.pop("defaults", None)
    inherited: list[set[str]] = []
    if defaults is not None:
        unusable: set[str] = set()
        try:
            _Defaults.model_validate(defaults)
        except ValidationError as error:
            found = _validation_problems(error, _Defaults, "defaults")
            problems += [(p, m) for p, m in found if p not in env_problems]
            unusable = {str(detail["loc"][0]) for detail in error.errors() if detail["loc"]}
        if isinstance(defaults, dict) and isinstance(data.get("targets"), list):
            data["targets"], inherited = _apply_defaults(defaults, unusable, data["targets"])

    try:
        config = Config.model_validate(data, context={"config_dir": path.parent})
    except ValidationError as error:
        # A failed ${VAR} was replaced by "": what that breaks is already reported.
        problems += [
            (p, _note_inherited(p, m, inherited))
            for p, m in _validation_problems(error, Config)
            if p not in env_problems
        ]
        # Config's own name check runs only once every target is valid; report a clash anyway.
        targets = data.get("targets")
        if isinstance(targets, list):
            names = [t.get("name") if isinstance(t, dict) else None for t in targets]
            problems += [p for p in _duplicate_names(names) if p not in problems]
    if problems:
        raise ConfigError([f"{p}: {m}" if p else m for p, m in problems])
    return config


def _file_references(model: BaseModel, prefix: str = "") -> Iterator[tuple[str, Path]]:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, Path):
            yield prefix + name, value
        elif isinstance(value, TLSConfig):
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
