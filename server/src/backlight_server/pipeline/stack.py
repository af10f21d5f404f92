"""Parse stack traces (Python, JavaScript, Go) into frames, innermost frame first.

Every parser here runs in time linear in its input: JavaScript and Go lines are split with
string operations (no backtracking pattern), the pattern that remains is anchored and
cannot backtrack more than once per character, and the input is capped first.
Caps: ``MAX_STACK_CHARS`` of text, lines longer than ``MAX_LINE`` are skipped, and at
most ``MAX_FRAMES`` frames are kept. Which frames are the app's own: ``frames.in_app``.
"""

from __future__ import annotations

import re

from backlight_server.pipeline.frames import go_runtime, in_app
from backlight_server.pipeline.model import Frame

__all__ = ["MAX_FRAMES", "MAX_LINE", "MAX_STACK_CHARS", "frames_from_json", "in_app", "parse"]

MAX_FRAMES = 64
MAX_STACK_CHARS = 65536
MAX_LINE = 4096
_PY_FRAME = re.compile(r'\s*File "([^"]+)", line (\d+), in (.+)\Z')


def _lines(stack: str) -> list[str]:
    return [line for line in stack[:MAX_STACK_CHARS].splitlines() if len(line) <= MAX_LINE]


def _python(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for i, line in enumerate(lines):
        m = _PY_FRAME.match(line)
        if not m:
            continue
        code = None
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following.startswith("    ") and not _PY_FRAME.match(following):
            code = following.strip() or None
        file = m[1]
        frames.append(Frame(file, m[3].strip(), int(m[2]), None, code, in_app(file)))
    frames.reverse()  # Python prints the innermost call last
    return frames


def _location(text: str) -> tuple[str, int, int] | None:
    """``file:line:column`` → its parts, or None."""
    file, sep1, rest = text.rpartition(":")
    if not sep1 or not rest.isdecimal():
        return None
    file, sep2, line = file.rpartition(":")
    if not sep2 or not line.isdecimal() or not file:
        return None
    return file, int(line), int(rest)


def _v8(line: str) -> Frame | None:
    """``at func (file:line:col)`` or ``at file:line:col``."""
    text = line.lstrip()
    if not text.startswith("at "):
        return None
    rest = text[3:]
    body = rest[:-1] if rest.endswith(")") else rest
    split = rest.find(" (", 1)
    if split > 0:
        func, where = rest[:split], body[split + 2 :]
        loc = _location(where)
        if loc is not None:
            return Frame(loc[0], func.strip() or "?", loc[1], loc[2], None, in_app(loc[0]))
    loc = _location(body)
    if loc is None:
        return None
    return Frame(loc[0], "?", loc[1], loc[2], None, in_app(loc[0]))


def _firefox(line: str) -> Frame | None:
    """``func@file:line:col`` (Firefox, Safari), or Safari's anonymous ``file:line:col``."""
    text = line.strip()
    func, sep, where = text.partition("@")
    if not sep or "://" in func:  # no function: the "@" (if any) is the URL's own
        if any(c.isspace() for c in text):
            return None
        func, where = "", text
    loc = _location(where)
    if loc is None:
        return None
    return Frame(loc[0], func.strip() or "?", loc[1], loc[2], None, in_app(loc[0]))


def _javascript(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for line in lines:
        frame = _v8(line) or _firefox(line)
        if frame is not None:
            frames.append(frame)
            if len(frames) >= MAX_FRAMES:
                break
    return frames


def _go_file(line: str) -> tuple[str, int] | None:
    """``\t/src/app/main.go:12 +0x1d`` (``+0x…`` and ``fp=… sp=… pc=…`` optional)."""
    if not line[:1].isspace():
        return None
    text = line.strip()
    cut = text.rfind(" +0x")
    if cut > 0:
        text = text[:cut]
    file, sep, number = text.rpartition(":")
    if not sep or not number.isdecimal() or not file.endswith(".go"):
        return None
    return file, int(number)


def _go_function(line: str) -> str:
    """``net/http.(*conn).serve(0xc000…, {…})`` → ``net/http.(*conn).serve``;
    ``created by net/http.(*Server).Serve in goroutine 1`` → ``net/http.(*Server).Serve``."""
    text = line.strip()
    if text.startswith("created by "):
        text = text[len("created by ") :]
        cut = text.find(" in goroutine ")
        return (text[:cut] if cut > 0 else text) or "?"
    if text.endswith(")"):
        cut = text.rfind("(")
        if cut > 0:
            text = text[:cut]
    return text or "?"


def _go(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for i, line in enumerate(lines):
        where = _go_file(line) if i > 0 else None
        if where is not None:
            func = _go_function(lines[i - 1])
            app = in_app(where[0]) and not go_runtime(func)
            frames.append(Frame(where[0], func, where[1], None, None, app))
            if len(frames) >= MAX_FRAMES:
                break
    return frames


def parse(stack: str | None) -> list[Frame]:
    """Frames of a stack trace in any of the supported formats; [] if none found."""
    if not stack:
        return []
    lines = _lines(stack)
    for parser in (_python, _javascript, _go):
        frames = parser(lines)
        if frames:
            return frames[:MAX_FRAMES]
    return []


def frames_from_json(items: object) -> list[Frame]:
    """Frames as sent by the browser SDK: [{file, function, line, column}]."""
    frames: list[Frame] = []
    if not isinstance(items, list):
        return frames
    for item in items[:MAX_FRAMES]:
        if not isinstance(item, dict):
            continue
        file = _short(item.get("file") or item.get("fileName") or "?", 2048)
        func = _short(item.get("function") or item.get("functionName") or "?", 512)
        line = item.get("line", item.get("lineNumber"))
        col = item.get("column", item.get("columnNumber"))
        frames.append(Frame(file, func, _position(line), _position(col), None, in_app(file)))
    return frames


def _short(value: object, cap: int) -> str:
    return (value if isinstance(value, str) else "?")[:cap]


def _position(value: object) -> int | None:
    """A line or column number: a non-negative int that fits SQLite, else None."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31:
        return value
    return None
