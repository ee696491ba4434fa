"""Fixtures for the OceanBase Cloud source: a scripted API holding the seed backup set."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from tests.cloud.stub import CloudStub, instance
from tests.conftest import seed, write_config

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


@pytest.fixture
def cloud(httpserver: HTTPServer) -> Iterator[CloudStub]:
    """An account with one instance whose latest (and only) backup set is the seed's."""
    stub = CloudStub(httpserver)
    stub.instances = [instance(INSTANCE_ID, INSTANCE_NAME)]
    stub.sets[INSTANCE_ID] = [list_item(seed_detail())]
    stub.detail(INSTANCE_ID, SEED_TASK, seed_detail())
    yield stub


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
