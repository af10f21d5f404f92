"""JSON text that is always valid: any depth, any size cap, a marked wrapper when cut.

orjson encodes at most ~250 levels of nesting, while it decodes 1,024 and a real page's
rrweb snapshot can be deeper than 250 (two levels per DOM element). ``dumps`` falls back
to an iterative encoder for such values instead of failing. ``capped`` never cuts JSON
text in the middle: a value whose text is over the cap is stored as
``{"_truncated": true, "size": <bytes>, "preview": "<start of the text>"}``, and values
nested deeper than ``MAX_DEPTH`` are replaced by the string ``"[too deep]"``.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64
TOO_DEEP = "[too deep]"
_OPTS = orjson.OPT_NON_STR_KEYS


def _scalar(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str, option=_OPTS)
    except (TypeError, orjson.JSONEncodeError):  # e.g. an int over 64 bits
        return orjson.dumps(str(value))


def _iterative(value: Any) -> bytes:
    """Encode any depth without recursion (slow path, only for values orjson refuses)."""
    out: list[bytes] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, bytes):  # a literal piece queued below
            out.append(item)
        elif isinstance(item, dict):
            pieces: list[Any] = [b"{"]
            for i, (key, child) in enumerate(item.items()):
                pieces += [b"," if i else b"", _scalar(str(key)), b":", child]
            pieces.append(b"}")
            stack.extend(reversed(pieces))
        elif isinstance(item, list | tuple):
            pieces = [b"["]
            for i, child in enumerate(item):
                pieces += [b"," if i else b"", child]
            pieces.append(b"]")
            stack.extend(reversed(pieces))
        else:
            out.append(_scalar(item))
    return b"".join(out)


def dumps(value: Any) -> bytes:
    """JSON of ``value`` at any depth (non-JSON scalars become strings)."""
    try:
        return orjson.dumps(value, default=str, option=_OPTS)
    except (TypeError, orjson.JSONEncodeError):
        return _iterative(value)


def clip_depth(value: Any, depth: int = MAX_DEPTH) -> Any:
    """A copy of ``value`` with containers below ``depth`` levels replaced by a marker."""
    if not isinstance(value, dict | list):
        return value
    root: Any = {} if isinstance(value, dict) else []
    stack: list[tuple[Any, Any, int]] = [(value, root, 1)]
    while stack:
        src, dst, level = stack.pop()
        items = src.items() if isinstance(src, dict) else enumerate(src)
        for key, child in items:
            if isinstance(child, dict | list):
                if level >= depth:
                    child_out: Any = TOO_DEEP
                else:
                    child_out = {} if isinstance(child, dict) else []
                    stack.append((child, child_out, level + 1))
            else:
                child_out = child
            if isinstance(dst, dict):
                dst[str(key)] = child_out
            else:
                dst.append(child_out)
    return root


def capped(value: Any, cap: int) -> str | None:
    """JSON text of ``value`` (depth-clipped) of at most about ``cap`` bytes; None for None."""
    if value is None:
        return None
    text = dumps(clip_depth(value)).decode()
    if len(text) <= cap:
        return text
    return orjson.dumps(
        {"_truncated": True, "size": len(text), "preview": text[: max(cap - 100, 0)]}
    ).decode()


def loads_tolerant(text: str | bytes | None) -> Any:
    """Stored JSON text → value; text that does not parse (cut by an older version) comes
    back as ``{"_invalid": true, "preview": ...}`` instead of raising."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        raw = text if isinstance(text, str) else text.decode("utf-8", "replace")
        return {"_invalid": True, "preview": raw[:1024]}
