"""Backlight's own spans (request spans and lean spans), encoded and framed as the
``spans`` of one OTLP ``ScopeSpans``: the per-span work of every trace export.

``our_spans`` is the compiled ``_speedups.our_spans`` when the extension was built and
``BACKLIGHT_NO_EXTENSIONS`` is unset, else ``our_spans_python``. The Python function is
the reference: the C one mirrors it (and ``export.request.request_span`` in it) byte for
byte, and hands back to the same Python helpers and caches for everything off the fast
path. A platform without a compiler gets the same payloads, a little slower.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from backlight._debug import internal_error
from backlight.export import request, wire
from backlight.export.lean import lean_span
from backlight.request_span import METHOD, PATH, STATUS, RequestSpan
from backlight.span import SpanRecord

OurSpans = Callable[[Sequence[Any]], tuple[bytes, list[Any]]]


def our_spans_python(spans: Sequence[Any]) -> tuple[bytes, list[Any]]:
    """Request spans and lean spans encoded, each framed as ``ScopeSpans.spans`` (2), in
    their order; every other span (the OpenTelemetry SDK's) returned as it came."""
    parts: list[bytes] = []
    others: list[Any] = []
    varint = wire.varint
    for span in spans:
        kind = type(span)
        if kind is RequestSpan:
            encoded = request.request_span(span)
        elif kind is SpanRecord:
            encoded = lean_span(span)
        else:
            others.append(span)
            continue
        parts += (b"\x12", varint(len(encoded)), encoded)
    return b"".join(parts), others


def load_speedups() -> ModuleType | None:
    """The compiled extension, configured; ``None`` if not built or switched off."""
    if os.environ.get("BACKLIGHT_NO_EXTENSIONS"):
        return None
    try:
        from backlight.export import _speedups
    except ImportError:
        return None
    try:
        _speedups.configure(
            RequestSpan,
            SpanRecord,
            request.request_span,
            lean_span,
            request._own_ids,
            request._endpoint,
            request._path,
            request._link_pairs,
            request.other_link_pairs,
            request._endpoints,
            request._paths,
            request._sessions,
            request._REQUEST_PREFIX,
            request._MIDDLEWARE_KEYS,
            METHOD,
            PATH,
            STATUS,
        )
    except Exception:  # a stale build from another version of this module: not used
        internal_error("compiled encoder (using the Python one)")
        return None
    return _speedups


_speedups = load_speedups()
our_spans: OurSpans = _speedups.our_spans if _speedups is not None else our_spans_python
