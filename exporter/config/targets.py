"""The targets a config can name, one model per source, and the sections they share."""

import re
from abc import abstractmethod
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, model_validator

from exporter.config.errors import problems_error
from exporter.config.fields import (
    Concurrency,
    Duration,
    FilePath,
    HeaderText,
    IdText,
    LabelName,
    PositiveDuration,
    Regex,
    StrictModel,
    TargetName,
    Url,
    Zone,
    format_duration,
    is_loopback,
)
from exporter.config.secrets import Secret, not_both, secret_from


class TLSConfig(StrictModel):
    """TLS settings for the connections to one target."""

    ca_file: FilePath | None = None
    cert_file: FilePath | None = None
    key_file: FilePath | None = None
    insecure_skip_verify: bool = False


def _match_all() -> list[re.Pattern[str]]:
    return [re.compile(".*", re.DOTALL)]


class NameFilter(StrictModel):
    """Which tenants, clusters or instances of a target to export."""

    include: list[Regex] = Field(default_factory=_match_all)
    exclude: list[Regex] = Field(default_factory=list)
    ids: list[IdText] = Field(default_factory=list)

    def matches(self, name: str, id_: int | str | None = None) -> bool:
        """True when ``name`` fully matches an include and no exclude, and ``id_`` is in ``ids``.

        With ``ids`` empty the id is not looked at; with ``ids`` set an unknown id never matches.
        """
        if self.ids and (id_ is None or str(id_) not in self.ids):
            return False
        included = any(pattern.fullmatch(name) for pattern in self.include)
        return included and not any(pattern.fullmatch(name) for pattern in self.exclude)


class RestoreOptions(StrictModel):
    """Restore polling of an obshell target."""

    enabled: bool = True


class TargetBase(StrictModel):
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

    @abstractmethod
    def secrets(self) -> tuple[Secret, ...]:
        """Every credential configured for this target, to redact wherever text is shown."""

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
            raise problems_error(problems)
        return self

    def _problems(self) -> list[tuple[str, str]]:
        problems = []
        if self.timeout >= self.interval:
            limit = format_duration(self.interval)
            problems.append(("timeout", f"must be shorter than interval ({limit})"))
        if (self.tls.cert_file is None) != (self.tls.key_file is None):
            missing = "key_file" if self.tls.key_file is None else "cert_file"
            problems.append((f"tls.{missing}", "cert_file and key_file go together"))
        return problems

    def _warnings(self) -> list[tuple[str, str]]:
        setting = self.stale_after_setting
        if setting is not None and setting < 2 * self.interval:
            floor = format_duration(2 * self.interval)
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
    # instance); a list past this is a runaway upstream, and each tenant costs requests and
    # memory in every poll (docs/benchmarks.md, "How cost grows"): the poll fails with one
    # clear error rather than ballooning.
    max_tenants: Concurrency = 1_000
    restore: RestoreOptions = Field(default_factory=RestoreOptions)

    @property
    def urls(self) -> list[str]:
        """Obshell nodes of one cluster, tried in order."""
        return list(self.url_list) if self.url_list is not None else [str(self.url)]

    @property
    def password(self) -> Secret | None:
        """The root@sys password; ``None`` means an empty one."""
        return secret_from("password", self.password_value, self.password_file)

    @property
    def agent_password(self) -> Secret | None:
        """The obshell agent password, when one is set."""
        return secret_from("agent_password", self.agent_password_value, self.agent_password_file)

    def secrets(self) -> tuple[Secret, ...]:
        """The root@sys and agent passwords that are set."""
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
        problems += not_both("password", self.password_value, self.password_file)
        problems += not_both("agent_password", self.agent_password_value, self.agent_password_file)
        return problems

    def _warnings(self) -> list[tuple[str, str]]:
        paths = ["url"] if self.url_list is None else [f"urls[{i}]" for i in range(len(self.urls))]
        plain = [
            path
            for path, url in zip(paths, self.urls, strict=True)
            if url.lower().startswith("http://") and not is_loopback(url)
        ]
        message = (
            "http:// sends the obshell password protected only by 512-bit RSA before"
            " obshell 4.4.2; use https"
        )
        return super()._warnings() + [(path, message) for path in plain]


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
        return secret_from("password", self.password_value, self.password_file)

    @property
    def access_key_secret(self) -> Secret | None:
        """The secret of ``access_key_id``, for OCP's request signature."""
        return secret_from(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )

    def secrets(self) -> tuple[Secret, ...]:
        """The basic auth password or the access key secret, whichever is set."""
        return tuple(s for s in (self.password, self.access_key_secret) if s is not None)

    def _problems(self) -> list[tuple[str, str]]:
        problems = super()._problems()
        problems += not_both("password", self.password_value, self.password_file)
        problems += not_both(
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
        plain = self.url.lower().startswith("http://") and not is_loopback(self.url)
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
        secret = secret_from(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )
        assert secret is not None, "validation requires access_key_secret"
        return secret

    def secrets(self) -> tuple[Secret, ...]:
        """The access key secret."""
        return (self.access_key_secret,)

    def _problems(self) -> list[tuple[str, str]]:
        problems = super()._problems()
        problems += not_both(
            "access_key_secret", self.access_key_secret_value, self.access_key_secret_file
        )
        if self.access_key_secret_value is None and self.access_key_secret_file is None:
            problems.append(("access_key_secret", "required (or access_key_secret_file)"))
        return problems


Target = ObshellTarget | OcpTarget | CloudTarget
TARGET_TYPES: dict[str, type[TargetBase]] = {
    "obshell": ObshellTarget,
    "ocp": OcpTarget,
    "cloud": CloudTarget,
}
