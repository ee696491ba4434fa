"""Upstream sources: one package per API, each turning upstream JSON into a snapshot."""
