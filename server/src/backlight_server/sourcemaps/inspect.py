"""What an uploaded file is, read without parsing it: its kind by name, its debug id and
the name it refers to. Every pattern is anchored on a literal and bounded, so a search is
linear in the file's size; scripts are searched only in their last ``TAIL`` bytes, where
bundlers write the comments. Files must be UTF-8 (JSON maps are; scripts are text)."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass

from backlight_server.errors import ClientError

TAIL = 64 * 1024
REF_MAX = 2048
SCRIPT_SUFFIXES = (".js", ".mjs", ".cjs", ".bundle", ".jsbundle")
MAP_SUFFIXES = (".map",)
UPLOADED_SUFFIXES = SCRIPT_SUFFIXES + MAP_SUFFIXES

_MAP_DEBUG_ID = re.compile(rb'"debug_?[iI]d"\s{0,64}:\s{0,64}"([0-9a-fA-F-]{32,36})"')
_MAP_FILE = re.compile(rb'"file"\s{0,64}:\s{0,64}"((?:[^"\\\n]|\\.){0,2048})"')
_SCRIPT_DEBUG_ID = re.compile(rb"//# debugId=([0-9a-fA-F-]{32,36})")
_SCRIPT_MAP_URL = re.compile(rb"//[#@] sourceMappingURL=([^\s'\"]{1,4096})")


@dataclass(frozen=True)
class Inspected:
    kind: str  # "map" | "script" | "other"
    sha256: str
    debug_id: str | None
    ref: str | None


def kind_of(name: str) -> str:
    lower = name.lower().split("?", 1)[0]
    if lower.endswith(MAP_SUFFIXES):
        return "map"
    if lower.endswith(SCRIPT_SUFFIXES):
        return "script"
    return "other"


def _uuid(raw: bytes) -> str | None:
    try:
        return str(uuid.UUID(raw.decode("ascii")))
    except ValueError:
        return None


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:REF_MAX]


def inspect(name: str, data: bytes) -> Inspected:
    """Refuses (400 ``not_utf8``) a file that is not UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ClientError(
            400,
            "not_utf8",
            f"{name[:200]}: byte {exc.start} is not UTF-8; source maps and scripts are UTF-8 text",
        ) from None
    sha = hashlib.sha256(data).hexdigest()
    kind = kind_of(name)
    debug_id: str | None = None
    ref: str | None = None
    if kind == "map":
        found = _MAP_DEBUG_ID.search(data)
        debug_id = _uuid(found.group(1)) if found else None
        named = _MAP_FILE.search(data)
        ref = _text(named.group(1)) if named else None
    elif kind == "script":
        tail = data[-TAIL:]
        ids = _SCRIPT_DEBUG_ID.findall(tail)
        debug_id = _uuid(ids[-1]) if ids else None
        urls = _SCRIPT_MAP_URL.findall(tail)
        if urls:
            url = urls[-1]
            ref = "data:" if url.startswith(b"data:") else _text(url)
    return Inspected(kind, sha, debug_id, ref)
