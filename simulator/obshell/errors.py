"""obshell's errors, in the format of 4.3.1+ (`errCode`) and of older agents (numeric `code`)."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.sources.obshell.models import ApiError
from simulator.obshell import versions

UNAUTHORIZED = 10008
_VERIFICATION_FAILED = (401, UNAUTHORIZED, "Verification failed")


@dataclass(frozen=True)
class ObshellError:
    """One error as each generation of obshell reports it.

    `code` is the numeric code 4.3.1+ still sends beside `errCode` (omitted when None);
    `legacy` is (HTTP status, code, message) of agents before 4.3.1; `data_null` marks the
    errors whose envelope carries `"data": null` (the executor returned a typed nil pointer).
    """

    status: int
    err_code: str
    message: str
    code: int | None = None
    legacy: tuple[int, int, str] = _VERIFICATION_FAILED
    data_null: bool = False

    def render(self, err_codes: bool) -> tuple[int, ApiError]:
        """The HTTP status and `error` object an agent with or without `errCode`s sends."""
        if err_codes:
            return self.status, ApiError(
                code=self.code, errCode=self.err_code, message=self.message
            )
        status, code, message = self.legacy
        return status, ApiError(code=code, message=message)


def _auth(
    err_code: str,
    message: str,
    detail: str,
    version: str | None,
    code: int | None = UNAUTHORIZED,
) -> ObshellError:
    """An auth failure; before 4.3.1 every one is 401 code 10008, told apart only by `detail`."""
    return ObshellError(401, err_code, message, code, legacy=_unauthorized(version, detail))


def _unauthorized(version: str | None, detail: str) -> tuple[int, int, str]:
    """`ErrUnauthorized` of agents before 4.3.1: 4.2.3 had no text for it and sends its i18n
    key; 4.2.4 and 4.2.5 say "Verification failed"; 4.2.6 to 4.3.0 add what went wrong."""
    if version is None:
        return _VERIFICATION_FAILED
    release = versions.parse_version(version)
    if release < versions.UNAUTHORIZED_TEXT_SINCE:
        return 401, UNAUTHORIZED, "err.unauthorized"
    if release < versions.AGENT_PASSWORD_SINCE:
        return _VERIFICATION_FAILED
    return 401, UNAUTHORIZED, f"Verification failed: {detail}"


def unknown_route() -> ObshellError:
    """gin's NoRoute under /api/v1: served before (and without) auth."""
    return ObshellError(
        404,
        "Common.NotFound",
        "Element not found: 404 not found",
        legacy=(400, 1000, "Bad request: 404 not found"),
    )


def unexpected() -> ObshellError:
    """A panic or an unexpected Go error."""
    return ObshellError(
        500,
        "Common.Unexpected",
        "Unexpected error: Internal Server Error",
        legacy=(500, 1002, "Unexpected error: Internal Server Error"),
    )


def header_not_found(version: str | None = None) -> ObshellError:
    """A protected route called without `X-OCS-Header` or `X-OCS-Agent-Header`."""
    return ObshellError(
        400,
        "Request.Header.NotFound",
        "X-OCS-Agent-Header or X-OCS-Header not found in http request header",
        legacy=_unauthorized(version, "header not found"),
    )


def decrypt_failed(detail: str, version: str | None = None) -> ObshellError:
    """The header is not base64, not decryptable with the agent's key, or not the right JSON.

    4.3.1 gave it an errCode of its own (before: the 10008 of a wrong password); the numeric
    `code` 1 beside it only from 4.4.2.
    """
    with_code = version is None or versions.parse_version(version) >= (
        versions.DECRYPT_FAILED_CODE_SINCE
    )
    return _auth(
        "Security.Authentication.Header.DecryptFailed",
        f"Decrypt http header failed: {detail}",
        "header decrypt failed",
        version,
        code=1 if with_code else None,
    )


def uri_mismatch(version: str | None = None) -> ObshellError:
    """The signed `Uri` is not the request target."""
    return _auth(
        "Security.Authentication.Header.UriMismatch", "URI mismatch", "uri mismatch", version
    )


def expired(version: str | None = None) -> ObshellError:
    """The signed `Ts` (an expiry) has passed."""
    return _auth(
        "Security.Authentication.Expired",
        "Unauthorized: Authentication expired",
        "auth expired",
        version,
    )


def timestamp_invalid(ts: str, version: str | None = None) -> ObshellError:
    """`Ts` is not a decimal integer."""
    detail = f'strconv.ParseInt: parsing "{ts}": invalid syntax'
    return _auth(
        "Security.Authentication.Timestamp.Invalid",
        f"Unauthorized: Invalid timestamp: {ts}, err: {detail}",
        detail,
        version,
    )


def incorrect_password(version: str | None = None) -> ObshellError:
    """The root@sys password in `X-OCS-Header` is wrong (the agent's MySQL login was denied)."""
    return _auth(
        "Security.Authentication.IncorrectOceanbasePassword",
        "Unauthorized: OceanBase password is incorrect",
        "access denied",
        version,
    )


def incorrect_agent_password(version: str | None = None) -> ObshellError:
    """The agent password in `X-OCS-Agent-Header` is wrong."""
    return _auth(
        "Security.Authentication.IncorrectAgentPassword",
        "Unauthorized: Agent password is incorrect",
        "access denied: agent password is incorrect",
        version,
    )


def agent_password_not_set(version: str | None = None) -> ObshellError:
    """`X-OCS-Agent-Header` sent to a 4.2.6+ agent that has no agent password."""
    return _auth(
        "Security.Authentication.WithOceanBasePassword",
        "Unauthorized: Should use oceanbase_password to verify: agent password is not initialized",
        "agent password is not initialized, use oceanbase password to verify",
        version,
    )


def body_error(
    err_code: str, message: str, status: int = 500, version: str | None = None
) -> ObshellError:
    """The AES body could not be decrypted (wrapped in Common.Unauthorized, kind kept)."""
    legacy = _unauthorized(version, "body decrypt failed")
    return ObshellError(status, err_code, f"Unauthorized: {message}", legacy=legacy)


def sys_not_allowed() -> ObshellError:
    """The backup and restore routes refuse the sys tenant."""
    return ObshellError(
        400,
        "OB.Tenant.SysOperationNotAllowed",
        "System tenant is not allowed to perform this operation",
        legacy=(400, 1001, "Illegal argument: tenant sys is system tenant, cannot backup"),
    )


def tenant_not_exist(name: str) -> ObshellError:
    """No tenant of that name (a dropped tenant, or a restore before CREATE_TENANT finished)."""
    return ObshellError(
        400,
        "OB.Tenant.NotExist",
        f"Tenant '{name}' does not exist.",
        legacy=(400, 1001, f"Illegal argument: tenant {name} not found"),
    )


def no_cluster_backup_task() -> ObshellError:
    """No user tenant has a backup task."""
    return ObshellError(
        404,
        "Common.NotFound",
        "Element not found: backup task",
        legacy=(404, 2300, "Task not found: no backup task found"),
        data_null=True,
    )


def no_tenant_backup_task() -> ObshellError:
    """The tenant has no backup task."""
    return ObshellError(
        404,
        "Task.NotFound",
        "Task not found: no backup task",
        legacy=(404, 2300, "Task not found: no backup task found"),
        data_null=True,
    )


def no_restore_task() -> ObshellError:
    """The tenant has no restore, running or finished."""
    return ObshellError(
        404,
        "Common.NotFound",
        "Element not found: restore task",
        legacy=(404, 2300, "Task not found: restore task not found"),
        data_null=True,
    )
