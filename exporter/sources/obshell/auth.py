"""obshell's password auth ("hybrid encryption") for UpstreamHTTP.

v2 (obshell >= 4.2.3): a JSON header `{"Auth", "Ts", "Uri"}` encrypted with the node's RSA
public key (PKCS#1 v1.5, in chunks of k-11 bytes) goes in `X-OCS-Header`, or in
`X-OCS-Agent-Header` when an agent password is configured. v1 (obshell 4.2.2): `X-OCS-Auth`
with `{"password", "ts"}` in one block. The key and the scheme are learned per node from the
unauthenticated `/api/v1/secret` and `/api/v1/info`, and learned again when the node says it
cannot decrypt our header (its key changes once when it is upgraded to 4.4.2).
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from pydantic import ValidationError
from yarl import URL

from exporter.sources.base import json_or_none, parametrized
from exporter.sources.errors import PollError, shape_problem
from exporter.sources.http import Fetch, Response
from exporter.sources.obshell.models import AgentSecret, AgentStatus, Envelope

INFO_PATH = "/api/v1/info"
SECRET_PATH = "/api/v1/secret"  # noqa: S105 - a route, not a password
# Routes obshell serves without auth; a stale header on them would only earn a 401.
UNAUTHENTICATED_PATHS = frozenset({INFO_PATH, SECRET_PATH, "/api/v1/status", "/api/v1/time"})
# The SDKs use 60 s; obshell only checks that the expiry has not passed when it receives
# the request, so this is also our tolerance for a client clock behind the server's.
HEADER_LIFETIME_SECONDS = 60
DECRYPT_FAILED_CODE = 1
DECRYPT_FAILED_ERR_CODE = "Security.Authentication.Header.DecryptFailed"
# obshell's smallest key (before 4.4.2); it also bounds what a hostile /secret can make us use.
MIN_KEY_BITS = 512

AuthScheme = Literal["v1", "v2"]
_M = TypeVar("_M", AgentStatus, AgentSecret)


@dataclass(frozen=True)
class NodeKey:
    """What we learned from one obshell node: its public key and the scheme it speaks."""

    public_key: rsa.RSAPublicKey
    scheme: AuthScheme

    @property
    def chunk_size(self) -> int:
        """Largest plaintext block PKCS#1 v1.5 can encrypt with this key."""
        return self.public_key.key_size // 8 - 11


def rsa_encrypt_chunked(public_key: rsa.RSAPublicKey, plaintext: bytes) -> str:
    """Encrypt `plaintext` the way obshell decrypts it: PKCS#1 v1.5 per k-11 byte block."""
    step = public_key.key_size // 8 - 11
    blocks = (
        public_key.encrypt(plaintext[i : i + step], padding.PKCS1v15())
        for i in range(0, len(plaintext), step)
    )
    return base64.b64encode(b"".join(blocks)).decode("ascii")


def choose_scheme(status: AgentStatus) -> AuthScheme:
    """Pick the auth scheme: `supportedAuth` when the agent lists it (4.2.5+), else by version."""
    if status.supportedAuth:
        return "v2" if "v2" in status.supportedAuth else "v1"
    return "v1" if status.version.startswith("4.2.2") else "v2"


class HybridAuth:
    """Signs every authenticated request for one target (one or more nodes of a cluster).

    Passwords come from callables so that a rotated `*_file` secret is picked up without a
    restart; they are read per request and never stored here.
    """

    def __init__(
        self,
        password: Callable[[], str],
        agent_password: Callable[[], str] | None = None,
        lifetime: int = HEADER_LIFETIME_SECONDS,
    ) -> None:
        self._password = password
        self._agent_password = agent_password
        self._lifetime = lifetime
        self._keys: dict[str, NodeKey] = {}

    def forget_keys(self) -> None:
        """Drop every cached key, e.g. after the agent reported a new version."""
        self._keys.clear()

    async def headers(self, method: str, url: URL, fetch: Fetch) -> Mapping[str, str]:
        """The encrypted header, learning the node's key and scheme first if need be."""
        prefix, api_path = _split_agent_path(url.raw_path)
        if api_path in UNAUTHENTICATED_PATHS:
            return {}
        origin = _origin(url, prefix)
        key = self._keys.get(origin)
        if key is None:
            base = url.origin()
            info = await fetch(base.with_path(prefix + INFO_PATH, encoded=True))
            secret = await fetch(base.with_path(prefix + SECRET_PATH, encoded=True))
            key = self._keys[origin] = _learn_key(info, secret)
        return self._sign(url, key)

    def retry(self, url: URL, response: Response) -> bool:
        """On a decrypt failure (the node's key changed), forget its key and sign again."""
        if not _is_decrypt_failure(response):
            return False
        self._keys.pop(_origin(url, _split_agent_path(url.raw_path)[0]), None)
        return True

    def _sign(self, url: URL, key: NodeKey) -> dict[str, str]:
        expiry = int(time.time()) + self._lifetime
        if key.scheme == "v1":
            payload = json.dumps({"password": self._password(), "ts": expiry})
            return {"X-OCS-Auth": rsa_encrypt_chunked(key.public_key, payload.encode())}
        header_name = "X-OCS-Header"
        secret = self._password()
        if self._agent_password is not None:
            header_name = "X-OCS-Agent-Header"
            secret = self._agent_password()
        payload = json.dumps({"Auth": secret, "Ts": str(expiry), "Uri": url.raw_path_qs})
        return {header_name: rsa_encrypt_chunked(key.public_key, payload.encode())}


def _split_agent_path(path: str) -> tuple[str, str]:
    """Split `/prefix/api/v1/x` into the agent's base path and the API path.

    An agent normally sits at the root; a base path lets one reverse proxy (or our simulator)
    front many agents, each with its own key.
    """
    index = path.find("/api/v1/")
    if index <= 0:
        return "", path
    return path[:index], path[index:]


def _origin(url: URL, prefix: str) -> str:
    """The key cache's key: one agent, even when several sit behind one host and port."""
    return f"{url.scheme}://{url.host_port_subcomponent}{prefix}"


def _learn_key(info: Response, secret: Response) -> NodeKey:
    status = _data(info, INFO_PATH, AgentStatus)
    agent_secret = _data(secret, SECRET_PATH, AgentSecret)
    try:
        public_key = load_der_public_key(base64.b64decode(agent_secret.public_key, validate=True))
    except (ValueError, UnsupportedAlgorithm) as exc:
        message = f"public key is not base64 PKCS#1 DER: {exc}"
        raise PollError("decode", SECRET_PATH, message) from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise PollError("decode", SECRET_PATH, "public key is not an RSA key")
    if public_key.key_size < MIN_KEY_BITS:
        # A smaller key would not hide the password (and below 96 bits cannot even hold a block).
        bits = public_key.key_size
        message = f"public key of {bits} bits is weaker than obshell's {MIN_KEY_BITS}"
        raise PollError("decode", SECRET_PATH, message)
    return NodeKey(public_key=public_key, scheme=choose_scheme(status))


def _data(response: Response, route: str, model: type[_M]) -> _M:
    if response.status != 200:
        raise PollError("http_status", route, f"HTTP {response.status}")
    document = json_or_none(response.body)
    if not isinstance(document, dict):
        raise PollError("decode", route, "response is not a JSON object")
    try:
        envelope: Envelope[_M] = parametrized(Envelope, model).model_validate(document)
    except ValidationError as exc:
        raise PollError("decode", route, shape_problem(exc)) from exc
    if envelope.data is None:
        raise PollError("decode", route, "response has no data")
    return envelope.data


def _is_decrypt_failure(response: Response) -> bool:
    if response.status != 401:
        return False
    document = json_or_none(response.body)
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, dict):
        return False
    return bool(
        error.get("code") == DECRYPT_FAILED_CODE or error.get("errCode") == DECRYPT_FAILED_ERR_CODE
    )
