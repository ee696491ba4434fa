"""OCP's two ways to authenticate a program, as httpx.Auth classes.

- HTTP basic with an OCP user (`ocp.iam.auth.basic.enabled`, on by default, is meant for
  programs); the password is read per request, so a rotated `password_file` just works.
- The AccessKey signature (OCP 4.x): `Authorization: OCP-ACCESS-KEY-HMACSHA1 <ak>:<signature>`
  and `Date`, where the signature is Base64(HMAC-SHA1(secret, string to sign)) over
  `Method\\nMd5Payload\\nContentType\\nDate\\nHost\\nOCP-Headers\\nPathAndQuery`, the query sorted
  by key and percent-encoded (shared/research/ocp-and-cloud-api.md, section 1.3). OCP refuses
  a `Date` more than 15 minutes away from its clock.

Secrets are read through callables for every request; a `*_file` that cannot be read raises
SecretFileError, which UpstreamHTTP reports as reason `auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Generator
from email.utils import formatdate
from urllib.parse import quote

import httpx

SCHEME = "OCP-ACCESS-KEY-HMACSHA1"
OCP_HEADER_PREFIX = "x-ocp-"


class OcpBasicAuth(httpx.Auth):
    """HTTP basic auth, preemptive, with the password read for every request."""

    def __init__(self, username: str, password: Callable[[], str]) -> None:
        self._username = username
        self._password = password

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Attach `Authorization: Basic ...` built from the current password."""
        yield from httpx.BasicAuth(self._username, self._password()).auth_flow(request)


def canonical_query(url: httpx.URL) -> str:
    """The query as OCP signs it: pairs sorted by key, each part percent-encoded."""
    pairs = sorted(url.params.multi_items())
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


def string_to_sign(request: httpx.Request) -> str:
    """The text the signature covers, from the request exactly as it will be sent."""
    body = request.content
    md5 = hashlib.md5(body).hexdigest().upper() if body else ""  # noqa: S324 - OCP's format
    ocp_headers = "\n".join(
        f"{name}:{value}"
        for name, value in sorted(request.headers.items())
        if name.lower().startswith(OCP_HEADER_PREFIX)
    )
    path = request.url.raw_path.decode("ascii").split("?", 1)[0]
    query = canonical_query(request.url)
    return "\n".join(
        (
            request.method.upper(),
            md5,
            request.headers.get("Content-Type", ""),
            request.headers["Date"],
            request.headers["Host"],
            ocp_headers,
            f"{path}?{query}" if query else path,
        )
    )


def signature(secret: str, text: str) -> str:
    """Base64 of HMAC-SHA1(secret, text)."""
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class OcpSignatureAuth(httpx.Auth):
    """OCP's AccessKey signature; the secret is read for every request."""

    requires_request_body = True  # its MD5 is part of what is signed

    def __init__(self, access_key_id: str, access_key_secret: Callable[[], str]) -> None:
        self._access_key_id = access_key_id
        self._secret = access_key_secret

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Send the query in its signed (sorted) form, dated now, with the signature."""
        query = canonical_query(request.url)
        request.url = request.url.copy_with(query=query.encode("ascii") if query else None)
        request.headers["Date"] = formatdate(usegmt=True)
        text = string_to_sign(request)
        request.headers["Authorization"] = (
            f"{SCHEME} {self._access_key_id}:{signature(self._secret(), text)}"
        )
        yield request
