"""OceanBase Cloud's HTTP Digest auth, checked for real: MD5, RFC 7616 (qop=auth) or RFC 2069.

A request without valid credentials gets a 401 with a fresh challenge (`realm`, `nonce`,
`opaque`, `qop="auth"`, `algorithm=MD5`; with `qop` off, the RFC 2069 form without `qop`,
which the public Ruby client of the real service answers). With `qop`, a nonce count sent
twice for one nonce is refused as a replay. A valid answer to a nonce older than
`nonce_lifetime` gets a new challenge with `stale=true`, which clients answer without asking
the user again. The challenge's parameters are what clients that work against the real
service expect: github.com/oceanbase/terraform-provider-oceanbase (`internal/api/
api_generator.go`, with icholy/digest) and github.com/sc-source/fluent-plugin-oceanbase-logs
(`lib/fluent/plugin/in_oceanbase_logs.rb`). Plain values in, so test servers can use the same
checks.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import Enum
from urllib.request import parse_http_list, parse_keqv_list

REALM = "OceanBase Cloud OpenAPI"
NONCE_LIFETIME_SECONDS = 300.0


@dataclass
class CloudAccount:
    """Who may call the simulated Cloud API: an AccessKey pair, and the project it owns.

    With `project_id` set, a request naming another project in `X-Ob-Project-Id` is refused;
    one naming none uses the default project, as the real API does.
    """

    access_key_id: str = "cloud-access-key-id"
    access_key_secret: str = "cloud-access-key-secret"  # noqa: S105 - the simulator's demo key
    project_id: str | None = None


class Verdict(Enum):
    """The outcome of checking an `Authorization` header."""

    OK = "ok"
    STALE = "stale"  # right credentials, expired nonce: challenge again with stale=true
    DENIED = "denied"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the digest scheme's own hash


@dataclass
class DigestGuard:
    """Issues challenges and checks answers; remembers the nonces it issued, and when."""

    nonce_lifetime: float = NONCE_LIFETIME_SECONDS
    opaque: str = field(default_factory=lambda: secrets.token_hex(16))
    qop: bool = True  # False: RFC 2069 challenges and answers (no qop, nc, cnonce)
    _nonces: dict[str, float] = field(default_factory=dict)
    _counts: dict[str, set[str]] = field(default_factory=dict)  # nonce -> nc values seen

    def challenge(self, now: float, stale: bool = False) -> str:
        """A `WWW-Authenticate` value with a new nonce."""
        self._nonces = {n: t for n, t in self._nonces.items() if now - t <= self.nonce_lifetime}
        self._counts = {n: c for n, c in self._counts.items() if n in self._nonces}
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = now
        parts = [f'realm="{REALM}"']
        if self.qop:
            parts.append('qop="auth"')
        parts += [f'nonce="{nonce}"', f'opaque="{self.opaque}"', "algorithm=MD5"]
        if stale:
            parts.append("stale=true")
        return "Digest " + ", ".join(parts)

    def check(
        self, account: CloudAccount, method: str, target: str, authorization: str, now: float
    ) -> Verdict:
        """Check an `Authorization` header against the request target (path and query)."""
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "digest":
            return Verdict.DENIED
        params = parse_keqv_list(parse_http_list(rest))
        required = ["username", "realm", "nonce", "uri", "response"]
        if self.qop:
            required += ["qop", "nc", "cnonce"]
        if any(key not in params for key in required):
            return Verdict.DENIED
        if params.get("algorithm", "MD5").upper() != "MD5":
            return Verdict.DENIED
        if (params.get("qop") == "auth") != self.qop:
            return Verdict.DENIED
        if params["realm"] != REALM or params.get("opaque") != self.opaque:
            return Verdict.DENIED
        # The digest covers the URI the client names: it must be the one it asked for.
        if params["uri"] != target:
            return Verdict.DENIED
        if not hmac.compare_digest(params["username"].encode(), account.access_key_id.encode()):
            return Verdict.DENIED
        ha1 = _md5(f"{account.access_key_id}:{REALM}:{account.access_key_secret}")
        ha2 = _md5(f"{method}:{params['uri']}")
        if self.qop:
            expected = _md5(
                f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:{params['qop']}:{ha2}"
            )
        else:
            expected = _md5(f"{ha1}:{params['nonce']}:{ha2}")
        if not hmac.compare_digest(expected.encode(), params["response"].encode()):
            return Verdict.DENIED
        issued = self._nonces.get(params["nonce"])
        if issued is None or now - issued > self.nonce_lifetime:
            return Verdict.STALE
        if self.qop:
            seen = self._counts.setdefault(params["nonce"], set())
            if params["nc"] in seen:
                return Verdict.DENIED  # a replayed nonce count
            seen.add(params["nc"])
        return Verdict.OK
