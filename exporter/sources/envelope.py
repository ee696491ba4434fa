"""Reading an upstream's JSON answer: one model base and one envelope decoder for every source.

Every upstream wraps its data in an envelope (obshell `{successful, data, error}`, OCP
`{successful, data, error}`, Cloud `{success, data, errorCode}`). What a failure means differs
per upstream and is decided by the source's `Judge`; the rest is the same for all: the fast
path for a plain success, the JSON of anything else read once with lone surrogates replaced,
and the same decode errors for a body that is no object, has the wrong shape or has no data.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from exporter.sources.errors import PollError, shape_problem
from exporter.sources.http import Response
from exporter.text import replace_surrogates

T = TypeVar("T")
# A JSON escape of a UTF-16 surrogate (`\ud800`..`\udfff`): the only way a JSON text that is
# valid UTF-8 can hold a string that is not.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class UpstreamModel(BaseModel):
    """Base of every upstream shape: upstreams add fields between versions, so ignore extras.

    Numbers must be what the upstream's types (Go, Java) can hold: NaN, infinities (`1e400`
    parses as one) and (see `exporter.sources.values.Int`) integers beyond 64 bits make the
    answer a decode error, instead of values that break float conversion (`float(10**400)`
    raises) or render as `+Inf`. `populate_by_name`: a field with an alias (OCP's older
    spellings) still accepts its own name.
    """

    model_config = ConfigDict(
        extra="ignore", frozen=True, populate_by_name=True, allow_inf_nan=False
    )


class UpstreamEnvelope(UpstreamModel, Generic[T]):
    """What every envelope has: its `data`, and whether it says that it succeeded."""

    data: T | None = None

    def succeeded(self) -> bool:
        """The envelope's own success flag (an upstream without one: True)."""
        return True


E = TypeVar("E", bound=UpstreamEnvelope[Any])
# Raises the PollError (or the source's own exception) that a failed answer means, given the
# route, the HTTP status and the body as JSON (None when it is not JSON); returns True when
# the answer means "no such thing" (a normal state for some upstreams), else False.
Judge = Callable[[str, int, Any], bool]


@functools.cache
def parametrized(generic: Any, model: type[Any]) -> Any:
    """`generic[model]` made once: pydantic builds a class per subscription, too much to pay
    on every upstream response (docs/benchmarks.md)."""
    return generic[model]


def decode(route: str, response: Response, envelope: type[E], judge: Judge) -> E | None:
    """The envelope of a successful answer, with `data`; None when `judge` says "absent".

    `envelope` is the source's envelope parametrised with the data model (`parametrized`).
    Raises PollError for everything else: the failure `judge` recognises, or a decode error.
    """
    if 200 <= response.status < 300:
        # The common case, parsed straight from bytes by pydantic's own JSON parser: far
        # cheaper than json.loads plus validating the dict (docs/benchmarks.md). Anything
        # unusual (a failure, a lone surrogate, a bad shape) takes the slow path below, which
        # explains it.
        try:
            fast = envelope.model_validate_json(response.body)
        except ValidationError:
            pass
        else:
            if fast.succeeded() and fast.data is not None:
                return fast
    body = json_or_none(response.body)
    if judge(route, response.status, body):
        return None
    if not isinstance(body, dict):
        raise PollError("decode", route, "response is not a JSON object")
    try:
        parsed = envelope.model_validate(body)
    except ValidationError as exc:
        raise PollError("decode", route, shape_problem(exc)) from exc
    if parsed.data is None:
        raise PollError("decode", route, "response has no data")
    return parsed


def json_or_none(body: bytes) -> Any:
    """The body as JSON, or None when it is not JSON (or nests deeper than Python's stack).

    Every source reads upstream JSON here (pydantic's parser, the fast path, refuses lone
    surrogates and falls back to this): a lone surrogate in any string or key becomes U+FFFD,
    so that no upstream string can reach a label, a log line or a page as invalid UTF-8.
    """
    try:
        document = json.loads(body)
        if _SURROGATE_ESCAPE.search(body):
            document = _without_surrogates(document)
    except (ValueError, RecursionError):
        return None
    return document


def error_object(body: Any) -> dict[str, Any]:
    """The body's `error` object (obshell, OCP), or {} when there is none."""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def judge_failure(
    route: str, status: int, detail: str, described: bool, refused: bool, upstream: str
) -> bool:
    """The judgement of upstreams without an "absent" answer (OCP, Cloud): 401 and 403 are
    `auth` (with `detail` when the body `described` the failure); another status outside 2xx
    is `api_error` when described, else `http_status`; a 2xx the envelope says is `refused`
    is an `api_error`. `detail` ends with the upstream's text: PollError cuts only at the end.
    """
    if status in (401, 403):
        raise PollError("auth", route, f"HTTP {status} {detail}" if described else f"HTTP {status}")
    if not 200 <= status < 300:
        if described:
            raise PollError("api_error", route, f"HTTP {status} {detail}")
        raise PollError("http_status", route, f"HTTP {status} without {upstream} error body")
    if refused:
        raise PollError("api_error", route, detail)
    return False


def _without_surrogates(node: Any) -> Any:
    if isinstance(node, str):
        return replace_surrogates(node)
    if isinstance(node, dict):
        return {replace_surrogates(k): _without_surrogates(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_surrogates(item) for item in node]
    return node
