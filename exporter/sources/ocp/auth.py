"""OCP's two ways to authenticate a program, as auths for UpstreamHTTP.

- HTTP basic with an OCP user (`ocp.iam.auth.basic.enabled`, on by default, is meant for
  programs); the password is read per request, so a rotated `password_file` just works.
- The AccessKey signature (OCP 4.x): `Authorization: OCP-ACCESS-KEY-HMACSHA1 <ak>:<signature>`
  and `Date`, where the signature is Base64(HMAC-SHA1(secret, string to sign)) over
  `Method\\nMd5Payload\\nContentType\\nDate\\nHost\\nOCP-Headers\\nPathAndQuery`, the query sorted
  by key and percent-encoded (OCP's "Generate a signature",
  en.oceanbase.com/docs/common-ocp-10000000002169100). OCP refuses a `Date` more than 15
  minutes away from its clock. UpstreamHTTP sends `params` in exactly that canonical form, so
  what is signed is what is sent.

Secrets are read through callables for every request; a `*_file` that cannot be read raises
SecretFileError, which UpstreamHTTP reports as reason `auth`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from email.utils import formatdate

from yarl import URL

from exporter.sources.http import Fetch, Response, canonical_query

SCHEME = "OCP-ACCESS-KEY-HMACSHA1"
OCP_HEADER_PREFIX = "x-ocp-"


class OcpBasicAuth:
    """HTTP basic auth, preemptive, with the password read for every request."""

    def __init__(self, username: str, password: Callable[[], str]) -> None:
        self._username = username
        self._password = password

    async def headers(self, method: str, url: URL, fetch: Fetch) -> Mapping[str, str]:
        """`Authorization: Basic ...` built from the current password."""
        credentials = f"{self._username}:{self._password()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}

    async def retry(self, url: URL, response: Response, fetch: Fetch) -> bool:
        """Never: a refused password stays refused."""
        return False


def string_to_sign(method: str, url: URL, headers: Mapping[str, str]) -> str:
    """The text the signature covers, for a request without a body (we only GET).

    `headers` are the request's own (`Date` at least); `Host` is what aiohttp derives from
    `url`, so it is derived here the same way.
    """
    ocp_headers = "\n".join(
        f"{name}:{value}"
        for name, value in sorted(headers.items())
        if name.lower().startswith(OCP_HEADER_PREFIX)
    )
    query = canonical_query(url.query.items())  # sorted by key, percent-encoded
    return "\n".join(
        (
            method.upper(),
            "",  # Md5Payload: empty without a body
            headers.get("Content-Type", ""),
            headers["Date"],
            url.host_port_subcomponent or "",
            ocp_headers,
            f"{url.raw_path}?{query}" if query else url.raw_path,
        )
    )


def signature(secret: str, text: str) -> str:
    """Base64 of HMAC-SHA1(secret, text)."""
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


class OcpSignatureAuth:
    """OCP's AccessKey signature; the secret is read for every request."""

    def __init__(self, access_key_id: str, access_key_secret: Callable[[], str]) -> None:
        self._access_key_id = access_key_id
        self._secret = access_key_secret

    async def headers(self, method: str, url: URL, fetch: Fetch) -> Mapping[str, str]:
        """`Date` (now) and the `Authorization` signature over the request."""
        headers = {"Date": formatdate(usegmt=True)}
        text = string_to_sign(method, url, headers)
        signed = signature(self._secret(), text)
        headers["Authorization"] = f"{SCHEME} {self._access_key_id}:{signed}"
        return headers

    async def retry(self, url: URL, response: Response, fetch: Fetch) -> bool:
        """Never: a refused signature stays refused."""
        return False
