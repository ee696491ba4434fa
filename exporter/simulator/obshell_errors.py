"""obshell's errors, in the format of 4.3.1+ (`errCode`) and of older agents (numeric `code`)."""

from __future__ import annotations

from dataclasses import dataclass

from exporter.sources.obshell.models import ApiError

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


def _auth(err_code: str, message: str, code: int = UNAUTHORIZED) -> ObshellError:
    return ObshellError(401, err_code, message, code)


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


def header_not_found() -> ObshellError:
    """A protected route called without `X-OCS-Header` or `X-OCS-Agent-Header`."""
    return ObshellError(
        400,
        "Request.Header.NotFound",
        "X-OCS-Agent-Header or X-OCS-Header not found in http request header",
    )


def decrypt_failed(detail: str) -> ObshellError:
    """The header is not base64, not decryptable with the agent's key, or not the right JSON."""
    return _auth(
        "Security.Authentication.Header.DecryptFailed",
        f"Decrypt http header failed: {detail}",
        code=1,
    )


def uri_mismatch() -> ObshellError:
    """The signed `Uri` is not the request target."""
    return _auth("Security.Authentication.Header.UriMismatch", "URI mismatch")


def expired() -> ObshellError:
    """The signed `Ts` (an expiry) has passed."""
    return _auth("Security.Authentication.Expired", "Unauthorized: Authentication expired")


def timestamp_invalid(ts: str) -> ObshellError:
    """`Ts` is not a decimal integer."""
    detail = f'strconv.ParseInt: parsing "{ts}": invalid syntax'
    return _auth(
        "Security.Authentication.Timestamp.Invalid",
        f"Unauthorized: Invalid timestamp: {ts}, err: {detail}",
    )


def incorrect_password() -> ObshellError:
    """The root@sys password in `X-OCS-Header` is wrong."""
    return _auth(
        "Security.Authentication.IncorrectOceanbasePassword",
        "Unauthorized: OceanBase password is incorrect",
    )


def incorrect_agent_password() -> ObshellError:
    """The agent password in `X-OCS-Agent-Header` is wrong."""
    return _auth(
        "Security.Authentication.IncorrectAgentPassword",
        "Unauthorized: Agent password is incorrect",
    )


def agent_password_not_set() -> ObshellError:
    """`X-OCS-Agent-Header` sent to an agent that has no agent password."""
    return _auth(
        "Security.Authentication.WithOceanBasePassword",
        "Unauthorized: Should use oceanbase_password to verify: agent password is not initialized",
    )


def body_error(err_code: str, message: str, status: int = 500) -> ObshellError:
    """The AES body could not be decrypted (wrapped in Common.Unauthorized, kind kept)."""
    return ObshellError(status, err_code, f"Unauthorized: {message}")


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
