"""Matching by time: backend errors and logs that carry only a session id.

highlight's Node SDK (``H.consumeError``, ``H.log``) sends the session id it reads from the
``x-highlight-request`` header but not the request id, and records an error in a trace of
its own, so nothing links such a record to its request exactly. At query time it is
attached to the network request of its session that was in flight when it was recorded,
if exactly one was, and marked ``"match": "time"``:

- a *candidate* is a log, or an error not from the browser, with session id S and no
  request id of its own (its request id is its trace id, or both are empty), whose trace is
  not one that a recorded network request has (that request's id, or the trace of a span,
  log or error carrying that request id), nor a request of S its backend saw (the request
  id of a server span of S, or of a span of S whose request id is not its trace id: a
  request linked by the session cookie is listed on its own, see ``serverseen``): such a
  record already links exactly;
- the requests *in flight* at its time t are S's network requests that have a request id
  and ``start_ms <= t <= end_ms``; when there is none, those within ``SKEW_MS`` of t
  (``start_ms - SKEW_MS <= t <= end_ms + SKEW_MS``), for a browser clock a little behind
  or ahead of the backend's;
- when exactly one request is in flight, the record is attached to it; when several are
  (or none), it stays with the session only.

This module is the rule, for every store; a store supplies the rows (``MatchRows``).
Stored values of any type are tolerated: a time that is not a finite number matches nothing.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Protocol

from backlight_server.query.summaries import Timed as Summary

SKEW_MS = 1000.0
MAX_CANDIDATES = 20_000  # per lookup; a session with more such records in range matches fewer


class Flight(NamedTuple):
    """A network request of a session: its id and when the browser saw it in flight."""

    request_id: str
    start_ms: float
    end_ms: float


class Candidate(NamedTuple):
    kind: str  # "error" or "log"
    id: int
    t_ms: float
    trace_id: str | None
    severity: int


class MatchRows(Protocol):
    """The rows matching by time reads, fetched by a store."""

    def candidates(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Candidate]:
        """Errors (not from the browser) and logs of the session between ``lo_ms`` and
        ``hi_ms`` (finite) without a request id of their own, at most MAX_CANDIDATES each."""
        ...

    def linked_traces(self, session_id: str, trace_ids: set[str]) -> set[str]:
        """The trace ids among these that a recorded network request has (the request's
        own id, or the trace of a span, log or error that carries that request id), or
        that are request ids of the session's spans that name a request of their own
        (server spans, kind 2, and spans whose request id is not their trace id)."""
        ...

    def flights(self, session_id: str, lo_ms: float, hi_ms: float) -> list[Flight]:
        """The session's network requests with a request id that overlap [lo_ms, hi_ms]."""
        ...

    def session_ranges(self, request_ids: list[str]) -> list[tuple[str, float, float]]:
        """Per session of these requests: (session id, earliest start, latest end)."""
        ...


def number(value: object) -> float | None:
    """A finite number from a stored value, else None (stored rows may hold anything)."""
    kind = type(value)
    if kind is not float and kind is not int:
        return None
    result = float(value)  # type: ignore[arg-type]
    return result if math.isfinite(result) else None


def flight(request_id: object, start_ms: object, end_ms: object) -> Flight | None:
    """A stored network row as a Flight, if its id is text and its times are numbers."""
    start, end = number(start_ms), number(end_ms)
    if type(request_id) is not str or start is None or end is None:
        return None
    return Flight(request_id, start, end)


def in_flight(active: list[Flight], t: float) -> str | None:
    """The one request in flight at ``t`` among ``active`` (the flights within SKEW_MS of
    ``t``): exactly one whose span holds ``t``, or, when none does, exactly one within
    SKEW_MS. Else None."""
    strict: str | None = None
    for rid, start, end in active:
        if start <= t <= end:
            if strict is None:
                strict = rid
            elif rid != strict:
                return None  # two requests in flight
    if strict is not None or not active:
        return strict
    near = active[0].request_id
    return near if all(f.request_id == near for f in active) else None


def match(found: list[Flight], times: list[float]) -> list[str | None]:
    """For each time, the one request in flight then (or None): one sweep over both lists
    sorted, so a session with thousands of requests and records costs milliseconds."""
    out: list[str | None] = [None] * len(times)
    pending = sorted(found, key=lambda f: f.start_ms)
    opens = [f.start_ms - SKEW_MS for f in pending]
    active: list[Flight] = []
    i, n = 0, len(pending)
    for k in sorted(range(len(times)), key=times.__getitem__):
        t = times[k]
        while i < n and opens[i] <= t:
            active.append(pending[i])
            i += 1
        if not active:
            continue
        close = t - SKEW_MS  # times only grow: a flight that ended before this is done
        if any(f.end_ms < close for f in active):
            active = [f for f in active if f.end_ms >= close]
        out[k] = in_flight(active, t)
    return out


def assign(
    rows: MatchRows,
    session_id: str,
    found: list[Candidate],
    known: list[Flight] | None = None,
) -> list[tuple[Candidate, str]]:
    """The candidates that match a request of the session by time, with that request id.
    ``known``: all of the session's requests, when the caller has them already."""
    traces = {c.trace_id for c in found if c.trace_id}
    linked = rows.linked_traces(session_id, traces) if traces else set()
    kept = [c for c in found if c.trace_id is None or c.trace_id not in linked]
    if not kept:
        return []
    if known is None:
        lo = min(c.t_ms for c in kept) - SKEW_MS
        hi = max(c.t_ms for c in kept) + SKEW_MS
        known = rows.flights(session_id, lo, hi)
    requests = match(known, [c.t_ms for c in kept])
    return [(c, rid) for c, rid in zip(kept, requests, strict=True) if rid is not None]


def _candidates(rows: MatchRows, session_id: str, lo: float, hi: float) -> list[Candidate]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    return rows.candidates(session_id, lo, hi)


def for_request(
    rows: MatchRows, request_id: str, session_id: str, start_ms: object, end_ms: object
) -> tuple[list[int], list[int]]:
    """Ids of the errors and logs matched by time to one network request of the session."""
    start, end = number(start_ms), number(end_ms)
    if start is None or end is None:
        return [], []
    found = _candidates(rows, session_id, start - SKEW_MS, end + SKEW_MS)
    if not found:
        return [], []
    matched = [c for c, rid in assign(rows, session_id, found) if rid == request_id]
    return (
        [c.id for c in matched if c.kind == "error"],
        [c.id for c in matched if c.kind == "log"],
    )


def _summarise(
    rows: MatchRows,
    session_id: str,
    lo_ms: float,
    hi_ms: float,
    wanted: set[str],
    known: list[Flight] | None,
    into: dict[str, Summary],
) -> None:
    found = _candidates(rows, session_id, lo_ms - SKEW_MS, hi_ms + SKEW_MS)
    if not found:
        return
    logs: dict[str, int] = {}
    worst: dict[str, int] = {}
    errors: dict[str, set[int]] = {}
    for c, rid in assign(rows, session_id, found, known):
        if rid not in wanted:
            continue
        if c.kind == "error":
            errors.setdefault(rid, set()).add(c.id)
        else:
            logs[rid] = logs.get(rid, 0) + 1
            worst[rid] = max(worst.get(rid, 0), c.severity)
    for rid in logs.keys() | errors.keys():
        into[rid] = Summary(logs.get(rid, 0), worst.get(rid, 0), frozenset(errors.get(rid, ())))


def summaries(rows: MatchRows, request_ids: list[str]) -> dict[str, Summary]:
    """Per request id (of those given that match anything): what matched it by time."""
    out: dict[str, Summary] = {}
    wanted = set(request_ids)
    for sid, lo, hi in rows.session_ranges(request_ids):
        _summarise(rows, sid, lo, hi, wanted, None, out)
    return out


def session_summaries(
    rows: MatchRows, session_id: str, network: list[Flight]
) -> dict[str, Summary]:
    """``summaries`` of all the requests of one session, given as flights (all of them)."""
    out: dict[str, Summary] = {}
    if network:
        lo = min(f.start_ms for f in network)
        hi = max(f.end_ms for f in network)
        _summarise(rows, session_id, lo, hi, {f.request_id for f in network}, network, out)
    return out
