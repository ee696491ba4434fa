"""Typed calls to one OCP server: what an HTTP answer means is decided here, once.

A model for success; `PollError` with a reason for everything else. OCP answers a failed
login or a missing permission with 401 / 403 and a JSON body (`error.code` 30000 / 30014) and
no `WWW-Authenticate`, so the status alone says `auth`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from exporter.sources.base import json_or_none, parametrized
from exporter.sources.errors import PollError, shape_problem
from exporter.sources.http import Response, UpstreamHTTP
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
        return decode(route, response, model)


def decode(route: str, response: Response, model: type[M]) -> Answer[M]:
    """Judge one OCP answer: its data, or a PollError saying why not."""
    body = json_or_none(response.body)
    error = body.get("error") if isinstance(body, dict) else None
    error = error if isinstance(error, dict) else {}
    # Upstream text last and uncut: PollError cuts at the end, after nothing follows.
    detail = f"{error.get('code', '')}: {error.get('message', '')}"
    status = response.status
    if status in (401, 403):
        raise PollError("auth", route, f"HTTP {status} {detail}" if error else f"HTTP {status}")
    if not 200 <= status < 300:
        if error:
            raise PollError("api_error", route, f"HTTP {status} {detail}")
        raise PollError("http_status", route, f"HTTP {status} without an OCP error body")
    if not isinstance(body, dict):
        raise PollError("decode", route, "response is not a JSON object")
    if body.get("successful") is False:
        raise PollError("api_error", route, detail)
    try:
        envelope: Envelope[M] = parametrized(Envelope, model).model_validate(body)
    except ValidationError as exc:
        raise PollError("decode", route, shape_problem(exc)) from exc
    if envelope.data is None:
        raise PollError("decode", route, "response has no data")
    return Answer(envelope.data, envelope.timestamp)
