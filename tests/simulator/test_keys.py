"""The agents' RSA keys: made at run time in the key sizes of each version, none kept in a file."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import padding

from simulator.obshell import keys
from simulator.world import Cluster

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("exporter", "simulator")


def test_agents_before_4_4_2_share_one_512_bit_key_made_at_run_time() -> None:
    old = [Cluster(i, f"c{i}", "4.3.2.0", "pw") for i in range(2)]
    new = Cluster(2, "c2", "4.4.2.0", "pw")

    assert old[0].key is old[1].key is keys.shared_512()
    assert old[0].key.private_key.key_size == 512
    assert new.key.private_key.key_size == 1024


def test_a_made_512_bit_key_decrypts_chunks_its_public_half_encrypted() -> None:
    key = keys.generate(512)
    public = key.private_key.public_key()
    chunks = [os.urandom(53), os.urandom(20)]  # the SDKs' 53-byte chunks: 64 less 11 of padding

    ciphertext = b"".join(public.encrypt(chunk, padding.PKCS1v15()) for chunk in chunks)

    assert key.private_key.key_size == 512
    assert key.decrypt(ciphertext) == b"".join(chunks)


def test_no_private_key_file_in_the_packages() -> None:
    found = [
        path.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and (path.suffix in {".pem", ".key"} or b"PRIVATE KEY-----" in path.read_bytes())
    ]
    assert found == []
