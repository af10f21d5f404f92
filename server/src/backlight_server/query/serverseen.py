"""Requests "seen by the server": a session's backend requests the browser SDK did not record.

A link click that loads a page, a form POST answered by a redirect, the first load of a
server-rendered page: the browser SDK cannot add a header to these, so the backend links
them by the session cookie (docs/linkage.md), and the browser
records the document request itself only when it can read its ``Server-Timing`` (a POST
that redirects is never rendered). The session page and ``GET /api/v1/sessions/{id}`` list
those requests among the browser's network rows, marked ``"source": "server"`` (the
browser's rows ``"browser"``).

A session's backend requests, from its records (those carrying its session id):

- a server span (OTLP kind 2: a middleware's span of one request) names its request id:
  the id it was linked with, or its own trace id when it was linked by the cookie alone;
- a span or a backend error whose request id differs from its trace id names that request.

A record with only the session id (its request id is its trace id, in a trace without a
server span: highlight's Node SDK) names no request of its own; it is matched to a browser
request by time (``timematch``). A request id among the session's network rows is that
row: one row, not two.

Each row stands at its root span's start (the request's server span, else its earliest
span; a request known only from errors, at its first error), with the method, URL and
status its root span's attributes give (``http.request.method``, ``url.full`` / ``url.path``,
``http.response.status_code``, and their older OpenTelemetry names).

Spans are anyone's input (a project id is all an OTLP sender needs): a store reads at
most ``MAX_SCAN`` spans and ``MAX_SCAN`` errors of a session's requests the browser did
not record, and the page lists at most ``MAX_ROWS`` rows, the earliest; ``more`` counts
the rest (``complete`` is false when a scan stopped at its cap: then there may be more
still). Each store leaves out the browser's request ids while it reads (SQLite through a
covering partial index, ClickHouse through ``session_requests``), orders, caps and counts,
so a session of thousands of recorded requests costs a few milliseconds. Stored values of
any type are tolerated: an id that is not text or a time that is not a number names
nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple, Protocol

from backlight_server.query.derive import ms, number

Row = dict[str, Any]
SERVER_KIND = 2  # OTLP SpanKind SERVER
MAX_ROWS = 500
MAX_SCAN = 20_000
MAX_URL = 2048
_METHOD = re.compile(r"[A-Za-z]{1,16}\Z")
_METHOD_KEYS = ("http.request.method", "http.method")
_STATUS_KEYS = ("http.response.status_code", "http.status_code")


class SeenRows(Protocol):
    """The rows this module reads, fetched by a store."""

    def requests(
        self, session_id: str, known: list[str], scan: int, limit: int
    ) -> list[tuple[object, ...]]:
        """The session's requests whose ids are not in ``known``, from at most ``scan`` of
        its spans that are server spans (kind 2) or carry a request id other than their
        trace id (their start and end), and at most ``scan`` of its backend errors whose
        request id is set and differs from their trace id (their time): per request id,
        ``(request id, earliest ms, latest ms, requests, spans read, errors read)``, the
        earliest ``limit`` by time (then id); the last three are the same on every row:
        how many requests there are in all, and how many records each scan read."""
        ...

    def roots(self, session_id: str, request_ids: list[str]) -> list[Row]:
        """Candidate root spans of these requests, with the session id: server spans whose
        request id is their trace id (that trace is one of the ids), and spans carrying one
        of the ids other than their trace id that are server spans or have no parent. Keys:
        ``request_id, kind, name, service, start_ns, end_ns, attributes`` (decoded)."""
        ...


class Found(NamedTuple):
    request_id: str
    start_ms: float
    end_ms: float


def _found(rows: Iterable[tuple[object, ...]], known: set[str]) -> list[Found]:
    """The ``requests`` rows as read (any stored value: an id that is no text or a time
    that is no number names nothing), without the ids the browser has."""
    out: list[Found] = []
    for rid, first, last, *_counts in rows:
        start, end = number(first), number(last)
        if type(rid) is not str or not rid or rid in known or start is None:
            continue
        out.append(Found(rid, start, end if end is not None and end >= start else start))
    return out


def _int(value: object) -> int:
    n = number(value)
    return int(n) if n is not None else 0


def _text(attrs: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _method(attrs: Mapping[str, Any], name: object) -> str:
    value = _text(attrs, _METHOD_KEYS)
    if value is None and isinstance(name, str):
        value = name.split(" ", 1)[0]  # the SDKs name a request span "<METHOD> <route>"
    return value.upper() if value is not None and _METHOD.match(value) else ""


def _url(attrs: Mapping[str, Any]) -> str:
    url = _text(attrs, ("url.full", "http.url"))
    if url is None:
        path = _text(attrs, ("url.path", "http.target", "http.route"))
        query = _text(attrs, ("url.query",))
        url = (path + "?" + query if query and "?" not in path else path) if path else ""
    return url if len(url) <= MAX_URL else url[: MAX_URL - 1] + "…"


def _status(attrs: Mapping[str, Any]) -> int | None:
    for key in _STATUS_KEYS:
        value = attrs.get(key)
        if isinstance(value, str) and value.isdigit() and len(value) == 3:
            value = int(value)
        if type(value) is int and 100 <= value <= 599:
            return value
    return None


def _root(spans: list[Row]) -> Row | None:
    """The request's root span: its earliest server span, else its earliest span."""
    timed = [s for s in spans if number(s.get("start_ns")) is not None]
    if not timed:
        return None
    return min(timed, key=lambda s: (s.get("kind") != SERVER_KIND, s["start_ns"]))


def _row(found: Found, root: Row | None) -> Row:
    start, end = found.start_ms, found.end_ms
    attrs: Mapping[str, Any] = {}
    name = service = None
    if root is not None:
        start = ms(root["start_ns"]) or 0.0  # a number: _root keeps timed spans only
        stop = ms(root.get("end_ns"))
        end = stop if stop is not None and stop >= start else start
        value = root.get("attributes")
        attrs = value if isinstance(value, dict) else {}
        name = root.get("name") if isinstance(root.get("name"), str) else None
        service = root.get("service") if isinstance(root.get("service"), str) else None
    return {
        "id": None,
        "request_id": found.request_id,
        "type": "server",
        "method": _method(attrs, name),
        "url": _url(attrs),
        "status": _status(attrs),
        "start_ms": start,
        "end_ms": end,
        "error": None,
        "source": "server",
        "service": service,
        "name": name[:MAX_URL] if name is not None else None,
    }


def find(rows: SeenRows, session_id: str, known: set[str]) -> tuple[list[Row], Row]:
    """The session's requests seen by the server whose id is not in ``known`` (the ids of
    its network rows), earliest first, at most ``MAX_ROWS``; and ``{"shown", "more",
    "complete"}`` (see the module's docstring)."""
    limit, scan = MAX_ROWS, MAX_SCAN
    got = rows.requests(session_id, sorted(known), scan, limit)
    total, spans_read, errors_read = (
        (_int(got[0][3]), _int(got[0][4]), _int(got[0][5])) if got else (0, 0, 0)
    )
    shown = _found(got[:limit], known)
    spans: dict[str, list[Row]] = {}
    if shown:
        for span in rows.roots(session_id, [f.request_id for f in shown]):
            rid = span.get("request_id")
            if isinstance(rid, str):
                spans.setdefault(rid, []).append(span)
    out = [_row(f, _root(spans.get(f.request_id, []))) for f in shown]
    out.sort(key=lambda r: (r["start_ms"], r["request_id"]))
    more = max(0, total - len(got[:limit]))
    complete = spans_read < scan and errors_read < scan
    return out, {"shown": len(out), "more": more, "complete": complete}


def merge(network: list[Row], server: list[Row]) -> list[Row]:
    """The browser's rows (each marked ``"source": "browser"``) and the server's, by start
    time; the browser's keep their order, and come first at equal times."""
    for row in network:
        row["source"] = "browser"
    if not server:
        return network

    def key(row: Row) -> float:
        start = number(row.get("start_ms"))
        return start if start is not None else float("-inf")

    return sorted([*network, *server], key=key)


NO_SERVER: Row = {"shown": 0, "more": 0, "complete": True}
