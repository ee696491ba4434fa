"""`--web.config.file`: TLS and basic auth for our own endpoints, in the format of Prometheus'
exporter-toolkit (github.com/prometheus/exporter-toolkit, docs/web-configuration.md).

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
import re
import secrets
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal

import bcrypt
from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from exporter.yamlfile import YAMLFileError, read_yaml, shown_key

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


# A header value is one line of visible text (RFC 9110 field-value); a name is a token.
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\U0010ffff]*")


def load_web_config(path: Path) -> WebConfig:
    """Read and validate the file, and load its certificate; relative paths are relative to
    its folder. Every problem is one line that never quotes the file (it holds hashes)."""
    try:
        raw = read_yaml(path) or {}
    except YAMLFileError as exc:
        raise WebConfigError([str(exc)]) from None
    try:
        config = WebConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(shown_key(p) for p in e['loc'])}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise WebConfigError(problems) from exc
    problems = []
    for name, value in config.http_server_config.headers.items():
        if not _HEADER_NAME.fullmatch(name):
            problems.append("http_server_config.headers: a header name is not a valid token")
        elif not _HEADER_VALUE.fullmatch(value):
            problems.append(
                f"http_server_config.headers.{name}: must be one line without control characters"
            )
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
        if not problems:
            problems += _tls_problems(tls)
    if problems:
        raise WebConfigError(problems)
    return config


def _tls_problems(config: TLSServerConfig) -> list[str]:
    """Load the certificate, key and client CA once, so that a missing file or a key that does
    not match its certificate stops the start with one line instead of a traceback."""
    files = {"cert_file": config.cert_file, "key_file": config.key_file}
    if config.client_ca_file is not None:
        files["client_ca_file"] = config.client_ca_file
    problems = []
    for key, file in files.items():
        try:
            file.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            problems.append(f"tls_server_config.{key}: cannot read {file}: {reason}")
    if problems:
        return problems
    try:
        _server_context(config)
    except ssl.SSLError as exc:
        # The reason is OpenSSL's, e.g. KEY_VALUES_MISMATCH or NO_START_LINE: no file content.
        reason = exc.reason or type(exc).__name__
        return [f"tls_server_config: cannot use the certificate, key or client CA: {reason}"]
    return []


def _server_context(config: TLSServerConfig) -> ssl.SSLContext:
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
    return context


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
        context = _server_context(self._config)
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


# bcrypt reads at most 72 bytes of a password; bcrypt 5 refuses longer ones with ValueError.
_BCRYPT_MAX_PASSWORD = 72
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def _dummy_hash(hashes: list[str]) -> bytes:
    """A bcrypt hash no password matches, at the highest cost of `hashes`: checking an unknown
    user against it costs what checking a wrong password does, so timing does not tell which
    user names exist."""
    cost = max((int(h[4:6]) for h in hashes if h[4:6].isdigit()), default=10)
    salt = bcrypt.gensalt(min(max(cost, 4), 31))
    return salt + "".join(secrets.choice(_BCRYPT_ALPHABET) for _ in range(31)).encode()


def basic_auth_middleware(users: dict[str, str], headers: dict[str, str]) -> Middleware:
    """Require one of `users` (bcrypt hashes) when any is configured; add `headers`.

    bcrypt is slow on purpose (docs/benchmarks.md has what a check costs): successful checks
    are remembered by a keyed digest of the credentials, so a scrape every few seconds costs no
    bcrypt at all.
    """
    cache_key = secrets.token_bytes(32)
    verified: set[bytes] = set()
    dummy = _dummy_hash(list(users.values()))

    async def allowed(header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return False
        secret = password.encode()
        if len(secret) > _BCRYPT_MAX_PASSWORD:
            return False  # no configured hash can match it (nor does Go's bcrypt accept it)
        digest = hmac.new(cache_key, f"{user}\0{password}".encode(), hashlib.sha256).digest()
        if digest in verified:
            return True
        known = users.get(user)
        hashed = dummy if known is None else known.encode()
        # In a thread: a stream of wrong passwords must not stall scrapes and polls.
        if await asyncio.to_thread(bcrypt.checkpw, secret, hashed) and known is not None:
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
