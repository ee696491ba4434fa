"""OceanBase Cloud's HTTP Digest auth (MD5, qop=auth): the AccessKey id and secret.

httpx's DigestAuth does the protocol and remembers the last challenge, so most requests go out
signed at once instead of costing a 401 round trip. It holds the secret it was made with, so
the secret is read on every request and a new DigestAuth made when it changed: a rotated
`access_key_secret_file` needs no restart (one that cannot be read raises SecretFileError,
which UpstreamHTTP reports as reason `auth`).
"""

from __future__ import annotations

from collections.abc import Callable, Generator

import httpx


class CloudDigestAuth(httpx.Auth):
    """Digest auth with the AccessKey id as user name and its secret as password."""

    def __init__(self, access_key_id: str, access_key_secret: Callable[[], str]) -> None:
        self._access_key_id = access_key_id
        self._read_secret = access_key_secret
        self._digest: httpx.DigestAuth | None = None
        self._secret = ""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Answer the server's digest challenge (or the remembered one) with the current secret."""
        secret = self._read_secret()
        if self._digest is None or secret != self._secret:
            self._digest = httpx.DigestAuth(self._access_key_id, secret)
            self._secret = secret
        yield from self._digest.auth_flow(request)
