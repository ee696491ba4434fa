"""Config files as a user writes them, secrets in files of their own."""

from __future__ import annotations

from pathlib import Path

PASSWORD = "stub-root-password-7"  # the obshell stub's root password (tests/conftest.py)


def write_config(tmp_path: Path, body: str) -> Path:
    """Write a config file and return its path."""
    path = tmp_path / "config.yaml"
    path.write_text(body)
    return path


def obshell_config(tmp_path: Path, url: str, extra: str = "", password: str = PASSWORD) -> Path:
    """A one-target obshell config with the password in a secrets file."""
    secret = tmp_path / "ob_password"
    secret.write_text(password + "\n")
    return write_config(
        tmp_path,
        f"targets:\n  - name: hz-prod\n    source: obshell\n    url: {url}\n"
        f"    password_file: {secret}\n    labels: {{site: hz}}\n{extra}",
    )
