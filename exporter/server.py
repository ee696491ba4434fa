"""The exporter's HTTP endpoints, on aiohttp (already our HTTP client's transport)."""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Middleware

from exporter import __version__
from exporter.collector import ExporterState, collect
from exporter.config import Config, ConfigError
from exporter.exposition import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    Exposition,
    render,
)
from exporter.logs import fields
from exporter.poller import Poller

log = logging.getLogger(__name__)

# Leave Prometheus this much of its scrape timeout to receive what a probe-time poll found.
PROBE_TIMEOUT_MARGIN = 0.5


@dataclass
class ReloadState:
    """Outcome of the last configuration (re)load."""

    successful: bool = True
    success_timestamp: float | None = field(default_factory=time.time)

    def as_exporter_state(self) -> ExporterState:
        """The immutable view the collector renders."""
        return ExporterState(self.successful, self.success_timestamp)


class ExporterServer:
    """Holds the poller and serves what it knows; reloads swap the config under it."""

    def __init__(
        self,
        poller: Poller,
        load_config: Callable[[], Config],
        telemetry_path: str = "/metrics",
        probe_only: bool = False,
    ) -> None:
        self.poller = poller
        self._load_config = load_config
        self.reload_state = ReloadState()
        self._probe_only = probe_only
        self._telemetry_path = telemetry_path
        self._reload_lock = asyncio.Lock()
        self.exposition = Exposition(
            self.poller.snapshots,
            self.reload_state.as_exporter_state,
            with_data=not probe_only,
        )

    def app(self, middlewares: Sequence[Middleware] = ()) -> web.Application:
        """The aiohttp application with every endpoint."""
        app = web.Application(middlewares=list(middlewares))
        app.add_routes(
            [
                web.get("/", self.index),
                web.get(self._telemetry_path, self.metrics),
                web.get("/probe", self.probe),
                web.get("/-/healthy", self.healthy),
                web.get("/-/ready", self.ready),
                web.post("/-/reload", self.reload_endpoint),
            ]
        )
        return app

    async def metrics(self, request: web.Request) -> web.Response:
        """All targets' latest data and the exporter's own series."""
        open_metrics = wants_open_metrics(request.headers.get("Accept", ""))
        gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
        body = self.exposition.body(open_metrics, gzipped)
        headers = {
            "Content-Type": OPENMETRICS_CONTENT_TYPE if open_metrics else TEXT_CONTENT_TYPE,
            # Caches must not serve one client's format or encoding to another.
            "Vary": "Accept, Accept-Encoding",
        }
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=body, headers=headers)

    async def probe(self, request: web.Request) -> web.Response:
        """One configured target's data, without the `target` label."""
        name = request.query.get("target", "")
        runner = self.poller.runners.get(name)
        if runner is None:
            # Only configured names: the exporter never calls a URL it was not configured with.
            return web.Response(status=400, text="unknown target: not in the configuration\n")
        last = runner.health.last_attempt_end
        restarted = self._probe_only and self.poller.probed(name)
        if last is None or (restarted and time.time() - last >= runner.target.interval):
            budget = _scrape_budget(request, runner.target.timeout * 3)
            try:
                async with asyncio.timeout(budget):
                    await runner.poll()
            except TimeoutError:
                log.warning("probe: poll did not finish in time", extra=fields(target=name))
        snapshot = runner.snapshot(time.time())
        open_metrics = wants_open_metrics(request.headers.get("Accept", ""))
        body = render(collect([snapshot], None, with_target_label=False), open_metrics)
        content_type = OPENMETRICS_CONTENT_TYPE if open_metrics else TEXT_CONTENT_TYPE
        return web.Response(body=body, headers={"Content-Type": content_type, "Vary": "Accept"})

    async def healthy(self, _: web.Request) -> web.Response:
        """200 while the event loop answers and every poll loop runs.

        About the process only: polls end by their deadline, so a slow or dead upstream shows
        on its own target's metrics and never makes this fail (a restart would fix nothing).
        """
        stuck = self.poller.healthy(time.time())
        if stuck:
            return web.Response(status=503, text="stuck targets: " + ", ".join(stuck) + "\n")
        return web.Response(text="Healthy\n")

    async def ready(self, _: web.Request) -> web.Response:
        """200 once every polled target finished its first poll (at most one interval)."""
        if self.poller.ready():
            return web.Response(text="Ready\n")
        return web.Response(status=503, text="Not ready: first polls are running\n")

    async def reload_endpoint(self, _: web.Request) -> web.Response:
        """POST: reload the configuration, like SIGHUP."""
        if await self.reload():
            return web.Response(text="Reloaded\n")
        return web.Response(status=500, text="Reload failed: see the exporter's log\n")

    async def reload(self) -> bool:
        """Load the config again; a bad one is rejected and the old one keeps running."""
        async with self._reload_lock:
            try:
                # In a thread: reading and validating a large file must not stall scrapes.
                config = await asyncio.to_thread(self._load_config)
                await self.poller.apply(config)
            except ConfigError as exc:
                self.reload_state.successful = False
                for problem in exc.problems:
                    log.error("config reload rejected", extra=fields(problem=problem))
                return False
            except Exception:
                # Whatever went wrong, the metric must say the running config is not the file's.
                self.reload_state.successful = False
                log.error("config reload failed (a bug)", exc_info=True)
                return False
            self.reload_state.successful = True
            self.reload_state.success_timestamp = time.time()
            log.info("config reloaded", extra=fields(targets=len(config.targets)))
            return True

    async def index(self, _: web.Request) -> web.Response:
        """A small status page for people."""
        now = time.time()
        rows = []
        for snapshot in self.poller.snapshots(now):
            health = snapshot.health
            age = f"{now - health.last_attempt:.0f}s ago" if health.last_attempt else "not yet"
            state = {True: "up", False: "down", None: "pending"}[health.up]
            probe = f"/probe?target={snapshot.name}"
            rows.append(
                "<tr>"
                f"<td>{html.escape(snapshot.name)}</td><td>{html.escape(snapshot.source)}</td>"
                f"<td>{state}</td><td>{age}</td><td>{html.escape(health.last_error)}</td>"
                f'<td><a href="{html.escape(probe, quote=True)}">probe</a></td>'
                "</tr>"
            )
        page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>OceanBase backup exporter</title></head>
<body><h1>OceanBase backup exporter</h1><p>Version {html.escape(__version__)}</p>
<p><a href="{html.escape(self._telemetry_path)}">Metrics</a> ·
<a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
<table border="1" cellpadding="4"><tr><th>Target</th><th>Source</th><th>State</th>
<th>Last poll</th><th>Last error</th><th></th></tr>
{"".join(rows)}
</table></body></html>
"""
        return web.Response(text=page, content_type="text/html")


def _weights(header: str) -> dict[str, float]:
    """The q-value of each item of an Accept or Accept-Encoding header (RFC 9110, 12.4.2),
    by lower-case name without parameters; a malformed q counts as 0."""
    weights: dict[str, float] = {}
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        weight = 1.0
        for param in params:
            key, _, text = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = min(max(float(text), 0.0), 1.0)
                except ValueError:
                    weight = 0.0
        name = name.lower()
        weights[name] = max(weight, weights.get(name, 0.0))
    return weights


def wants_open_metrics(accept: str) -> bool:
    """True when the client prefers OpenMetrics to the text format (q=0 means "not this")."""
    weights = _weights(accept)
    open_metrics = weights.get("application/openmetrics-text", 0.0)
    text = max(weights.get(name, 0.0) for name in ("text/plain", "text/*", "*/*"))
    return open_metrics > 0 and open_metrics >= text


def accepts_gzip(accept_encoding: str) -> bool:
    """True when the client takes gzip (named, or through `*`, with a q above 0)."""
    weights = _weights(accept_encoding)
    return weights.get("gzip", weights.get("*", 0.0)) > 0


def _scrape_budget(request: web.Request, default: float) -> float:
    header = request.headers.get("X-Prometheus-Scrape-Timeout-Seconds")
    try:
        seconds = float(header) if header else default
    except ValueError:
        seconds = default
    return max(0.1, seconds - PROBE_TIMEOUT_MARGIN)
