"""OCP's checks of a request's credentials, done for real: HTTP basic, and the AccessKey
signature recomputed from the request as it arrived.

Written from the documented format (OCP's "Generate a signature",
https://en.oceanbase.com/docs/common-ocp-10000000002169100), not from the exporter's signer, so
that a mistake in one is caught by the other. Plain values in, so the same checks serve the
simulator (aiohttp) and test servers (werkzeug).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote

SIGNATURE_SCHEME = "OCP-ACCESS-KEY-HMACSHA1"
DATE_TOLERANCE_SECONDS = 15 * 60


@dataclass
class OcpAccount:
    """Who may call the simulated OCP: a user for basic auth and an AccessKey pair.

    `permitted` False makes every authenticated call a 403 (a user without the read-only
    permission on cluster backup and recovery).
    """

    username: str = "admin"
    password: str = "ocp-pass"  # noqa: S105 - the simulator's documented demo password
    access_key_id: str = "ocp-access-key-id"
    access_key_secret: str = "ocp-access-key-secret"  # noqa: S105 - the simulator's demo key
    permitted: bool = True


@dataclass(frozen=True)
class RequestParts:
    """What the checks need of a request, exactly as it arrived."""

    method: str
    path: str  # raw, without the query
    query: Iterable[tuple[str, str]]  # decoded pairs
    headers: Mapping[str, str]  # case-insensitive mapping
    body: bytes


def authenticate(account: OcpAccount, request: RequestParts, now: float) -> str | None:
    """None when the request carries valid credentials; otherwise why not (for the debug
    message of the 401, which real OCP fills with its exception text)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "basic":
        return _basic(account, credentials.strip())
    if scheme == SIGNATURE_SCHEME:
        return _signature(account, request, credentials.strip(), now)
    return "Full authentication is required to access this resource"


def _basic(account: OcpAccount, credentials: str) -> str | None:
    try:
        user, _, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return "Bad credentials"
    expected_user = hmac.compare_digest(user.encode(), account.username.encode())
    expected_password = hmac.compare_digest(password.encode(), account.password.encode())
    return None if expected_user and expected_password else "Bad credentials"


def string_to_sign(request: RequestParts) -> str:
    """`Method\\nMd5Payload\\nContentType\\nDate\\nHost\\nOCP-Headers\\nPathAndQuery`."""
    body_md5 = hashlib.md5(request.body).hexdigest().upper() if request.body else ""  # noqa: S324
    headers = {name.lower(): value for name, value in request.headers.items()}
    ocp_headers = "\n".join(
        f"{name}:{value}" for name, value in sorted(headers.items()) if name.startswith("x-ocp-")
    )
    query = "&".join(
        f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in sorted(request.query)
    )
    return "\n".join(
        [
            request.method.upper(),
            body_md5,
            headers.get("content-type", ""),
            headers.get("date", ""),
            headers.get("host", ""),
            ocp_headers,
            f"{request.path}?{query}" if query else request.path,
        ]
    )


def _signature(
    account: OcpAccount, request: RequestParts, credentials: str, now: float
) -> str | None:
    key_id, _, given = credentials.partition(":")
    if not hmac.compare_digest(key_id.encode(), account.access_key_id.encode()):
        return "AccessKey not found"
    try:
        dated = parsedate_to_datetime(request.headers.get("Date", "")).timestamp()
    except (TypeError, ValueError):
        return "Date header missing or not RFC 1123"
    if abs(now - dated) > DATE_TOLERANCE_SECONDS:
        return "request expired: Date is more than 15 minutes from the server's clock"
    secret = account.access_key_secret.encode()
    expected = hmac.new(secret, string_to_sign(request).encode(), hashlib.sha1).digest()
    if not hmac.compare_digest(base64.b64encode(expected).decode(), given):
        return "signature mismatch"
    return None
