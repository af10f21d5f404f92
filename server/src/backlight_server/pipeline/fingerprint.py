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

Frontend errors whose scripts have a source map (docs/sourcemaps.md, "Grouping") are
fingerprinted from their **original** frames (``original_frame``), so two builds of the
same source agree although their minified names, files and positions differ:
- a frame the map covers is (original source path, original function name, the original
  line's text from ``sourcesContent`` as its code line, else the original line number);
  the path is ``source_path``: no ``webpack://name/`` (or other ``scheme://``) prefix, no
  query, no leading ``./`` or ``../`` segments, no ``.`` segments, forward slashes, so
  ``webpack://shop/./src/a.ts`` and ``../../src/a.ts`` are both ``src/a.ts``; a function
  name the map does not know is empty (never the minified one);
- it is in app unless its original source is library code (``node_modules``, …);
- a frame the map does not cover stays as sent. The rule above then applies unchanged.
The stored frames stay the minified ones; the shared vectors are
``tests/vectors/fingerprint.json``.
"""

from __future__ import annotations

import hashlib
import re

from backlight_server.pipeline.frames import in_app, module_of, strip_query
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


def source_path(path: str) -> str:
    """An original source path as two builds of the same source name it (linear)."""
    text = strip_query(path.replace("\\", "/"))
    scheme = text.find("://")
    if 0 < scheme <= 32 and text[:scheme].replace("-", "").isalnum():
        rest = text[scheme + 3 :]
        if text[:scheme].lower() in ("http", "https"):
            slash = rest.find("/")  # a URL: its path
            rest = rest[slash:] if slash >= 0 else ""
        elif not rest.startswith("/"):
            slash = rest.find("/")  # webpack://<namespace>/…
            rest = rest[slash + 1 :] if slash >= 0 else rest
        text = rest
    parts = [p for p in text.split("/") if p not in ("", ".")]
    start = 0
    while start < len(parts) and parts[start] == "..":
        start += 1
    return "/".join(parts[start:])


def original_frame(file: str, function: str | None, line: int, code: str | None) -> Frame:
    """The frame a fingerprint uses for a position a source map covers."""
    path = source_path(file)
    return Frame(path, function or "", line, None, code, in_app(path or file))


def fingerprint(error_type: str, message: str, frames: list[Frame]) -> str:
    parts = [error_type, normalise_message(message)]
    app = [f for f in frames if f.in_app]
    if app:
        parts.extend(_app_key(f) for f in app[:TOP_FRAMES])
    else:
        parts.extend(_library_key(f) for f in frames[:TOP_FRAMES])
    return hashlib.sha1("\n".join(parts).encode("utf-8", "replace")).hexdigest()
