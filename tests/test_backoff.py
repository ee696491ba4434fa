"""After an auth failure a target backs off (repeated bad logins can lock root@sys), and a
rotated password file is tried at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from exporter.config import load_config
from exporter.poller import Poller
from tests.helpers.configs import PASSWORD, obshell_config
from tests.helpers.obshell_stub import ObshellStub


async def test_auth_failures_back_off_and_a_new_password_file_retries_at_once(
    obshell: ObshellStub, tmp_path: Path
) -> None:
    config = obshell_config(
        tmp_path, obshell.url, password="wrong", extra="    interval: 1s\n    timeout: 500ms\n"
    )
    poller = Poller(load_config(config))
    poller.start()
    try:
        await asyncio.sleep(4.5)
        # Without backoff: ~5 attempts at 1 s intervals. With it: at 0 s, ~1 s, ~3 s, next ~7 s.
        assert len(obshell.auth_failures) == 3
        (tmp_path / "ob_password").write_text(PASSWORD)
        for _ in range(30):
            await asyncio.sleep(0.1)
            if poller.runners["hz-prod"].snapshot(0).health.up:
                break
        assert poller.runners["hz-prod"].snapshot(0).health.up is True
        assert len(obshell.auth_failures) == 3
    finally:
        await poller.stop()
