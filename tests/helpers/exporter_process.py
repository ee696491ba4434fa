"""The exporter as its own process on loopback, as a user starts it."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.helpers.process import free_port


class Exporter:
    """An exporter process on loopback, stopped at the end of the test."""

    def __init__(
        self,
        config: Path,
        *extra: str,
        scheme: str = "http",
        open_files: int | None = None,
        **client: object,
    ) -> None:
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        # `open_files` lowers the process's file descriptor limit (as systemd's LimitNOFILE).
        limit = ["prlimit", f"--nofile={open_files}", "--"] if open_files else []
        self.process = subprocess.Popen(
            [*limit, sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"127.0.0.1:{self.port}", *extra],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            self._wait_ready(client)
        except BaseException:
            # The caller never gets an object to stop: do not leave the process behind.
            self.process.kill()
            self.process.communicate(timeout=10)
            raise

    def _wait_ready(self, client: dict[str, object]) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                # Any answer means it is serving (a 401 too, behind basic auth).
                if httpx.get(self.url + "/-/ready", timeout=1, **client).status_code in (200, 401):  # type: ignore[arg-type]
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError("exporter did not become ready")

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return httpx.get(self.url + path, timeout=10, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = self.process.communicate(timeout=10)
        return stderr
