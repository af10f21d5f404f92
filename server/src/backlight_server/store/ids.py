"""Ids that need no coordination between processes or servers.

An error group's id derives from its project and fingerprint, so every server that sees
the same error computes the same group, whatever store it writes to and in whatever order
the errors arrive. Row ids (network rows, logs, error instances) in stores without an
auto-increment are random. Both stay below 2**53 so that JavaScript reads them exactly.
"""

from __future__ import annotations

import hashlib
import secrets

_BITS = 53


def group_id(project_id: str, fingerprint: str) -> int:
    """The id of the error group of ``fingerprint`` in ``project_id``: 1 .. 2**53-1."""
    digest = hashlib.blake2b(
        f"{project_id}\0{fingerprint}".encode(), digest_size=8, person=b"bl-group"
    ).digest()
    return (int.from_bytes(digest, "big") >> (64 - _BITS)) or 1


def row_id() -> int:
    """A random row id, 1 .. 2**53-1 (a collision among 10M rows: about 1 in 180)."""
    return secrets.randbits(_BITS) or 1
