"""The console scripts, which depend on what is being built (the rest is in pyproject.toml).

The simulator (simulator/) is installed by the same distribution, so that `pip install .` gives
`oceanbase-backup-exporter --demo` and `oceanbase-backup-simulator`. The container image builds
its wheel from a context without simulator/ (see .dockerignore): that wheel then has no
simulator and no `oceanbase-backup-simulator` command that could only fail.
"""

from pathlib import Path

from setuptools import setup

SCRIPTS = ["oceanbase-backup-exporter = exporter.cli:main"]
if (Path(__file__).parent / "simulator" / "cli.py").is_file():
    SCRIPTS.append("oceanbase-backup-simulator = simulator.cli:main")

setup(entry_points={"console_scripts": SCRIPTS})
