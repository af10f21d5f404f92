"""Frontend errors fingerprinted by their original frames (docs/sourcemaps.md, "Grouping";
the rule: ``pipeline/fingerprint.py``).

At ingest, on the worker thread that decoded the batch (never the event loop), each
frontend error of a project with uploaded maps is symbolicated (the map resolution of
``resolve.py``: the error's debug ids, else the session's app version + the script URL)
and fingerprinted from the original frames; the stored frames stay the minified ones.
Then a fingerprint whose group was merged away (``Store.group_aliases``) takes the
fingerprint of the group it was merged into, so errors of an old build whose map is gone
still join it.

The bound: maps already parsed cost a lookup. A batch parses cold maps (first use in this
process) for at most ``INGEST_PARSE_BUDGET_S`` (the parse that crosses it finishes: one
5 MB map takes 0.2–0.3 s); two batches that need the same cold map wait for one parse, not
two. An error left minified because the budget ran out schedules the project's regroup
(``regroup.py``), which merges its group once the map is parsed. A broken map, a missing
file or a failing store read leaves the minified fingerprint: never an error.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import orjson

from backlight_server.pipeline.fingerprint import fingerprint, original_frame
from backlight_server.pipeline.model import BrowserBatch, ErrorRecord, Frame
from backlight_server.store.base import Store
from backlight_server.store.ids import group_id
from backlight_server.symbolicate.apply import MAPS, debug_ids
from backlight_server.symbolicate.cache import MapCache
from backlight_server.symbolicate.maps import ParsedMap
from backlight_server.symbolicate.resolve import Found, Missing, Resolver

__all__ = [
    "INGEST_PARSE_BUDGET_S",
    "Budget",
    "Grouping",
    "group_batch",
    "grouping_for",
    "original_fingerprint",
]

log = logging.getLogger(__name__)

INGEST_PARSE_BUDGET_S = 0.5  # cold map parsing per ingested batch
LISTING_TTL_S = 10.0  # a release's file listing, kept per process (an upload forgets it)


class OverBudget(Exception):
    """A cold map this batch may not parse any more."""


@dataclass(slots=True)
class Budget:
    seconds: float | None  # None: no bound (the regroup job)
    spent: float = 0.0
    skipped: bool = False  # some map was not parsed for want of time

    def left(self) -> float:
        return 3600.0 if self.seconds is None else self.seconds - self.spent


_INFLIGHT: dict[Hashable, threading.Event] = {}
_INFLIGHT_LOCK = threading.Lock()


def _load(cache: MapCache, place: Found, budget: Budget) -> ParsedMap | None:
    """The parsed map, from the cache or parsed within the budget; one parse per key at
    a time (others wait for it, within their budget)."""

    def refuse() -> ParsedMap | None:
        raise OverBudget

    with _INFLIGHT_LOCK:
        event = _INFLIGHT.get(place.key)
        mine = event is None
        if event is None:
            event = _INFLIGHT[place.key] = threading.Event()
    if not mine:
        event.wait(max(0.0, budget.left()))
        return cache.get(place.key, refuse)
    try:
        if budget.left() <= 0:
            return cache.get(place.key, refuse)

        def timed() -> ParsedMap | None:
            start = time.monotonic()
            try:
                return place.load()
            finally:
                budget.spent += time.monotonic() - start

        return cache.get(place.key, timed)
    finally:
        with _INFLIGHT_LOCK:
            _INFLIGHT.pop(place.key, None)
        event.set()


def _map(
    resolver: Resolver, url: str, debug_id: str | None, cache: MapCache, budget: Budget
) -> ParsedMap | None:
    try:
        places = resolver.find(url, debug_id)
    except Exception:
        log.exception("source map lookup failed for %s", url[:200])
        return None
    for place in places:
        try:
            return _load(cache, place, budget)
        except Missing:
            continue
        except OverBudget:
            budget.skipped = True
            return None
        except Exception:
            log.exception("source map load failed for %s", url[:200])
            return None
    return None


def original_fingerprint(
    resolver: Resolver,
    error_type: str,
    message: str,
    frames: list[Frame],
    ids: dict[str, str],
    cache: MapCache,
    budget: Budget,
) -> str | None:
    """The fingerprint of the original frames; None when no frame maps."""
    parsed: dict[str, ParsedMap | None] = {}
    out: list[Frame] = []
    mapped = False
    for frame in frames:
        original = None
        if frame.line and frame.column:
            if frame.file not in parsed:
                parsed[frame.file] = _map(resolver, frame.file, ids.get(frame.file), cache, budget)
            source_map = parsed[frame.file]
            original = source_map.lookup(frame.line, frame.column) if source_map else None
        if original is None:
            out.append(frame)
            continue
        mapped = True
        at = original.line - original.context_start
        code = (original.context[at].strip() or None) if 0 <= at < len(original.context) else None
        out.append(original_frame(original.file, original.function, original.line, code))
    return fingerprint(error_type, message, out) if mapped else None


def attributes_of(value: object) -> dict[str, Any]:
    """A stored attributes column (JSON text or already read) as a dict."""
    if isinstance(value, str | bytes):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


class Grouping:
    """One store's ingest-time grouping: release listings kept ``LISTING_TTL_S``."""

    def __init__(
        self, store: Store, cache: MapCache = MAPS, budget_s: float | None = INGEST_PARSE_BUDGET_S
    ) -> None:
        self._store = weakref.ref(store)  # the registry below must not keep stores alive
        self.cache, self.budget_s = cache, budget_s
        self._resolvers: dict[tuple[str, str | None], tuple[float, Resolver]] = {}
        self._lock = threading.Lock()

    @property
    def store(self) -> Store:
        store = self._store()
        if store is None:
            raise RuntimeError("the store is gone")
        return store

    def resolver(self, project_id: str, release: str | None) -> Resolver:
        now = time.monotonic()
        key = (project_id, release)
        with self._lock:
            found = self._resolvers.get(key)
            if found is not None and now - found[0] < LISTING_TTL_S:
                return found[1]
            if len(self._resolvers) > 1000:
                self._resolvers.clear()
            resolver = Resolver(self.store, project_id, release)
            self._resolvers[key] = (now, resolver)
            return resolver

    def forget(self, project_id: str) -> None:
        """After an upload: the project's listings are read again at next need."""
        with self._lock:
            for key in [k for k in self._resolvers if k[0] == project_id]:
                del self._resolvers[key]

    def apply(self, batch: BrowserBatch) -> None:
        errors = [e for e in batch.errors if e.source == "frontend"]
        if not errors:
            return
        info = batch.session
        release = info.app_version
        if release is None:
            release = self.store.app_versions([info.secure_id]).get(info.secure_id)
        budget = Budget(self.budget_s)
        resolver = self.resolver(info.project_id, release)
        for error in errors:
            if error.frames:
                self._refingerprint(resolver, error, budget)
        self._follow_aliases(info.project_id, errors)
        if budget.skipped:
            # imported here: regroup.py imports this module
            from backlight_server.symbolicate.regroup import schedule

            schedule(self.store, info.project_id)

    def _refingerprint(self, resolver: Resolver, error: ErrorRecord, budget: Budget) -> None:
        ids = debug_ids({"attributes": attributes_of(error.attributes)})
        found = original_fingerprint(
            resolver, error.type, error.message, error.frames, ids, self.cache, budget
        )
        if found is not None:
            error.fingerprint = found

    def _follow_aliases(self, project_id: str, errors: list[ErrorRecord]) -> None:
        ids = {group_id(project_id, e.fingerprint): e for e in errors}
        aliases = self.store.group_aliases(sorted(ids))
        for error in errors:
            alias = aliases.get(group_id(project_id, error.fingerprint))
            if alias is not None:
                error.fingerprint = alias[1]


_GROUPINGS: weakref.WeakKeyDictionary[Any, Grouping] = weakref.WeakKeyDictionary()
_GROUPINGS_LOCK = threading.Lock()


def grouping_for(store: Store) -> Grouping:
    with _GROUPINGS_LOCK:
        found = _GROUPINGS.get(store)
        if found is None:
            found = _GROUPINGS[store] = Grouping(store)
        return found


def group_batch(store: Store, batch: BrowserBatch) -> None:
    """Ingest's call, on its worker thread: the batch's frontend errors fingerprinted by
    their original frames where maps allow. Never raises: the minified fingerprints stay."""
    if not batch.errors:
        return
    try:
        grouping_for(store).apply(batch)
    except Exception:
        log.exception("grouping by original frames failed; minified fingerprints kept")
