"""Hostile input, fuzzed: only our typed errors ever come out.

The config loader gets random YAML text, random structures and near-valid configs: it returns a
config or raises ConfigError, nothing else. Every obshell answer the exporter parses gets random
statuses, random JSON, random bytes and mutations of real answers, served by a real agent stub
to `ObshellSource.poll()`, which must never raise (PollError, EndpointUnsupported and "no such
task" are handled inside) and whose data must render. Then the operator mistakes the issue
names, each with a clear message that carries its path in the config.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from exporter.collector import collect
from exporter.config import (
    CloudTarget,
    ConfigError,
    NameFilter,
    ObshellTarget,
    OcpTarget,
    TLSConfig,
    check_secrets,
    load_config,
)
from exporter.exposition import render
from exporter.poller import Poller
from exporter.snapshot import TargetHealth, TargetSnapshot
from exporter.sources.errors import REASONS, PollError
from exporter.sources.http import Response
from exporter.sources.obshell import models as m
from exporter.sources.obshell.auth import _is_decrypt_failure, _learn_key
from exporter.sources.obshell.client import EndpointUnsupported, _decode
from tests.helpers.configs import PASSWORD, obshell_config
from tests.helpers.obshell_stub import ObshellStub, envelope
from tests.helpers.payloads import page, running_restore, seed, standard_routes
from tests.helpers.process import run_cli

ROOT = Path(__file__).resolve().parents[2]
# Real sockets have jitter: no per-example deadline. Fixtures are set up once per test on
# purpose: each example resets what it changes.
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def fuzz(examples: int) -> settings:
    """FUZZ, with a bound on examples that keeps the suite within its time budget."""
    return settings(FUZZ, max_examples=examples)


# ---------------------------------------------------------------------------- values to try

# Values that have broken parsers before, or would: edges of every type the answers hold.
NASTY_NUMBERS = st.sampled_from(
    [0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1, 10**30,
     10**400, -(10**400), 0.5, -0.0, 1e308, -1e308, 5e-324, float("inf"), float("-inf"),
     float("nan")]
)  # fmt: skip
NASTY_TEXT = st.sampled_from(
    ["", " ", "0", "-1", "45.67", "100.01", "NaN", "1e400", "null", "true", "\x00", "\u2028",
     "0001-01-01T00:00:00Z", "1970-01-01 00:00:00", "9999-12-31T23:59:59.999999999+14:00",
     "9999-12-31 23:59:59", "2024-02-30T00:00:00Z", "2024-10-12T18:08:08.723714+0800",
     "2024-10-12T18:08:08.7237141234567+08:00", "24:00:00", "DOING", "COMPLETED", "FAILED",
     "RESTORE_SUCCESS", "RESTORE", "ON", "sys", "404 not found", "Element not found: 404 not found",
     "OB.Tenant.NotExist", "x" * 5000]
)  # fmt: skip
OFFSETS = st.timedeltas(
    min_value=datetime.timedelta(hours=-23, minutes=-59),
    max_value=datetime.timedelta(hours=23, minutes=59),
).map(datetime.timezone)
TIMES = st.datetimes(timezones=st.none() | OFFSETS).map(lambda t: t.isoformat())
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=20)
    | NASTY_NUMBERS
    | NASTY_TEXT
    | TIMES
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=16,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path into a JSON document (keys and list indexes), the root included."""
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*prefix, index))


@st.composite
def mutations(draw: st.DrawFn, document: Any) -> Any:
    """A real answer with one to four of its values replaced by anything, or removed."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(list(_paths(document))))
        if not path:
            document = draw(JSON)
            continue
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()):
            parent[path[-1]] = draw(JSON)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return document


@st.composite
def answers(draw: st.DrawFn, real: tuple[int, Any]) -> tuple[int, Any]:
    """What an agent might answer instead of `real`: mostly a mutation of it, else anything."""
    status = draw(st.sampled_from([200] * 6 + [400, 401, 403, 404, 500]) | st.integers(200, 599))
    kind = draw(st.sampled_from(["mutated"] * 4 + ["json", "bytes"]))
    if kind == "mutated":
        return status, draw(mutations(real[1]))
    if kind == "json":
        return status, draw(JSON)
    return status, draw(st.binary(max_size=64))


# ------------------------------------------------------------------------------ the config file

TARGET_KEYS = sorted(
    {f.alias or n for model in (ObshellTarget, OcpTarget, CloudTarget) for n, f in model.model_fields.items()}
)  # fmt: skip
NESTED_KEYS = sorted(
    {f.alias or n for model in (TLSConfig, NameFilter) for n, f in model.model_fields.items()}
)
PLAUSIBLE = st.sampled_from(
    ["obshell", "ocp", "cloud", "30s", "5m", "1h30m", "0s", "-1s", "1.5s", "30", "500ms", "1y",
     "https://10.0.0.1:2886", "http://127.0.0.1:1", "ftp://x", "https://u:p@h", "https://h?q",
     "http://[::1", "https://h:99999", "", "a", "dup", "Asia/Shanghai", "Mars/Olympus", ".*",
     "[unclosed", "(?P<x", "${X}", "${X:-default}", "${UNSET}", "$$", "${", "${1}", "/nonexistent",
     ".", "..", "/", "site", "job", "__x", "target", "tenant_name"]
)  # fmt: skip
VALUES = st.recursive(
    SCALARS | PLAUSIBLE,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(NESTED_KEYS) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=10,
)
TARGETS = st.dictionaries(st.sampled_from(TARGET_KEYS) | st.text(max_size=6), VALUES, max_size=10)
CONFIGS = st.fixed_dictionaries(
    {"targets": st.lists(TARGETS, max_size=4) | VALUES},
    optional={
        "defaults": st.dictionaries(st.sampled_from(TARGET_KEYS), VALUES, max_size=5) | VALUES,
        "concurrency": VALUES,
        "extra_key": VALUES,
    },
)
ENVIRON = {"X": "from-the-environment", "EMPTY": ""}


def _check_loads_or_explains(path: Path) -> None:
    """load_config gives a usable config or a ConfigError of non-empty lines; never more."""
    try:
        config = load_config(path, ENVIRON)
    except ConfigError as error:
        assert error.problems
        for problem in error.problems:
            assert isinstance(problem, str) and problem.strip()
        return
    assert config.targets
    assert all(isinstance(problem, str) for problem in check_secrets(config))
    assert all(isinstance(warning, str) for warning in config.warnings)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One file the config examples are written to in turn."""
    return tmp_path_factory.mktemp("fuzz") / "config.yaml"


@fuzz(400)
@given(document=CONFIGS)
def test_config_structures_give_a_config_or_config_errors(document: Any, config_path: Path) -> None:
    config_path.write_text(yaml.safe_dump(document, allow_unicode=True))
    _check_loads_or_explains(config_path)


@fuzz(200)
@given(data=st.data())
def test_mutations_of_the_example_config(data: st.DataObject, config_path: Path) -> None:
    example = yaml.safe_load((ROOT / "config.example.yaml").read_text())
    config_path.write_text(yaml.safe_dump(data.draw(mutations(example)), allow_unicode=True))
    _check_loads_or_explains(config_path)


@fuzz(300)
@given(text=st.text(max_size=300) | st.binary(max_size=300))
def test_random_text_and_bytes_as_config(text: str | bytes, config_path: Path) -> None:
    if isinstance(text, str):
        config_path.write_text(text, encoding="utf-8", errors="surrogatepass")
    else:
        config_path.write_bytes(text)
    _check_loads_or_explains(config_path)


# ------------------------------------------------------------------------- the obshell answers


@pytest.fixture
def loop() -> Iterator[asyncio.Runner]:
    """One event loop for all of a test's examples (the poller's HTTP client lives in it)."""
    with asyncio.Runner() as runner:
        yield runner


@pytest.fixture
def agent(httpserver: HTTPServer) -> tuple[ObshellStub, dict[str, tuple[int, Any]]]:
    """A stub agent with every route the exporter asks for, and a copy of those real answers."""
    stub = ObshellStub(httpserver, password=PASSWORD)
    standard_routes(stub)
    info = {"version": "4.3.2.0", "identity": "CLUSTER AGENT", "security": False,
            "supportedAuth": ["v2"]}  # fmt: skip
    stub.set("/api/v1/info", info)
    der = stub.key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    key = {"ip": "127.0.0.1", "port": 2886, "public_key": base64.b64encode(der).decode()}
    stub.set("/api/v1/secret", key)
    for name in ("tenant1", "tenant2"):
        stub.routes[f"/api/v1/tenant/{name}/backup/overview"] = (
            200,
            seed("tenant_backup_overview"),
        )
    running = running_restore()
    stub.set("/api/v1/restore/tasks", page([running]))
    stub.set(f"/api/v1/tenant/{running['restore_tenant_name']}/restore/overview", running)
    return stub, copy.deepcopy(stub.routes)


@pytest.fixture
def fuzz_poller(
    agent: tuple[ObshellStub, dict[str, tuple[int, Any]]], loop: asyncio.Runner, tmp_path: Path
) -> Iterator[Poller]:
    """A poller of the stub agent, its HTTP client closed at teardown."""
    config = load_config(obshell_config(tmp_path, agent[0].url, extra="    timeout: 5s\n"))
    poller = Poller(config)
    yield poller
    loop.run(poller.stop())


@fuzz(150)
@given(data=st.data())
def test_poll_never_raises_whatever_the_agent_answers(
    data: st.DataObject,
    agent: tuple[ObshellStub, dict[str, tuple[int, Any]]],
    fuzz_poller: Poller,
    loop: asyncio.Runner,
) -> None:
    stub, real = agent
    stub.routes = copy.deepcopy(real)
    for path in data.draw(
        st.lists(st.sampled_from(sorted(real)), min_size=1, max_size=3, unique=True)
    ):
        stub.routes[path] = data.draw(answers(real[path]))
    # The source as the poller calls it; the state it keeps carries over between examples.
    result = loop.run(fuzz_poller.runners["hz-prod"].source.poll())
    for error in result.errors:
        assert isinstance(error, PollError) and error.reason in REASONS
        assert error.endpoint == "" or error.endpoint.startswith("/api/v1/")
    if result.data is not None:
        snapshot = TargetSnapshot("hz-prod", "obshell", (), TargetHealth(up=True), result.data)
        for open_metrics in (False, True):
            text = render(collect([snapshot], None), open_metrics).decode()
            if not open_metrics:
                assert list(text_string_to_metric_families(text))


@fuzz(500)
@given(
    status=st.integers(100, 599),
    body=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()),
    model=st.sampled_from(
        [
            m.AgentStatus,
            m.ObInfo,
            m.TenantOverviews,
            m.ClusterBackupOverview,
            m.TenantBackupOverview,
            m.TenantBackupInfo,
            m.ArchiveLogTasks,
            m.BackupJobPage,
            m.RestoreTaskPage,
            m.RestoreOverview,
        ]
    ),
    route=st.sampled_from(["/api/v1/ob/info", "/api/v1/tenant/:name/backup/info"]),
)
def test_decoding_gives_a_model_none_or_a_typed_error(
    status: int, body: bytes, model: type[m.UpstreamModel], route: str
) -> None:
    try:
        envelope = _decode(route, Response(status, {}, body), model)
    except (PollError, EndpointUnsupported):
        return
    assert envelope is None or isinstance(envelope.data, model)


ANY_BODY = st.binary(max_size=100) | JSON.map(lambda v: json.dumps(v).encode())


@fuzz(300)
@given(
    info=st.tuples(st.integers(100, 599), ANY_BODY),
    secret=st.tuples(st.integers(100, 599), ANY_BODY),
    key=st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
)
def test_learning_a_key_gives_a_key_or_a_typed_error(
    info: tuple[int, bytes], secret: tuple[int, bytes], key: str
) -> None:
    # The second time the key lookup is well-formed around random key bytes.
    for secret_body in (secret[1], json.dumps(envelope({"public_key": key})).encode()):
        with contextlib.suppress(PollError):
            _learn_key(
                Response(info[0], {}, info[1]),
                Response(secret[0], {}, secret_body),
            )
    assert _is_decrypt_failure(Response(401, {}, info[1])) in (True, False)


# ----------------------------------------------------------------------- operators' mistakes


def _problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return caught.value.problems


def test_duplicate_target_names_name_both(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "targets:\n"
        "  - {name: hz, source: obshell, url: 'https://a'}\n"
        "  - {name: sh, source: obshell, url: 'https://b'}\n"
        "  - {name: hz, source: obshell, url: 'https://c'}\n"
    )
    assert _problems(path) == ['targets[2].name: duplicate target name "hz" (also targets[0])']


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("url: ''", "targets[0].url: must start with http:// or https://"),
        ("url: 'https://'", "targets[0].url: has no host"),
        ("urls: []", "targets[0].urls: must not be empty"),
        ("urls: ['https://a', '']", "targets[0].urls[1]: must start with http:// or https://"),
        ("url: 'https://a', interval: '30'", "targets[0].interval: not a duration"),
        ("url: 'https://a', interval: 30", "targets[0].interval: use a duration such as 30s"),
        ("url: 'https://a', timeout: '1.5s'", "targets[0].timeout: not a duration"),
        ("url: 'https://a', stale_after: 0s", "targets[0].stale_after: must be longer than 0s"),
        ("url: 'https://a', restore_history: -1h", "targets[0].restore_history: not a duration"),
    ],
)
def test_empty_urls_and_bad_durations_say_where(tmp_path: Path, entry: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(f"targets:\n  - {{name: hz, source: obshell, {entry}}}\n")
    (problem,) = _problems(path)
    assert problem.startswith(expected), problem


def test_unreadable_files_say_which_and_where(tmp_path: Path) -> None:
    # CI runs as root, which reads any mode: a directory and missing parents are unreadable
    # to everyone.
    (tmp_path / "a-directory").mkdir()
    regular = tmp_path / "regular"
    regular.write_text("pw")
    config = tmp_path / "c.yaml"
    config.write_text(
        "targets:\n"
        f"  - {{name: a, source: obshell, url: 'https://a', password_file: '{tmp_path / 'absent'}'}}\n"
        f"  - {{name: b, source: obshell, url: 'https://a', password_file: '{tmp_path / 'a-directory'}'}}\n"
        f"  - {{name: c, source: obshell, url: 'https://a', agent_password_file: '{tmp_path / 'no/such/dir'}'}}\n"
        f"  - {{name: d, source: obshell, url: 'https://a', tls: {{ca_file: '{regular}/child'}}}}\n"
        f"  - {{name: e, source: ocp, url: 'https://o', username: u, password_file: '{tmp_path / 'absent'}'}}\n"
        f"  - {{name: f, source: cloud, url: 'https://c', access_key_id: k, access_key_secret_file: '{tmp_path / 'a-directory'}'}}\n"
    )  # fmt: skip
    assert check_secrets(load_config(config, {})) == [
        f"targets[0].password_file: cannot read {tmp_path / 'absent'}: No such file or directory",
        f"targets[1].password_file: cannot read {tmp_path / 'a-directory'}: Is a directory",
        f"targets[2].agent_password_file: cannot read {tmp_path / 'no/such/dir'}: No such file or directory",
        f"targets[3].tls.ca_file: cannot read {regular}/child: Not a directory",
        f"targets[4].password_file: cannot read {tmp_path / 'absent'}: No such file or directory",
        f"targets[5].access_key_secret_file: cannot read {tmp_path / 'a-directory'}: Is a directory",
    ]  # fmt: skip
    # The command a user runs prints the same, prefixed with the file.
    result = run_cli("--config.file", str(config), "--config.check")
    assert result.returncode == 1
    assert f"{config}: targets[1].password_file: cannot read" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("where", ["a-directory", "no/such/dir/config.yaml"])
def test_an_unreadable_config_file_says_so(tmp_path: Path, where: str) -> None:
    (tmp_path / "a-directory").mkdir()
    path = tmp_path / where
    reason = "Is a directory" if where == "a-directory" else "No such file or directory"
    assert _problems(path) == [f"{path}: cannot read: {reason}"]
    result = run_cli("--config.file", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().endswith(f"{path}: cannot read: {reason}")
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_a_file_without_read_permission(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("pw")
    secret.chmod(0o000)
    path = tmp_path / "c.yaml"
    path.write_text(
        f"targets:\n  - {{name: a, source: obshell, url: 'https://a', password_file: '{secret}'}}\n"
    )
    assert check_secrets(load_config(path, {})) == [
        f"targets[0].password_file: cannot read {secret}: Permission denied"
    ]


def test_a_config_check_of_every_mistake_at_once_exits_cleanly(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(
        "targets:\n"
        "  - {name: hz, source: obshell, url: '', interval: 5x}\n"
        "  - {name: hz, source: obshell, url: 'https://a', password_file: ''}\n"
    )
    result = run_cli("--config.file", str(config), "--config.check")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"{config}: targets[0].interval: not a duration: use whole numbers with units, largest"
        " first, such as 30s, 5m or 1h30m (units y, w, d, h, m, s, ms)",
        f"{config}: targets[0].url: must start with http:// or https://",
        f"{config}: targets[1].password_file: must name a file",
        f'{config}: targets[1].name: duplicate target name "hz" (also targets[0])',
    ]
