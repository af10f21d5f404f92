"""Error grouping: the fingerprint of an error instance.

fingerprint = sha1(type, normalised message, top 3 in-app frames), where
- the message has uuids, hex ids, numbers and quoted values replaced by placeholders;
- an app frame is (file, function, code line) when the code line is known, else
  (file, function, line number). Using the code line keeps a group stable when unrelated
  lines above it move, and still separates two raise sites in one function. URLs lose
  their query and fragment (cache busters), functions V8's ``async`` mark.
- Runtime and library frames never count while the stack has an app frame. When it has
  none, the top 3 frames are each named by module and function only (``frames.module_of``:
  no line number, no install location, no version), so an upgrade of the runtime or of a
  library keeps the group.
"""

from __future__ import annotations

import hashlib
import re

from backlight_server.pipeline.frames import module_of, strip_query
from backlight_server.pipeline.model import Frame

TOP_FRAMES = 3
_PATTERNS = [
    (
        re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"),
        "<uuid>",
    ),
    (re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`"), "<str>"),
    (re.compile(r"\d+(?:\.\d+)?"), "<n>"),
]


_WORD = re.compile(r"\w+")
_HEX = frozenset("0123456789abcdefABCDEF")
_DIGITS = frozenset("0123456789")


def _hex_word(match: re.Match[str]) -> str:
    """``<hex>`` for a word of hex digits (optionally ``0x``-prefixed) that holds both a
    digit and a letter, else the word. One pass per word: linear in the message."""
    word = match[0]
    digits = word[2:] if word.startswith("0x") and len(word) > 2 else word
    chars = set(digits)
    return "<hex>" if chars <= _HEX and chars & _DIGITS and chars - _DIGITS else word


def normalise_message(message: str) -> str:
    """Placeholders for uuids, quoted values, hex ids and numbers; linear in the message."""
    text = message[:1024]
    for pattern, placeholder in _PATTERNS[:2]:
        text = pattern.sub(placeholder, text)
    text = _WORD.sub(_hex_word, text)
    text = _PATTERNS[2][0].sub(_PATTERNS[2][1], text)
    return " ".join(text.split())


def _function(frame: Frame) -> str:
    name = frame.function
    return name[len("async ") :] if name.startswith("async ") else name


def _app_key(frame: Frame) -> str:
    where = frame.code.strip() if frame.code else str(frame.line or "")
    return f"{strip_query(frame.file)}|{_function(frame)}|{where}"


def _library_key(frame: Frame) -> str:
    return f"{module_of(frame.file)}|{_function(frame)}"


def fingerprint(error_type: str, message: str, frames: list[Frame]) -> str:
    parts = [error_type, normalise_message(message)]
    app = [f for f in frames if f.in_app]
    if app:
        parts.extend(_app_key(f) for f in app[:TOP_FRAMES])
    else:
        parts.extend(_library_key(f) for f in frames[:TOP_FRAMES])
    return hashlib.sha1("\n".join(parts).encode("utf-8", "replace")).hexdigest()
