"""The value types of config fields: durations, names, URLs, label names, regular expressions,
time zones, file paths, and the strict base model every section is built on.

Each type refuses a bad value with a message that does not repeat it: the value may be a
misplaced secret.
"""

import ipaddress
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    model_validator,
)

from exporter.config.errors import invalid
from exporter.contract import EMITTED_LABELS

# Labels a static `labels:` entry may not use: Prometheus' own target labels and every label the
# exporter emits, since a clash would silently overwrite (or be overwritten by) real data.
RESERVED_LABELS = frozenset({"job", "instance"}) | EMITTED_LABELS


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


def format_duration(seconds: float) -> str:
    """``seconds`` as the shortest duration :func:`parse_duration` reads back (``1h30m``)."""
    rest = round(seconds * 1000)
    parts = []
    for name, size in zip(_UNIT_NAMES, _UNIT_SECONDS, strict=True):
        count, rest = divmod(rest, round(size * 1000))
        if count:
            parts.append(f"{count}{name}")
    return "".join(parts) or "0s"


def _to_seconds(value: object) -> object:
    if isinstance(value, timedelta):
        return value.total_seconds()
    if not isinstance(value, str):
        # A bare number has no unit: 30 could mean seconds or minutes to whoever wrote it.
        raise invalid("use a duration such as 30s, 5m or 1h; a bare number has no unit")
    try:
        return parse_duration(value)
    except ValueError as error:
        raise invalid(str(error)) from None


def _positive(seconds: float) -> float:
    if seconds <= 0:
        raise invalid("must be longer than 0s")
    return seconds


Duration = Annotated[float, BeforeValidator(_to_seconds)]
PositiveDuration = Annotated[float, BeforeValidator(_to_seconds), AfterValidator(_positive)]

_TARGET_NAME = re.compile(r"[A-Za-z0-9_.:-]+")


def _check_target_name(name: str) -> str:
    if not _TARGET_NAME.fullmatch(name):
        raise invalid("must be non-empty and use only letters, digits and _ . : -")
    return name


TargetName = Annotated[str, AfterValidator(_check_target_name)]


def _check_url(url: str) -> str:
    if not url.lower().startswith(("http://", "https://")):
        raise invalid("must start with http:// or https://")
    if any(char.isspace() for char in url):
        raise invalid("must not contain spaces")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise invalid("is not a valid URL (check the host and port)") from None
    if "@" in parts.netloc:
        raise invalid(
            "must not contain user info (user:password@): it would be logged;"
            " use the credential keys instead"
        )
    if not parts.hostname:
        raise invalid("has no host")
    if "?" in url or "#" in url:
        raise invalid("must not have a query or fragment")
    # Sources append API paths; a trailing slash would double it.
    return url.rstrip("/")


Url = Annotated[str, AfterValidator(_check_url)]


def _check_header_text(text: str) -> str:
    # Sent in a request header: a CR or LF would end it (aiohttp refuses to send it at all),
    # which is a typo in the config (a secret file's newline), not an upstream failure.
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in text):
        raise invalid("must not contain control characters such as CR or LF (it goes in a header)")
    return text


HeaderText = Annotated[str, AfterValidator(_check_header_text)]

_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def _check_label_name(name: str) -> str:
    if not _LABEL_NAME.fullmatch(name):
        raise invalid("label names must match [a-zA-Z_][a-zA-Z0-9_]*")
    if name.startswith("__"):
        raise invalid("label names starting with __ are reserved for Prometheus")
    if name in RESERVED_LABELS:
        raise invalid("reserved: Prometheus or the exporter itself sets this label")
    return name


LabelName = Annotated[str, AfterValidator(_check_label_name)]


def _compile(value: object) -> object:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise invalid("must be a string (a regular expression)")
    try:
        # `.` matches a newline too, as in Prometheus (`(?s:...)`): an upstream name with one
        # is matched like any other, not silently left out by the default `.*`.
        return re.compile(value, re.DOTALL)
    except re.error as error:
        where = "" if error.pos is None else f" at position {error.pos}"
        raise invalid(f"invalid regular expression: {error.msg}{where}") from None


Regex = Annotated[re.Pattern[str], BeforeValidator(_compile)]


def _id_text(value: object) -> object:
    # OCP cluster ids are numbers, Cloud instance ids are strings (ob317v4uif...): keep one type.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdText = Annotated[str, BeforeValidator(_id_text)]


def _zone(value: object) -> object:
    if isinstance(value, ZoneInfo):
        return value
    if not isinstance(value, str) or not value:
        raise invalid("must be an IANA time zone name such as Asia/Shanghai or UTC")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid("unknown time zone: use an IANA name such as Asia/Shanghai or UTC") from None


Zone = Annotated[ZoneInfo, BeforeValidator(_zone)]


def _file_path(path: Path, info: ValidationInfo) -> Path:
    if path == Path():
        raise invalid("must name a file")
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
        raise invalid("must be an integer, not true or false")
    return value


Concurrency = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_nulls(cls, data: Any) -> Any:
        # `key: null` means "not set", as in the documented example config.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


def is_loopback(url: str) -> bool:
    """A loopback URL never crosses a network, so plain HTTP there needs no warning."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
