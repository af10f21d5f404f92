"""The regroup job: a project's frontend groups merged by the maps now stored
(docs/sourcemaps.md, "Grouping").

An upload that stores or replaces a file schedules its project (``schedule``); the job
runs ``DEBOUNCE_S`` after the last such upload (a CI upload of many files runs it once),
on a thread of its own (one per store, at most one project at a time, gone when idle),
under the store lease ``regroup:<project>`` so that one server of those sharing a store
does it (another holding it: tried again ``RETRY_S`` later).

One run reads the project's ``MAX_GROUPS`` most recently seen frontend groups with their
latest instance (``Store.frontend_group_heads``), fingerprints each instance by its
original frames (``grouping.original_fingerprint``, no time budget), and merges every
group whose fingerprint changed into the group of the new one
(``Store.merge_error_groups``, which leaves an alias of the old id).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from typing import Any

import orjson

from backlight_server.errors import StorageUnavailable
from backlight_server.pipeline import stack
from backlight_server.pipeline.model import Frame
from backlight_server.store.base import Row, Store
from backlight_server.symbolicate.apply import MAPS, debug_ids
from backlight_server.symbolicate.cache import MapCache
from backlight_server.symbolicate.grouping import (
    Budget,
    attributes_of,
    grouping_for,
    original_fingerprint,
)
from backlight_server.symbolicate.resolve import Resolver

__all__ = ["DEBOUNCE_S", "MAX_GROUPS", "Regrouper", "regroup_project", "regrouper_for", "schedule"]

log = logging.getLogger(__name__)

DEBOUNCE_S = 1.0
RETRY_S = 15.0
LEASE_S = 600.0
MAX_GROUPS = 10_000
_MOVES_PER_WRITE = 500
_SESSIONS_PER_READ = 1000


def _frames(row: Row) -> list[Frame]:
    """The frames ingest made for a stored instance."""
    items = row.get("stack")
    if isinstance(items, str | bytes):
        try:
            items = orjson.loads(items)
        except orjson.JSONDecodeError:
            items = None
    frames = stack.frames_from_json(items)
    raw = row.get("raw_stack")
    if not frames and isinstance(raw, str) and raw:
        frames = stack.parse(raw)
    return frames


def regroup_project(
    store: Store, project_id: str, cache: MapCache = MAPS, limit: int = MAX_GROUPS
) -> int:
    """Merge the project's frontend groups that their maps now name otherwise; returns
    the groups merged."""
    heads = store.frontend_group_heads(project_id, limit)
    sessions = sorted({str(h["session_id"]) for h in heads if h.get("session_id")})
    versions: dict[str, str] = {}
    for at in range(0, len(sessions), _SESSIONS_PER_READ):
        versions.update(store.app_versions(sessions[at : at + _SESSIONS_PER_READ]))
    resolvers: dict[str | None, Resolver] = {}
    moves: list[tuple[int, str]] = []
    for head in heads:
        frames = _frames(head)
        if not frames:
            continue
        sid = head.get("session_id")
        release = versions.get(sid) if isinstance(sid, str) else None
        resolver = resolvers.get(release)
        if resolver is None:
            resolver = resolvers[release] = Resolver(store, project_id, release)
        ids = debug_ids({"attributes": attributes_of(head.get("attributes"))})
        found = original_fingerprint(
            resolver,
            str(head.get("type") or "Error"),
            str(head.get("message") or ""),
            frames,
            ids,
            cache,
            Budget(None),
        )
        if found is not None and found != head.get("fingerprint"):
            moves.append((int(head["group_id"]), found))
    merged = 0
    for at in range(0, len(moves), _MOVES_PER_WRITE):
        merged += store.merge_error_groups(project_id, moves[at : at + _MOVES_PER_WRITE])
    if merged:
        log.info("regroup of project %s: %d frontend groups merged", project_id, merged)
    return merged


class Regrouper:
    """One store's regroup jobs: projects due at a time, one thread while any is due."""

    def __init__(
        self, store: Store, cache: MapCache = MAPS, debounce_s: float = DEBOUNCE_S
    ) -> None:
        self._store = weakref.ref(store)  # the registry below must not keep stores alive
        self.cache, self.debounce_s = cache, debounce_s
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._due: dict[str, float] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.runs = 0  # finished runs (tests wait on it)

    @property
    def store(self) -> Store:
        store = self._store()
        if store is None:
            raise RuntimeError("the store is gone")
        return store

    def schedule(self, project_id: str, delay: float | None = None) -> None:
        with self._cond:
            self._due[project_id] = time.monotonic() + (self.debounce_s if delay is None else delay)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="backlight-regroup", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                if not self._due:
                    self._thread = None
                    return
                project, at = min(self._due.items(), key=lambda item: item[1])
                wait = at - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                del self._due[project]
            self._run(project)

    def _run(self, project_id: str) -> None:
        name = f"regroup:{project_id}"
        try:
            health = self.store.health()
            if not health.ok:  # closed, or cannot write: an upload will schedule it again
                log.warning("regroup of project %s not done: %s", project_id, health.reason)
                return
            if not self.store.lease(name, self.holder, LEASE_S):
                self.schedule(project_id, RETRY_S)
                return
            try:
                regroup_project(self.store, project_id, self.cache)
            finally:
                self.store.lease(name, self.holder, 0)
        except (StorageUnavailable, RuntimeError) as exc:  # a store closed or unreachable
            log.warning("regroup of project %s not done: %s", project_id, exc)
        except Exception:
            log.exception("regroup of project %s failed", project_id)
        finally:
            with self._cond:
                self.runs += 1
                self._cond.notify_all()


_REGROUPERS: weakref.WeakKeyDictionary[Any, Regrouper] = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def regrouper_for(store: Store) -> Regrouper:
    with _LOCK:
        found = _REGROUPERS.get(store)
        if found is None:
            found = _REGROUPERS[store] = Regrouper(store)
        return found


def schedule(store: Store, project_id: str) -> None:
    """After an upload stored or replaced a file of ``project_id`` (or ingest left an
    error minified for want of time): forget its cached listings, regroup it soon."""
    grouping_for(store).forget(project_id)
    regrouper_for(store).schedule(project_id)
