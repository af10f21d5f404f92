"""An error group's facts for its page, storage neutral: the last 24 hours hour by hour,
the users affected, and its latest instances counted by user agent, URL or route, service,
environment and release, each with the user, URL and user agent of its session.

Each store fetches three things (``store/sqlite/errorfacts.py``,
``store/clickhouse/errorfacts.py``): hour counts, the latest ``sample`` instances (id,
time, source, session, service, environment, URL, the span's ``http.route``, the
``service.version`` of its attributes) and the sessions of those instances (user agent, app
version, identify's identifier, environment, service); an instance without a service,
environment or version of its own takes its session's (the release: its app version);
``facts`` shapes them. Any stored value is accepted: what is not text counts as unknown.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

Row = dict[str, Any]
HOUR_MS = 3_600_000
HOURS = 24
SAMPLE = 2000  # instances looked at, newest first (p95 of the page < 100 ms)
TOP = 200  # values kept per breakdown (the page shows fewer)
INSTANCES = 100  # instances described one by one, newest first
MAX_VALUE = 300  # characters of a value kept
DIMENSIONS = ("user_agent", "url", "service", "environment", "release")


def hour_start(now_ms: float) -> float:
    """The start of the first of the 24 hour buckets; the last one holds ``now_ms``."""
    return (now_ms // HOUR_MS - (HOURS - 1)) * HOUR_MS


def hourly(start_ms: float, counts: Iterable[tuple[Any, Any]]) -> list[int]:
    """``(bucket index, count)`` pairs → 24 counts, oldest hour first."""
    out = [0] * HOURS
    for index, n in counts:
        if isinstance(index, int | float) and 0 <= index < HOURS and isinstance(n, int | float):
            out[int(index)] += int(n)
    return out


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:MAX_VALUE]


def url_path(url: object) -> str | None:
    """A page URL as its path: no origin, query or fragment (``/cart``); linear."""
    text = _text(url)
    if text is None:
        return None
    scheme = text.find("://")
    if 0 < scheme <= 16:
        slash = text.find("/", scheme + 3)
        text = text[slash:] if slash >= 0 else "/"
    for mark in ("?", "#"):
        at = text.find(mark)
        if at >= 0:
            text = text[:at]
    return text or "/"


def users_by_group(pairs: Iterable[tuple[Any, Any]]) -> dict[int, int]:
    """The error list's users per group: ``(group id, identify's identifier)`` pairs of
    the groups' sessions → distinct identifiers per group (the facts' rule: text only, its
    first ``MAX_VALUE`` characters)."""
    seen: dict[int, set[str]] = {}
    for group, identifier in pairs:
        user = _text(identifier)
        if isinstance(group, int) and user is not None:
            seen.setdefault(group, set()).add(user)
    return {group: len(users) for group, users in seen.items()}


def route_of(url: object, route: object) -> str | None:
    """Where an instance happened: a backend span's ``http.route`` (``GET`` routes such as
    ``/api/orders/{id}``), else the path of the page URL it carries."""
    named = _text(route)
    return named if named is not None else url_path(url)


def _ranked(counter: Counter[str | None]) -> list[list[Any]]:
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or ""))
    return [[value, n] for value, n in ranked[:TOP]]


def facts(
    start_ms: float,
    hours: list[int],
    rows: list[Row],
    sessions: dict[str, Row],
) -> Row:
    """The page's facts from a store's rows (``rows`` newest first). Each session's and
    each distinct URL's values are worked out once."""
    counters: dict[str, Counter[str | None]] = {d: Counter() for d in DIMENSIONS}
    users: set[str] = set()
    seen: set[str] = set()
    described: list[Row] = []
    known: dict[str | None, tuple[str | None, ...]] = {None: (None, None, None, None, None)}
    places: dict[tuple[object, object], str | None] = {}
    for row in rows:
        sid = row.get("session_id") if isinstance(row.get("session_id"), str) else None
        values = known.get(sid)
        if values is None:
            session = sessions.get(sid, {}) if sid else {}
            values = known[sid] = (
                _text(session.get("identifier")),
                _text(session.get("user_agent")),
                _text(session.get("app_version")),
                _text(session.get("environment")),
                _text(session.get("service")),
            )
            if sid:
                seen.add(sid)
        user, agent, session_release, session_env, session_service = values
        # a backend's own release (OpenTelemetry's service.version), else the session's app
        release = _text(row.get("version")) or session_release
        if user is not None:
            users.add(user)
        key = (row.get("url"), row.get("route"))
        where = places[key] if key in places else places.setdefault(key, route_of(*key))
        counters["user_agent"][agent] += 1
        counters["url"][where] += 1
        counters["service"][_text(row.get("service")) or session_service] += 1
        counters["environment"][_text(row.get("environment")) or session_env] += 1
        counters["release"][release] += 1
        if len(described) < INSTANCES:
            described.append(
                {
                    "id": row.get("id"),
                    "user": user,
                    "url": where,
                    "user_agent": agent,
                    "release": release,
                }
            )
    return {
        "hourly": {"start_ms": start_ms, "hour_ms": HOUR_MS, "counts": hours},
        "sampled": len(rows),
        "users": len(users),
        "sessions": len(seen),
        "breakdowns": {d: _ranked(c) for d, c in counters.items()},
        "instances": described,
    }
