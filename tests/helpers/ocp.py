"""The OCP seed cluster (the OCP document's sample answer) and OCP config files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.configs import write_config
from tests.helpers.payloads import seed

SEED_OCP_ID = 1000005  # OCP's own id of the seed cluster (its clusterId)
SEED_LABELS = {
    "target": "ocp-main",
    "source": "ocp",
    "ob_cluster_name": "yc0820_17",
    "ob_cluster_id": "5",
}


def seed_overview() -> dict[str, Any]:
    """`data` of the OCP document's sample response."""
    data: dict[str, Any] = seed("ocp_cluster_backup_overview")["data"]
    return data


def ocp_config(
    tmp_path: Path, url: str, *, password: str | None = None, extra: str = "", signed: bool = False
) -> Path:
    """A one-target OCP config: basic auth (password in a file) or the AccessKey signature."""
    secret = tmp_path / "ocp_secret"
    if signed:
        secret.write_text((password or "ocp-access-key-secret") + "\n")
        credentials = (
            f"    access_key_id: ocp-access-key-id\n    access_key_secret_file: {secret}\n"
        )
    else:
        secret.write_text((password or "ocp-pass") + "\n")
        credentials = f"    username: admin\n    password_file: {secret}\n"
    return write_config(
        tmp_path,
        f"targets:\n  - name: ocp-main\n    source: ocp\n    url: {url}\n{credentials}{extra}",
    )
