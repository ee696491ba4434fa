"""How an OCP target becomes its source: the one place its auth is chosen."""

from __future__ import annotations

from exporter.config import OcpTarget
from exporter.sources.base import HttpFactory
from exporter.sources.credentials import optional_reader
from exporter.sources.http import Auth
from exporter.sources.ocp.auth import OcpBasicAuth, OcpSignatureAuth
from exporter.sources.ocp.source import OcpSource


def build(target: OcpTarget, http: HttpFactory) -> OcpSource:
    """The source of an OCP target."""
    return OcpSource(target, http(_auth(target)))


def _auth(target: OcpTarget) -> Auth:
    """HTTP basic with `username`, else the AccessKey signature (the config requires one)."""
    if target.username is not None:
        return OcpBasicAuth(target.username, optional_reader(target.password))
    assert target.access_key_id is not None
    return OcpSignatureAuth(target.access_key_id, optional_reader(target.access_key_secret))
