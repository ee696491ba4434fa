"""A scriptable obshell agent on pytest-httpserver that enforces the hybrid encryption.

Unlike the simulator (whose state evolves by itself), this stub answers exactly the bodies a
test sets, so a test can pin the seed documents' examples and every error shape.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

UNAUTHENTICATED = {"/api/v1/info", "/api/v1/secret", "/api/v1/status", "/api/v1/time"}


def envelope(data: Any, status: int = 200) -> dict[str, Any]:
    """A success envelope as obshell writes it."""
    return {
        "successful": status < 300,
        "timestamp": "2024-10-12T18:12:51.179120149+08:00",
        "duration": 3,
        "status": status,
        "traceId": "1868835c2071a85a",
        "data": data,
    }


def error(
    status: int, err_code: str | None, message: str, code: int | None = None, data_key: bool = False
) -> dict[str, Any]:
    """An error envelope (>= 4.3.1 with errCode, older with a numeric code only)."""
    body: dict[str, Any] = {
        "successful": False,
        "timestamp": "2024-10-12T18:12:51+08:00",
        "status": status,
        "traceId": "00",
    }
    err: dict[str, Any] = {"message": message}
    if err_code:
        err["errCode"] = err_code
    if code:
        err["code"] = code
    body["error"] = err
    if data_key:
        body["data"] = None
    return body


@dataclass
class ObshellStub:
    """Routes (raw path without query -> (status, body)), auth settings and what was seen."""

    server: HTTPServer
    password: str = "root-pass"
    agent_password: str | None = None
    version: str = "4.3.2.0"
    supported_auth: list[str] | None = field(default_factory=lambda: ["v2"])
    key: rsa.RSAPrivateKey = field(default_factory=lambda: rsa.generate_private_key(65537, 1024))
    routes: dict[str, tuple[int, Any]] = field(default_factory=dict)
    # The answer to routes not in `routes` (default: the unknown-route 404 of 4.3.1+).
    unknown: tuple[int, Any] | None = None
    seen: list[str] = field(default_factory=list)
    auth_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    @property
    def url(self) -> str:
        """Base URL of the agent."""
        return self.server.url_for("").rstrip("/")

    def set(self, path: str, data: Any, status: int = 200) -> None:
        """Answer `path` with a success envelope around `data` (or a raw body for errors)."""
        self.routes[path] = (status, envelope(data) if status == 200 else data)

    def rotate_key(self) -> None:
        """A new key pair, as after an upgrade to 4.4.2: old headers no longer decrypt."""
        self.key = rsa.generate_private_key(65537, 1024)

    def _handle(self, request: Request) -> Response:
        path = request.path
        self.seen.append(request.full_path.rstrip("?"))
        # What the agent says of itself comes from `routes` when a test scripts it.
        if path == "/api/v1/info" and path not in self.routes:
            info: dict[str, Any] = {
                "version": self.version,
                "identity": "CLUSTER AGENT",
                "security": bool(self.agent_password),
            }
            if self.supported_auth is not None:
                info["supportedAuth"] = self.supported_auth
            return _json(200, envelope(info))
        if path == "/api/v1/secret" and path not in self.routes:
            der = self.key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
            return _json(
                200,
                envelope(
                    {"ip": "127.0.0.1", "port": 2886, "public_key": base64.b64encode(der).decode()}
                ),
            )
        if path not in UNAUTHENTICATED:
            problem = self._verify(request)
            if problem is not None:
                self.auth_failures.append(problem[1].get("error", {}).get("errCode", ""))
                return _json(*problem)
        status, body = self.routes.get(
            path,
            self.unknown
            or (404, error(404, "Common.NotFound", "Element not found: 404 not found")),
        )
        if isinstance(body, bytes | str):
            return Response(body, status=status, content_type="text/html")
        wanted = request.args.get("status")
        data = body.get("data") if isinstance(body, dict) else None
        if wanted and isinstance(data, dict) and isinstance(data.get("contents"), list):
            # The list endpoints filter by status server-side, as obshell's SQL does (a fuzzed
            # body may hold anything: items that are no objects are left out).
            keep = [
                c
                for c in data["contents"]
                if isinstance(c, dict) and c.get("status") in wanted.split(",")
            ]
            body = {**body, "data": {**data, "contents": keep}}
            if isinstance(data.get("page"), dict):
                # obshell counts with the same filter: the total is the filtered one.
                body["data"]["page"] = {**data["page"], "total_elements": len(keep)}
        return _json(status, body)

    def _verify(self, request: Request) -> tuple[int, dict[str, Any]] | None:
        if self.version.startswith("4.2.2"):
            return self._verify_v1(request)
        header = request.headers.get("X-OCS-Agent-Header") or request.headers.get("X-OCS-Header")
        if header is None:
            return 400, error(
                400, "Request.Header.NotFound", "X-OCS-Agent-Header or X-OCS-Header not found"
            )
        try:
            fields = {k.lower(): v for k, v in json.loads(self._decrypt(header)).items()}
            ts = fields["ts"]
            if not isinstance(ts, str):
                raise ValueError("Ts is not a string")
        except (ValueError, KeyError):
            return 401, error(
                401, "Security.Authentication.Header.DecryptFailed", "Decrypt http header failed", 1
            )
        raw_uri = request.environ.get("RAW_URI") or request.full_path.rstrip("?")
        if fields.get("uri") != raw_uri:
            return 401, error(
                401, "Security.Authentication.Header.UriMismatch", "URI mismatch", 10008
            )
        if fields.get("auth") and int(time.time()) > int(ts):
            return 401, error(
                401,
                "Security.Authentication.Expired",
                "Unauthorized: Authentication expired",
                10008,
            )
        expected = (
            self.agent_password if request.headers.get("X-OCS-Agent-Header") else self.password
        )
        if fields.get("auth") != expected:
            return 401, error(
                401,
                "Security.Authentication.IncorrectOceanbasePassword",
                "Unauthorized: OceanBase password is incorrect",
                10008,
            )
        return None

    def _verify_v1(self, request: Request) -> tuple[int, dict[str, Any]] | None:
        header = request.headers.get("X-OCS-Auth")
        try:
            fields = json.loads(self._decrypt(header or ""))
        except ValueError:
            return 401, {
                "successful": False,
                "status": 401,
                "error": {"code": 10008, "message": "Verification failed"},
            }
        if fields.get("password") != self.password or int(time.time()) > int(fields["ts"]):
            return 401, {
                "successful": False,
                "status": 401,
                "error": {"code": 10008, "message": "Verification failed"},
            }
        return None

    def _decrypt(self, header: str) -> bytes:
        try:
            raw = base64.b64decode(header, validate=True)
        except ValueError as exc:
            raise ValueError("not base64") from exc
        size = self.key.key_size // 8
        if not raw or len(raw) % size:
            raise ValueError("bad length")
        return b"".join(
            self.key.decrypt(raw[i : i + size], padding.PKCS1v15())
            for i in range(0, len(raw), size)
        )


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
