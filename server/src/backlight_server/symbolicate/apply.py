"""Frontend error rows as read from the store, their frames symbolicated in place.

A symbolicated frame reads as the original (``file``, ``function``, ``line``,
``column``, ``code``: the source line, ``in_app``: false under ``node_modules``) with
``context`` (the source lines around it) and ``raw``: the frame as the browser sent it.
A frame without a map, or whose map fails to parse, is left as it was. Reads only:
nothing stored changes, so a map uploaded after the error applies to it from then on.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from typing import Any

from backlight_server.pipeline.frames import in_app
from backlight_server.store.base import Store
from backlight_server.symbolicate import fetch
from backlight_server.symbolicate.cache import MapCache
from backlight_server.symbolicate.maps import Original, ParsedMap
from backlight_server.symbolicate.resolve import Missing, Resolver

__all__ = [
    "MAPS",
    "debug_ids",
    "symbolicate_errors",
    "symbolicate_frames",
    "symbolicate_group",
    "symbolicate_linked",
    "symbolicate_session",
]

log = logging.getLogger(__name__)

MAPS = MapCache()  # the process's parsed maps
Row = dict[str, Any]


def debug_ids(row: Row) -> dict[str, str]:
    """The debug ids an error carries: ``attributes.debug_ids``, script URL → id."""
    attributes = row.get("attributes")
    ids = attributes.get("debug_ids") if isinstance(attributes, dict) else None
    if not isinstance(ids, dict):
        return {}
    return {
        k: v.lower()
        for k, v in list(ids.items())[:64]
        if isinstance(k, str) and isinstance(v, str) and len(v) <= 64
    }


def symbolicate_errors(
    store: Store,
    project_id: str,
    rows: Iterable[Row],
    cache: MapCache = MAPS,
    session: tuple[str, str | None] | None = None,
) -> None:
    """Symbolicate the frontend rows among ``rows`` (each ``stack`` replaced), each by the
    app version of its session (``app_versions``; ``session``: (id, version) when the
    rows are all of one session, already read) and the debug ids it carries."""
    frontend = [r for r in rows if r.get("source") == "frontend" and r.get("stack")]
    if not frontend:
        return
    if session is not None:
        versions = {session[0]: session[1]} if session[1] else {}
    else:
        sessions = [r["session_id"] for r in frontend if isinstance(r.get("session_id"), str)]
        versions = store.app_versions(sessions) if sessions else {}
    resolvers: dict[str | None, Resolver] = {}
    for row in frontend:
        sid = row.get("session_id", session[0] if session else None)
        release = versions.get(sid) if isinstance(sid, str) else None
        resolver = resolvers.get(release)
        if resolver is None:
            resolver = resolvers[release] = Resolver(store, project_id, release)
        row["stack"] = symbolicate_frames(resolver, row["stack"], debug_ids(row), cache)


def symbolicate_frames(
    resolver: Resolver, frames: Any, ids: dict[str, str], cache: MapCache = MAPS
) -> Any:
    if not isinstance(frames, list):
        return frames
    parsed: dict[str, ParsedMap | None] = {}
    out: list[Any] = []
    for frame in frames:
        out.append(frame)
        if not isinstance(frame, dict) or "raw" in frame:
            continue
        url, line, column = (
            frame.get("file"),
            _position(frame.get("line")),
            _position(frame.get("column")),
        )
        if not isinstance(url, str) or line is None or column is None:
            continue
        if url not in parsed:
            parsed[url] = _map(resolver, url, ids.get(url), cache)
        source_map = parsed[url]
        original = source_map.lookup(line, column) if source_map is not None else None
        if original is not None:
            out[-1] = _frame(frame, original)
    return out


def _position(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def _map(resolver: Resolver, url: str, debug_id: str | None, cache: MapCache) -> ParsedMap | None:
    try:
        places = resolver.find(url, debug_id)
    except Exception:  # a store read failing: the frame stays raw, the page renders
        log.exception("source map lookup failed for %s", url[:200])
        return None
    for place in places:
        try:
            return cache.get(place.key, place.load)
        except Missing:
            continue
        except Exception:
            log.exception("source map load failed for %s", url[:200])
            return None
    return _fetched(resolver, url, cache)  # no uploaded map: the fetch path, if on


def _fetched(resolver: Resolver, url: str, cache: MapCache) -> ParsedMap | None:
    """The map the script at ``url`` names, fetched (symbolicate/fetch.py) when this
    server has the fetch path and the project switched it on; never raises."""
    fetcher = fetch.fetcher_for(resolver.store)
    if fetcher is None or not url.lower().startswith(("http://", "https://")):
        return None

    def uploaded(debug_id: str) -> tuple[Hashable, ParsedMap] | None:
        place = resolver.by_debug_id(debug_id)
        try:
            parsed = cache.get(place.key, place.load)
        except Missing:
            return None
        return (place.key, parsed) if parsed is not None else None

    try:
        config = resolver.fetch_config()
        if not config.enabled or not config.origins:
            return None
        return fetcher.map_for(
            resolver.project_id, config.origins, url, cache, uploaded, resolver.budget
        )
    except Exception:  # a store read failing, a bug: the frame stays raw
        log.exception("source map fetch failed for %s", url[:200])
        return None


def _frame(raw: Row, original: Original) -> Row:
    context = list(original.context)
    at = original.line - original.context_start
    return {
        "file": original.file,
        "function": original.function or raw.get("function"),
        "line": original.line,
        "column": original.column,
        "code": (context[at].strip() or None) if 0 <= at < len(context) else None,
        "in_app": in_app(original.file),
        "context": {"start": original.context_start, "lines": context} if context else None,
        "raw": {k: raw.get(k) for k in ("file", "function", "line", "column")},
    }


def symbolicate_group(store: Store, data: Row | None, cache: MapCache = MAPS) -> None:
    """``get_error_group``'s answer: its instances, and the group's own frames by the
    newest instance's session's release."""
    if not data or not isinstance(data.get("group"), dict):
        return
    group, instances = data["group"], data.get("instances") or []
    project = group.get("project_id")
    if group.get("source") != "frontend" or not isinstance(project, str):
        return
    symbolicate_errors(store, project, instances, cache)
    if group.get("stack"):
        latest = next((i for i in instances if i.get("session_id")), None)
        stand_in = {
            "source": "frontend",
            "stack": group["stack"],
            "session_id": latest.get("session_id") if latest else None,
            "attributes": latest.get("attributes") if latest else None,
        }
        symbolicate_errors(store, project, [stand_in], cache)
        group["stack"] = stand_in["stack"]


def symbolicate_session(store: Store, data: Row | None, cache: MapCache = MAPS) -> None:
    """``get_session``'s answer: its frontend errors."""
    if not data or not isinstance(data.get("session"), dict):
        return
    info = data["session"]
    project, sid, version = info.get("project_id"), info.get("secure_id"), info.get("app_version")
    if isinstance(project, str) and isinstance(sid, str) and data.get("errors"):
        release = version if isinstance(version, str) else None
        symbolicate_errors(store, project, data["errors"], cache, (sid, release))


def symbolicate_linked(store: Store, data: Row | None, cache: MapCache = MAPS) -> None:
    """``get_request``'s and ``get_trace``'s answers: their frontend errors, each by the
    project of its session (these rows carry no project; one without a session stays raw)."""
    errors = data.get("errors") if data else None
    if not isinstance(errors, list):
        return
    projects: dict[str, str | None] = {}
    by_project: dict[str, list[Row]] = {}
    for row in errors:
        sid = row.get("session_id") if isinstance(row, dict) else None
        if not isinstance(sid, str) or row.get("source") != "frontend" or not row.get("stack"):
            continue
        if sid not in projects:
            projects[sid] = _project_of(store, sid)
        project = projects[sid]
        if project is not None:
            by_project.setdefault(project, []).append(row)
    for project, rows in by_project.items():
        symbolicate_errors(store, project, rows, cache)


def _project_of(store: Store, session_id: str) -> str | None:
    try:
        info = store.session_info(session_id)
    except Exception:  # a store read failing: the frames stay raw, the page renders
        log.exception("session lookup failed for %s", session_id[:128])
        return None
    return info.project_id if info is not None else None
