"""Typed calls to one obshell cluster: envelope decoding, node failover, endpoint support.

What an HTTP answer means is decided here, once: a model for success, None for "there is no
such task / tenant" (a normal state, not an error), `EndpointUnsupported` for a route this agent
version does not have, and `PollError` with a reason for everything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from pydantic import BaseModel

from exporter.sources.envelope import decode, error_object, parametrized
from exporter.sources.errors import PollError, Reason
from exporter.sources.http import Response, UpstreamHTTP
from exporter.sources.obshell.models import Envelope
from exporter.sources.obshell.routes import OPTIONAL_ROUTES

M = TypeVar("M", bound=BaseModel)

# 400s that mean "this tenant is gone" (current and pre-4.3.1 spellings).
_TENANT_GONE_CODES = frozenset({"OB.Tenant.NotExist"})
# Failures of one node, not of the cluster: the next node is tried.
TRANSPORT_REASONS: frozenset[Reason] = frozenset({"timeout", "connection", "tls"})
MAX_SEGMENTS = 10_000


class EndpointUnsupported(Exception):
    """The agent does not have this route (an older obshell): not an error."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        self.endpoint = endpoint


class ObshellClient:
    """Calls one cluster's agents, trying its nodes in order when one cannot be reached."""

    def __init__(self, http: UpstreamHTTP, base_urls: list[str]) -> None:
        self._http = http
        self._bases = [url.rstrip("/") for url in base_urls]
        self._active = 0
        # Tenant names as path segments, quoted once, not on every request.
        self._segments: dict[str, str] = {}

    async def get(
        self,
        route: str,
        model: type[M],
        *,
        tenant: str | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Envelope[M] | None:
        """GET `route` (a template such as `/api/v1/tenant/:name/backup/info`).

        Returns the envelope (with `data` parsed into `model`), or None when obshell says the
        task or tenant does not exist.
        """
        if tenant is None:
            path = route
        else:
            segment = self._segments.get(tenant)
            if segment is None:
                if len(self._segments) >= MAX_SEGMENTS:  # names churn: start afresh
                    self._segments.clear()
                segment = self._segments[tenant] = _segment(route, tenant)
            path = route.replace(":name", segment)
        if params:
            # obshell compares the signed Uri with the request target byte for byte, and
            # aiohttp re-normalises percent-encoding: keep the query in a form it leaves alone.
            path += "?" + urlencode(params, safe=",")
        response = await self._get_any_node(route, path)
        return _decode(route, response, model)

    async def _get_any_node(self, route: str, path: str) -> Response:
        failure: PollError | None = None
        for offset in range(len(self._bases)):
            index = (self._active + offset) % len(self._bases)
            try:
                response = await self._http.get(self._bases[index] + path, route)
            except PollError as exc:
                if exc.reason not in TRANSPORT_REASONS:
                    raise
                failure = exc
                continue
            self._active = index
            return response
        assert failure is not None
        raise failure


def _segment(route: str, tenant: str) -> str:
    """A tenant name as one path segment, every byte but letters, digits and `_.-~` encoded.

    Control characters would make aiohttp refuse the URL, and `?`, `#` or a space would turn
    the route into another. obshell routes on the decoded path, so a name with `/` (or a dot
    segment, which proxies resolve) cannot be asked about at all: no real tenant has one.
    """
    if "/" in tenant or tenant in (".", ".."):
        message = f"tenant name {tenant!r} cannot be sent as one path segment; not asked"
        raise PollError("decode", route, message)
    return quote(tenant, safe="")


def _decode(route: str, response: Response, model: type[M]) -> Envelope[M] | None:
    envelope: Envelope[M] | None = decode(route, response, parametrized(Envelope, model), judge)
    return envelope


def judge(route: str, status: int, body: Any) -> bool:
    """What a failed obshell answer means: True for "no such task or tenant" (a normal state,
    not an error); EndpointUnsupported for a route this agent lacks; else a PollError."""
    error = error_object(body)
    err_code = error.get("errCode")
    message = str(error.get("message", ""))  # last in every message, cut by PollError
    if _is_unknown_route(status, body, message):
        raise EndpointUnsupported(route)
    if status in (401, 403):
        raise PollError(
            "auth", route, f"HTTP {status} {err_code or error.get('code', '')} {message}"
        )
    if status == 404:
        # Since 4.3.1 every obshell error names its errCode, and the only "no such route" is
        # the NoRoute one above: any other 404 is about this tenant or task, not the route.
        if route in OPTIONAL_ROUTES and "data" not in body and not err_code:
            raise EndpointUnsupported(route)
        return True
    if status == 400 and (err_code in _TENANT_GONE_CODES or _old_tenant_missing(error, message)):
        return True
    if not 200 <= status < 300:
        if error:
            raise PollError(
                "api_error", route, f"HTTP {status} {err_code or error.get('code')}: {message}"
            )
        raise PollError("http_status", route, f"HTTP {status} without an obshell error body")
    if isinstance(body, dict) and body.get("successful") is False:
        raise PollError("api_error", route, f"{err_code or error.get('code')}: {message}")
    return False


def _is_unknown_route(status: int, body: Any, message: str) -> bool:
    # obshell's NoRoute handler answers 404 "Element not found: 404 not found" (before 4.3.1:
    # 400 "Bad request: 404 not found"); a 404 that is no obshell envelope at all (a proxy's
    # page) means the same: no such route here.
    if status == 404 and not isinstance(body, dict):
        return True
    return status in (400, 404) and message.endswith("404 not found")


def _old_tenant_missing(error: Mapping[str, Any], message: str) -> bool:
    """Before 4.3.1: `code` 1001 "Illegal argument: tenant x not found"."""
    return error.get("code") == 1001 and message.endswith("not found")
