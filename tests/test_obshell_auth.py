"""obshell's hybrid encryption against a stub that decrypts and verifies the header for real."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from exporter.sources.errors import PollError
from exporter.sources.http import RequestStats, UpstreamHTTP, open_session
from exporter.sources.obshell.auth import HybridAuth
from exporter.sources.obshell.client import ObshellClient
from exporter.sources.obshell.models import ObInfo
from tests.conftest import PASSWORD
from tests.obshell_stub import ObshellStub

# A 512-bit key, as obshell < 4.4.2 uses (cryptography cannot generate one). Test-only.
RSA512 = (Path(__file__).parent / "data" / "rsa512-test-only.pem").read_bytes()


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
