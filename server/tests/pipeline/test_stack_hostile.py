"""Stack parsing and message normalisation stay linear on hostile input (issue 16, finding 1).

Each input below took seconds to minutes with the old backtracking patterns (the 64 KiB
V8 line froze the server for ~19 s). The parsers now split lines with string operations.
Each test repeats its call 50 or 5,000 times, and the guard below fails it past 15 s of
wall clock: the old patterns took 45 s for the 5,000 messages and seconds or more for each
stack, the linear ones take 0.3-0.5 s for a whole loop on this 2-core box under load.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from backlight_server.pipeline import ansi, stack
from backlight_server.pipeline.fingerprint import fingerprint, normalise_message
from backlight_server.pipeline.frames import in_app, module_of

HOSTILE_STACKS = {
    "v8 open parens (the 244-byte gzip request)": "at " + " (" * 32766 + "x",
    "v8 open parens under the line cap": "    at " + " (" * 2040 + "x",
    "v8 colons": "    at f (" + "1:" * 2000 + "x)",
    "firefox colons": "f@" + "1:" * 2000 + "x",
    "40 spans of 8 KiB": ("    at " + "a (" * 2700 + "\n") * 8,
    "go without .go": "\t/" + "a" * 4000,
    "go frames": "main.f(0x1, {0x2})\n\t/src/app/main.go:12 +0x1d\n" * 2000,
    "go open parens": "(" * 4000 + "\n\t" + "(" * 4000 + ".go:1",
    "safari bare locations with @": "http://a.test/" + "x@1" * 1300 + ":1:2",
    "library versions": "    at f (/n/node_modules/" + "a@1/" * 1000 + "b.js:1:2)",
}
# A frame's file is at most MAX_LINE (parsed) or 2,048 (browser JSON) characters.
HOSTILE_PATHS = [
    "/" + "a@1/" * 1023,
    "@v1" * 1365,
    "/lib/python" * 372,
    "moz-extension:" + "/" * 4080,
    "node_modules/" * 200 + "x.js?" * 200,
]
HOSTILE_BODIES = [
    "\x1b[" + "0" * 65536,
    "\x1b]" + "a" * 65536,
    "\x1b" * 65536,
    "\x1b]" * 32768,
    ("\x1b[" + ";" * 100) * 640,
    "\x9b" * 65536,
]


LIMIT_S = 15


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expired(*_: object) -> None:
        raise TimeoutError(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("name", list(HOSTILE_STACKS))
def test_hostile_stack_parses_quickly(name: str) -> None:
    with deadline(LIMIT_S):
        for _ in range(50):
            stack.parse(HOSTILE_STACKS[name])


@pytest.mark.parametrize("path", HOSTILE_PATHS, ids=range(len(HOSTILE_PATHS)))
def test_hostile_paths_classify_quickly(path: str) -> None:
    frames = stack.frames_from_json([{"file": path, "function": "f"}] * 3)
    with deadline(LIMIT_S):
        for _ in range(50):
            in_app(path)
            module_of(path)
            fingerprint("E", "m", frames)


@pytest.mark.parametrize("body", HOSTILE_BODIES, ids=range(len(HOSTILE_BODIES)))
def test_hostile_log_bodies_lose_their_colours_quickly(body: str) -> None:
    with deadline(LIMIT_S):
        for _ in range(50):
            ansi.strip(body)


@pytest.mark.parametrize("message", ["1" * 1024, ("0" * 100 + " ") * 10, "0x" + "9" * 1022])
def test_hostile_message_normalises_quickly(message: str) -> None:
    # 5,000 errors a batch: the old hex pattern took ~9 ms for one such message
    with deadline(LIMIT_S):
        for _ in range(5000):
            normalise_message(message)


def test_linear_parsers_keep_their_results() -> None:
    frame = stack.parse("Error: x\n    at new Foo (https://a.test/app.js:10:5)")[0]
    assert (frame.file, frame.function, frame.line, frame.column) == (
        "https://a.test/app.js",
        "new Foo",
        10,
        5,
    )
    frame = stack.parse("    at https://a.test/app.js:1:2)")[0]
    assert (frame.file, frame.function) == ("https://a.test/app.js", "?")
    frame = stack.parse("onClick@https://a.test/x@y/app.js:3:4")[0]
    assert (frame.file, frame.function, frame.line) == ("https://a.test/x@y/app.js", "onClick", 3)
    assert stack.parse("    at foo (native)") == []
    assert stack.parse("at x (a.js:1:2:)") == []
    assert normalise_message("id 0xdeadbeef1 and 0xzz and 0a9 and 12") == (
        "id <hex> and <n>xzz and <hex> and <n>"
    )


def test_overlong_lines_are_skipped_not_cut() -> None:
    long_line = "    at f (https://a.test/" + "a" * stack.MAX_LINE + ".js:1:2)"
    text = "Error\n" + long_line + "\n    at g (https://a.test/b.js:3:4)"
    assert [f.function for f in stack.parse(text)] == ["g"]


def test_frames_from_json_refuse_odd_positions() -> None:
    frames = stack.frames_from_json(
        [{"file": "a.js", "function": "f", "line": 2**70, "column": True}, {"file": 5, "line": -1}]
    )
    assert [(f.file, f.line, f.column) for f in frames] == [("a.js", None, None), ("?", None, None)]
