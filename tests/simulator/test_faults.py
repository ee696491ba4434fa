"""Every fault kind, as a plain httpx client sees it."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from simulator import Simulator
from tests.helpers.simulator import StartSimulator, plain, signed

INFO = "/api/v1/info"
OVERVIEW = "/api/v1/obcluster/backup/overview"


async def get(sim: Simulator, path: str = INFO, base_url: str | None = None) -> httpx.Response:
    return await plain(sim).get(f"{base_url}{path}" if base_url else path)


async def timed(sim: Simulator, path: str = INFO) -> float:
    began = time.perf_counter()
    await get(sim, path)
    return time.perf_counter() - began


async def test_fixed_and_random_latency(sim: Simulator) -> None:
    fixed = sim.faults.add("latency", delay=0.2)
    slow = await timed(sim)
    sim.faults.remove(fixed)
    sim.faults.add("latency", delay=0.05, delay_max=0.1)
    jittered = [await timed(sim) for _ in range(3)]
    sim.faults.clear()
    fast = await timed(sim)

    assert slow >= 0.2
    assert all(0.05 <= elapsed < 0.3 for elapsed in jittered)
    assert fast < 0.1


async def test_latency_option(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(latency=0.15)

    assert await timed(sim) >= 0.15


async def test_obshell_500(sim: Simulator) -> None:
    sim.faults.add("http_500")

    response = await get(sim)

    assert response.status_code == 500
    assert response.json()["error"]["errCode"] == "Common.Unexpected"


async def test_html_500(sim: Simulator) -> None:
    sim.faults.add("html_500")

    response = await get(sim)

    assert response.status_code == 500
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.text.startswith("<html>")


async def test_unauthorized_despite_the_right_password(sim: Simulator) -> None:
    sim.faults.add("unauthorized", route=OVERVIEW)

    response = await signed(sim).get(OVERVIEW)

    assert response.status_code == 401
    assert (
        response.json()["error"]["errCode"] == "Security.Authentication.IncorrectOceanbasePassword"
    )


async def test_200_that_is_not_json(sim: Simulator) -> None:
    sim.faults.add("not_json")

    response = await get(sim)

    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_truncated_json(sim: Simulator) -> None:
    whole = (await get(sim)).content
    sim.faults.add("truncated_json")

    response = await get(sim)

    assert response.status_code == 200
    assert 0 < len(response.content) < len(whole)
    assert whole.startswith(response.content[:40])
    with pytest.raises(json.JSONDecodeError):
        response.json()


async def test_unknown_enum_values(sim: Simulator) -> None:
    sim.faults.add("unknown_enum", route=OVERVIEW)

    response = await signed(sim).get(OVERVIEW)

    document = response.json()
    assert document["status"] == 200  # only string fields called status change
    assert {task["status"] for task in document["data"]["statuses"]} == {"WEIRD_NEW_STATE"}


async def test_slow_body(sim: Simulator) -> None:
    sim.faults.add("slow_body", delay=0.03)

    began = time.perf_counter()
    response = await get(sim)

    assert time.perf_counter() - began >= 0.27  # ten parts, 0.03 s apart
    assert response.json()["data"]["identity"] == "CLUSTER AGENT"


async def test_connection_reset(sim: Simulator) -> None:
    sim.faults.add("reset")

    with pytest.raises(httpx.TransportError):
        await get(sim)


async def test_error_rate(sim: Simulator) -> None:
    sim.faults.add("http_500", probability=0.5)

    codes = [(await get(sim)).status_code for _ in range(40)]

    assert 5 < codes.count(500) < 35
    assert codes.count(200) == 40 - codes.count(500)


async def test_faults_by_route_and_cluster(start_simulator: StartSimulator) -> None:
    sim = await start_simulator(clusters=2)
    sim.faults.add("html_500", route="/api/v1/secret", cluster=1)

    targeted = await get(sim, "/api/v1/secret", sim.agent_url(1))
    other_route = await get(sim, INFO, sim.agent_url(1))
    other_cluster = await get(sim, "/api/v1/secret", sim.agent_url(0))

    assert targeted.status_code == 500
    assert other_route.status_code == 200
    assert other_cluster.status_code == 200
