"""The `oceanbase-backup-exporter` command: flags, start-up, signals, shutdown."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import re
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from exporter import __version__, gc_policy
from exporter.collector import ExporterState, collect
from exporter.config import Config, ConfigError, check_secrets, load_config, parse_duration
from exporter.exposition import render
from exporter.listener import (
    DEFAULT_HEAD_TIMEOUT,
    AcceptErrorFilter,
    ClientErrorLog,
    GuardedAppRunner,
    default_max_connections,
)
from exporter.logs import LEVELS, fields, setup_logging
from exporter.poller import Poller, select_shard
from exporter.server import ExporterServer

if TYPE_CHECKING:
    from simulator import Simulator

from exporter.webconfig import (
    RotatingTLS,
    WebConfig,
    WebConfigError,
    basic_auth_middleware,
    load_web_config,
)

log = logging.getLogger("exporter")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
DEMO_PASSWORD = "demo-root-password"  # noqa: S105 - the built-in simulator's, not a real one
# The simulated world --demo polls: within five minutes a failed backup, a lagging and an
# interrupted archive, a restore that succeeds and one that fails, a tenant never backed up,
# healthy tenants (simulator/scenarios.py, "showcase"); backups run 60x faster.
DEMO_SCENARIO, DEMO_CLUSTERS, DEMO_TENANTS, DEMO_SPEED = "showcase", 2, 4, 60.0
# The container image leaves the simulator out (Dockerfile); `pip install` brings it.
DEMO_UNAVAILABLE = (
    "--demo: the simulator is not installed here (the container image leaves it out);"
    " run the demo from a `pip install` of oceanbase-backup-exporter"
)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """The command line, with the Prometheus exporters' flag spellings."""
    parser = argparse.ArgumentParser(
        prog="oceanbase-backup-exporter",
        description="Prometheus exporter for OceanBase backup and restore health.",
    )
    add = parser.add_argument
    add("--config.file", dest="config_file", default="config.yaml", help="YAML config file")
    add("--config.check", "--check-config", dest="check", action="store_true",
        help="validate the config and its secrets files, then exit 0 or 1")  # fmt: skip
    add("--web.listen-address", dest="listen", default=":10180", help="HOST:PORT to serve on")
    add("--web.telemetry-path", dest="telemetry_path", default="/metrics")
    add("--web.config.file", dest="web_config", default=None,
        help="TLS and basic auth for our endpoints (exporter-toolkit format)")  # fmt: skip
    add("--web.max-connections", dest="max_connections", type=_positive_int, default=None,
        help="most client connections at once (512, or half the open files limit)")  # fmt: skip
    add("--web.read-header-timeout", dest="head_timeout", type=_duration,
        default=DEFAULT_HEAD_TIMEOUT,
        help="time to send a request head; also the keep-alive idle time (10s)")  # fmt: skip
    add("--log.level", dest="log_level", default="info", choices=sorted(LEVELS))
    add("--log.format", dest="log_format", default="logfmt", choices=["logfmt", "json"])
    add("--once", action="store_true", help="poll every target once, print the exposition, exit")
    add("--probe-only", dest="probe_only", action="store_true",
        help="poll a target only when /probe asks for it")  # fmt: skip
    add("--shard", default="0/1", help="INDEX/COUNT: poll only this shard of the targets")
    add("--demo", action="store_true", help="poll the built-in simulator instead of the config")
    add("--version", action="version", version=f"oceanbase-backup-exporter {__version__}")
    return parser.parse_args(argv)


def _shard(text: str) -> tuple[int, int]:
    index_text, _, count_text = text.partition("/")
    index, count = int(index_text), int(count_text)
    if count < 1 or not 0 <= index < count:
        raise ValueError("--shard INDEX/COUNT needs 0 <= INDEX < COUNT")
    return index, count


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return number


def _duration(text: str) -> float:
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return seconds


def _listen(text: str) -> tuple[str | None, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError("--web.listen-address needs [HOST]:PORT with a port from 0 to 65535")
    return (host.strip("[]") or None), int(port)


# Characters of a URL path (RFC 3986) that aiohttp routes literally: no braces (a pattern).
_PATH = re.compile(r"(/[A-Za-z0-9._~!$&'()*+,;=:@%-]*)+")
_OTHER_ENDPOINTS = frozenset({"/", "/probe", "/-/healthy", "/-/ready", "/-/reload"})


def _telemetry_path(text: str) -> str:
    if not _PATH.fullmatch(text):
        raise ValueError("--web.telemetry-path needs an absolute URL path such as /metrics")
    if text in _OTHER_ENDPOINTS:
        raise ValueError(f"--web.telemetry-path: {text} is another endpoint of the exporter")
    return text


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    args = parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        shard = _shard(args.shard)
        listen = _listen(args.listen)
        _telemetry_path(args.telemetry_path)
    except ValueError as exc:
        print(f"usage error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    web_config: WebConfig | None = None
    if args.web_config:
        try:
            web_config = load_web_config(Path(args.web_config))
        except WebConfigError as exc:
            for problem in exc.problems:
                print(_in_file(Path(args.web_config), problem), file=sys.stderr)
            return EXIT_FAILED
    args.web = web_config
    if args.check:
        return check_config(Path(args.config_file))
    if args.demo:
        gc_policy.tune()
        return asyncio.run(run_demo(args, listen))
    try:
        config = _load(Path(args.config_file), shard)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config error: {problem}", file=sys.stderr)
        return EXIT_USAGE if args.once else EXIT_FAILED
    gc_policy.tune()
    if args.once:
        return asyncio.run(run_once(config))
    return asyncio.run(serve(args, Path(args.config_file), shard, listen))


def check_config(path: Path) -> int:
    """`--config.check`: print every problem with its path in the file; contact nothing."""
    try:
        config = load_config(path)
    except ConfigError as exc:
        for problem in exc.problems:
            print(_in_file(path, problem), file=sys.stderr)
        return EXIT_FAILED
    problems = check_secrets(config)
    for problem in problems:
        print(_in_file(path, problem), file=sys.stderr)
    for warning in config.warnings:
        print(f"{path}: warning: {warning}", file=sys.stderr)
    if problems:
        return EXIT_FAILED
    print(f"{path}: OK, {len(config.targets)} targets")
    return EXIT_OK


def _in_file(path: Path, problem: str) -> str:
    """Prefix a problem with the file, unless it already names it (YAML syntax errors do)."""
    return problem if problem.startswith(str(path)) else f"{path}: {problem}"


def _load(path: Path, shard: tuple[int, int]) -> Config:
    config = load_config(path)
    for warning in config.warnings:
        log.warning("config warning", extra=fields(warning=warning))
    index, count = shard
    if count > 1:
        config = config.model_copy(update={"targets": select_shard(config.targets, index, count)})
    return config


async def run_once(config: Config) -> int:
    """`--once`: poll every target once, print the exposition; 1 if any poll failed."""
    poller = Poller(config)
    try:
        results = await poller.poll_all_once()
        metrics = collect(poller.snapshots(), ExporterState(True, None))
        sys.stdout.buffer.write(render(metrics, open_metrics=False))
        sys.stdout.flush()
    finally:
        await poller.stop()
    return EXIT_OK if all(r.complete for r in results) else EXIT_FAILED


async def serve(
    args: argparse.Namespace, path: Path, shard: tuple[int, int], listen: tuple[str | None, int]
) -> int:
    """Run the poll loops and the HTTP server until SIGTERM or SIGINT."""
    poller = Poller(_load(path, shard))
    server = ExporterServer(
        poller,
        lambda: _load(path, shard),
        telemetry_path=args.telemetry_path,
        probe_only=args.probe_only,
    )
    if not args.probe_only:
        poller.start()
    web_config: WebConfig | None = args.web
    middlewares: list[Middleware] = []
    ssl_context = None
    if web_config is not None:
        headers = web_config.http_server_config.headers
        middlewares.append(basic_auth_middleware(web_config.basic_auth_users, headers))
        if web_config.tls_server_config is not None:
            ssl_context = RotatingTLS(web_config.tls_server_config).context
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(AcceptErrorFilter())
    runner = GuardedAppRunner(
        server.app(middlewares),
        max_connections=args.max_connections or default_max_connections(),
        head_timeout=args.head_timeout,
        handle_signals=False,
        access_log=None,
        logger=ClientErrorLog(logging.getLogger("aiohttp.server")),
    )
    await runner.setup()
    host, port = listen
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True, ssl_context=ssl_context)
        await site.start()
    except OSError as exc:
        log.error("cannot listen", extra=fields(address=args.listen, error=exc))
        await poller.stop()
        await runner.cleanup()
        return EXIT_FAILED
    log.info(
        "listening",
        extra=fields(address=args.listen, version=__version__, targets=len(poller.runners)),
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(server.reload()))
    await stop.wait()
    log.info("shutting down")
    await runner.cleanup()
    await poller.stop()
    return EXIT_OK


def _write_demo_config(folder: Path, simulator: Simulator, clusters: int) -> Path:
    """A config for the demo: every simulated obshell agent, plus the simulated OCP and
    OceanBase Cloud, with the simulator's credentials in secrets files."""
    secrets = {
        "password": DEMO_PASSWORD,
        "ocp_password": simulator.ocp.account.password,
        "cloud_secret": simulator.cloud.account.access_key_secret,
    }
    for name, value in secrets.items():
        (folder / name).write_text(value)
        (folder / name).chmod(0o600)
    targets = [
        f"  - {{name: demo-{i}, source: obshell, url: '{simulator.agent_url(i)}', "
        f"password_file: {folder / 'password'}, labels: {{site: demo}}}}\n"
        for i in range(clusters)
    ]
    targets.append(
        f"  - {{name: demo-ocp, source: ocp, url: '{simulator.ocp_url}', "
        f"username: {simulator.ocp.account.username}, password_file: {folder / 'ocp_password'}, "
        "labels: {site: demo}}\n"
    )
    targets.append(
        f"  - {{name: demo-cloud, source: cloud, url: '{simulator.cloud_url}', "
        f"access_key_id: {simulator.cloud.account.access_key_id}, "
        f"access_key_secret_file: {folder / 'cloud_secret'}, labels: {{site: demo}}}}\n"
    )
    config_path = folder / "config.yaml"
    config_path.write_text("defaults:\n  interval: 15s\ntargets:\n" + "".join(targets))
    return config_path


async def run_demo(args: argparse.Namespace, listen: tuple[str | None, int]) -> int:
    """`--demo`: the built-in simulator on loopback, and the exporter polling it."""
    try:
        from simulator import Simulator  # the simulator is only needed here
    except ImportError as exc:
        # Not installed (the image), or another distribution's module of the same name.
        if exc.name != "simulator" and not (exc.name or "").startswith("simulator."):
            raise
        print(DEMO_UNAVAILABLE, file=sys.stderr)
        return EXIT_FAILED

    clusters = DEMO_CLUSTERS
    simulator = Simulator(
        scenario=DEMO_SCENARIO,
        clusters=clusters,
        tenants=DEMO_TENANTS,
        speed=DEMO_SPEED,
        password=DEMO_PASSWORD,
    )
    await simulator.start("127.0.0.1", 0)
    with tempfile.TemporaryDirectory(prefix="obexporter-demo-") as folder:
        config_path = _write_demo_config(Path(folder), simulator, clusters)
        log.info(
            "demo started: open the exporter's page, and /metrics",
            extra=fields(open=f"http://localhost:{listen[1]}/", simulator=simulator.base_url),
        )
        try:
            return await serve(args, config_path, (0, 1), listen)
        finally:
            with contextlib.suppress(Exception):
                await simulator.stop()
