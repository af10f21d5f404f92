"""Protocol Buffers wire format, by hand, for the hot encoding paths.

Building ``opentelemetry-proto`` message objects costs ~18 µs a span on the worker
thread, which holds the GIL the app needs; writing the bytes directly costs a fraction.
The result is decoded with the real message types in the tests.
"""

from __future__ import annotations

import codecs
import struct
from collections.abc import Mapping
from typing import Any

_SMALL = [bytes((i,)) for i in range(128)]
_pack_q = struct.Struct("<Q").pack
_pack_d = struct.Struct("<d").pack
_pack_i = struct.Struct("<I").pack
_MAX_DEPTH = 4


def _replace_unencodable(error: UnicodeError) -> tuple[bytes, int]:
    """U+FFFD for each character UTF-8 cannot hold: in a ``str``, only a lone surrogate
    (``os.fsdecode`` makes them from undecodable file names, ``surrogateescape`` too).
    Given as its UTF-8 bytes: CPython's UTF-8 encoder takes a str replacement only if
    it is ASCII."""
    if isinstance(error, UnicodeEncodeError):
        return _REPLACEMENT * (error.end - error.start), error.end
    raise error


_REPLACEMENT = "\ufffd".encode()


codecs.register_error("backlight.replace", _replace_unencodable)
ERRORS = "backlight.replace"
"""The error handler of every ``str`` the SDK encodes: protobuf strings must be valid UTF-8,
and a lone surrogate must cost the character, not the batch."""


def text(value: str) -> bytes:
    """``value`` in UTF-8, a lone surrogate as U+FFFD (the Unicode replacement character)."""
    return value.encode("utf-8", ERRORS)


def varint(n: int) -> bytes:
    if 0 <= n < 128:
        return _SMALL[n]
    if 0 < n < 16384:  # two bytes: every encoded span's length
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def tag(field: int, wire_type: int) -> bytes:
    return varint((field << 3) | wire_type)


def length_delimited(field: int, payload: bytes) -> bytes:
    """A length-delimited field: a string, bytes or an embedded message."""
    return tag(field, 2) + varint(len(payload)) + payload


def fixed64(field: int, value: int) -> bytes:
    return tag(field, 1) + _pack_q(value)


def fixed32(field: int, value: int) -> bytes:
    return tag(field, 5) + _pack_i(value)


def double(field: int, value: float) -> bytes:
    return tag(field, 1) + _pack_d(value)


def uvarint_field(field: int, value: int) -> bytes:
    return tag(field, 0) + varint(value)


# --- opentelemetry.proto.common.v1 --------------------------------------------------------

_key_cache: dict[str, bytes] = {}


def _key(key: str) -> bytes:
    """``KeyValue.key`` (field 1), cached: attribute keys repeat on every span."""
    encoded = _key_cache.get(key)
    if encoded is None:
        encoded = length_delimited(1, key.encode("utf-8", ERRORS))
        if len(_key_cache) < 4096:
            _key_cache[key] = encoded
    return encoded


def any_value(value: Any, depth: int = 0) -> bytes:
    """An encoded ``AnyValue``; ``None`` is the empty one (as OpenTelemetry's encoder writes
    it), unknown types become their ``str``."""
    if isinstance(value, str):
        return length_delimited(1, value.encode("utf-8", ERRORS))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return b"\x18" + varint(value)
        return length_delimited(1, str(value).encode())
    if value is None:
        return b""
    if isinstance(value, float):
        return double(4, value)
    if isinstance(value, bytes):
        return length_delimited(7, value)
    if depth < _MAX_DEPTH:
        if isinstance(value, Mapping):
            return length_delimited(6, key_values(value, 1, depth + 1))
        if isinstance(value, list | tuple | set | frozenset):
            items = b"".join(length_delimited(1, any_value(v, depth + 1)) for v in value)
            return length_delimited(5, items)
    return length_delimited(1, str(value).encode("utf-8", ERRORS))


def key_value(key: str, value: Any, depth: int = 0) -> bytes:
    return _key(key) + length_delimited(2, any_value(value, depth))


_kv_cache: dict[tuple[int, str, Any], bytes] = {}
_KV_CACHE_MAX = 8192
UNIQUE_KEYS = frozenset({"highlight.trace_id"})
"""Attributes whose values differ on every span (the request id): never cached, so they
do not evict the pairs that do repeat."""


def _short_str_pair(field: int, key: str, value: str) -> bytes:
    """``field`` → KeyValue{key, AnyValue{string_value}} with one-byte lengths, or b""."""
    encoded = value.encode("utf-8", ERRORS)
    size = len(encoded)
    if size > 120:
        return b""
    name = _key(key)
    body = len(name) + size + 4  # key, 0x12 len, 0x0a len, value
    if body > 127 or field > 15:
        return b""
    return b"".join(
        (
            _SMALL[(field << 3) | 2],
            _SMALL[body],
            name,
            b"\x12",
            _SMALL[size + 2],
            b"\x0a",
            _SMALL[size],
            encoded,
        )
    )


def key_values(attributes: Mapping[str, Any] | None, field: int = 1, depth: int = 0) -> bytes:
    """Repeated ``KeyValue`` under ``field`` (1 in a ``KeyValueList``).

    Attribute pairs repeat from span to span (method, route, status, the ids of one
    session): short string and int pairs are cached fully encoded. Values that never
    repeat (``UNIQUE_KEYS``) are written directly.
    """
    if not attributes:
        return b""
    parts = []
    cache = _kv_cache
    for k, v in attributes.items():
        kind = type(v)
        if kind is str or kind is int:
            if k in UNIQUE_KEYS and kind is str:
                direct = _short_str_pair(field, k, v)
                if direct:
                    parts.append(direct)
                    continue
            cache_key = (field, k, v)
            cached = cache.get(cache_key)
            if cached is not None:
                parts.append(cached)
                continue
            encoded = length_delimited(field, key_value(str(k), v, depth))
            if len(encoded) < 256 and k not in UNIQUE_KEYS:
                if len(cache) >= _KV_CACHE_MAX:
                    cache.clear()
                cache[cache_key] = encoded
            parts.append(encoded)
        else:
            parts.append(length_delimited(field, key_value(str(k), v, depth)))
    return b"".join(parts)
