"""Fixtures for the unit tests: a config with one target of each source."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import Config
from tests.helpers.configs import three_sources_config


@pytest.fixture
def three_sources(tmp_path: Path) -> Config:
    """One obshell, one OCP and one Cloud target, every secret in a file (no upstream runs)."""
    return three_sources_config(tmp_path)
