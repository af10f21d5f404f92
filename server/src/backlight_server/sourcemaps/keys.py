"""Upload keys: ``blup_<id>_<secret>``. Only the key's SHA-256 and a masked form are
stored; the key is shown once, when it is made. A key is 192 random bits, so a plain hash
is enough (nothing to guess from it)."""

from __future__ import annotations

import hashlib
import secrets
import string
from dataclasses import dataclass

PREFIX = "blup_"
KEY_MAX = 128
_ID = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class NewKey:
    id: str
    key: str
    key_hash: str
    masked: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> NewKey:
    key_id = "".join(secrets.choice(_ID) for _ in range(10))
    key = f"{PREFIX}{key_id}_{secrets.token_urlsafe(24)}"
    return NewKey(key_id, key, hash_key(key), f"{PREFIX}{key_id}_…{key[-4:]}")


def looks_like_key(text: str) -> bool:
    return text.startswith(PREFIX) and len(text) <= KEY_MAX and text.isascii()
