"""A simulated OceanBase fleet behind obshell's real HTTP API, for demos, tests and benchmarks."""

from exporter.simulator.faults import Fault, Faults
from exporter.simulator.scenarios import SCENARIOS, build_world
from exporter.simulator.server import Simulator
from exporter.simulator.world import Cluster, Tenant, World

__all__ = ["SCENARIOS", "Cluster", "Fault", "Faults", "Simulator", "Tenant", "World", "build_world"]
