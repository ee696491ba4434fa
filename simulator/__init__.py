"""A simulated OceanBase fleet behind obshell's real HTTP API, for demos, tests and benchmarks."""

from simulator.faults import Fault, Faults
from simulator.scenarios import SCENARIOS, build_world
from simulator.server import Simulator
from simulator.world import Cluster, Tenant, World

__all__ = ["SCENARIOS", "Cluster", "Fault", "Faults", "Simulator", "Tenant", "World", "build_world"]
