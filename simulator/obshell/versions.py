"""What an obshell agent of a given version speaks.

Read from github.com/oceanbase/obshell at its version-bump commits (424f28a 4.2.3, 5b035c9 4.2.4,
ba0e8d1 4.2.5, 737982a 4.2.6, 32187ba 4.3.0, 58d96f3 4.3.1, 2d21695 4.3.2, d7ec681 4.4.2,
61ee147 4.5.0): routes in `agent/api/*_route.go`, auth in `agent/api/common/middleware.go` and
`agent/secure/`, errors in `agent/errors/errorcode.go`, key size in `agent/lib/crypto/rsa.go`
(under `ob/agent/` in later versions).
"""

from __future__ import annotations

Version = tuple[int, ...]

AUTH_V2_SINCE: Version = (4, 2, 3, 0)
# /tenants/overview and the three backup/restore overviews (commit 7e2a664).
BACKUP_ROUTES_SINCE: Version = (4, 2, 4, 0)
SUPPORTED_AUTH_SINCE: Version = (4, 2, 5, 0)
# /tenants/overview items gain `read_only` and `connection_strings` (oceanbase.TenantOverview).
TENANT_OVERVIEW_DETAIL_SINCE: Version = (4, 3, 0, 0)
ERR_CODE_SINCE: Version = (4, 3, 1, 0)
# /backup/info, /backup/log/tasks, /backup/tasks, /restore/tasks, and the restore rows'
# backup_data_uri / backup_log_uri (commit a3463f6).
EXTENDED_BACKUP_ROUTES_SINCE: Version = (4, 3, 2, 0)
TENANT_COMMENT_SINCE: Version = (4, 4, 1, 0)
RSA_1024_SINCE: Version = (4, 4, 2, 0)
# Auth (obshell `errorcode.go` and `assets/i18n/error/en.json`; commits 5b035c9, 43dd332,
# 319e3e6): the i18n text of code 10008 came with 4.2.4
# (4.2.3 answers its message key), its detail, the agent password and `security` with 4.2.6,
# the numeric code 1 beside DecryptFailed with 4.4.2.
UNAUTHORIZED_TEXT_SINCE: Version = (4, 2, 4, 0)
AGENT_PASSWORD_SINCE: Version = (4, 2, 6, 0)
DECRYPT_FAILED_CODE_SINCE: Version = (4, 4, 2, 0)
# Fields `/api/v1/info` (meta.AgentStatus) gained: obVersion, then architecture.
INFO_OB_VERSION_SINCE: Version = (4, 2, 4, 0)
INFO_ARCHITECTURE_SINCE: Version = (4, 3, 0, 0)
SHARED_STORAGE_FLAG_SINCE: Version = (4, 4, 2, 0)
# The agent versions the simulator models faithfully, each with fixtures taken from obshell's
# source at its release commit (tests/data/obshell/<version>/).
MODELLED_VERSIONS = (
    "4.2.3.0",
    "4.2.5.0",
    "4.2.6.0",
    "4.3.0.0",
    "4.3.2.0",
    "4.4.2.0",
    "4.5.0.0",
)


def parse_version(text: str) -> Version:
    """`"4.3.2.0"` (or `"4.3.2.0-100000012025"`) as a tuple that compares like a version."""
    return tuple(int(part) for part in text.split("-", 1)[0].split("."))


def key_bits(version: str) -> int:
    """RSA key size of the agent: 512 until 4.4.2 regenerated keys as 1024-bit."""
    return 1024 if parse_version(version) >= RSA_1024_SINCE else 512


def speaks_v2(version: str) -> bool:
    """True from 4.2.3 (`X-OCS-Header`); 4.2.2 only knows v1 (`X-OCS-Auth`)."""
    return parse_version(version) >= AUTH_V2_SINCE


def has_err_codes(version: str) -> bool:
    """True from 4.3.1, whose errors carry a string `errCode`; before, only a numeric `code`."""
    return parse_version(version) >= ERR_CODE_SINCE


def lists_supported_auth(version: str) -> bool:
    """True from 4.2.5, whose `/api/v1/info` lists `supportedAuth`."""
    return parse_version(version) >= SUPPORTED_AUTH_SINCE


def at_least(version: str, since: Version) -> bool:
    """True when the agent `version` has what came with `since`."""
    return parse_version(version) >= since
