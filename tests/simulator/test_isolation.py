"""The exporter never imports the simulator, but for `--demo`: the image runs without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Every module of the runtime, imported as the exporter's own start-up imports them.
LOADED_SIMULATOR = """
import importlib, pkgutil, sys
import exporter
for module in pkgutil.walk_packages(exporter.__path__, "exporter."):
    if module.name != "exporter.__main__":  # it runs the exporter
        importlib.import_module(module.name)
print(sorted(m for m in sys.modules if m == "simulator" or m.startswith("simulator.")))
"""


@pytest.mark.parametrize(
    "code",
    [
        "import exporter.cli, exporter.poller, exporter.server, sys; print(sorted(m for m in"
        " sys.modules if m == 'simulator' or m.startswith('simulator.')))",
        LOADED_SIMULATOR,
    ],
    ids=["cli_poller_server", "every_exporter_module"],
)
def test_importing_the_exporter_loads_no_simulator_module(code: str) -> None:
    assert _printed(code) == "[]"


def test_the_simulator_reads_the_upstream_shapes_without_the_sources_it_checks() -> None:
    """The simulator shares the models, not the code that polls: importing it loads no
    source, auth, client, poller or collector, so it stays an outside check of them."""
    code = (
        "import simulator, sys; print(sorted(m for m in sys.modules if m.startswith('exporter.')"
        " and m.rsplit('.', 1)[-1] in {'source', 'build', 'auth', 'client', 'poller',"
        " 'collector', 'tenants', 'history'}))"
    )
    assert _printed(code) == "[]"


def _printed(code: str) -> str:
    """What `code` prints, run in a fresh interpreter from the repository's root."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60, check=False, cwd=ROOT,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
