"""The shipped Alertmanager example, made to deliver to a test's webhook at once."""

from __future__ import annotations

import copy
from typing import Any

import yaml

from tests.monitoring.artifacts import PROMETHEUS


def alertmanager_config(webhook: str) -> dict[str, Any]:
    """The shipped example, delivering to `webhook`, with waits of a second."""
    config = copy.deepcopy(yaml.safe_load((PROMETHEUS / "alertmanager.yml").read_text()))
    for receiver in config["receivers"]:
        for hook in receiver["webhook_configs"]:
            hook["url"] = webhook
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    return config
