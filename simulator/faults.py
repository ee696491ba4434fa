"""Fault injection, set at run time: what can go wrong between an exporter and an obshell agent.

Each fault applies to one route template (e.g. "/api/v1/obcluster/backup/overview") or to all,
on one cluster or all, with a probability (an error rate). OCP and OceanBase Cloud routes take
faults too (their templates are the exporter's endpoint labels, e.g.
"/api/v2/ob/clusters/:id/backup/overview"); there `http_500` and `unauthorized` answer in that
platform's own error format. Kinds:

- `latency`: wait `delay` seconds, or a uniform random time in [`delay`, `delay_max`].
- `http_500`: obshell's own 500 envelope (Common.Unexpected).
- `html_500`: a 500 with an HTML page, as a proxy in front of the agent would send.
- `unauthorized`: obshell's 401 for a wrong password, whatever was sent.
- `not_json`: a 200 whose body is an HTML page.
- `truncated_json`: the real response with its body cut in half (and a matching length).
- `unknown_enum`: every string `status` field in the body replaced by `value` (and OCP's
  camelCase `...Status` fields: `obClusterStatus`, `backupScheduleStatus`, ...).
- `slow_body`: the real response trickled in ten parts, `delay` seconds apart.
- `reset`: headers and half the body, then a TCP reset.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from simulator.obshell import errors
from simulator.obshell.errors import ObshellError

FaultKind = Literal[
    "latency",
    "http_500",
    "html_500",
    "unauthorized",
    "not_json",
    "truncated_json",
    "unknown_enum",
    "slow_body",
    "reset",
]
UNKNOWN_ENUM = "WEIRD_NEW_STATE"
SLOW_BODY_PARTS = 10
HTML_500 = (
    b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    b"<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
NOT_JSON = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in</body></html>"
_HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class Fault:
    """One injected fault; `route` and `cluster` None mean every route, every cluster."""

    kind: FaultKind
    route: str | None = None
    cluster: int | None = None
    probability: float = 1.0
    delay: float = 0.0
    delay_max: float | None = None
    value: str = UNKNOWN_ENUM

    def matches(self, route: str | None, cluster: int | None) -> bool:
        """Whether this fault concerns a request for `route` on `cluster`."""
        return (self.route is None or self.route == route) and (
            self.cluster is None or self.cluster == cluster
        )


@dataclass(frozen=True)
class RawResponse:
    """A response that is not obshell's JSON at all."""

    status: int
    content_type: str
    body: bytes


@dataclass
class FaultPlan:
    """What the faults that fired do to one request."""

    latency: float = 0.0
    replace: Fault | None = None
    transforms: list[Fault] = field(default_factory=list)
    delivery: Fault | None = None


class Faults:
    """The faults in force; tests add and remove them while the simulator runs."""

    def __init__(self, seed: int = 1) -> None:
        self._faults: list[Fault] = []
        self._rng = random.Random(seed)  # noqa: S311 - dice, not secrets

    def add(
        self,
        kind: FaultKind,
        *,
        route: str | None = None,
        cluster: int | None = None,
        probability: float = 1.0,
        delay: float = 0.0,
        delay_max: float | None = None,
        value: str = UNKNOWN_ENUM,
    ) -> Fault:
        """Inject a fault from now on; returns it so that it can be removed."""
        fault = Fault(kind, route, cluster, probability, delay, delay_max, value)
        self._faults.append(fault)
        return fault

    def remove(self, fault: Fault) -> None:
        """Stop injecting `fault`."""
        self._faults.remove(fault)

    def clear(self) -> None:
        """Stop injecting any fault."""
        self._faults.clear()

    def plan(self, route: str | None, cluster: int | None) -> FaultPlan:
        """Roll the dice for every matching fault; the first replacing fault wins.

        `cluster` None is a request about no one cluster (OCP's or Cloud's lists): only
        faults for every cluster apply to it.
        """
        plan = FaultPlan()
        for fault in self._faults:
            if not fault.matches(route, cluster) or self._rng.random() >= fault.probability:
                continue
            if fault.kind == "latency":
                high = fault.delay if fault.delay_max is None else fault.delay_max
                plan.latency += self._rng.uniform(fault.delay, high)
            elif fault.kind in ("truncated_json", "unknown_enum"):
                plan.transforms.append(fault)
            elif fault.kind in ("slow_body", "reset"):
                plan.delivery = plan.delivery or fault
            else:
                plan.replace = plan.replace or fault
        return plan


def replacement(fault: Fault) -> ObshellError | RawResponse:
    """What a replacing fault answers instead of the agent."""
    if fault.kind == "http_500":
        return errors.unexpected()
    if fault.kind == "unauthorized":
        return errors.incorrect_password()
    if fault.kind == "html_500":
        return RawResponse(500, _HTML, HTML_500)
    return RawResponse(200, _HTML, NOT_JSON)


def transform(body: bytes, faults: list[Fault]) -> bytes:
    """Apply the body-altering faults in the order they were added."""
    for fault in faults:
        if fault.kind == "unknown_enum":
            try:
                document = json.loads(body)
            except ValueError:
                continue
            body = json.dumps(_replace_statuses(document, fault.value)).encode()
        else:
            body = body[: len(body) // 2]
    return body


def _replace_statuses(node: Any, value: str) -> Any:
    if isinstance(node, dict):
        return {
            key: value
            if (key == "status" or key.endswith("Status")) and isinstance(item, str)
            else _replace_statuses(item, value)
            for key, item in node.items()
        }
    if isinstance(node, list):
        return [_replace_statuses(item, value) for item in node]
    return node


async def deliver(
    request: web.Request, status: int, content_type: str, body: bytes, fault: Fault | None
) -> web.StreamResponse:
    """Send the response, trickled or cut off by a delivery fault."""
    if fault is None:
        return web.Response(status=status, body=body, headers={"Content-Type": content_type})
    response = web.StreamResponse(status=status, headers={"Content-Type": content_type})
    response.content_length = len(body)
    await response.prepare(request)
    if fault.kind == "slow_body":
        part = max(1, -(-len(body) // SLOW_BODY_PARTS))
        for offset in range(0, len(body), part):
            await response.write(body[offset : offset + part])
            await asyncio.sleep(fault.delay)
        await response.write_eof()
        return response
    await response.write(body[: len(body) // 2])
    await asyncio.sleep(0)  # let the half body reach the socket before the reset
    _reset(request)
    return response


def _reset(request: web.Request) -> None:
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0 turns close() into a RST instead of an orderly FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
