"""Parse stack traces (Python, JavaScript, Go) into frames, innermost frame first."""

from __future__ import annotations

import re

from backlight_server.pipeline.model import Frame

MAX_FRAMES = 64
_PY_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')
_JS_V8 = re.compile(r"^\s*at (?:(?P<func>.+?) \()?(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)\)?$")
_JS_FF = re.compile(r"^(?P<func>[^@]*)@(?P<file>.+?):(?P<line>\d+):(?P<col>\d+)$")
_GO_FILE = re.compile(r"^\s+(?P<file>/\S+\.go):(?P<line>\d+)")
_NOT_IN_APP = ("site-packages", "dist-packages", "node_modules", "<frozen", "/lib/python3",
               "/usr/lib/", "<anonymous>", "native", "/usr/local/go/src/", "/pkg/mod/",
               "webpack/bootstrap", "/sdk/backlight.js")


def in_app(file: str) -> bool:
    return not any(marker in file for marker in _NOT_IN_APP)


def _python(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for i, line in enumerate(lines):
        m = _PY_FRAME.match(line)
        if not m:
            continue
        code = None
        if i + 1 < len(lines) and not _PY_FRAME.match(lines[i + 1]) and lines[i + 1].startswith(
                "    "):
            code = lines[i + 1].strip() or None
        file = m["file"]
        frames.append(Frame(file, m["func"].strip(), int(m["line"]), None, code, in_app(file)))
    frames.reverse()  # Python prints the innermost call last
    return frames


def _javascript(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for line in lines:
        m = _JS_V8.match(line) or _JS_FF.match(line.strip())
        if m:
            file = m["file"]
            frames.append(Frame(file, (m["func"] or "?").strip() or "?", int(m["line"]),
                                int(m["col"]), None, in_app(file)))
    return frames


def _go(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    for i, line in enumerate(lines):
        m = _GO_FILE.match(line)
        if m and i > 0:
            func = lines[i - 1].strip().split("(")[0] or "?"
            file = m["file"]
            frames.append(Frame(file, func, int(m["line"]), None, None, in_app(file)))
    return frames


def parse(stack: str | None) -> list[Frame]:
    """Frames of a stack trace in any of the supported formats; [] if none found."""
    if not stack:
        return []
    lines = stack[:65536].splitlines()
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
        file = str(item.get("file") or item.get("fileName") or "?")[:2048]
        func = str(item.get("function") or item.get("functionName") or "?")[:512]
        line = item.get("line", item.get("lineNumber"))
        col = item.get("column", item.get("columnNumber"))
        frames.append(Frame(file, func, line if isinstance(line, int) else None,
                            col if isinstance(col, int) else None, None, in_app(file)))
    return frames
