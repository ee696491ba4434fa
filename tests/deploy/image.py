"""The container image's commands and paths, read from the Dockerfile, on this machine.

The image's /opt/venv, config mount and secrets mount become temporary directories; its
commands run as they are otherwise.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.deploy.dockerfile import Instruction, Stage, env, stages
from tests.helpers.deploy import DOCKERFILE, Fleet

IMAGE_CONFIG_DIR = "/etc/oceanbase-backup-exporter"
IMAGE_SECRETS_DIR = "/run/secrets"
IMAGE_VENV = "/opt/venv"
PORT = 10180
# What the python:3.11-slim base image sets before our ENV lines (Debian's PATH, /usr/local/bin
# put first by the python image).
BASE_ENV = {
    "PATH": "/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}


def final_stage() -> Stage:
    return stages(DOCKERFILE.read_text())[-1]


def healthcheck() -> tuple[Instruction, list[str]]:
    instruction = final_stage().last("HEALTHCHECK")
    kind, _, command = instruction.rest.partition(" ")
    assert kind == "CMD"
    return instruction, json.loads(command)


class Image:
    """The image's filesystem paths, moved into temporary directories."""

    def __init__(self, venv: Path, root: Path) -> None:
        self.workdir = root  # the image has no WORKDIR: it runs in /, away from any checkout
        self.config_dir = root / "etc"
        self.secrets_dir = root / "secrets"
        self.config_dir.mkdir()
        self.secrets_dir.mkdir()
        self.paths = {
            IMAGE_VENV: str(venv),
            IMAGE_CONFIG_DIR: str(self.config_dir),
            IMAGE_SECRETS_DIR: str(self.secrets_dir),
        }
        self.env = {k: self.path(v) for k, v in env(final_stage(), BASE_ENV).items()}

    def path(self, text: str) -> str:
        for inside, outside in self.paths.items():
            text = text.replace(inside, outside)
        return text

    def command(self, *args: str) -> list[str]:
        """ENTRYPOINT followed by `args`, as `docker run IMAGE ARGS...` runs it."""
        entrypoint = final_stage().last("ENTRYPOINT").exec_form()
        return [self.path(arg) for arg in [*entrypoint, *args]]

    def default_command(self, *extra: str) -> list[str]:
        """ENTRYPOINT and CMD, as `docker run IMAGE` runs them, then `extra`."""
        return self.command(*final_stage().last("CMD").exec_form(), *extra)

    def run(self, argv: list[str], **env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv, env=self.env | env, cwd=self.workdir,
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    def mount_config(self, fleet: Fleet, secret: str | None = "ob_root") -> None:
        """The config the user mounts, reading its password from the mounted secrets."""
        if secret is not None:
            shutil.copy(fleet.password_file, self.secrets_dir / secret)
        password_file = self.path(f"{IMAGE_SECRETS_DIR}/ob_root")
        (self.config_dir / "config.yaml").write_text(
            "targets:\n"
            f"  - {{name: hz-prod, source: obshell, url: '{fleet.agent_url(0)}',"
            f" password_file: '{password_file}'}}\n"
        )
