"""Reading request bodies within the size limits, and gzip with a decompression cap."""

from __future__ import annotations

import zlib
from collections.abc import Callable

from starlette.requests import Request

from backlight_server.errors import ClientError


def _too_large(size: int | None, max_bytes: int) -> ClientError:
    if size is None:
        return ClientError(413, "body_too_large", f"body exceeds {max_bytes} bytes")
    return ClientError(413, "body_too_large", f"body is {size} bytes; the limit is {max_bytes}")


async def read_body(
    request: Request,
    max_bytes: int,
    too_large: Callable[[int | None, int], ClientError] = _too_large,
) -> bytes:
    """The raw body, refusing anything over ``max_bytes`` before reading it all: with
    ``too_large(declared size, or None while streaming, max_bytes)``."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ClientError(400, "invalid_content_length", "Content-Length is not a number")
        if int(declared) > max_bytes:
            raise too_large(int(declared), max_bytes)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise too_large(None, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def decode_encoding(body: bytes, encoding: str | None, max_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (gzip/deflate/identity) with an output cap."""
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        if len(body) > max_bytes:
            raise ClientError(413, "decompressed_too_large", f"body exceeds {max_bytes} bytes")
        return body
    if enc in ("gzip", "x-gzip"):
        return gunzip(body, max_bytes)
    if enc == "deflate":
        return _inflate(body, zlib.MAX_WBITS, max_bytes, "invalid_deflate")
    raise ClientError(
        415,
        "unsupported_encoding",
        f"Content-Encoding {enc[:40]!r} is not supported; use gzip or identity",
    )


def gunzip(body: bytes, max_bytes: int) -> bytes:
    return _inflate(body, 16 + zlib.MAX_WBITS, max_bytes, "invalid_gzip")


def _inflate(body: bytes, wbits: int, max_bytes: int, code: str) -> bytes:
    d = zlib.decompressobj(wbits)
    try:
        out = d.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ClientError(400, code, f"body does not decompress: {exc}") from None
    if len(out) > max_bytes or d.unconsumed_tail:
        raise ClientError(
            413, "decompressed_too_large", f"body decompresses to more than {max_bytes} bytes"
        )
    if not d.eof:
        raise ClientError(400, code, "compressed body is truncated")
    return out


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
