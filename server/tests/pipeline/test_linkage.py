from __future__ import annotations

import pytest

from backlight_server.pipeline.linkage import NO_LINK, Link, from_baggage, parse_header, resolve

SID = "Ab3dEf7hIj0lMn4pQr8tUv2xYz6a"


@pytest.mark.parametrize("value", [
    "", "/", "no-slash", f"{SID}/", f"/{'a' * 32}", f"{SID}/a/b", "x" * 10_000,
    f"{SID}/réquest", f"{SID}/abc\r\nx-evil: 1", f"{SID} /abc", None, 42, "../..",
    f"{SID}/{'a' * 200}", "\x00/\x00",
])
def test_malformed_headers_mean_no_link(value: object) -> None:
    assert parse_header(value) == NO_LINK


def test_any_request_token_is_accepted() -> None:
    assert parse_header(f"{SID}/Xy12ab9QwE") == Link(SID, "Xy12ab9QwE")
    assert parse_header(f" {SID}/{'f' * 32} ") == Link(SID, "f" * 32)


def test_resolve_prefers_attributes_then_baggage() -> None:
    attrs = {"highlight.session_id": SID, "highlight.trace_id": "r1"}
    assert resolve(attrs, {}) == Link(SID, "r1")
    assert resolve({}, attrs) == Link(SID, "r1")
    assert resolve({"x-highlight-request": f"{SID}/r2"}, {}) == Link(SID, "r2")
    baggage = f"other=1, x-highlight-request={SID}%2Fr3;prop=x"
    assert from_baggage(baggage) == Link(SID, "r3")
    assert resolve({"baggage": baggage}, {}) == Link(SID, "r3")
    assert resolve({"highlight.session_id": "bad id!"}, {}) == NO_LINK
