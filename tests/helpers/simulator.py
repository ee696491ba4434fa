"""HTTP clients for a simulator on loopback: one signing like the exporter, one sending no
auth header."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from typing import Any
from weakref import WeakKeyDictionary

import httpx

from exporter.sources.cloud.auth import CloudDigestAuth
from exporter.sources.http import Auth
from exporter.sources.obshell.auth import HybridAuth
from exporter.sources.ocp.auth import OcpBasicAuth, OcpSignatureAuth
from simulator import Simulator
from tests.helpers.httpx_auth import AsHttpxAuth

PASSWORD = "root-pass"
StartSimulator = Callable[..., Awaitable[Simulator]]
# Clients share one SSL context (making one costs ~20 ms) and each simulator has one of each kind.
_SSL_CONTEXT = ssl.create_default_context()
_SIGNED: WeakKeyDictionary[Simulator, httpx.AsyncClient] = WeakKeyDictionary()
_PLAIN: WeakKeyDictionary[Simulator, httpx.AsyncClient] = WeakKeyDictionary()


def open_clients(simulator: Simulator) -> None:
    """Make the simulator's signed and plain clients (see `signed` and `plain`)."""
    _SIGNED[simulator] = signed_client(simulator.base_url)
    _PLAIN[simulator] = httpx.AsyncClient(base_url=simulator.base_url, verify=_SSL_CONTEXT)


async def close_clients(simulator: Simulator) -> None:
    """Close the clients `open_clients` made."""
    await _SIGNED.pop(simulator).aclose()
    await _PLAIN.pop(simulator).aclose()


def signed_client(base_url: str, password: str = PASSWORD, **kwargs: Any) -> httpx.AsyncClient:
    """An httpx client that signs like the exporter does (HybridAuth)."""
    auth = AsHttpxAuth(HybridAuth(lambda: password, **kwargs), verify=_SSL_CONTEXT)
    return httpx.AsyncClient(base_url=base_url, auth=auth, verify=_SSL_CONTEXT)


def signed(sim: Simulator) -> httpx.AsyncClient:
    """The simulator's client signing with the right root password."""
    return _SIGNED[sim]


def plain(sim: Simulator) -> httpx.AsyncClient:
    """The simulator's client that sends no auth header."""
    return _PLAIN[sim]


async def get_json(sim: Simulator, path: str, base_url: str | None = None) -> dict[str, Any]:
    """GET `path` (of cluster 0, or of the agent at `base_url`) signed; the JSON body."""
    response = await signed(sim).get(f"{base_url}{path}" if base_url else path)
    document: dict[str, Any] = response.json()
    assert document["status"] == response.status_code
    return document


def ocp_client(
    sim: Simulator, signed: bool = False, secret: str | None = None
) -> httpx.AsyncClient:
    """A client of the simulated OCP: basic auth, or the AccessKey signature (`signed`)."""
    account = sim.ocp.account
    auth: Auth
    if signed:
        key = secret or account.access_key_secret
        auth = OcpSignatureAuth(account.access_key_id, lambda: key)
    else:
        password = secret or account.password
        auth = OcpBasicAuth(account.username, lambda: password)
    return httpx.AsyncClient(base_url=sim.ocp_url, auth=AsHttpxAuth(auth))


def cloud_client(sim: Simulator, secret: str | None = None, **headers: str) -> httpx.AsyncClient:
    """A client of the simulated Cloud API, signing with the digest auth."""
    key = secret or sim.cloud.account.access_key_secret
    auth = CloudDigestAuth(sim.cloud.account.access_key_id, lambda: key)
    return httpx.AsyncClient(base_url=sim.cloud_url, auth=AsHttpxAuth(auth), headers=headers)
