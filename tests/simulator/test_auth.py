"""The simulator enforces obshell's hybrid encryption; the exporter's HybridAuth passes it."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.serialization import load_der_public_key

from exporter.sources.obshell.auth import rsa_encrypt_chunked
from simulator import Simulator
from simulator.obshell import versions
from tests.helpers.paths import DATA
from tests.helpers.shapes import differences
from tests.helpers.simulator import PASSWORD, StartSimulator, plain, signed, signed_client

OB_INFO = "/api/v1/ob/info"


def sign(sim: Simulator, fields: dict[str, Any] | str, cluster: int = 0) -> str:
    """Encrypt a header the way clients do, with the agent's current public key."""
    public_key = sim.world.clusters[cluster].key.private_key.public_key()
    payload = fields if isinstance(fields, str) else json.dumps(fields)
    return rsa_encrypt_chunked(public_key, payload.encode())


def fields(uri: str = OB_INFO, password: str = PASSWORD, lifetime: int = 60) -> dict[str, Any]:
    return {"Auth": password, "Ts": str(int(time.time()) + lifetime), "Uri": uri}


async def raw_get(sim: Simulator, path: str, **headers: str) -> httpx.Response:
    return await plain(sim).get(path, headers=headers)


def error_of(response: httpx.Response) -> dict[str, Any]:
    document: dict[str, Any] = response.json()
    assert document["successful"] is False
    assert document["status"] == response.status_code
    error: dict[str, Any] = document["error"]
    return error


@pytest.mark.parametrize(("version", "bits"), [("4.4.2.0", 1024), ("4.3.2.0", 512)])
async def test_hybrid_auth_v2_passes(sim: Simulator, version: str, bits: int) -> None:
    sim.world.clusters[0].version = version

    response = await signed(sim).get("/api/v1/tenant/app/backup/tasks?status=COMPLETED&size=2")

    assert response.status_code == 200
    assert len(response.json()["data"]["contents"]) == 2
    assert sim.world.clusters[0].key.private_key.key_size == bits


async def test_hybrid_auth_signs_the_prefixed_path(sim: Simulator) -> None:
    response = await signed(sim).get(f"{sim.agent_url(0)}/api/v1/ob/info")

    assert response.status_code == 200
    assert response.json()["data"]["obcluster_info"]["name"] == "obcluster-0"


async def test_hybrid_auth_learns_the_key_of_a_prefixed_agent(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(clusters=2)
    sim.world.clusters[1].version = "4.3.2.0"  # another key, even another key size
    first = await signed(sim).get(f"{sim.agent_url(0)}/api/v1/ob/info")
    second = await signed(sim).get(f"{sim.agent_url(1)}/api/v1/ob/info")

    assert first.json()["data"]["obcluster_info"]["name"] == "obcluster-0"
    assert second.json()["data"]["obcluster_info"]["name"] == "obcluster-1"


async def test_v1_on_a_4_2_2_agent(sim: Simulator) -> None:
    sim.world.clusters[0].version = "4.2.2.0"
    async with signed_client(sim.base_url) as good, signed_client(sim.base_url, "bad") as bad:
        info = (await good.get("/api/v1/info")).json()["data"]
        passed = await good.get("/api/v1/ob/info")  # /tenants/overview came with 4.2.4
        refused = await bad.get("/api/v1/ob/info")
        unknown = await good.get("/api/v1/obcluster/backup/overview")

    assert "supportedAuth" not in info
    assert passed.status_code == 200
    assert refused.status_code == 401
    # 4.2.3 (the oldest source published) has no text for code 10008 and sends its i18n key.
    assert error_of(refused) == {"code": 10008, "message": "err.unauthorized"}
    assert unknown.status_code == 400  # backup routes came with 4.2.4
    assert error_of(unknown) == {"code": 1000, "message": "Bad request: 404 not found"}


async def test_agent_password_header(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(agent_password="agent-pass")
    async with (
        signed_client(sim.base_url, "x", agent_password=lambda: "agent-pass") as good,
        signed_client(sim.base_url, agent_password=lambda: "wrong") as bad,
    ):
        info = (await good.get("/api/v1/info")).json()["data"]
        passed = await good.get(OB_INFO)
        refused = await bad.get(OB_INFO)

    assert info["security"] is True
    assert passed.status_code == 200
    assert refused.status_code == 401
    assert error_of(refused)["errCode"] == "Security.Authentication.IncorrectAgentPassword"


@pytest.mark.parametrize(
    ("version", "error"),
    [
        ("4.2.5.0", {"code": 10008, "message": "Verification failed"}),  # header ignored
        (
            "4.3.0.0",
            {
                "code": 10008,
                "message": "Verification failed: agent password is not initialized,"
                " use oceanbase password to verify",
            },
        ),
        (
            "4.3.2.0",
            {
                "code": 10008,
                "errCode": "Security.Authentication.WithOceanBasePassword",
                "message": "Unauthorized: Should use oceanbase_password to verify:"
                " agent password is not initialized",
            },
        ),
    ],
)
async def test_agent_header_to_an_agent_without_an_agent_password(
    sim: Simulator, version: str, error: dict[str, Any]
) -> None:
    sim.world.clusters[0].version = version
    header = sign(sim, fields(password="anything"))

    response = await raw_get(sim, OB_INFO, **{"X-OCS-Agent-Header": header})

    assert response.status_code == 401
    assert error_of(response) == error


async def test_agent_header_is_ignored_before_4_2_6(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(agent_password="agent-pass")
    sim.world.clusters[0].version = "4.2.5.0"
    agent_header = sign(sim, fields(password="agent-pass"))
    both = {"X-OCS-Agent-Header": "not even base64", "X-OCS-Header": sign(sim, fields())}

    alone = await raw_get(sim, OB_INFO, **{"X-OCS-Agent-Header": agent_header})
    beside_the_root_header = await raw_get(sim, OB_INFO, **both)

    assert alone.status_code == 401
    assert error_of(alone) == {"code": 10008, "message": "Verification failed"}
    assert beside_the_root_header.status_code == 200


async def test_wrong_password(sim: Simulator) -> None:
    async with signed_client(sim.base_url, "wrong") as client:
        response = await client.get(OB_INFO)

    assert response.status_code == 401
    assert error_of(response) == {
        "code": 10008,
        "errCode": "Security.Authentication.IncorrectOceanbasePassword",
        "message": "Unauthorized: OceanBase password is incorrect",
    }


async def test_expired_ts_is_rejected(sim: Simulator) -> None:
    async with signed_client(sim.base_url, lifetime=-10) as client:
        response = await client.get(OB_INFO)

    assert response.status_code == 401
    assert error_of(response)["errCode"] == "Security.Authentication.Expired"


async def test_ts_is_not_checked_for_an_empty_password(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(password="")
    async with signed_client(sim.base_url, "", lifetime=-10) as client:
        response = await client.get(OB_INFO)

    assert response.status_code == 200


async def test_uri_must_be_the_raw_request_target(sim: Simulator) -> None:
    signed_elsewhere = sign(sim, fields(uri="/api/v1/tenants/overview"))
    query = "/api/v1/restore/tasks?page=1&size=5"
    decoded_query = sign(sim, fields(uri="/api/v1/restore/tasks?page=1&size=%35"))

    mismatch = await raw_get(sim, OB_INFO, **{"X-OCS-Header": signed_elsewhere})
    encoded = await raw_get(
        sim, "/api/v1/restore/tasks?page=1&size=%35", **{"X-OCS-Header": decoded_query}
    )
    plain = await raw_get(sim, query, **{"X-OCS-Header": decoded_query})

    assert mismatch.status_code == 401
    assert error_of(mismatch)["errCode"] == "Security.Authentication.Header.UriMismatch"
    assert encoded.status_code == 200
    assert plain.status_code == 401


async def test_header_keys_match_case_insensitively_and_the_last_wins(sim: Simulator) -> None:
    ts = str(int(time.time()) + 60)
    header = f'{{"auth": "wrong", "AUTH": "{PASSWORD}", "ts": "{ts}", "uri": "{OB_INFO}"}}'

    response = await raw_get(sim, OB_INFO, **{"X-OCS-Header": sign(sim, header)})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("not base64!", "illegal base64"),
        (base64.b64encode(b"x" * 64).decode(), ""),
        ("JSON number Ts", "HttpHeader.Ts of type string"),
    ],
)
async def test_undecryptable_headers(sim: Simulator, header: str, detail: str) -> None:
    if header == "JSON number Ts":
        header = sign(sim, {"Auth": PASSWORD, "Ts": int(time.time()) + 60, "Uri": OB_INFO})

    response = await raw_get(sim, OB_INFO, **{"X-OCS-Header": header})

    error = error_of(response)
    assert response.status_code == 401
    assert error["code"] == 1
    assert error["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert error["message"].startswith("Decrypt http header failed: ")
    assert detail in error["message"]


async def test_a_header_is_decrypted_even_on_open_routes(sim: Simulator) -> None:
    stale = sign(sim, fields(uri="/api/v1/info"))
    sim.world.clusters[0].rotate_key()

    response = await raw_get(sim, "/api/v1/info", **{"X-OCS-Header": stale})

    assert response.status_code == 401


async def test_missing_header(sim: Simulator) -> None:
    modern = await raw_get(sim, OB_INFO)
    sim.world.clusters[0].version = "4.3.0.0"
    legacy = await raw_get(sim, OB_INFO)

    assert modern.status_code == 400
    assert error_of(modern)["errCode"] == "Request.Header.NotFound"
    assert "data" not in modern.json()
    assert legacy.status_code == 401
    assert error_of(legacy) == {"code": 10008, "message": "Verification failed: header not found"}


def encrypt_body(plaintext: bytes) -> tuple[bytes, bytes]:
    key, iv = os.urandom(16), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    ciphertext = (
        encryptor.update(padder.update(plaintext) + padder.finalize()) + encryptor.finalize()
    )
    return key + iv, base64.b64encode(ciphertext)


async def test_an_encrypted_body_on_a_get(sim: Simulator) -> None:
    keys, body = encrypt_body(b"{}")
    with_keys = sign(sim, {**fields(), "keys": base64.b64encode(keys).decode()})
    without_keys = sign(sim, fields())
    client = plain(sim)
    passed = await client.request("GET", OB_INFO, content=body, headers={"X-OCS-Header": with_keys})
    no_key = await client.request(
        "GET", OB_INFO, content=body, headers={"X-OCS-Header": without_keys}
    )
    plaintext = await client.request(
        "GET", OB_INFO, content=b"{}", headers={"X-OCS-Header": with_keys}
    )

    assert passed.status_code == 200
    assert no_key.status_code == 500
    assert error_of(no_key)["errCode"] == "Request.Body.Decrypt.AES.NoKey"
    assert plaintext.status_code == 401  # a plaintext body next to an X-OCS header is an error


@pytest.mark.parametrize("upgrade", [False, True], ids=["rotate_key", "upgrade_to_4.4.2"])
async def test_hybrid_auth_recovers_from_a_new_key(sim: Simulator, upgrade: bool) -> None:
    cluster = sim.world.clusters[0]
    cluster.version = "4.3.2.0"
    before = await signed(sim).get(OB_INFO)
    old_header = sign(sim, fields())
    if upgrade:
        cluster.version = "4.4.2.0"
    else:
        cluster.rotate_key()
    stale = await raw_get(sim, OB_INFO, **{"X-OCS-Header": old_header})
    after = await signed(sim).get(OB_INFO)

    assert before.status_code == 200
    assert stale.status_code == 401
    assert error_of(stale)["errCode"] == "Security.Authentication.Header.DecryptFailed"
    assert after.status_code == 200
    assert cluster.key.private_key.key_size == (1024 if upgrade else 512)


async def test_rsa_header_in_53_byte_chunks_works_with_a_1024_bit_key(sim: Simulator) -> None:
    # The SDKs always cut 53-byte blocks (right for 512-bit keys); obshell decrypts per key size.
    public_key = sim.world.clusters[0].key.private_key.public_key()
    payload = json.dumps(fields()).encode()
    blocks = [
        public_key.encrypt(payload[i : i + 53], rsa_padding.PKCS1v15())
        for i in range(0, len(payload), 53)
    ]

    response = await raw_get(
        sim, OB_INFO, **{"X-OCS-Header": base64.b64encode(b"".join(blocks)).decode()}
    )

    assert response.status_code == 200


# ------------------------------------------- each version's auth answers, from obshell's source

AUTH_FIXTURES = sorted((DATA / "obshell").glob("*/auth/*.json"))
WRONG = "not-the-password"


def _headers(sim: Simulator, sends: str, path: str) -> dict[str, str]:
    """The auth headers a fixture's request carries (its sidecar's `sends:`)."""
    if sends == "none":
        return {}
    if sends == "undecryptable":  # not whole RSA blocks: no key decrypts it
        return {"X-OCS-Header": base64.b64encode(os.urandom(40)).decode()}
    name, password = {
        "root-wrong": ("X-OCS-Header", WRONG),
        "agent": ("X-OCS-Agent-Header", "any-agent-password"),
        "agent-wrong": ("X-OCS-Agent-Header", WRONG),
    }[sends]
    return {name: sign(sim, fields(uri=path, password=password))}


def _key_bits(public_key: str) -> int:
    key = load_der_public_key(base64.b64decode(public_key))
    assert isinstance(key, rsa.RSAPublicKey)
    return key.key_size


def test_every_auth_fixture_names_its_origin() -> None:
    assert {path.parent.parent.name for path in AUTH_FIXTURES} == set(versions.MODELLED_VERSIONS)
    for path in AUTH_FIXTURES:
        origin = origin_of(path)
        version = path.parent.parent.name
        assert origin["obshell"].startswith(f"{version} at commit ")
        assert len(origin["obshell"].rsplit(" ", 1)[1]) == 40
        assert origin["files"] and origin["note"]
        assert origin["sends"] in ("none", "root-wrong", "undecryptable", "agent", "agent-wrong")
        assert origin["agent_password"] in ("set", "unset")


def origin_of(path: Path) -> dict[str, str]:
    lines = path.with_suffix(".origin").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines)


AUTH_ANSWERS = {path: (json.loads(path.read_text()), origin_of(path)) for path in AUTH_FIXTURES}


@pytest.mark.parametrize(
    "fixture", AUTH_FIXTURES, ids=[f"{p.parent.parent.name}-{p.stem}" for p in AUTH_FIXTURES]
)
async def test_the_simulator_authenticates_like_each_version(sim: Simulator, fixture: Path) -> None:
    real, origin = AUTH_ANSWERS[fixture]
    cluster = sim.world.clusters[0]
    cluster.version = fixture.parent.parent.name
    cluster.agent_password = "agent-pass" if origin["agent_password"] == "set" else None
    path = origin["request"].removeprefix("GET ")

    response = await raw_get(sim, path, **_headers(sim, origin["sends"], path))

    body = response.json()
    assert response.status_code == real["status"] == body["status"]
    if not real["successful"]:
        assert body["error"] == real["error"]
        assert ("data" in body) == ("data" in real)
    assert not differences(real, body), differences(real, body)
    if fixture.stem == "secret":
        assert _key_bits(body["data"]["public_key"]) == _key_bits(real["data"]["public_key"])
