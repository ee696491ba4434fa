"""The exporter's auths (exporter.sources.http.Auth) on an httpx test client.

Tests that talk to the simulator with httpx sign exactly as the exporter does: the same
headers for the same URL, the same one retry when the auth asks for it.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncGenerator

import httpx
from yarl import URL

from exporter.sources.http import Auth, Response


class AsHttpxAuth(httpx.Auth):
    """An httpx.Auth that asks one of the exporter's auths for its headers."""

    def __init__(self, auth: Auth, verify: ssl.SSLContext | bool = True) -> None:
        self._auth = auth
        self._verify = verify

    async def _fetch(self, url: URL) -> Response:
        async with httpx.AsyncClient(verify=self._verify) as client:
            answer = await client.get(str(url))
        return Response(answer.status_code, answer.headers, answer.content)

    async def _sign(self, request: httpx.Request, url: URL, previous: set[str]) -> set[str]:
        for name in previous:
            request.headers.pop(name, None)
        headers = await self._auth.headers(request.method, url, self._fetch)
        request.headers.update(headers)
        return set(headers)

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        """Sign, send, and sign and send again once if the auth says so."""
        url = URL(str(request.url), encoded=True)
        added = await self._sign(request, url, set())
        response = yield request
        await response.aread()
        first = Response(response.status_code, response.headers, response.content)
        if await self._auth.retry(url, first, self._fetch):
            await self._sign(request, url, added)
            yield request
