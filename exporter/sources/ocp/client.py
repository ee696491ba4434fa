"""Typed calls to one OCP server: what an HTTP answer means is decided here, once.

A model for success; `PollError` with a reason for everything else. OCP answers a failed
login or a missing permission with 401 / 403 and a JSON body (`error.code` 30000 / 30014) and
no `WWW-Authenticate`, so the status alone says `auth`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from exporter.logs import fields
from exporter.sources.envelope import decode, error_object, judge_failure, parametrized
from exporter.sources.http import UpstreamHTTP
from exporter.sources.ocp.models import Envelope, Paged

M = TypeVar("M", bound=BaseModel)
PAGE_SIZE = 2000  # OCP's largest page

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer(Generic[M]):
    """A successful answer: its data and the envelope's timestamp (it tells OCP's zone)."""

    data: M
    timestamp: str | None


class OcpClient:
    """Calls one OCP server at `base_url` for the target `target_name`."""

    def __init__(self, http: UpstreamHTTP, base_url: str, target_name: str) -> None:
        self._http = http
        self._base = base_url.rstrip("/")
        self._target_name = target_name

    async def get(
        self, route: str, path: str, model: type[M], params: Mapping[str, str] | None = None
    ) -> Answer[M]:
        """GET `path`; `route` is its template (`/api/v2/ob/clusters/:id/backup/overview`)."""
        response = await self._http.get(self._base + path, route, params=params)
        envelope: Envelope[M] | None = decode(route, response, parametrized(Envelope, model), judge)
        assert envelope is not None and envelope.data is not None  # decode's promise
        return Answer(envelope.data, envelope.timestamp)

    async def pages(
        self, route: str, path: str, model: type[M], params: Mapping[str, str], max_pages: int
    ) -> list[tuple[M, str | None]]:
        """Every item of a paged list, with the timestamp of the envelope it came in (it tells
        OCP's zone); one request when OCP does not page the list, `max_pages` at most."""
        items: list[tuple[M, str | None]] = []
        for number in range(1, max_pages + 1):
            query = {**params, "page": str(number), "size": str(PAGE_SIZE)}
            answer: Answer[Paged[M]] = await self.get(
                route,
                path,
                parametrized(Paged, model),
                query,
            )
            items.extend((item, answer.timestamp) for item in answer.data.contents)
            page = answer.data.page
            # `{contents}` without `page` is the whole list (OCP's IterableResponse).
            if page is None or number >= page.totalPages or not answer.data.contents:
                break
        else:
            # A server that keeps announcing pages is misbehaving: what was read is used.
            log.warning(
                "more pages than read; stopped",
                extra=fields(target=self._target_name, endpoint=route, pages=max_pages),
            )
        return items


def judge(route: str, status: int, body: Any) -> bool:
    """What a failed OCP answer means: a PollError saying why (OCP has no "absent" answer)."""
    error = error_object(body)
    detail = f"{error.get('code', '')}: {error.get('message', '')}"
    refused = isinstance(body, dict) and body.get("successful") is False
    return judge_failure(route, status, detail, bool(error), refused, "an OCP")
