"""The official obshell Python SDK authenticates against the simulator and parses its answers."""

from __future__ import annotations

import asyncio

import pytest
from obshell import ClientSet, OBShellHandleError
from obshell.auth.password import PasswordAuth

from simulator import Simulator
from simulator.obshell import versions
from tests.helpers.simulator import PASSWORD, StartSimulator

TASK_KEYS = {
    "tenant_id", "task_id", "job_id", "incarnation", "backup_set_id", "start_timestamp",
    "end_timestamp", "status", "start_scn", "end_scn", "user_ls_start_scn", "encryption_mode",
    "input_bytes", "output_bytes", "output_rate_bytes", "extra_meta_bytes", "tablet_count",
    "finish_tablet_count", "macro_block_count", "finish_macro_block_count", "file_count",
    "meta_turn_id", "data_turn_id", "result", "comment", "path",
}  # fmt: skip


def sdk_client(sim: Simulator, password: str = PASSWORD, **auth: str) -> ClientSet:
    """An SDK client for cluster 0, which the simulator serves at the root."""
    port = int(sim.base_url.rsplit(":", 1)[1])
    return ClientSet("127.0.0.1", port, PasswordAuth(password, **auth))


@pytest.mark.parametrize("version", ["4.4.2.0", "4.3.2.0"], ids=["rsa1024", "rsa512"])
async def test_sdk_reads_the_overviews(sim: Simulator, version: str) -> None:
    sim.world.clusters[0].version = version
    client = sdk_client(sim).v1

    cluster = await asyncio.to_thread(client.get_cluster_backup_overview)
    tenant = await asyncio.to_thread(client.get_tenant_backup_overview, "pay")
    restore = await asyncio.to_thread(client.get_tenant_restore_overview, "app_r1")
    tenants = await asyncio.to_thread(client.get_all_tenants)
    info = await asyncio.to_thread(client.get_ob_info)

    assert sim.world.clusters[0].key.private_key.key_size == (1024 if version == "4.4.2.0" else 512)
    assert [(task.tenant_id, task.status) for task in cluster.statuses] == [
        (1002, "COMPLETED"),
        (1004, "BACKUP_DATA_MINOR"),
    ]
    assert set(tenant.status) == TASK_KEYS  # the SDK leaves the tenant task a raw dict
    assert tenant.status["end_timestamp"] == "0001-01-01T00:00:00Z"
    assert restore.restore_tenant_name == "app_r1"
    assert restore.status == "PHYSICAL_RESTORE_WAIT_RESTORE_TO_CONSISTENT_SCN"
    assert 0 < float(restore.restore_progress) < 100
    assert [(t.id, t.name) for t in tenants][:4] == [
        (1, "sys"),
        (1002, "app"),
        (1004, "pay"),
        (1006, "crm"),
    ]
    assert info.cluster.cluster_name == "obcluster-0"


async def test_sdk_is_refused_with_a_wrong_password(sim: Simulator) -> None:
    client = sdk_client(sim, password="not-the-password").v1

    with pytest.raises(OBShellHandleError) as failure:
        await asyncio.to_thread(client.get_cluster_backup_overview)

    assert failure.value.err_code == "Security.Authentication.IncorrectOceanbasePassword"
    assert failure.value.code == 10008


async def test_sdk_uses_the_agent_password_when_the_agent_has_one(
    start_simulator: StartSimulator,
) -> None:
    sim = await start_simulator(agent_password="agent-pass")
    good = sdk_client(sim, password="wrong-root-password", agent_password="agent-pass").v1
    bad = sdk_client(sim, agent_password="wrong-agent-password").v1

    overview = await asyncio.to_thread(good.get_cluster_backup_overview)
    with pytest.raises(OBShellHandleError) as failure:
        await asyncio.to_thread(bad.get_cluster_backup_overview)

    assert len(overview.statuses) == 2
    assert failure.value.err_code == "Security.Authentication.IncorrectAgentPassword"


# 4.2.2 speaks auth v1 (`X-OCS-Auth`); the others are the versions the simulator models.
SDK_VERSIONS = ("4.2.2.0", *versions.MODELLED_VERSIONS)


@pytest.mark.parametrize("version", SDK_VERSIONS)
async def test_sdk_signs_in_with_the_root_password_on_every_version(
    sim: Simulator, version: str
) -> None:
    sim.world.clusters[0].version = version
    good = sdk_client(sim).v1
    bad = sdk_client(sim, password="not-the-password").v1

    info = await asyncio.to_thread(good.get_ob_info)
    with pytest.raises(OBShellHandleError) as failure:
        await asyncio.to_thread(bad.get_ob_info)

    assert info.cluster.cluster_name == "obcluster-0"
    assert failure.value.code == 10008


@pytest.mark.parametrize("version", SDK_VERSIONS)
async def test_sdk_signs_in_with_an_agent_password_on_every_version(
    start_simulator: StartSimulator, version: str
) -> None:
    sim = await start_simulator(agent_password="agent-pass")
    sim.world.clusters[0].version = version
    takes_it = versions.at_least(version, versions.AGENT_PASSWORD_SINCE)
    # Where the agent has agent passwords the SDK signs with it (the root password given is
    # wrong); before 4.2.6 `/api/v1/info` has no `security` and the SDK signs with the root one.
    root = "not-the-root-password" if takes_it else PASSWORD
    client = sdk_client(sim, password=root, agent_password="agent-pass").v1
    wrong = sdk_client(sim, password=root, agent_password="not-the-agent-password").v1

    info = await asyncio.to_thread(client.get_ob_info)
    refused = None
    try:
        await asyncio.to_thread(wrong.get_ob_info)
    except OBShellHandleError as exc:
        refused = exc

    assert info.cluster.cluster_name == "obcluster-0"
    if takes_it:
        assert refused is not None and refused.code == 10008
    else:
        assert refused is None  # the agent password is not even sent
