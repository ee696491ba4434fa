"""obshell's hybrid encryption against a stub that decrypts and verifies the header for real."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from exporter.config import load_config
from exporter.poller import build_source
from exporter.sources.base import Source
from exporter.sources.errors import PollError
from exporter.sources.http import Auth, RequestStats, UpstreamHTTP, open_session
from exporter.sources.obshell import history
from exporter.sources.obshell.auth import HybridAuth, version_tuple
from exporter.sources.obshell.client import ObshellClient
from exporter.sources.obshell.models import ObInfo, TenantBackupOverview
from simulator import Simulator
from tests.helpers.configs import PASSWORD, write_config
from tests.helpers.obshell_stub import ObshellStub
from tests.helpers.paths import DATA

# A 512-bit key, as obshell < 4.4.2 uses (cryptography cannot generate one). Test-only.
RSA512 = (DATA / "rsa512-test-only.pem").read_bytes()


async def _ob_info(stub: ObshellStub, auth: HybridAuth) -> ObInfo:
    async with open_session(ssl.create_default_context()) as session:
        http = UpstreamHTTP(session, target_limit=asyncio.Semaphore(4),
                            timeout=5, stats=RequestStats(), auth=auth)  # fmt: skip
        envelope = await ObshellClient(http, [stub.url]).get("/api/v1/ob/info", ObInfo)
    assert envelope is not None and envelope.data is not None
    return envelope.data


async def test_v2_with_a_1024_bit_key(obshell: ObshellStub) -> None:
    info = await _ob_info(obshell, HybridAuth(lambda: PASSWORD))
    assert info.obcluster_info.name == "ob-test"
    assert obshell.auth_failures == []


async def test_v2_with_a_512_bit_key(obshell: ObshellStub) -> None:
    obshell.version = "4.4.1.0"
    obshell.key = load_pem_private_key(RSA512, None)  # type: ignore[assignment]
    assert obshell.key.key_size == 512
    info = await _ob_info(obshell, HybridAuth(lambda: PASSWORD))
    assert info.obcluster_info.id == 1728727000


async def test_v1_on_obshell_4_2_2(obshell: ObshellStub) -> None:
    obshell.version, obshell.supported_auth = "4.2.2.0", None
    info = await _ob_info(obshell, HybridAuth(lambda: PASSWORD))
    assert info.obcluster_info.name == "ob-test"


async def test_agent_password_goes_in_the_agent_header(obshell: ObshellStub) -> None:
    obshell.agent_password = "agent-secret"
    info = await _ob_info(
        obshell, HybridAuth(lambda: "not-the-root-password", agent_password=lambda: "agent-secret")
    )
    assert info.obcluster_info.name == "ob-test"


async def test_wrong_password_is_reason_auth_without_the_password(obshell: ObshellStub) -> None:
    with pytest.raises(PollError) as failure:
        await _ob_info(obshell, HybridAuth(lambda: "PLANTED-wrong-pass"))
    assert failure.value.reason == "auth"
    assert "IncorrectOceanbasePassword" in str(failure.value)
    assert "PLANTED" not in str(failure.value)


async def test_expired_ts_is_rejected(obshell: ObshellStub) -> None:
    with pytest.raises(PollError) as failure:
        await _ob_info(obshell, HybridAuth(lambda: PASSWORD, lifetime=-5))
    assert failure.value.reason == "auth"
    assert obshell.auth_failures == ["Security.Authentication.Expired"]


async def test_key_rotation_is_recovered_by_refetching_the_key(obshell: ObshellStub) -> None:
    auth = HybridAuth(lambda: PASSWORD)
    await _ob_info(obshell, auth)
    obshell.rotate_key()
    await _ob_info(obshell, auth)
    assert obshell.auth_failures == ["Security.Authentication.Header.DecryptFailed"]
    assert obshell.seen.count("/api/v1/secret") == 2


async def test_uri_signed_is_the_request_target_with_query(obshell: ObshellStub) -> None:
    obshell.set("/api/v1/restore/tasks", {"contents": [], "page": {"total_pages": 1}})
    async with open_session(ssl.create_default_context()) as session:
        http = UpstreamHTTP(session, target_limit=asyncio.Semaphore(1),
                            timeout=5, stats=RequestStats(), auth=HybridAuth(lambda: PASSWORD))  # fmt: skip
        from exporter.sources.obshell.models import PagedContents, RestoreTask

        envelope = await ObshellClient(http, [obshell.url]).get(
            "/api/v1/restore/tasks",
            PagedContents[RestoreTask],
            params={"status": "A,B", "size": "1"},
        )
    assert envelope is not None
    assert "/api/v1/restore/tasks?status=A,B&size=1" in obshell.seen
    assert obshell.auth_failures == []


# ------------------------------------------------------------------ against simulated versions
# The simulator answers as each obshell version does (tests/simulator/test_fidelity.py checks it
# against fixtures taken from obshell's source); these tests watch what the exporter sends.

SIM_PASSWORD = "sim-root-pass"
AGENT_PASSWORD = "sim-agent-pass"
AUTH_HEADERS = ("X-OCS-Agent-Header", "X-OCS-Header", "X-OCS-Auth")


@dataclass(frozen=True)
class Sent:
    """One request the exporter sent: API path, the answer's status, the auth header it used."""

    path: str
    status: int
    header: str


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    sim = Simulator(password=SIM_PASSWORD)
    await sim.start()
    yield sim
    await sim.stop()


@asynccontextmanager
async def recording() -> AsyncIterator[tuple[Callable[[Auth | None], UpstreamHTTP], list[Sent]]]:
    """The exporter's HTTP stack on a session that records every request it sends."""
    sent: list[Sent] = []

    async def record(_: object, __: object, params: aiohttp.TraceRequestEndParams) -> None:
        names = [name for name in AUTH_HEADERS if name in params.headers]
        path = params.url.raw_path
        sent.append(Sent(path[path.find("/api/v1/") :], params.response.status, "".join(names)))

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(record)
    async with aiohttp.ClientSession(trace_configs=[trace]) as session:
        limit = asyncio.Semaphore(8)

        def http(auth: Auth | None) -> UpstreamHTTP:
            return UpstreamHTTP(session, target_limit=limit,
                                timeout=5, stats=RequestStats(), auth=auth)  # fmt: skip

        yield http, sent


@asynccontextmanager
async def polling(
    sim: Simulator, tmp_path: Path, cluster: int | None = None, **secrets: str
) -> AsyncIterator[tuple[Source, list[Sent]]]:
    """A source for a cluster of `sim` (default: the one at its root), built as the poller
    builds it, and what it sends."""
    url = sim.base_url if cluster is None else sim.agent_url(cluster)
    body = "".join(f"    {name}: {value}\n" for name, value in secrets.items())
    config = f"targets:\n  - name: t\n    source: obshell\n    url: {url}\n{body}"
    target = load_config(write_config(tmp_path, config)).targets[0]
    async with recording() as (http, sent):
        yield build_source(target, http), sent


def signed(sent: list[Sent]) -> list[Sent]:
    return [request for request in sent if request.header]


@pytest.mark.parametrize(
    ("version", "agent_has_password"),
    [("4.2.5.0", True), ("4.3.2.0", False), ("4.2.2.0", True)],
    ids=["before_4.2.6", "security_false", "v1"],
)
async def test_root_password_where_the_agent_takes_no_agent_password(
    simulator: Simulator, tmp_path: Path, version: str, agent_has_password: bool
) -> None:
    cluster = simulator.world.clusters[0]
    cluster.version = version
    cluster.agent_password = AGENT_PASSWORD if agent_has_password else None
    secrets = {"password": SIM_PASSWORD, "agent_password": AGENT_PASSWORD}
    async with polling(simulator, tmp_path, **secrets) as (source, sent):
        result = await source.poll()

    assert result.errors == ()
    assert result.data is not None
    assert {r.header for r in signed(sent)} == {
        "X-OCS-Auth" if version == "4.2.2.0" else "X-OCS-Header"
    }
    assert 401 not in {r.status for r in signed(sent)}  # (a 400: a route this version lacks)


@pytest.mark.parametrize("version", ["4.2.6.0", "4.5.0.0"])
async def test_agent_password_where_the_agent_has_one(
    simulator: Simulator, tmp_path: Path, version: str
) -> None:
    cluster = simulator.world.clusters[0]
    cluster.version, cluster.agent_password = version, AGENT_PASSWORD
    secrets = {"password": "not-the-root-password", "agent_password": AGENT_PASSWORD}
    async with polling(simulator, tmp_path, **secrets) as (source, sent):
        result = await source.poll()

    assert result.errors == ()
    assert {r.header for r in signed(sent)} == {"X-OCS-Agent-Header"}


@pytest.mark.parametrize(
    ("version", "why"),
    [
        ("4.2.5.0", "obshell 4.2.5.0 has no agent password (agent passwords came with 4.2.6)"),
        ("4.3.2.0", "obshell 4.3.2.0 has no agent password set (/api/v1/info: security false)"),
    ],
)
async def test_only_an_agent_password_for_an_agent_without_one_is_an_auth_error(
    simulator: Simulator, tmp_path: Path, version: str, why: str
) -> None:
    simulator.world.clusters[0].version = version
    secrets = {"agent_password": AGENT_PASSWORD}
    async with polling(simulator, tmp_path, **secrets) as (source, sent):
        result = await source.poll()

    assert result.data is None
    [error] = result.errors
    assert error.reason == "auth"
    assert (
        error.message == f"{why}: configure `password` (or `password_file`), the root@sys password"
    )
    assert signed(sent) == []  # refused before the agent tried any login
    assert AGENT_PASSWORD not in str(error)


@pytest.mark.parametrize("version", ["4.2.2.0", "4.2.3.0", "4.2.5.0", "4.3.0.0"])
async def test_new_key_before_4_3_1_recovers_within_one_poll(
    simulator: Simulator, tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The identity is read again each poll (hourly otherwise), so that /ob/info is the first
    # signed request of both polls, also on agents without a backup API.
    monkeypatch.setattr(history, "FACT_REFRESH_SECONDS", 0.0)
    cluster = simulator.world.clusters[0]
    cluster.version = version
    secrets = {"password": SIM_PASSWORD}
    async with polling(simulator, tmp_path, **secrets) as (source, sent):
        first = await source.poll()
        cluster.rotate_key()  # a re-deployed agent, or another one behind the same address
        sent.clear()
        second = await source.poll()

    assert first.errors == () and second.errors == ()
    refused = [r for r in signed(sent) if r.status == 401]
    header = "X-OCS-Auth" if version == "4.2.2.0" else "X-OCS-Header"
    assert refused == [Sent("/api/v1/ob/info", 401, header)]  # once, then with the new key
    assert [r.path for r in sent].count("/api/v1/secret") == 1  # fetched again, once


async def test_wrong_password_before_4_3_1_costs_one_login_per_request(
    simulator: Simulator,
) -> None:
    # Each wrong password makes the agent try a MySQL login as root@sys: never twice.
    simulator.world.clusters[0].version = "4.3.0.0"
    async with recording() as (http, sent):
        client = ObshellClient(http(HybridAuth(lambda: "PLANTED-wrong")), [simulator.base_url])
        with pytest.raises(PollError) as failure:
            await client.get("/api/v1/ob/info", ObInfo)

    assert failure.value.reason == "auth"
    assert "Verification failed: access denied" in failure.value.message
    assert "PLANTED" not in str(failure.value)
    assert signed(sent) == [Sent("/api/v1/ob/info", 401, "X-OCS-Header")]
    assert [r.path for r in sent] == ["/api/v1/info", "/api/v1/secret", "/api/v1/ob/info",
                                      "/api/v1/secret"]  # fmt: skip


async def test_a_request_racing_a_key_refresh_recovers_too(simulator: Simulator) -> None:
    cluster = simulator.world.clusters[0]
    cluster.version = "4.3.0.0"
    slow = "/api/v1/tenant/:name/backup/overview"
    async with recording() as (http, sent):
        client = ObshellClient(http(HybridAuth(lambda: SIM_PASSWORD)), [simulator.base_url])
        await client.get("/api/v1/ob/info", ObInfo)
        cluster.rotate_key()
        simulator.faults.add("latency", route=slow, delay=0.5)
        sent.clear()
        # Both are signed with the old key; the slow one's 401 comes after the fast one has
        # fetched the new key: compared with the key then cached, it would pass for a wrong
        # password.
        await asyncio.gather(
            client.get("/api/v1/ob/info", ObInfo),
            client.get(slow, TenantBackupOverview, tenant=cluster.tenants[0].name),
        )

    assert [(r.path, r.status) for r in signed(sent)] == [
        ("/api/v1/ob/info", 401),
        ("/api/v1/ob/info", 200),
        (f"/api/v1/tenant/{cluster.tenants[0].name}/backup/overview", 401),
        (f"/api/v1/tenant/{cluster.tenants[0].name}/backup/overview", 200),
    ]


async def test_a_new_agent_version_drops_the_key_before_signing_with_it(
    simulator: Simulator, tmp_path: Path
) -> None:
    cluster = simulator.world.clusters[0]
    cluster.version = "4.3.0.0"
    async with polling(simulator, tmp_path, password=SIM_PASSWORD) as (source, sent):
        first = await source.poll()
        cluster.version = "4.4.2.0"  # the upgrade regenerates the key as 1024-bit
        sent.clear()
        second = await source.poll()

    assert first.errors == () and second.errors == ()
    assert [r for r in signed(sent) if r.status != 200] == []  # no request signed with the old key
    assert [r.path for r in sent][:3] == ["/api/v1/info", "/api/v1/info", "/api/v1/secret"]


async def test_the_versions_scenario_with_an_agent_password(tmp_path: Path) -> None:
    sim = Simulator(scenario="versions", clusters=7, password=SIM_PASSWORD,
                    agent_password=AGENT_PASSWORD)  # fmt: skip
    await sim.start()
    secrets = {"password": SIM_PASSWORD, "agent_password": AGENT_PASSWORD}
    try:
        for index, cluster in enumerate(sim.world.clusters):
            async with polling(sim, tmp_path, index, **secrets) as (source, sent):
                result = await source.poll()
            takes_it = version_tuple(cluster.version) >= (4, 2, 6)
            assert result.errors == (), cluster.version
            assert {r.header for r in signed(sent)} == {
                "X-OCS-Agent-Header" if takes_it else "X-OCS-Header"
            }, cluster.version
    finally:
        await sim.stop()
