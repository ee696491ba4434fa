"""Typed calls to one OCP server: what an HTTP answer means is decided here, once.

A model for success; `PollError` with a reason for everything else. OCP answers a failed
login or a missing permission with 401 / 403 and a JSON body (`error.code` 30000 / 30014) and
no `WWW-Authenticate`, so the status alone says `auth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from exporter.sources.envelope import decode, error_object, parametrized
from exporter.sources.errors import PollError
from exporter.sources.http import UpstreamHTTP
from exporter.sources.ocp.models import Envelope

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Answer(Generic[M]):
    """A successful answer: its data and the envelope's timestamp (it tells OCP's zone)."""

    data: M
    timestamp: str | None


class OcpClient:
    """Calls one OCP server at `base_url`."""

    def __init__(self, http: UpstreamHTTP, base_url: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")

    async def get(
        self, route: str, path: str, model: type[M], params: Mapping[str, str] | None = None
    ) -> Answer[M]:
        """GET `path`; `route` is its template (`/api/v2/ob/clusters/:id/backup/overview`)."""
        response = await self._http.get(self._base + path, route, params=params)
        envelope: Envelope[M] | None = decode(route, response, parametrized(Envelope, model), judge)
        assert envelope is not None and envelope.data is not None  # decode's promise
        return Answer(envelope.data, envelope.timestamp)


def judge(route: str, status: int, body: Any) -> bool:
    """What a failed OCP answer means: a PollError saying why (OCP has no "absent" answer)."""
    error = error_object(body)
    # Upstream text last and uncut: PollError cuts at the end, after nothing follows.
    detail = f"{error.get('code', '')}: {error.get('message', '')}"
    if status in (401, 403):
        raise PollError("auth", route, f"HTTP {status} {detail}" if error else f"HTTP {status}")
    if not 200 <= status < 300:
        if error:
            raise PollError("api_error", route, f"HTTP {status} {detail}")
        raise PollError("http_status", route, f"HTTP {status} without an OCP error body")
    if isinstance(body, dict) and body.get("successful") is False:
        raise PollError("api_error", route, detail)
    return False
