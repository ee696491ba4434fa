"""Fixtures of the deployment tests: the wheel built from the Docker build context and a clean
venv with it (once per session), a simulated fleet and exporters in their own processes.

Everything listens on 127.0.0.1, every wait has a deadline, and every process started here is
stopped when its fixture ends, also when the test fails.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.deploy.dockerfile import DockerIgnore, stages
from tests.helpers.deploy import DOCKERFILE, Exporter, Fleet, StartExporter
from tests.helpers.paths import ROOT
from tests.helpers.process import free_port
from tests.monitoring.stack import LOOPBACK, Process, wait_for

SIMULATOR_PASSWORD = "deploy-root-pass"
FLEET_SIZE = 21  # clusters of the simulated fleet: the sharding test uses 20, then one more


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    folder = tmp_path_factory.mktemp("fleet")
    port = free_port()
    simulator = Process(
        "simulator",
        [sys.executable, "-m", "simulator", "--listen", f"{LOOPBACK}:{port}",
         "--scenario", "healthy", "--clusters", str(FLEET_SIZE), "--tenants", "2",
         "--speed", "0", "--password", SIMULATOR_PASSWORD],
        folder,
    )  # fmt: skip
    try:
        secret = folder / "ob_root"
        secret.write_text(SIMULATOR_PASSWORD)
        fleet = Fleet(port, secret)

        def answers() -> bool:
            assert simulator.running(), simulator.tail()
            return httpx.get(f"{fleet.agent_url(0)}/api/v1/info", timeout=2).status_code == 200

        wait_for("the simulator", answers, timeout=30)
        yield fleet
    finally:
        simulator.stop()


@pytest.fixture
def start_exporter(tmp_path: Path) -> Iterator[StartExporter]:
    """Start `python -m exporter --config.file CONFIG ARGS...` processes; wait for `until`
    (/-/ready: every target polled once) to answer 200."""
    started: list[Process] = []

    def start(name: str, config: Path, *args: str, until: str = "/-/ready") -> Exporter:
        port = free_port()
        process = Process(
            name,
            [sys.executable, "-m", "exporter", "--config.file", str(config),
             "--web.listen-address", f"{LOOPBACK}:{port}", *args],
            tmp_path,
        )  # fmt: skip
        started.append(process)
        exporter = Exporter(process, f"http://{LOOPBACK}:{port}")

        def answers() -> bool:
            assert process.running(), process.tail()
            return exporter.get(until).status_code == 200

        wait_for(f"{name}'s {until}", answers, timeout=30)
        return exporter

    yield start
    for process in reversed(started):
        process.stop()


@pytest.fixture(scope="session")
def docker_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What `docker build .` sends: the repository less what .dockerignore excludes."""
    context = tmp_path_factory.mktemp("docker-context")
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    for relative in ignore.context(ROOT):
        (context / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / relative, context / relative)
    return context


@pytest.fixture(scope="session")
def dist(docker_context: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built like the Dockerfile's build stage builds the wheel.

    The stage's COPY instructions are replayed from the build context into its WORKDIR, so a
    file the build needs but the Dockerfile or .dockerignore leaves out fails here. `python -m
    build` then makes the sdist and the wheel from the sdist, which proves the sdist complete.
    """
    found = stages(DOCKERFILE.read_text())
    build_stage = found[0]
    workdir = tmp_path_factory.mktemp("build-stage") / build_stage.last("WORKDIR").rest.lstrip("/")
    workdir.mkdir(parents=True)
    for copy in build_stage.all("COPY"):
        *sources, destination = copy.rest.split()
        for source in sources:
            origin = docker_context / source
            target = workdir / destination / (origin.name if destination.endswith("/") else "")
            if origin.is_dir():
                shutil.copytree(origin, target)
            else:
                shutil.copy2(origin, target)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(workdir)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def full_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install .` installs from the repository: with the simulator, which the
    image's build context leaves out."""
    source = tmp_path_factory.mktemp("repository")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    for package in ("exporter", "simulator"):
        shutil.copytree(
            ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    out = tmp_path_factory.mktemp("full-dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(source)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


@pytest.fixture(scope="session")
def venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with nothing but the wheel and its dependencies, as the image's /opt/venv."""
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    (wheel,) = dist.glob("*.whl")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(path / "bin" / "python"), "install",
         "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return path
