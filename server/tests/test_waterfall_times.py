"""The trace waterfall (``ui/waterfall.py``) from spans whose stored times may be anything:
a span with no time stored gets no bar, and does not squash the others into a sliver."""

from __future__ import annotations

from typing import Any

from backlight_server.ui.waterfall import bars

T0 = 1_796_207_276_000 * 1_000_000  # a whole ms, in ns


def _span(span_id: str, start: object, end: object) -> dict[str, Any]:
    return {
        "span_id": span_id,
        "name": span_id,
        "service": "api",
        "start_ns": start,
        "end_ns": end,
        "children": [],
    }


def test_spans_without_a_time_do_not_stretch_the_axis() -> None:
    good = [_span("a", T0, T0 + 40_000_000), _span("b", T0 + 10_000_000, T0 + 20_000_000)]
    odd = [_span("x", "x", None), _span("y", None, T0 + 30_000_000)]
    drawn = bars(good + odd)
    assert [r.label for r in drawn.rows] == ["a", "b", "y"]  # x has no time at all
    assert drawn.total_ms == 40.0
    b = drawn.rows[1]
    assert (b.start_ms, round(b.left_pct), round(b.width_pct)) == (1_796_207_276_010.0, 25, 25)
