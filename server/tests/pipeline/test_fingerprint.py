from __future__ import annotations

from backlight_server.pipeline import stack
from backlight_server.pipeline.fingerprint import fingerprint, normalise_message

PY_TB = """Traceback (most recent call last):
  File "/app/api/views.py", line 10, in checkout
    charge(order)
  File "/usr/lib/python3.11/site-packages/stripe/api.py", line 99, in charge
    raise CardError(msg)
stripe.CardError: declined
"""
JS_STACK = """TypeError: x is undefined
    at onClick (https://app.test/static/app.js:10:5)
    at https://app.test/node_modules/react-dom/index.js:1:2"""
GO_STACK = """goroutine 1 [running]:
main.handler(0x1)
\t/home/me/app/main.go:12 +0x1d
net/http.HandlerFunc.ServeHTTP(...)
\t/usr/local/go/src/net/http/server.go:2136 +0x29"""


def test_normalise_message() -> None:
    a = normalise_message(
        "user 42 not found in 'shard-a' (id 550e8400-e29b-41d4-a716-446655440000)"
    )
    b = normalise_message('user 7 not found in "shard-b" (id 123e4567-e89b-12d3-a456-426614174000)')
    assert a == b == "user <n> not found in <str> (id <uuid>)"
    assert normalise_message("object at 0x7f3a9c2b1d40") == "object at <hex>"
    assert normalise_message("trace deadbeefcafe1234") == "trace <hex>"
    assert normalise_message("plain words stay") == "plain words stay"


def test_parse_python_innermost_first() -> None:
    frames = stack.parse(PY_TB)
    assert [f.function for f in frames] == ["charge", "checkout"]
    assert frames[0].in_app is False and frames[1].in_app is True
    assert frames[1].code == "charge(order)"


def test_parse_javascript_and_go() -> None:
    js = stack.parse(JS_STACK)
    assert (js[0].function, js[0].line, js[0].column, js[0].in_app) == ("onClick", 10, 5, True)
    assert js[1].in_app is False
    go = stack.parse(GO_STACK)
    assert go[0].function == "main.handler" and go[0].in_app
    assert go[1].in_app is False
    assert stack.parse("no frames here") == []


def test_fingerprint_uses_in_app_frames_and_normalised_message() -> None:
    frames = stack.parse(PY_TB)
    assert fingerprint("CardError", "declined 12", frames) == fingerprint(
        "CardError", "declined 99", frames
    )
    moved = stack.parse(PY_TB.replace("line 10", "line 20"))
    assert fingerprint("CardError", "x", frames) == fingerprint("CardError", "x", moved)
    other = stack.parse(PY_TB.replace("charge(order)", "refund(order)"))
    assert fingerprint("CardError", "x", frames) != fingerprint("CardError", "x", other)
    assert fingerprint("CardError", "x", frames) != fingerprint("KeyError", "x", frames)
