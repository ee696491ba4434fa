"""Prometheus exporter for OceanBase backup and restore health."""

__version__ = "0.1.0"
