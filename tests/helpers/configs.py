"""Config files as a user writes them, secrets in files of their own."""

from __future__ import annotations

from pathlib import Path

from exporter.config import Config, load_config

PASSWORD = "stub-root-password-7"  # the obshell stub's root password (tests/conftest.py)
# Secrets long enough to be redacted, unlike any other text of a message.
OBSHELL_PASSWORD = "obshell-Secret-0123456789"
AGENT_PASSWORD = "agent-Secret-9876543210"
OCP_PASSWORD = "ocp-Secret-ABCDEFGHIJ"
CLOUD_SECRET = "cloud-Secret-KLMNOPQRST"


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


def obshell_targets(tmp_path: Path, targets: dict[str, str], head: str = "") -> Path:
    """A config of obshell targets {name: url} in flow style, sharing one password file;
    `head` goes before `targets:` (defaults, concurrency)."""
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    lines = "".join(
        f"  - {{name: {name}, source: obshell, url: '{url}', password_file: '{secret}'}}\n"
        for name, url in targets.items()
    )
    return write_config(tmp_path, f"{head}targets:\n{lines}")


def three_sources_config(tmp_path: Path) -> Config:
    """One obshell, one OCP and one Cloud target, every secret in a file (no upstream runs)."""
    files = {}
    for name, secret in (
        ("ob", OBSHELL_PASSWORD),
        ("agent", AGENT_PASSWORD),
        ("ocp", OCP_PASSWORD),
        ("cloud", CLOUD_SECRET),
    ):
        files[name] = tmp_path / name
        files[name].write_text(secret + "\n")
    path = tmp_path / "config.yaml"
    path.write_text(
        "targets:\n"
        f"  - {{name: ob, source: obshell, url: 'http://127.0.0.1:1',"
        f" password_file: '{files['ob']}', agent_password_file: '{files['agent']}'}}\n"
        f"  - {{name: ocp, source: ocp, url: 'http://127.0.0.1:1', username: admin,"
        f" password_file: '{files['ocp']}'}}\n"
        f"  - {{name: cloud, source: cloud, url: 'http://127.0.0.1:1', access_key_id: ak,"
        f" access_key_secret_file: '{files['cloud']}'}}\n"
    )
    return load_config(path)
