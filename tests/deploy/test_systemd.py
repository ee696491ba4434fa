"""The systemd unit: verified and scored by systemd-analyze, and its sandbox tried on the exporter.

No systemd runs here as PID 1, so the unit is never started. What is proven instead: the unit
and its drop-in parse without a warning and score "OK" on exposure; the environment file and
the credential feed the config's ${VAR}s; and the exporter, started as ExecStart starts it,
polled, scraped, reloaded as ExecReload reloads it and stopped with SIGTERM, all under the
parts of the sandbox a test can set up without systemd (NoNewPrivileges, MemoryDenyWriteExecute
through the kernel's prctl(PR_SET_MDWE), RestrictAddressFamilies as a seccomp filter like
systemd's), makes only system calls that SystemCallFilter allows and reads nothing from /proc
that ProcSubset=pid would hide that it needs.
"""

from __future__ import annotations

import configparser
import ctypes
import errno
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers.deploy import Fleet
from tests.helpers.exposition import samples, value
from tests.helpers.paths import ROOT
from tests.helpers.process import free_port
from tests.monitoring.stack import LOOPBACK, http_ok, wait_for

SYSTEMD = ROOT / "deploy" / "systemd"
UNIT = SYSTEMD / "oceanbase-backup-exporter.service"
DROP_IN = SYSTEMD / "credentials.conf"
INSTALLED_COMMAND = "/opt/oceanbase-backup-exporter/bin/oceanbase-backup-exporter"
CONFIG_DIR = "/etc/oceanbase-backup-exporter"

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed"
)


def service() -> dict[str, list[str]]:
    """The [Service] section: each key's values in order (a key may repeat)."""
    found: dict[str, list[str]] = {}
    section = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and line and not line.startswith("#"):
            key, _, text = line.partition("=")
            found.setdefault(key, []).append(text)
    return found


def installed(tmp_path: Path, venv: Path) -> Path:
    """The unit and its drop-in as installed, ExecStart pointing at the wheel's venv."""
    unit = tmp_path / UNIT.name
    unit.write_text(
        UNIT.read_text().replace(
            INSTALLED_COMMAND, str(venv / "bin" / INSTALLED_COMMAND.rsplit("/", 1)[1])
        )
    )
    (tmp_path / f"{UNIT.name}.d").mkdir()
    shutil.copy(DROP_IN, tmp_path / f"{UNIT.name}.d" / DROP_IN.name)
    return unit


@needs_systemd_analyze
def test_unit_and_drop_in_verify_without_a_warning(tmp_path: Path, venv: Path) -> None:
    unit = installed(tmp_path, venv)
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@needs_systemd_analyze
def test_unit_exposure_is_ok(tmp_path: Path, venv: Path) -> None:
    unit = installed(tmp_path, venv)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--threshold=20", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert score and float(score[1]) <= 2.0, result.stdout[-500:]


def test_unit_is_hardened_and_gets_its_secrets_from_outside() -> None:
    unit = service()
    expected = {
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "PrivateDevices": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "MemoryDenyWriteExecute": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "CapabilityBoundingSet": "",
        "EnvironmentFile": f"-{CONFIG_DIR}/env",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        # Room for --web.max-connections (512) and the targets' connections: see the unit.
        "LimitNOFILE": "8192",
    }
    assert {key: unit.get(key, ["<unset>"])[-1] for key in expected} == expected
    assert "User" not in unit  # DynamicUser: a user that exists while the service runs
    assert all("PASSWORD" not in text for text in unit.get("Environment", []))
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(DROP_IN.read_text())
    assert parser["Service"]["LoadCredential"] == f"ob_root:{CONFIG_DIR}/ob_root"


def exec_start(venv: Path, config: Path) -> list[str]:
    """ExecStart, with the venv and the config moved to where this test has them."""
    argv = shlex.split(service()["ExecStart"][-1])
    assert argv[0] == INSTALLED_COMMAND
    return [
        str(venv / "bin" / Path(argv[0]).name),
        *(a.replace(f"{CONFIG_DIR}/config.yaml", str(config)) for a in argv[1:]),
    ]


def unit_environment() -> dict[str, str]:
    """What the unit's Environment= lines set, over a minimal PATH."""
    pairs = (
        pair.partition("=")
        for line in service().get("Environment", [])
        for pair in shlex.split(line)
    )
    return {"PATH": "/usr/bin:/bin"} | {key: text for key, _, text in pairs}


def environment_file() -> dict[str, str]:
    pairs = (
        line.partition("=")
        for line in (SYSTEMD / "env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    return {key: text for key, _, text in pairs}


def test_environment_file_feeds_the_config(venv: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    shutil.copy(SYSTEMD / "config.yaml", config)
    base = unit_environment()
    without = subprocess.run(
        [*exec_start(venv, config), "--config.check"],
        env=base, cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert without.returncode == 1 and "OB_ROOT_PASSWORD" in without.stderr
    with_file = subprocess.run(
        [*exec_start(venv, config), "--config.check"],
        env=base | environment_file(), cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert with_file.returncode == 0, with_file.stderr


def test_credential_feeds_the_config_as_its_comment_says(
    venv: Path, tmp_path: Path, fleet: Fleet
) -> None:
    documented = "password_file: ${CREDENTIALS_DIRECTORY}/ob_root"
    assert documented in DROP_IN.read_text()
    credentials = tmp_path / "credentials"  # systemd's /run/credentials/UNIT
    credentials.mkdir()
    shutil.copy(fleet.password_file, credentials / "ob_root")
    config = tmp_path / "config.yaml"
    config.write_text(
        f"targets:\n  - name: hz-prod\n    source: obshell\n    url: {fleet.agent_url(0)}\n    {documented}\n"
    )
    result = subprocess.run(
        [*exec_start(venv, config), "--once"],
        env=unit_environment() | {"CREDENTIALS_DIRECTORY": str(credentials)},
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (
        value(samples(result.stdout), "oceanbase_backup_exporter_target_up", target="hz-prod") == 1
    )


# ------------------------------------------------------------------- the sandbox, on a real run

# prctl(2) options and seccomp(2) constants, from the kernel's uapi headers.
PR_SET_SECCOMP, SECCOMP_MODE_FILTER, PR_SET_NO_NEW_PRIVS = 22, 2, 38
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
AUDIT_ARCH_X86_64, NR_SOCKET_X86_64 = 0xC000003E, 41
SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO = 0x7FFF0000, 0x00050000
BPF_LD_W_ABS, BPF_JEQ_K, BPF_RET_K = 0x20, 0x15, 0x06
FAMILIES = {"AF_UNIX": socket.AF_UNIX, "AF_INET": socket.AF_INET, "AF_INET6": socket.AF_INET6}


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]  # fmt: skip


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def _address_family_filter(allowed: list[int]) -> list[tuple[int, int, int, int]]:
    """A seccomp program like RestrictAddressFamilies=: socket() of another family is refused
    with EAFNOSUPPORT. x86_64 only (other architectures pass: the test skips there)."""
    last = 6 + len(allowed)  # index of the final RET ALLOW
    program = [
        (BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        (BPF_JEQ_K, 0, last - 2, AUDIT_ARCH_X86_64),
        (BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        (BPF_JEQ_K, 0, last - 4, NR_SOCKET_X86_64),
        (BPF_LD_W_ABS, 0, 0, 16),  # the low half of seccomp_data.args[0]: the family
    ]
    for i, family in enumerate(allowed):
        program.append((BPF_JEQ_K, len(allowed) - i, 0, family))
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.EAFNOSUPPORT))
    program.append((BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return program


def _sandbox() -> None:
    """In the child before exec: the unit's NoNewPrivileges=, MemoryDenyWriteExecute= (as the
    kernel's prctl(PR_SET_MDWE), which systemd uses where it exists) and
    RestrictAddressFamilies= (as a seccomp filter, as systemd installs it)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4  # the pointer must not be cut
    families = [FAMILIES[name] for name in service()["RestrictAddressFamilies"][-1].split()]
    program = _address_family_filter(families)
    instructions = (_SockFilter * len(program))(*(_SockFilter(*i) for i in program))
    fprog = _SockFprog(len(program), instructions)
    for call in (
        (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
        (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0),
        (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0),
    ):
        if libc.prctl(*call) != 0:
            raise OSError(ctypes.get_errno(), f"prctl{call[:2]}")


SANDBOX_PROBE = """
import mmap, socket
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
except PermissionError:
    print("no-wx")
try:
    socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)
except OSError as exc:
    print(exc.errno == 97 and "no-netlink")
socket.socket(socket.AF_INET6).close()
"""


def _sandbox_works() -> bool:
    """The sandbox refuses what it should and allows the rest (not a vacuous test)."""
    if platform.machine() != "x86_64":
        return False
    try:
        probe = subprocess.run(
            [sys.executable, "-c", SANDBOX_PROBE], preexec_fn=_sandbox,
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except subprocess.SubprocessError:
        return False
    return probe.returncode == 0 and probe.stdout.split() == ["no-wx", "no-netlink"]


@dataclass(frozen=True)
class SandboxedRun:
    """What the exporter did, traced from start to stop, in the sandbox of _sandbox()."""

    syscalls: set[str]
    socket_families: set[str]  # of the sockets opened
    refused_families: set[str]  # of the socket() calls the sandbox refused
    proc_paths: set[str]
    exit_code: int
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float]


def _child_of(pid: int) -> int:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    found = children.read_text().split() if children.exists() else []
    return int(found[0]) if found else 0


@pytest.fixture(scope="module")
def sandboxed_run(
    venv: Path, fleet: Fleet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxedRun]:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    if not _sandbox_works():
        pytest.skip("needs x86_64 and Linux >= 6.3 (prctl PR_SET_MDWE) with seccomp allowed")
    folder = tmp_path_factory.mktemp("sandbox")
    # sh-prod by name: the resolver's threads and sockets are part of the run too.
    targets = {"hz-prod": fleet.agent_url(0), "sh-prod": fleet.agent_url(1, host="localhost")}
    config = fleet.config(folder / "config.yaml", targets)
    port = free_port()
    trace = folder / "trace"
    argv = [*exec_start(venv, config), f"--web.listen-address={LOOPBACK}:{port}"]
    tracer = subprocess.Popen(
        ["strace", "-f", "-q", "-o", str(trace), "--", *argv],
        preexec_fn=_sandbox, env=unit_environment(),
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        url = f"http://{LOOPBACK}:{port}"
        wait_for("the traced exporter", lambda: http_ok(f"{url}/-/ready"), timeout=60)
        main_pid = wait_for("the exporter's pid", lambda: _child_of(tracer.pid), timeout=10)
        assert (
            httpx.get(f"{url}/metrics", headers={"Accept-Encoding": "gzip"}, timeout=10).status_code
            == 200
        )
        assert (
            httpx.get(f"{url}/probe", params={"target": "hz-prod"}, timeout=10).status_code == 200
        )
        before = time.time()
        reload = shlex.split(service()["ExecReload"][-1].replace("$MAINPID", str(main_pid)))
        subprocess.run(reload, check=True, timeout=10)

        def reloaded() -> float | None:
            parsed = samples(httpx.get(f"{url}/metrics", timeout=10).text)
            stamp = value(
                parsed, "oceanbase_backup_exporter_config_last_reload_success_timestamp_seconds"
            )
            return stamp if stamp is not None and stamp >= before else None

        wait_for("the reload", reloaded, timeout=10)
        metrics = samples(httpx.get(f"{url}/metrics", timeout=10).text)
        os.kill(main_pid, signal.SIGTERM)  # what `systemctl stop` sends to the main process
        tracer.communicate(timeout=20)
    finally:
        if tracer.poll() is None:
            tracer.kill()
            tracer.wait(timeout=10)
    text = trace.read_text()
    exited = re.findall(rf"^{main_pid}\s+\+\+\+ exited with (\d+) \+\+\+", text, re.MULTILINE)
    yield SandboxedRun(
        syscalls=set(re.findall(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", text, re.MULTILINE)),
        socket_families=set(re.findall(r"\bsocket\((AF_\w+),.*\) += \d+$", text, re.M)),
        refused_families=set(re.findall(r"\bsocket\((AF_\w+),.*\) += -1 EAFNOSUPPORT", text)),
        proc_paths=set(re.findall(r"\"(/proc/[^\"]*)\"", text)),
        exit_code=int(exited[0]) if exited else -1,
        metrics=metrics,
    )


def _filter_set(name: str) -> set[str]:
    """A system call group of systemd, its nested groups expanded."""
    listing = subprocess.run(
        ["systemd-analyze", "syscall-filter", name],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout.splitlines()[1:]
    found: set[str] = set()
    for raw in listing:
        item = raw.strip()
        if not item or item.startswith("#"):
            continue
        found |= _filter_set(item) if item.startswith("@") else {item}
    return found


def allowed_syscalls() -> set[str]:
    """SystemCallFilter=: the first line allows, every `~` line after it takes away."""
    allowed: set[str] = set()
    for line in service()["SystemCallFilter"]:
        deny = line.startswith("~")
        names: set[str] = set()
        for item in line.removeprefix("~").split():
            names |= _filter_set(item) if item.startswith("@") else {item}
        allowed = allowed - names if deny else allowed | names
    return allowed


def test_sandboxed_run_polls_and_stops_cleanly(sandboxed_run: SandboxedRun) -> None:
    assert sandboxed_run.exit_code == 0
    for target in ("hz-prod", "sh-prod"):
        assert (
            value(sandboxed_run.metrics, "oceanbase_backup_exporter_target_up", target=target) == 1
        )


@needs_systemd_analyze
def test_sandboxed_run_makes_only_allowed_system_calls(sandboxed_run: SandboxedRun) -> None:
    assert sandboxed_run.syscalls - allowed_syscalls() == set()


def test_sandboxed_run_opens_only_allowed_socket_families(sandboxed_run: SandboxedRun) -> None:
    allowed = set(service()["RestrictAddressFamilies"][-1].split())
    assert sandboxed_run.socket_families <= allowed
    # glibc's getaddrinfo asks netlink for the host's addresses (AI_ADDRCONFIG); refused, it
    # assumes both IPv4 and IPv6, and sh-prod, polled by host name, was up all the same.
    assert sandboxed_run.refused_families <= {"AF_NETLINK"}


def test_sandboxed_run_reads_only_its_own_proc_entries(sandboxed_run: SandboxedRun) -> None:
    # ProcSubset=pid hides everything in /proc but the process directories. prometheus_client
    # reads /proc/stat for the boot time of its process_* metrics; refused, the exporter takes
    # the boot time from the clock, and serves process_* all the same.
    tolerated = {"/proc/stat"}
    own = re.compile(r"/proc/(self|thread-self|\d+)(/|$)")
    assert {p for p in sandboxed_run.proc_paths if not own.match(p)} <= tolerated
    names = {name for name, _ in sandboxed_run.metrics}
    assert {"process_start_time_seconds", "process_resident_memory_bytes"} <= names
