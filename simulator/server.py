"""The simulator: a world, its clock, its faults and the HTTP server in front of them.

One port serves the obshell agents (`/api/v1`, `/obshell/<i>/api/v1`), OCP (`/api/v2/ob`,
`/api/v2/time`) and OceanBase Cloud (`/api/v2/instances`), all over the same world.
"""

from __future__ import annotations

import collections
import socket

from aiohttp import web
from aiohttp.typedefs import Handler

from simulator.clock import SimClock
from simulator.cloud.api import CloudApi
from simulator.cloud.auth import CloudAccount
from simulator.faults import Faults
from simulator.obshell.api import AGENT_PREFIX, ObshellApi
from simulator.ocp.api import OcpApi
from simulator.ocp.auth import OcpAccount
from simulator.scenarios import build_world
from simulator.world import World

SEEN_REQUESTS = 10_000


class Simulator:
    """A simulated OceanBase fleet behind obshell's, OCP's and OceanBase Cloud's APIs, on one port.

    `world` and `faults` may be changed while it runs; `clock` tells (and can advance) the
    simulated time the world evolves with. `ocp.account` and `cloud.account` hold the
    credentials those APIs accept (changeable at run time too).
    """

    def __init__(
        self,
        scenario: str = "demo",
        clusters: int = 1,
        tenants: int = 3,
        seed: int = 1,
        speed: float = 1.0,
        password: str = "root-pass",  # noqa: S107 - the simulator's documented demo password
        agent_password: str | None = None,
        latency: float = 0.0,
        ocp_account: OcpAccount | None = None,
        cloud_account: CloudAccount | None = None,
    ) -> None:
        self.clock = SimClock(speed=speed)
        self.world: World = build_world(
            scenario,
            start=self.clock.start,
            clusters=clusters,
            tenants=tenants,
            seed=seed,
            password=password,
            agent_password=agent_password,
            speed=speed,
        )
        self.faults = Faults(seed=seed)
        if latency > 0:
            self.faults.add("latency", delay=latency)
        self._api = ObshellApi(self.world, self.clock, self.faults)
        self.ocp = OcpApi(self.world, self.clock, self.faults, ocp_account or OcpAccount())
        self.cloud = CloudApi(self.world, self.clock, self.faults, cloud_account or CloudAccount())
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        # The latest requests (path and query), for tests that count what a client asks.
        self.seen: collections.deque[str] = collections.deque(maxlen=SEEN_REQUESTS)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Listen on `host:port` (port 0: a free one, see `base_url`)."""
        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        app = web.Application(middlewares=[self._note])
        app.router.add_route("*", "/api/v2/ob/{tail:.*}", self.ocp.handle)
        app.router.add_route("*", "/api/v2/time", self.ocp.handle)
        app.router.add_route("*", "/api/v2/instances{tail:.*}", self.cloud.handle)
        # Any path, newlines included (a percent-encoded tenant name may hold one): gin routes
        # every decoded path, where aiohttp's `.` would stop at a newline.
        app.router.add_route("*", r"/{tail:[\s\S]*}", self._api.handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family)
        try:
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        bound = sock.getsockname()[1]
        self._base_url = (
            f"http://[{host}]:{bound}" if family == socket.AF_INET6 else f"http://{host}:{bound}"
        )

    @web.middleware
    async def _note(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.seen.append(request.path_qs)
        return await handler(request)

    async def stop(self) -> None:
        """Stop listening and close open connections."""
        if self._runner is not None:
            await self._runner.cleanup()
        self._runner = None
        self._base_url = None

    @property
    def base_url(self) -> str:
        """`http://HOST:PORT` once started; cluster 0's agent answers at `{base_url}/api/v1`."""
        if self._base_url is None:
            raise RuntimeError("the simulator is not running")
        return self._base_url

    @property
    def ocp_url(self) -> str:
        """The simulated OCP's base URL (a target's `url:`); it manages every cluster."""
        return self.base_url

    @property
    def cloud_url(self) -> str:
        """The simulated OceanBase Cloud API's base URL; every cluster is an instance."""
        return self.base_url

    def agent_url(self, cluster_index: int) -> str:
        """Base URL of cluster `cluster_index`'s agent: append `/api/v1/...` to it."""
        if not 0 <= cluster_index < len(self.world.clusters):
            raise IndexError(f"no cluster {cluster_index}")
        return f"{self.base_url}{AGENT_PREFIX}{cluster_index}"
