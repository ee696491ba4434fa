"""How a Cloud target becomes its source: the one place its auth is chosen."""

from __future__ import annotations

from exporter.config import CloudTarget
from exporter.sources.base import HttpFactory
from exporter.sources.cloud.auth import CloudDigestAuth
from exporter.sources.cloud.source import CloudSource
from exporter.sources.credentials import secret_reader


def build(target: CloudTarget, http: HttpFactory) -> CloudSource:
    """The source of a Cloud target: HTTP digest with its AccessKey."""
    auth = CloudDigestAuth(target.access_key_id, secret_reader(target.access_key_secret))
    return CloudSource(target, http(auth))
