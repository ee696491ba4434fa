"""The agents' RSA key pairs, and the server side of obshell's chunked PKCS#1 v1.5 decryption."""

from __future__ import annotations

import base64
import functools
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

PUBLIC_EXPONENT = 65537
_SMALL_PRIMES = tuple(p for p in range(3, 1000) if all(p % d for d in range(2, int(p**0.5) + 1)))


@dataclass(frozen=True)
class AgentKey:
    """One agent's key pair and the public key as `/api/v1/secret` publishes it."""

    private_key: rsa.RSAPrivateKey
    public_key_b64: str

    def decrypt(self, ciphertext: bytes) -> bytes:
        """Decrypt key-size blocks one by one and join them, as obshell's `RSADecrypt` does.

        Raises ValueError when the length is not a whole number of blocks. A block encrypted
        with another key does not always raise (OpenSSL's implicit rejection returns noise),
        which the caller sees as a header that is not JSON, like obshell does.
        """
        block = self.private_key.key_size // 8
        if not ciphertext or len(ciphertext) % block:
            raise ValueError("crypto/rsa: decryption error")
        return b"".join(
            self.private_key.decrypt(ciphertext[i : i + block], padding.PKCS1v15())
            for i in range(0, len(ciphertext), block)
        )


def agent_key(private_key: rsa.RSAPrivateKey) -> AgentKey:
    """Wrap a private key, exporting its public half as base64 of PKCS#1 DER like obshell."""
    der = private_key.public_key().public_bytes(Encoding.DER, PublicFormat.PKCS1)
    return AgentKey(private_key, base64.b64encode(der).decode("ascii"))


@functools.cache
def shared_512() -> AgentKey:
    """The 512-bit key every agent older than 4.4.2 starts with, made once per process.

    Real agents before 4.4.2 each make a 512-bit key when first started (oceanbase/obshell
    `agent/lib/crypto/rsa.go`, `KEY_SIZE = 512`); the simulated ones share one, so that a fleet
    of thousands costs one key, made when the first agent is asked for it.
    """
    return generate(512)


def generate(bits: int) -> AgentKey:
    """A fresh key pair of `bits` (512 or 1024) for one agent, e.g. after a rotation."""
    if bits == 512:
        return agent_key(_generate_512())
    return agent_key(rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=bits))


def _generate_512() -> rsa.RSAPrivateKey:
    # cryptography refuses to generate keys below 1024 bits but loads them, so build one from
    # two 256-bit primes.
    while True:
        p, q = _prime(256), _prime(256)
        n = p * q
        if p == q or n.bit_length() != 512:
            continue
        phi = (p - 1) * (q - 1)
        try:
            d = pow(PUBLIC_EXPONENT, -1, phi)
        except ValueError:
            continue
        public = rsa.RSAPublicNumbers(PUBLIC_EXPONENT, n)
        numbers = rsa.RSAPrivateNumbers(
            p=p,
            q=q,
            d=d,
            dmp1=rsa.rsa_crt_dmp1(d, p),
            dmq1=rsa.rsa_crt_dmq1(d, q),
            iqmp=rsa.rsa_crt_iqmp(p, q),
            public_numbers=public,
        )
        return numbers.private_key()


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if _is_probable_prime(candidate):
            return candidate


def _is_probable_prime(n: int, rounds: int = 32) -> bool:
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True
