"""What an operator would write instead: the official obshell SDK, one call after another.

For each target: the cluster's info, its tenants, the cluster backup overview, and each
tenant's backup and restore overview. The SDK speaks to an agent by host and port only, so
every "target" here is the simulator's root agent, which costs the same per call.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from urllib.parse import urlsplit

from obshell import ClientSet, OBShellHandleError
from obshell.auth.password import PasswordAuth
from obshell.service.client_v1 import ClientV1

from bench.fleet import PASSWORD, process_cpu


def _poll(client: ClientV1) -> int:
    calls = 3
    client.get_ob_info()
    tenants = [t.name for t in client.get_all_tenants() if t.name != "sys"]
    client.get_cluster_backup_overview()
    for name in tenants:
        calls += 2
        for call in (client.get_tenant_backup_overview, client.get_tenant_restore_overview):
            # "no task" answers are part of a normal poll
            with contextlib.suppress(OBShellHandleError):
                call(name)
    return calls


def main() -> None:
    """Poll `--targets` targets one after another; print JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", required=True)
    parser.add_argument("--targets", type=int, required=True)
    args = parser.parse_args()
    address = urlsplit(args.base)
    clients = [
        ClientSet(address.hostname, address.port, PasswordAuth(PASSWORD)).v1
        for _ in range(args.targets)
    ]
    _poll(clients[0])  # warm-up: key and connection
    cpu, wall = process_cpu(), time.monotonic()
    requests = sum(_poll(client) for client in clients)
    print(
        json.dumps(
            {"wall": time.monotonic() - wall, "cpu": process_cpu() - cpu, "requests": requests}
        )
    )


if __name__ == "__main__":
    main()
