"""Server side of obshell's hybrid encryption: what `HeaderDecrypt`, `BodyDecrypt` and `Verify` do.

v2 (4.2.3+): `X-OCS-Agent-Header` (preferred, read from 4.2.6 only) or `X-OCS-Header` holds
base64 of the JSON header `{Auth, Ts, Uri, Keys}` encrypted with the agent's RSA key in key-size
blocks (PKCS#1 v1.5). Go's encoding/json matches keys case-insensitively (the SDK sends `auth`,
our exporter `Auth`), the last duplicate wins, and `Ts` must be a JSON string. A header is
decrypted on every route; only protected routes require one. v1 (4.2.2): `X-OCS-Auth`, JSON
`{password, ts}`. The errors each version answers are in errors.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from simulator.obshell import errors, versions
from simulator.obshell.errors import ObshellError
from simulator.world import Cluster

OCS_HEADER = "X-OCS-Header"
OCS_AGENT_HEADER = "X-OCS-Agent-Header"
OCS_AUTH_V1 = "X-OCS-Auth"
_GO_FIELDS = {"auth": "Auth", "ts": "Ts", "uri": "Uri", "keys": "Keys"}
_JSON_KINDS = {bool: "bool", int: "number", float: "number", list: "array", dict: "object"}
_INTEGER = re.compile(r"[+-]?\d+")


class HeaderError(ValueError):
    """The header could not be decoded; the message mimics the Go error obshell reports."""


@dataclass(frozen=True)
class HttpHeader:
    """The decrypted `secure.HttpHeader` fields obshell's password check uses."""

    auth: str
    ts: str
    uri: str
    keys: bytes


def authenticate(
    cluster: Cluster,
    headers: Mapping[str, str],
    target: str,
    body: bytes,
    protected: bool,
    received: int,
) -> ObshellError | None:
    """Check one request as the agent of `cluster` would; None means it may proceed.

    `target` is the raw request target (path and query as sent), `received` the host's Unix
    time when the request arrived: clients sign `Ts` with their real clocks.
    """
    version = cluster.version
    if not versions.speaks_v2(version):
        return _authenticate_v1(cluster, headers, received) if protected else None
    # Before 4.2.6 the agent header does not exist: it is not even decrypted.
    if versions.at_least(version, versions.AGENT_PASSWORD_SINCE):
        agent_value = headers.get(OCS_AGENT_HEADER, "")
    else:
        agent_value = ""
    value = agent_value or headers.get(OCS_HEADER, "")
    header = None
    if value:
        try:
            header = decode_header(cluster, value)
        except HeaderError as exc:
            return errors.decrypt_failed(str(exc), version)
    if header is not None and body:
        failure = _check_body(header.keys, body, version)
        if failure is not None:
            return failure
    if not protected:
        return None
    if header is None:
        return errors.header_not_found(version)
    if header.uri != target:
        return errors.uri_mismatch(version)
    if agent_value:
        if cluster.agent_password is None:
            return errors.agent_password_not_set(version)
        wrong = errors.incorrect_agent_password(version)
        return _verify(header, cluster.agent_password, received, wrong, version)
    return _verify(header, cluster.password, received, errors.incorrect_password(version), version)


def decode_header(cluster: Cluster, value: str) -> HttpHeader:
    """Base64-decode, RSA-decrypt and parse a v2 header like Go's `secure.DecryptHeader`."""
    fields = _decrypt_json(cluster, value)
    strings: dict[str, str] = {"auth": "", "ts": "", "uri": "", "keys": ""}
    for key, item in fields:
        folded = key.lower()
        if folded not in strings:
            continue
        if item is None:
            strings[folded] = ""
        elif isinstance(item, str):
            strings[folded] = item
        else:
            kind = _JSON_KINDS.get(type(item), "value")
            raise HeaderError(
                f"json: cannot unmarshal {kind} into Go struct field "
                f"HttpHeader.{_GO_FIELDS[folded]} of type string"
            )
    try:
        keys = base64.b64decode(strings["keys"], validate=True)
    except binascii.Error as exc:
        raise HeaderError(f"illegal base64 data in Keys: {exc}") from exc
    return HttpHeader(strings["auth"], strings["ts"], strings["uri"], keys)


def _decrypt_json(cluster: Cluster, value: str) -> list[tuple[str, Any]]:
    try:
        ciphertext = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        raise HeaderError(f"illegal base64 data: {exc}") from exc
    try:
        plaintext = cluster.key.decrypt(ciphertext)
    except ValueError as exc:
        raise HeaderError(str(exc)) from exc
    pairs: list[list[tuple[str, Any]]] = []

    def keep_pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        pairs.append(items)
        return dict(items)

    try:
        document = json.loads(plaintext, object_pairs_hook=keep_pairs)
    except ValueError as exc:
        raise HeaderError("invalid character looking for beginning of value") from exc
    if not isinstance(document, dict):
        raise HeaderError("json: cannot unmarshal non-object into Go value of type HttpHeader")
    # The outermost object is the last one the hook saw.
    return pairs[-1]


def _verify(
    header: HttpHeader, expected: str, received: int, wrong: ObshellError, version: str
) -> ObshellError | None:
    if header.auth:
        if not _INTEGER.fullmatch(header.ts):
            return errors.timestamp_invalid(header.ts, version)
        if received > int(header.ts):
            return errors.expired(version)
    return None if header.auth == expected else wrong


def _check_body(keys: bytes, body: bytes, version: str) -> ObshellError | None:
    if not keys:
        return errors.body_error(
            "Request.Body.Decrypt.AES.NoKey", "No key for AES", version=version
        )
    if len(keys) != 32:
        return errors.body_error(
            "Request.Body.Decrypt.AES.KeyAndIv.Invalid",
            "AES key and IV size error",
            version=version,
        )
    try:
        ciphertext = base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        message = f"illegal base64 data: {exc}"
        return errors.body_error("Common.Unauthorized", message, status=401, version=version)
    if len(ciphertext) % 16:
        return errors.body_error(
            "Request.Body.Decrypt.AES.ContentLength.Invalid",
            "Decrypted string length is not a multiple of the block size",
            version=version,
        )
    decryptor = Cipher(algorithms.AES(keys[:16]), modes.CBC(keys[16:])).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        unpadder.update(decryptor.update(ciphertext) + decryptor.finalize())
        unpadder.finalize()
    except ValueError:
        # obshell slices with the pad byte unchecked and panics: a 500 from the recovery handler.
        return errors.unexpected()
    return None


def _authenticate_v1(
    cluster: Cluster, headers: Mapping[str, str], received: int
) -> ObshellError | None:
    value = headers.get(OCS_AUTH_V1, "")
    failure = errors.incorrect_password(cluster.version)  # rendered as a 401 code 10008
    if not value:
        return failure
    try:
        fields = {key.lower(): item for key, item in _decrypt_json(cluster, value)}
    except HeaderError:
        return failure
    ts, password = fields.get("ts"), fields.get("password")
    if type(ts) is not int or received > ts or password != cluster.password:
        return failure
    return None
