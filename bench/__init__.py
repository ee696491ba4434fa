"""Benchmarks: the exporter at fleet scale against the simulator, beside reference clients."""
