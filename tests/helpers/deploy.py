"""What the deployment tests share: the Dockerfile, the simulated fleet's handle and
exporter processes started from the command line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers.exposition import Samples, samples
from tests.helpers.paths import ROOT
from tests.monitoring.stack import LOOPBACK, Process

DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Fleet:
    """A simulated obshell fleet (frozen in time: every poll of it answers the same)."""

    port: int
    password_file: Path

    def agent_url(self, cluster: int, host: str = LOOPBACK) -> str:
        return f"http://{host}:{self.port}/obshell/{cluster}"

    def config(self, path: Path, targets: dict[str, str], head: str = "") -> Path:
        """Write a config polling `targets` (name -> agent URL) to `path`."""
        lines = "".join(
            f"  - {{name: {name}, source: obshell, url: '{url}',"
            f" password_file: '{self.password_file}'}}\n"
            for name, url in targets.items()
        )
        path.write_text(f"{head}targets:\n{lines}")
        return path


@dataclass
class Exporter:
    """An exporter process on loopback."""

    process: Process
    url: str

    def get(self, path: str, **params: str) -> httpx.Response:
        return httpx.get(self.url + path, params=params, timeout=10)

    def metrics(self) -> Samples:
        response = self.get("/metrics")
        assert response.status_code == 200, response.text
        return samples(response.text)


StartExporter = Callable[..., Exporter]
