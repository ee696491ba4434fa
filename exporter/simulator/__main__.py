"""`python -m exporter.simulator`."""

from exporter.simulator.cli import main

main()
