"""Fixtures for the OCP source: a scripted OCP holding the seed cluster."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.helpers.ocp import SEED_OCP_ID, seed_overview
from tests.ocp.stub import OcpStub, cluster_item


@pytest.fixture
def ocp(httpserver: HTTPServer) -> Iterator[OcpStub]:
    """An OCP managing the seed cluster, accepting the default simulator account."""
    stub = OcpStub(httpserver)
    stub.clusters = [cluster_item(SEED_OCP_ID, "yc0820_17", 5)]
    stub.overview(SEED_OCP_ID, seed_overview())
    yield stub
