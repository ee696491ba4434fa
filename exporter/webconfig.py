"""`--web.config.file`: TLS and basic auth for our own endpoints, in the exporter-toolkit format.

Only the keys below are implemented; any other key is an error, never silently ignored, since an
operator who configured e.g. `cipher_suites` expects it to be enforced. The certificate and key
are re-read when their files change, checked at each new TLS connection, so rotating them needs
no restart.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import os
import secrets
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import bcrypt
import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ClientAuth = Literal[
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
]
_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class WebConfigError(Exception):
    """The web config file is unusable; `problems` name each key."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TLSServerConfig(_Strict):
    """`tls_server_config`."""

    cert_file: Path
    key_file: Path
    client_auth_type: ClientAuth = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: Literal["TLS10", "TLS11", "TLS12", "TLS13"] = "TLS12"


class HTTPServerConfig(_Strict):
    """`http_server_config`: extra response headers."""

    headers: dict[str, str] = Field(default_factory=dict)


class WebConfig(_Strict):
    """The whole file."""

    tls_server_config: TLSServerConfig | None = None
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    basic_auth_users: dict[str, str] = Field(default_factory=dict)


def load_web_config(path: Path) -> WebConfig:
    """Read and validate the file; relative paths are relative to its folder."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise WebConfigError([f"{path}: {exc}"]) from exc
    try:
        config = WebConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise WebConfigError(problems) from exc
    problems = []
    for user, hashed in config.basic_auth_users.items():
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")):
            problems.append(f"basic_auth_users.{user}: must be a bcrypt hash")
    tls = config.tls_server_config
    if tls is not None:
        base = path.parent
        tls = tls.model_copy(
            update={
                "cert_file": base / tls.cert_file,
                "key_file": base / tls.key_file,
                "client_ca_file": base / tls.client_ca_file if tls.client_ca_file else None,
            }
        )
        needs_ca = tls.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
        if needs_ca and tls.client_ca_file is None:
            problems.append(f"tls_server_config.client_ca_file: required by {tls.client_auth_type}")
        config = config.model_copy(update={"tls_server_config": tls})
    if problems:
        raise WebConfigError(problems)
    return config


class RotatingTLS:
    """An SSL context whose certificate is reloaded when its files change."""

    def __init__(self, config: TLSServerConfig) -> None:
        self._config = config
        self._stamp: tuple[float, float] | None = None
        self._current = self._build()
        self.context = self._build()
        # The listening context only dispatches: each handshake gets the freshest context.
        self.context.sni_callback = self._on_handshake

    def _files_stamp(self) -> tuple[float, float]:
        return (os.stat(self._config.cert_file).st_mtime, os.stat(self._config.key_file).st_mtime)

    def _build(self) -> ssl.SSLContext:
        config = self._config
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = _TLS_VERSIONS[config.min_version]
        context.load_cert_chain(str(config.cert_file), str(config.key_file))
        if config.client_ca_file is not None:
            context.load_verify_locations(str(config.client_ca_file))
        context.verify_mode = {
            "NoClientCert": ssl.CERT_NONE,
            "RequestClientCert": ssl.CERT_OPTIONAL,
            "RequireAnyClientCert": ssl.CERT_REQUIRED,
            "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
            "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
        }[config.client_auth_type]
        self._stamp = self._files_stamp()
        return context

    def _on_handshake(
        self, connection: ssl.SSLObject, _server_name: str | None, _context: ssl.SSLContext
    ) -> None:
        try:
            if self._files_stamp() != self._stamp:
                self._current = self._build()
        except (OSError, ssl.SSLError):
            pass  # keep serving the last good certificate while a rotation is half-written
        connection.context = self._current


def basic_auth_middleware(users: dict[str, str], headers: dict[str, str]) -> Middleware:
    """Require one of `users` (bcrypt hashes) when any is configured; add `headers`.

    bcrypt is slow on purpose (~60 ms a check): successful checks are remembered by a keyed
    digest of the credentials, so a scrape every few seconds costs no bcrypt at all.
    """
    cache_key = secrets.token_bytes(32)
    verified: set[bytes] = set()

    async def allowed(header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        hashed = users.get(user)
        if hashed is None:
            return False
        digest = hmac.new(cache_key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in verified:
            return True
        # In a thread: a stream of wrong passwords must not stall scrapes and polls.
        if await asyncio.to_thread(bcrypt.checkpw, password.encode(), hashed.encode()):
            verified.add(digest)
            return True
        return False

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if users and not await allowed(request.headers.get("Authorization", "")):
            response: web.StreamResponse = web.Response(
                status=401,
                text="Unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="oceanbase-backup-exporter"'},
            )
        else:
            response = await handler(request)
        for name, value in headers.items():
            response.headers[name] = value
        return response

    return middleware
