"""The Cloud seed backup set (the Cloud document's sample answer) and Cloud config files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.helpers.configs import write_config
from tests.helpers.payloads import seed

INSTANCE_ID = "ob317v4uif8cg0"
INSTANCE_NAME = "prod-instance"
SEED_TASK = "bak-********"
INSTANCE_LABELS = {
    "target": "obcloud",
    "source": "cloud",
    "ob_cluster_name": INSTANCE_NAME,
    "ob_cluster_id": INSTANCE_ID,
}


def seed_detail() -> dict[str, Any]:
    """`data` of the Cloud document's sample response (a set and its tenant list)."""
    data: dict[str, Any] = seed("cloud_backup_set")["data"]
    return data


def list_item(detail: dict[str, Any]) -> dict[str, Any]:
    """The set as the set list shows it: the detail without its tenant list."""
    return {k: v for k, v in detail.items() if k != "tenantBackupSetList"}


def cloud_config(
    tmp_path: Path, url: str, *, secret: str = "cloud-access-key-secret", extra: str = ""
) -> Path:
    """A one-target Cloud config with the AccessKey secret in a file."""
    path = tmp_path / "cloud_secret"
    path.write_text(secret + "\n")
    return write_config(
        tmp_path,
        f"targets:\n  - name: obcloud\n    source: cloud\n    url: {url}\n"
        f"    access_key_id: cloud-access-key-id\n    access_key_secret_file: {path}\n{extra}",
    )


def backup_set(set_id: str, status: str, start: str, end: str | None = None) -> dict[str, Any]:
    """A set list item (instance level)."""
    item: dict[str, Any] = {
        "backupSetId": set_id,
        "backupMode": "PHYSICAL_BACKUP",
        "backupObjectType": "CLUSTER",
        "dataBackupMode": "INCREMENTAL_BACKUP",
        "dataBackupSize": 1.5,
        "startTime": start,
        "status": status,
        "tenantId": "sys",
        "tenantName": "*",
        "triggerMode": "BACKUP_NOW",
        "validity": "VALID",
    }
    if end is not None:
        item |= {"endTime": end, "checkpoint": end}
    return item
