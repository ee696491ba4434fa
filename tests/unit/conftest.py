"""Fixtures for the unit tests: a config file with one target of each source."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import Config, load_config

# Secrets long enough to be redacted, unlike any other text of a message.
OBSHELL_PASSWORD = "obshell-Secret-0123456789"
AGENT_PASSWORD = "agent-Secret-9876543210"
OCP_PASSWORD = "ocp-Secret-ABCDEFGHIJ"
CLOUD_SECRET = "cloud-Secret-KLMNOPQRST"


@pytest.fixture
def three_sources(tmp_path: Path) -> Config:
    """One obshell, one OCP and one Cloud target, every secret in a file (no upstream runs)."""
    files = {}
    for name, secret in (
        ("ob", OBSHELL_PASSWORD),
        ("agent", AGENT_PASSWORD),
        ("ocp", OCP_PASSWORD),
        ("cloud", CLOUD_SECRET),
    ):
        files[name] = tmp_path / name
        files[name].write_text(secret + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        "targets:\n"
        f"  - {{name: ob, source: obshell, url: 'http://127.0.0.1:1',"
        f" password_file: '{files['ob']}', agent_password_file: '{files['agent']}'}}\n"
        f"  - {{name: ocp, source: ocp, url: 'http://127.0.0.1:1', username: admin,"
        f" password_file: '{files['ocp']}'}}\n"
        f"  - {{name: cloud, source: cloud, url: 'http://127.0.0.1:1', access_key_id: ak,"
        f" access_key_secret_file: '{files['cloud']}'}}\n"
    )
    return load_config(path)
