"""`oceanbase-backup-simulator`: serve a simulated OceanBase fleet for demos, tests, benchmarks."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
import os
import signal
from collections.abc import Sequence

from simulator import fidelity, scenarios
from simulator.cloud.auth import CloudAccount
from simulator.ocp.auth import OcpAccount
from simulator.scenarios import ALL_SCENARIOS
from simulator.server import Simulator

log = logging.getLogger("simulator")


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `:PORT` (all interfaces) as (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    host = host.strip("[]") or "0.0.0.0"  # noqa: S104 - ":PORT" asks for all interfaces
    return host, int(port)


def scenario_help() -> str:
    """Every scenario with what it shows: the bulleted lists of the modules that build them."""
    lines = ["scenarios:"]
    for module in (scenarios, fidelity):
        text = inspect.getdoc(module) or ""
        lines += [f"  {line}" for line in text.splitlines() if line.startswith(("- ", "  "))]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The command line of `oceanbase-backup-simulator`."""
    parser = argparse.ArgumentParser(
        prog="oceanbase-backup-simulator",
        description=(
            "Serve simulated OceanBase clusters behind obshell's, OCP's and OceanBase Cloud's"
            " HTTP APIs."
        ),
        epilog=scenario_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--listen",
        type=parse_listen,
        default=("127.0.0.1", 2886),
        metavar="HOST:PORT",
        help="where to listen (default 127.0.0.1:2886)",
    )
    parser.add_argument(
        "--scenario", choices=ALL_SCENARIOS, default="demo", help="what the world shows (see below)"
    )
    parser.add_argument("--clusters", type=int, default=1, help="simulated clusters (agents)")
    parser.add_argument("--tenants", type=int, default=3, help="user tenants per cluster")
    parser.add_argument("--seed", type=int, default=1, help="the same seed builds the same world")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="compress simulated work (backup runs and schedules, restores, tenant churn) by"
        " this factor; timestamps stay at or before the real clock; 0 freezes the world",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="delay every response by this much",
    )
    parser.add_argument(
        "--password",
        default=os.environ.get("SIMULATOR_PASSWORD", "root-pass"),
        help="root@sys password the agents accept (default: $SIMULATOR_PASSWORD, else root-pass)",
    )
    parser.add_argument(
        "--agent-password", default=None, help="obshell agent password (default: none set)"
    )
    ocp, cloud = OcpAccount(), CloudAccount()
    parser.add_argument("--ocp-username", default=ocp.username, help="OCP basic auth user")
    parser.add_argument("--ocp-password", default=ocp.password, help="OCP basic auth password")
    parser.add_argument("--ocp-access-key-id", default=ocp.access_key_id)
    parser.add_argument("--ocp-access-key-secret", default=ocp.access_key_secret)
    parser.add_argument("--cloud-access-key-id", default=cloud.access_key_id)
    parser.add_argument("--cloud-access-key-secret", default=cloud.access_key_secret)
    parser.add_argument(
        "--cloud-project-id",
        default=None,
        help="refuse requests whose X-Ob-Project-Id names another project (default: accept any)",
    )
    return parser


async def serve(args: argparse.Namespace) -> None:
    """Run the simulator until SIGINT or SIGTERM."""
    host, port = args.listen
    simulator = Simulator(
        scenario=args.scenario,
        clusters=args.clusters,
        tenants=args.tenants,
        seed=args.seed,
        speed=args.speed,
        password=args.password,
        agent_password=args.agent_password,
        latency=args.latency,
        ocp_account=OcpAccount(
            username=args.ocp_username,
            password=args.ocp_password,
            access_key_id=args.ocp_access_key_id,
            access_key_secret=args.ocp_access_key_secret,
        ),
        cloud_account=CloudAccount(
            access_key_id=args.cloud_access_key_id,
            access_key_secret=args.cloud_access_key_secret,
            project_id=args.cloud_project_id,
        ),
    )
    await simulator.start(host, port)
    log.info(
        "simulated obshell listening on %s: scenario %s, %d cluster(s); cluster i at "
        "%s/obshell/<i>/api/v1, cluster 0 also at %s/api/v1; OCP and OceanBase Cloud at %s",
        simulator.base_url,
        args.scenario,
        args.clusters,
        simulator.base_url,
        simulator.base_url,
        simulator.base_url,
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await simulator.stop()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script and of `python -m simulator`."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(args))
