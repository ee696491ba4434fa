"""Shared fixtures: a scripted obshell agent (helpers for tests live in tests/helpers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.helpers.configs import PASSWORD
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.payloads import standard_routes


@pytest.fixture
def obshell(httpserver: HTTPServer) -> Iterator[ObshellStub]:
    """A scripted obshell 4.3.2 agent with the standard routes and password PASSWORD."""
    stub = ObshellStub(httpserver, password=PASSWORD)
    standard_routes(stub)
    yield stub
