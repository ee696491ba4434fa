"""A simulated OceanBase fleet behind obshell's, OCP's and OceanBase Cloud's HTTP APIs.

For demos (`oceanbase-backup-exporter --demo`), tests and benchmarks; installed beside the
exporter, which imports it for `--demo` only, and left out of the container image. One folder
per upstream, as in `exporter/sources/` (`obshell/`, `ocp/`, `cloud/`: API, auth and what each
shows of the world); the world they share, its clock, timeline, scenarios and faults, and the
server and command line in front of them, at the top. It may import the exporter's models (the
one definition of each upstream shape); the exporter never imports it at start-up.
"""

from simulator.faults import Fault, Faults
from simulator.scenarios import SCENARIOS, build_world
from simulator.server import Simulator
from simulator.world import Cluster, Tenant, World

__all__ = ["SCENARIOS", "Cluster", "Fault", "Faults", "Simulator", "Tenant", "World", "build_world"]
