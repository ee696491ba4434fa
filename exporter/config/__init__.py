"""The config file: its models, loading, ``${VAR}`` expansion, ``*_file`` secrets, durations.

Knows nothing of HTTP. Every problem is reported as ``path.in.file: message`` and never shows
the value that was given: a misplaced secret must not end up in a terminal or a log.

The modules, lowest first: ``errors`` (what is raised, how a path is written), ``fields``
(value types), ``secrets`` (``Secret``, ``check_secrets``), ``targets`` (one model per
source), ``model`` (``Config``), ``environment`` (``${VAR}``), ``messages`` (wording of
validation errors) and ``loader`` (``load_config``).
"""

from exporter.config.errors import ConfigError
from exporter.config.fields import RESERVED_LABELS, parse_duration
from exporter.config.loader import load_config
from exporter.config.model import Config
from exporter.config.secrets import Secret, SecretFileError, check_secrets
from exporter.config.targets import (
    CloudTarget,
    NameFilter,
    ObshellTarget,
    OcpTarget,
    RestoreOptions,
    Target,
    TargetBase,
    TLSConfig,
)

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
