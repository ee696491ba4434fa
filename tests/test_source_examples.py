"""The OCP and Cloud config examples users copy (config.example.yaml, README) pass `--config.check`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporter.config import CloudTarget, OcpTarget, load_config
from tests.helpers.process import run_cli

ROOT = Path(__file__).resolve().parent.parent
SECRETS_DIR = "/run/secrets/"


def _readme_example() -> str:
    """The YAML block of the README's "OCP and OceanBase Cloud" section."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## OCP and OceanBase Cloud", 1)[1]
    found = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert found, "the section has a YAML example"
    return found.group(1)


def test_config_check_accepts_the_shipped_example() -> None:
    result = run_cli("--config.file", str(ROOT / "config.example.yaml"), "--config.check")

    assert result.returncode == 0, result.stderr
    config = load_config(ROOT / "config.example.yaml", {})
    assert {type(t) for t in config.targets} >= {OcpTarget, CloudTarget}


def test_config_check_accepts_the_readme_example(tmp_path: Path) -> None:
    # The example's secrets files live where Kubernetes mounts them; here, in tmp_path.
    text = _readme_example().replace(SECRETS_DIR, f"{tmp_path}/")
    for name in re.findall(rf"{re.escape(str(tmp_path))}/(\w+)", text):
        (tmp_path / name).write_text("secret-value\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(text)
    environ = {
        "OCP_ACCESS_KEY_ID": "ak-1",
        "OBCLOUD_ACCESS_KEY_ID": "ak-2",
        "OBCLOUD_PROJECT_ID": "proj-1",
    }

    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(config_path), "--config.check"],
        capture_output=True, text=True, timeout=60, check=False, env={**os.environ, **environ},
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "OK, 3 targets" in result.stdout + result.stderr
    config = load_config(config_path, environ)
    ocp_basic, ocp_signed, cloud = config.targets
    assert isinstance(ocp_basic, OcpTarget) and ocp_basic.username == "admin"
    assert isinstance(ocp_signed, OcpTarget) and ocp_signed.access_key_id == "ak-1"
    assert isinstance(cloud, CloudTarget) and cloud.project_id == "proj-1"
    assert cloud.instances.matches("any-name", "ob317v4uif8cg0")


@pytest.mark.parametrize("missing", ["ocp_password", "obcloud_access_key_secret"])
def test_config_check_names_a_missing_secrets_file(tmp_path: Path, missing: str) -> None:
    text = _readme_example().replace(SECRETS_DIR, f"{tmp_path}/")
    for name in re.findall(rf"{re.escape(str(tmp_path))}/(\w+)", text):
        if name != missing:
            (tmp_path / name).write_text("secret-value\n")
    config_path = tmp_path / "config.yaml"
    config_path.write_text(text)

    result = subprocess.run(
        [sys.executable, "-m", "exporter", "--config.file", str(config_path), "--config.check"],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "OCP_ACCESS_KEY_ID": "a", "OBCLOUD_ACCESS_KEY_ID": "b"},
    )  # fmt: skip

    assert result.returncode == 1
    assert missing in result.stderr
