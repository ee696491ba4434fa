"""How an obshell target becomes its source: the one place its auth is chosen."""

from __future__ import annotations

from exporter.config import ObshellTarget
from exporter.sources.base import HttpFactory
from exporter.sources.credentials import secret_reader
from exporter.sources.obshell.auth import HybridAuth
from exporter.sources.obshell.source import ObshellSource


def build(target: ObshellTarget, http: HttpFactory) -> ObshellSource:
    """The source of an obshell target, its auth reading the passwords on every request."""
    root, agent = target.password, target.agent_password
    auth = HybridAuth(
        password=secret_reader(root) if root is not None else None,
        agent_password=secret_reader(agent) if agent is not None else None,
    )
    return ObshellSource(target, http(auth))
