"""OceanBase Cloud's HTTP Digest auth (MD5): the AccessKey id and secret.

Cloud does not document its challenge: a public client that works against it answers the
RFC 2069 form (no `qop`), a digest library the RFC 7616 one (`qop="auth"`). Both are
answered: with `qop=auth`, a nonce count and a client nonce; without, the older response.

The last challenge is remembered, so most requests go out signed at once (with the next nonce
count) instead of costing a 401 round trip; concurrent requests that share the nonce each take
their own count, so no count is ever sent twice for one nonce (a server may refuse a replayed
one). A 401 with a new challenge (a stale nonce, say) is answered once.

The secret is read on every request and the remembered challenge dropped when
it changed: a rotated `access_key_secret_file` needs no restart (one that cannot be read raises
SecretFileError, which UpstreamHTTP reports as reason `auth`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.request import parse_http_list, parse_keqv_list

from yarl import URL

from exporter.sources.errors import PollError, shown
from exporter.sources.http import Fetch, Response


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()  # noqa: S324 - the digest scheme's own hash


@dataclass(frozen=True)
class Challenge:
    """The parts of a `WWW-Authenticate: Digest ...` challenge an answer needs."""

    realm: str
    nonce: str
    opaque: str | None
    qop: bool  # RFC 7616 `qop=auth`; False: RFC 2069, no qop offered


def parse_challenge(header: str) -> Challenge | None:
    """The Digest challenge in `header`; None when it is no Digest challenge.

    Raises PollError (reason `auth`) for one we cannot answer: malformed, or asking for
    another algorithm than MD5, or offering qop values none of which is `auth`.
    """
    scheme, _, rest = header.partition(" ")
    if scheme.lower() != "digest":
        return None
    fields = {k.lower(): v for k, v in parse_keqv_list(parse_http_list(rest)).items()}
    if "realm" not in fields or "nonce" not in fields:
        raise PollError("auth", "", "malformed Digest challenge: no realm or nonce")
    algorithm = fields.get("algorithm", "MD5")
    offered = "qop" in fields
    qop = [q.strip().lower() for q in fields.get("qop", "").split(",")]
    if algorithm.upper() != "MD5" or (offered and "auth" not in qop):
        wanted = f"algorithm={shown(algorithm)} qop={shown(fields.get('qop'))}"
        raise PollError("auth", "", f"unsupported Digest challenge ({wanted}), not MD5")
    return Challenge(fields["realm"], fields["nonce"], fields.get("opaque"), qop=offered)


class CloudDigestAuth:
    """Digest auth with the AccessKey id as user name and its secret as password."""

    def __init__(self, access_key_id: str, access_key_secret: Callable[[], str]) -> None:
        self._access_key_id = access_key_id
        self._read_secret = access_key_secret
        self._secret = ""
        self._challenge: Challenge | None = None
        self._nonce_count = 0
        self._counted_nonce = ""  # the nonce `_nonce_count` counts for

    async def headers(self, method: str, url: URL, fetch: Fetch) -> Mapping[str, str]:
        """The answer to the last challenge, or nothing before the first (or a new secret)."""
        secret = self._read_secret()
        if secret != self._secret:
            self._secret = secret
            self._challenge = None
        challenge = self._challenge
        if challenge is None:
            return {}
        uri = url.raw_path_qs
        ha1 = _md5(f"{self._access_key_id}:{challenge.realm}:{secret}")
        ha2 = _md5(f"{method}:{uri}")
        if challenge.qop:
            # Taken before any await: each concurrent request gets its own count.
            self._nonce_count += 1
            nc = f"{self._nonce_count:08x}"
            cnonce = secrets.token_hex(8)
            answer = _md5(f"{ha1}:{challenge.nonce}:{nc}:{cnonce}:auth:{ha2}")
        else:
            answer = _md5(f"{ha1}:{challenge.nonce}:{ha2}")  # RFC 2069
        parts = [
            f'username="{self._access_key_id}"',
            f'realm="{challenge.realm}"',
            f'nonce="{challenge.nonce}"',
            f'uri="{uri}"',
            f'response="{answer}"',
            "algorithm=MD5",
        ]
        if challenge.opaque is not None:
            parts.append(f'opaque="{challenge.opaque}"')
        if challenge.qop:
            parts += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        return {"Authorization": "Digest " + ", ".join(parts)}

    async def retry(self, url: URL, response: Response, fetch: Fetch) -> bool:
        """On a 401 with a Digest challenge, remember it and answer it."""
        if response.status != 401:
            return False
        challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if challenge is None:
            return False
        self._challenge = challenge
        # Counting starts again only for a new nonce: a server that repeats its nonce (a
        # time-based one, or several requests refused at once) must not see a count twice.
        if challenge.nonce != self._counted_nonce:
            self._counted_nonce = challenge.nonce
            self._nonce_count = 0
        return True
