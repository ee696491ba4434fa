"""obshell's password auth ("hybrid encryption") for UpstreamHTTP.

v2 (obshell >= 4.2.3): a JSON header `{"Auth", "Ts", "Uri"}` encrypted with the node's RSA
public key (PKCS#1 v1.5, in chunks of k-11 bytes) goes in `X-OCS-Header` (root@sys password),
or in `X-OCS-Agent-Header` (agent password) where the agent has one: 4.2.6 and later, with
`security: true` in `/api/v1/info`. v1 (obshell 4.2.2): `X-OCS-Auth` with `{"password", "ts"}`
in one block. The key and the scheme are learned per node from the unauthenticated
`/api/v1/secret` and `/api/v1/info`, and learned again when the agent's version changes or it
says it cannot decrypt our header (its key changes on a re-deploy, and once on the upgrade to
4.4.2). Before 4.3.1 "cannot decrypt" is the same 401 (code 10008) as a wrong password: only
fetching the key again tells them apart.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Literal, TypeVar

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key
from yarl import URL

from exporter.logs import fields
from exporter.sources.envelope import decode, json_or_none, parametrized
from exporter.sources.errors import PollError
from exporter.sources.http import Fetch, Response
from exporter.sources.obshell.models import AgentSecret, AgentStatus, Envelope
from exporter.sources.obshell.routes import INFO as INFO_PATH
from exporter.sources.obshell.routes import SECRET as SECRET_PATH

# Routes obshell serves without auth; a stale header on them would only earn a 401.
UNAUTHENTICATED_PATHS = frozenset({INFO_PATH, SECRET_PATH, "/api/v1/status", "/api/v1/time"})
# The SDKs use 60 s; obshell only checks that the expiry has not passed when it receives
# the request, so this is also our tolerance for a client clock behind the server's.
HEADER_LIFETIME_SECONDS = 60
DECRYPT_FAILED_CODE = 1  # sent beside the errCode from 4.4.2
DECRYPT_FAILED_ERR_CODE = "Security.Authentication.Header.DecryptFailed"
# Before 4.3.1 every auth failure, an undecryptable header included, is 401 with this code.
UNAUTHORIZED_CODE = 10008
AGENT_HEADER_SINCE = (4, 2, 6)  # X-OCS-Agent-Header and `security` in /api/v1/info
ERR_CODES_SINCE = (4, 3, 1)  # string errCodes, and a decrypt failure of its own
# obshell's smallest key (before 4.4.2); it also bounds what a hostile /secret can make us use.
MIN_KEY_BITS = 512

AuthScheme = Literal["v1", "v2"]
_M = TypeVar("_M", AgentStatus, AgentSecret)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NodeKey:
    """What we learned from one obshell node: its key, its scheme, and what decided them."""

    public_key: rsa.RSAPublicKey
    scheme: AuthScheme
    version: str = ""
    agent_header: bool = False  # the agent checks X-OCS-Agent-Header (see takes_agent_password)


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


def version_tuple(version: str) -> tuple[int, ...]:
    """`"4.2.6.0-100000"` as (4, 2, 6, 0), to compare; () when it starts with no number."""
    parts: list[int] = []
    for part in version.split("-", 1)[0].split("."):
        if not part.isdigit():
            break
        parts.append(int(part))
    return tuple(parts)


def takes_agent_password(status: AgentStatus) -> bool:
    """Whether the agent checks `X-OCS-Agent-Header`: from 4.2.6, and only once it has an agent
    password (`security: true`); without one it refuses the header with WithOceanBasePassword,
    and before 4.2.6 it ignores it (401 code 10008, as for a request without any header)."""
    return status.security is True and version_tuple(status.version) >= AGENT_HEADER_SINCE


# The key each request was signed with, for `retry`: UpstreamHTTP signs, sends and asks for a
# retry within one asyncio task, and concurrent requests run in tasks of their own, so a
# request that raced a key refresh is still compared with the key it really used.
_SIGNED_WITH: ContextVar[tuple[str, NodeKey] | None] = ContextVar("signed_with", default=None)


class HybridAuth:
    """Signs every authenticated request for one target (one or more nodes of a cluster).

    Passwords come from callables so that a rotated `*_file` secret is picked up without a
    restart; they are read per request and never stored here. `password` None means none was
    configured: an empty root password, unless an agent password was given instead.
    """

    def __init__(
        self,
        password: Callable[[], str] | None,
        agent_password: Callable[[], str] | None = None,
        lifetime: int = HEADER_LIFETIME_SECONDS,
    ) -> None:
        self._password = password
        self._agent_password = agent_password
        self._lifetime = lifetime
        self._keys: dict[str, NodeKey] = {}

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
            both = self._agent_password is not None and self._password is not None
            if both and not key.agent_header:
                log.info(
                    "obshell takes no agent password; signing with the root one",
                    extra=fields(agent=origin, version=key.version),
                )
        _SIGNED_WITH.set((origin, key))
        return self._sign(url, key)

    async def retry(self, url: URL, response: Response, fetch: Fetch) -> bool:
        """Learn from every answer; sign again when the node's key turns out to have changed.

        `/api/v1/info` (each poll asks it first) tells a new version: its key is dropped. A
        4.3.1+ agent says it cannot decrypt the header: its key is learned again. An older one
        answers 401 code 10008 as for a wrong password: its key is fetched again, and only a
        different key is worth a second attempt (the same key means the agent read the
        password, and each wrong one costs it a MySQL login).
        """
        prefix, api_path = _split_agent_path(url.raw_path)
        if api_path == INFO_PATH:
            self._notice_info(_origin(url, prefix), response)
            return False
        if api_path in UNAUTHENTICATED_PATHS or response.status != 401:
            return False  # both failures below are 401s: most answers stop here
        origin = _origin(url, prefix)
        if _is_decrypt_failure(response):
            self._keys.pop(origin, None)
            return True
        signed = _SIGNED_WITH.get()
        if signed is None or signed[0] != origin:
            return False
        used = signed[1]
        if not _is_legacy_unauthorized(response, used):
            return False
        secret = await fetch(url.origin().with_path(prefix + SECRET_PATH, encoded=True))
        public_key = _public_key(_data(secret, SECRET_PATH, AgentSecret))
        if public_key.public_numbers() == used.public_key.public_numbers():
            return False
        log.info(
            "obshell's key has changed; signing again with the new one", extra=fields(agent=origin)
        )
        self._keys[origin] = replace(used, public_key=public_key)
        return True

    def _notice_info(self, origin: str, response: Response) -> None:
        """Drop the node's key when `/api/v1/info` shows another agent version or password."""
        key = self._keys.get(origin)
        if key is None:
            return
        try:
            status = _data(response, INFO_PATH, AgentStatus)
        except PollError:
            return  # the caller reports a bad answer; the key stays until one is readable
        if status.version != key.version or takes_agent_password(status) != key.agent_header:
            del self._keys[origin]

    def _sign(self, url: URL, key: NodeKey) -> dict[str, str]:
        expiry = int(time.time()) + self._lifetime
        agent_password = self._agent_password
        if agent_password is not None and not key.agent_header and self._password is None:
            raise PollError("auth", "", _no_agent_password(key))
        root_password = self._password() if self._password is not None else ""
        if key.scheme == "v1":
            payload = json.dumps({"password": root_password, "ts": expiry})
            return {"X-OCS-Auth": rsa_encrypt_chunked(key.public_key, payload.encode())}
        header_name, secret = "X-OCS-Header", root_password
        if agent_password is not None and key.agent_header:
            header_name, secret = "X-OCS-Agent-Header", agent_password()
        # What json.dumps writes for this dict, at a fraction of its cost.
        payload = (
            f'{{"Auth": {_json_string(secret)}, "Ts": "{expiry}",'
            f' "Uri": {_json_string(url.raw_path_qs)}}}'
        )
        return {header_name: rsa_encrypt_chunked(key.public_key, payload.encode())}


_json_string: Callable[[str], str] = json.encoder.encode_basestring_ascii


def _no_agent_password(key: NodeKey) -> str:
    """Why only an agent password cannot sign in here, and what to configure instead."""
    version = key.version or "of unknown version"
    if version_tuple(key.version) < AGENT_HEADER_SINCE:
        why = f"obshell {version} has no agent password (agent passwords came with 4.2.6)"
    else:
        why = f"obshell {version} has no agent password set (/api/v1/info: security false)"
    return f"{why}: configure `password` (or `password_file`), the root@sys password"


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
    return NodeKey(
        public_key=_public_key(_data(secret, SECRET_PATH, AgentSecret)),
        scheme=choose_scheme(status),
        version=status.version,
        agent_header=takes_agent_password(status),
    )


def _public_key(agent_secret: AgentSecret) -> rsa.RSAPublicKey:
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
    return public_key


def _data(response: Response, route: str, model: type[_M]) -> _M:
    envelope: Envelope[_M] | None = decode(route, response, parametrized(Envelope, model), _ok)
    assert envelope is not None and envelope.data is not None  # decode's promise
    return envelope.data


def _ok(route: str, status: int, body: object) -> bool:
    if status != 200:
        raise PollError("http_status", route, f"HTTP {status}")
    return False


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


def _is_legacy_unauthorized(response: Response, key: NodeKey) -> bool:
    """A 401 code 10008 from an agent before 4.3.1: a wrong password or a key it lacks."""
    if response.status != 401 or version_tuple(key.version) >= ERR_CODES_SINCE:
        return False
    document = json_or_none(response.body)
    error = document.get("error") if isinstance(document, dict) else None
    return isinstance(error, dict) and error.get("code") == UNAUTHORIZED_CODE
