"""Fixtures for the OceanBase Cloud source: a scripted API holding the seed backup set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.cloud.stub import CloudStub, instance
from tests.helpers.cloud import INSTANCE_ID, INSTANCE_NAME, SEED_TASK, list_item, seed_detail


@pytest.fixture
def cloud(httpserver: HTTPServer) -> Iterator[CloudStub]:
    """An account with one instance whose latest (and only) backup set is the seed's."""
    stub = CloudStub(httpserver)
    stub.instances = [instance(INSTANCE_ID, INSTANCE_NAME)]
    stub.sets[INSTANCE_ID] = [list_item(seed_detail())]
    stub.detail(INSTANCE_ID, SEED_TASK, seed_detail())
    yield stub
