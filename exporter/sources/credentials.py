"""A target's secrets as the auths read them: on every request, so a rotated file is used."""

from __future__ import annotations

import os
from collections.abc import Callable

from exporter.config import Secret


def optional_reader(secret: Secret | None) -> Callable[[], str]:
    """`secret_reader`, or "" for a secret the target does not have."""
    if secret is None:
        return lambda: ""
    return secret_reader(secret)


def secret_reader(secret: Secret) -> Callable[[], str]:
    """`secret.read`, but a `*_file` is read again only when its `stat` changes.

    Auths ask for the secret on every request so that a rotated file is used at once; a
    `stat` (inode, size, mtime and ctime in ns: Kubernetes swaps a symlink, an editor or
    `echo >` rewrites in place) tells that as surely for much less CPU than opening and
    reading the file (docs/benchmarks.md). The stat comes before the read, so a change racing
    the two is read again by the next call. A file that cannot be stat'ed is read, to raise
    the usual error.
    """
    path = secret.file
    if path is None:
        return secret.read
    seen: tuple[tuple[int, ...], str] | None = None

    def read() -> str:
        nonlocal seen
        try:
            info = os.stat(path)
        except OSError:
            return secret.read()
        key = (info.st_ino, info.st_dev, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
        if seen is None or seen[0] != key:
            seen = (key, secret.read())
        return seen[1]

    return read
