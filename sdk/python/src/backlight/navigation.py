"""Navigation timing: the request's ``traceparent`` handed to the page it renders.

The browser SDK links a full-page load (a link click, a form post's redirect, the first
page) to its session by reading, at load, the ``traceparent`` the backend put on the page
(docs/linkage.md, "Navigation timing"):

- the middlewares add ``Server-Timing: traceparent;desc="00-<trace>-<span>-01",
  backlight-time;desc=<ms>`` to HTML responses (and 304s, which refresh a cached page's
  headers), except those a shared cache may keep; no template changes;
- ``traceparent_meta()`` renders the same as ``<meta name="traceparent" ...>``, for pages
  served through a proxy that strips ``Server-Timing``.

The time is the server's clock when the request began (ms since the epoch): the browser
ignores a value more than two minutes away from its own navigation start, so a page served
from a cache is never linked to the request that first made it.
"""

from __future__ import annotations

from time import time_ns

from opentelemetry import trace

from backlight._debug import internal_error
from backlight.names import META_TIME_ATTRIBUTE, TIME_METRIC, TRACEPARENT_METRIC
from backlight.request_span import RequestSpan

_NS_PER_MS = 1_000_000


class Html(str):
    """Markup that Jinja2 (MarkupSafe) and Django templates insert as it is (``__html__``)."""

    __slots__ = ()

    def __html__(self) -> str:
        return str(self)


def server_timing(span: RequestSpan) -> str:
    """The ``Server-Timing`` metrics of a request span: its traceparent and start time."""
    ms = span.start_time // _NS_PER_MS
    return f'{TRACEPARENT_METRIC};desc="{span.traceparent()}", {TIME_METRIC};desc={ms}'


def _text(value: str | bytes) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else value


def shared_cacheable(cache_control: str | bytes | None) -> bool:
    """May a shared cache (a CDN, a proxy) keep this response and serve it to others?
    ``public``, ``s-maxage`` or a ``max-age`` above 0, unless ``private`` or ``no-store``."""
    if not cache_control:
        return False
    shared = False
    for directive in _text(cache_control)[:4096].lower().split(","):
        name, _, value = directive.partition("=")
        name = name.strip(" \t")
        if name in ("private", "no-store"):
            return False
        positive = name == "max-age" and value.strip(' \t"') not in ("", "0")
        shared = shared or positive or name in ("public", "s-maxage")
    return shared


def wants_timing(
    status: int, content_type: str | bytes | None, cache_control: str | bytes | None = None
) -> bool:
    """HTML responses get the metrics, and 304s (the browser keeps the headers of a 304
    on the cached page it then shows, so a revalidated page carries this request's); not a
    response a shared cache may serve to other visitors (it would carry this request's
    traceparent to them)."""
    if shared_cacheable(cache_control):
        return False
    if status == 304:
        return True
    if content_type is None:
        return False
    return _text(content_type).lstrip(" \t")[:9].lower() == "text/html"


def joined(existing: str | None, ours: str) -> str:
    """``ours`` appended to an existing ``Server-Timing`` value (a comma-separated list)."""
    existing = (existing or "").strip(" \t,")
    return f"{existing}, {ours}" if existing else ours


def traceparent_meta() -> Html:
    """``<meta name="traceparent" content="00-<trace>-<span>-01" data-time="<ms>">`` for
    the request being served, or an empty string outside of one.

    Flask/Jinja2: ``app.jinja_env.globals["traceparent_meta"] = backlight.traceparent_meta``
    then ``{{ traceparent_meta() }}`` in ``<head>``. Django: the context processor
    ``backlight.integrations.django.traceparent`` then ``{{ backlight_traceparent }}``.
    """
    try:
        span = trace.get_current_span()
        if isinstance(span, RequestSpan):
            value, ms = span.traceparent(), span.start_time // _NS_PER_MS
        else:
            ctx = span.get_span_context()
            if not ctx.is_valid:
                return Html("")
            value = f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-01"
            ms = time_ns() // _NS_PER_MS
        return Html(
            f'<meta name="{TRACEPARENT_METRIC}" content="{value}" {META_TIME_ATTRIBUTE}="{ms}">'
        )
    except Exception:
        internal_error("traceparent meta")
        return Html("")
