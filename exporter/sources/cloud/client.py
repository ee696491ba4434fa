"""Typed calls to the OceanBase Cloud OpenAPI: what an HTTP answer means is decided here, once.

Every call carries a fresh `requestId` (the API asks for one per request, for tracing) and,
when the target names a project, `X-Ob-Project-Id`. Failures come as a non-200 status with
`{success: false, errorCode, errorMessage, requestId}`: the code and message go into the
PollError (and so into the log), with the request id to quote to support.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel

from exporter.sources.cloud.models import Envelope
from exporter.sources.envelope import decode, judge_failure, parametrized
from exporter.sources.http import UpstreamHTTP

M = TypeVar("M", bound=BaseModel)
PROJECT_HEADER = "X-Ob-Project-Id"


class CloudClient:
    """Calls the OpenAPI at `base_url` for one account (and project)."""

    def __init__(self, http: UpstreamHTTP, base_url: str, project_id: str | None) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._headers = {PROJECT_HEADER: project_id} if project_id else {}

    async def get(
        self, route: str, path: str, model: type[M], params: Mapping[str, str] | None = None
    ) -> M:
        """GET `path`; `route` is its template (`/api/v2/instances/:id/backup/data/sets`)."""
        query = {"requestId": str(uuid.uuid4()), **(params or {})}
        # The digest covers the request target: keep the query in a form no layer re-encodes
        # (`:` of the times stays literal, as RFC 3986 allows in a query).
        url = f"{self._base}{path}?{urlencode(query, safe=':')}"
        response = await self._http.get(url, route, headers=self._headers)
        envelope: Envelope[M] | None = decode(route, response, parametrized(Envelope, model), judge)
        assert envelope is not None and envelope.data is not None  # decode's promise
        return envelope.data


def judge(route: str, status: int, body: Any) -> bool:
    """What a failed Cloud answer means: a PollError saying why (Cloud has no "absent")."""
    envelope = body if isinstance(body, dict) else {}
    failed = envelope.get("success") is False or "errorCode" in envelope
    detail = _failure(envelope)
    refused = envelope.get("success") is False
    return judge_failure(route, status, detail, failed, refused, "a Cloud")


def _failure(envelope: Mapping[str, Any]) -> str:
    # The upstream's message goes last and uncut: the message is cut only at its end, after
    # the poller redacted it (a secret cut off in the middle would leak what followed it).
    code = envelope.get("errorCode") or ""
    message = str(envelope.get("errorMessage") or "")
    request_id = envelope.get("requestId")
    prefix = f"requestId {request_id}: " if request_id else ""
    return f"{prefix}{code}: {message}"
